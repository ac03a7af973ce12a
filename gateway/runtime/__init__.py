"""The job runtime shipped to Spark (local, Glue, EMR): reads granted blocks, runs one engine, writes
one outcome. It must never import ledger, launcher or AWS code.
"""

from __future__ import annotations

__all__: list[str] = []
