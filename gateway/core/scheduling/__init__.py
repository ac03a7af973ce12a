"""Scheduling: which pending claims get budget, all-or-nothing across their blocks.

A policy decides how blocks release budget and the order claims are tried in; the admission pass in
``admission.py`` is shared by every policy. Importing this package registers the built-in policies.
"""

from gateway.core.scheduling import dpf, fcfs
from gateway.core.scheduling.admission import PassOutcome, hopeless_reason, infeasible_reason, run_pass
from gateway.core.scheduling.policy import POLICIES, PolicySettings, Request, SchedulingPolicy, make_policy

__all__ = [
    "POLICIES",
    "PassOutcome",
    "PolicySettings",
    "Request",
    "SchedulingPolicy",
    "dpf",
    "fcfs",
    "hopeless_reason",
    "infeasible_reason",
    "make_policy",
    "run_pass",
]
