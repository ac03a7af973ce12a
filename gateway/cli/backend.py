"""Where the analyst commands go: this process's own gateway (embedded) or a team-mode service (remote).

Both return the ledger's own record types, so the CLI renders one way whatever the backend.
"""

from __future__ import annotations

import builtins
import getpass
import os
from collections.abc import Callable
from typing import Protocol

from gateway.core.blocks import Block
from gateway.core.claims import Claim
from gateway.core.forecast import Forecast
from gateway.core.preview import Preview
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import load_spec_text
from gateway.service import Gateway


class Backend(Protocol):
    def submit(self, spec_text: str, launcher: str | None) -> Claim: ...

    def status(self, claim_id: str) -> Claim: ...

    def list(self) -> builtins.list[Claim]: ...

    def result(self, claim_id: str) -> Claim: ...

    def cancel(self, claim_id: str) -> Claim: ...

    def blocks(self, dataset: str | None, include_spent: bool = False) -> builtins.list[Block]:
        """Blocks by key; ``include_spent``: also those that left the live state, retired and spent."""
        ...

    def wait(self, claim_id: str, on_tick: Callable[[Claim], None] | None = None) -> Claim: ...

    def forecast(self, claim_id: str) -> Forecast: ...

    def preview(self, spec_text: str) -> Preview:
        """Would this query be admitted now (nothing else pending), why not, how many more copies fit; no charge."""
        ...

    def settings(self) -> PolicySettings:
        """The ledger's scheduling settings (public: they say what the blocks' columns mean)."""
        ...

    def job_log(self, claim: Claim) -> str | None:
        """Where a job's log is: operators only (a log may hold data values), so None in team mode."""
        ...


class EmbeddedBackend:
    """The ledger opened by this process: its user is the operator and sees every submission."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def submit(self, spec_text: str, launcher: str | None) -> Claim:
        spec = load_spec_text(spec_text)
        if spec.analyst is None:
            spec = spec.model_copy(update={"analyst": getpass.getuser()})
        return self.gateway.submit(spec, launcher=launcher)

    def status(self, claim_id: str) -> Claim:
        return self.gateway.status(claim_id)

    def list(self) -> builtins.list[Claim]:
        self.gateway.reconcile()
        return self.gateway.submissions()

    def result(self, claim_id: str) -> Claim:
        return self.gateway.result(claim_id)

    def cancel(self, claim_id: str) -> Claim:
        return self.gateway.cancel(claim_id)

    def blocks(self, dataset: str | None, include_spent: bool = False) -> builtins.list[Block]:
        return self.gateway.blocks(dataset, include_spent)

    def wait(self, claim_id: str, on_tick: Callable[[Claim], None] | None = None) -> Claim:
        return self.gateway.wait(claim_id, on_tick=on_tick)

    def forecast(self, claim_id: str) -> Forecast:
        return self.gateway.forecast(claim_id)

    def preview(self, spec_text: str) -> Preview:
        spec = load_spec_text(spec_text)
        if spec.analyst is None:
            spec = spec.model_copy(update={"analyst": getpass.getuser()})
        return self.gateway.preview(spec)

    def settings(self) -> PolicySettings:
        return self.gateway.state().settings

    def job_log(self, claim: Claim) -> str | None:
        return self.gateway.job_log(claim)


def backend_for(url: str | None, ledger: str | None) -> Backend:
    """The remote service when a URL is given (``--url`` or ``DPGW_URL``), else the local ledger."""
    if url:
        from gateway.cli.client import RemoteBackend

        return RemoteBackend(url, os.environ.get("DPGW_TOKEN"), os.environ.get("DPGW_AUTH"))
    from gateway.cli.main import build_gateway

    return EmbeddedBackend(build_gateway(ledger))
