"""Team-mode use cases: register analysts, revoke them, and recognise a caller's credential.

Like every other use case these are ledger mutations (read → pure step → conditional commit, audited)
through ``Gateway._mutate``; the HTTP service and the CLI both call them.
"""

from __future__ import annotations

import hashlib

from gateway.core import analysts as model
from gateway.core import ledger as core
from gateway.core.analysts import Analyst, Role
from gateway.service import Gateway

# sha256(token) -> the stored hash it was verified against: a verified token skips scrypt on later
# requests; a new hash (token replaced) or a revocation (checked on every request) still applies.
_VERIFIED: dict[str, str] = {}
_VERIFIED_MAX = 1024


class Analysts:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def add(self, name: str, operator: bool = False, principal: str | None = None) -> tuple[Analyst, str]:
        """Register an analyst; returns the record and its token, which exists nowhere else."""
        analyst, token = model.new_analyst(
            name, Role.OPERATOR if operator else Role.ANALYST, principal, self.gateway.clock()
        )
        state = self.gateway._mutate(lambda s, now: core.add_analyst(s, analyst, now))
        return state.analysts[name], token

    def list(self) -> list[Analyst]:
        return sorted(self.gateway.state().analysts.values(), key=lambda a: a.name)

    def revoke(self, name: str) -> Analyst:
        return self.gateway._mutate(lambda s, now: core.revoke_analyst(s, name, now)).analysts[name]

    def authenticate(self, token: str | None) -> Analyst:
        """The live analyst holding this bearer token; ``AuthenticationError`` otherwise."""
        analysts = self.gateway.state().analysts
        digest = hashlib.sha256((token or "").encode()).hexdigest()
        key_id = model.key_id_of(token or "")
        known = next((a for a in analysts.values() if a.key_id == key_id), None)
        if known is not None and not known.revoked and _VERIFIED.get(digest) == known.token_hash:
            return known
        analyst = model.authenticate(analysts, token)
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[digest] = analyst.token_hash
        return analyst

    def by_principal(self, principal: str | None) -> Analyst:
        """The live analyst bound to an AWS principal ARN; ``AuthorizationError`` otherwise."""
        return model.by_principal(self.gateway.state().analysts, principal)
