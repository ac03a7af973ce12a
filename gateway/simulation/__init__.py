"""The privacy-scheduling simulator: replays workloads through the real policy code in simulated time.

Pure (numpy only, no Spark or AWS): ``workloads`` builds the PrivateKube microbenchmarks or reads a
trace, ``replay`` runs it against float-array accounts (basic composition or RDP) and returns a
``SimulationReport``.
"""

from gateway.simulation.metrics import SimulationReport
from gateway.simulation.replay import ReplayOptions, replay
from gateway.simulation.workloads import BUILTIN, Task, Workload, load_file, resolve

__all__ = ["BUILTIN", "ReplayOptions", "SimulationReport", "Task", "Workload", "load_file", "replay", "resolve"]
