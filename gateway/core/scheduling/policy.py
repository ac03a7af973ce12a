"""The policy port and the registry that builds a policy from the ledger's settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.errors import GatewayValidationError


class Request(Protocol):
    """What the scheduler needs to know about a claim (tests and simulators use lighter objects)."""

    @property
    def id(self) -> str: ...

    @property
    def submitted_at(self) -> dt.datetime: ...

    def demands(self) -> Mapping[str, Budget]: ...


class SchedulingPolicy(Protocol):
    """How blocks release budget and in which order pending claims are tried.

    ``initial_block`` sets a new block's unlocked amount and whether it is already retired (a retired
    block never unlocks more, which is what lets the admission pass reject hopeless claims).
    ``on_arrival`` is called once per block a new claim reads, before the pass that follows.
    """

    name: str

    def initial_block(self, capacity: Budget) -> tuple[Budget, bool]: ...

    def on_arrival(self, block: Block) -> Block: ...

    def sort_key(self, request: Request, blocks: Mapping[str, Block]) -> tuple[Any, ...]: ...


class PolicySettings(BaseModel):
    """The ledger's scheduling settings, chosen at ``dpgw init``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str = "dpf-n"
    n: int = Field(default=10, ge=1)
    include_delta_in_share: bool = False

    @model_validator(mode="after")
    def _known(self) -> PolicySettings:
        if self.policy not in POLICIES:
            raise GatewayValidationError(
                f"unknown scheduling policy {self.policy!r}; choose one of: {', '.join(sorted(POLICIES))}"
            )
        return self


PolicyFactory = Callable[[PolicySettings], SchedulingPolicy]
POLICIES: dict[str, PolicyFactory] = {}


def register(name: str) -> Callable[[PolicyFactory], PolicyFactory]:
    def add(factory: PolicyFactory) -> PolicyFactory:
        if name in POLICIES:
            raise ValueError(f"policy {name!r} registered twice")
        POLICIES[name] = factory
        return factory

    return add


def make_policy(settings: PolicySettings) -> SchedulingPolicy:
    return POLICIES[settings.policy](settings)
