"""Scheduling: which pending claims get budget, all-or-nothing across their blocks.

A policy is an unlock rule (how blocks release budget) plus an admission pass (who gets it, in which
order). Policies are written once against the ``Accounts`` port, so the ledger (exact Decimal blocks)
and the simulator (float arrays, basic or RDP) run the very same code. Importing this package
registers the built-in policies: dpf-n, dpf-t, fcfs, rr-n, rr-t, dpack.
"""

from gateway.core.scheduling import dpack, dpf, fcfs, round_robin
from gateway.core.scheduling.accounts import Accounts, Group
from gateway.core.scheduling.admission import (
    GroupPass,
    PassOutcome,
    greedy_pass,
    hopeless_reason,
    infeasible_reason,
    run_pass,
)
from gateway.core.scheduling.policy import POLICIES, PolicySettings, Request, SchedulingPolicy, make_policy

__all__ = [
    "POLICIES",
    "Accounts",
    "Group",
    "GroupPass",
    "PassOutcome",
    "PolicySettings",
    "Request",
    "SchedulingPolicy",
    "dpack",
    "dpf",
    "fcfs",
    "greedy_pass",
    "hopeless_reason",
    "infeasible_reason",
    "make_policy",
    "round_robin",
    "run_pass",
]
