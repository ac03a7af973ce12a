"""Analysts: who may use the gateway over the network, and how they prove it.

An analyst record keeps a salted scrypt hash of a bearer token, never the token: the token is shown
once when the analyst is added. A token reads ``<key id>.<secret>``; the key id is public and finds the
record in one lookup (no hash is computed per registered analyst, so an unknown token costs one dict
lookup), the secret is 32 random bytes checked against the hash in constant time. An analyst may also
be bound to an IAM principal ARN, for callers authenticated by AWS (API Gateway with IAM auth).

Operators see every submission and manage analysts; analysts see only their own submissions.
Revoking keeps the record (names stay unique and the audit trail stays readable).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.core.datasets import check_name
from gateway.errors import AuthenticationError, AuthorizationError, GatewayValidationError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PRINCIPAL_PREFIX = "arn:aws"


class Role(StrEnum):
    ANALYST = "analyst"
    OPERATOR = "operator"


def new_token() -> tuple[str, str]:
    """A fresh (key id, token) pair; the token embeds the key id."""
    key_id = secrets.token_hex(8)
    return key_id, f"{key_id}.{secrets.token_urlsafe(32)}"


def hash_secret(token: str, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<hash hex>`` of a token (salt random unless given)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(token.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def secret_matches(token: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    if scheme != "scrypt" or not salt_hex or not digest_hex:
        return False
    return hmac.compare_digest(hash_secret(token, bytes.fromhex(salt_hex)), stored)


def key_id_of(token: str) -> str | None:
    """The key id a token names, or None if it is not shaped like a gateway token."""
    key_id, dot, secret = token.partition(".")
    if not dot or len(key_id) != 16 or not secret or len(token) > 200:
        return None
    return key_id


@dataclass(frozen=True, slots=True)
class Analyst:
    name: str
    key_id: str
    token_hash: str
    role: Role = Role.ANALYST
    principal: str | None = None  # an IAM principal ARN that authenticates as this analyst
    revoked: bool = False
    created_at: dt.datetime | None = None
    version: int = 1

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key_id": self.key_id,
            "token_hash": self.token_hash,
            "role": self.role.value,
            "principal": self.principal,
            "revoked": self.revoked,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Analyst:
        return cls(
            name=data["name"],
            key_id=data["key_id"],
            token_hash=data["token_hash"],
            role=Role(data.get("role", "analyst")),
            principal=data.get("principal"),
            revoked=bool(data.get("revoked", False)),
            created_at=dt.datetime.fromisoformat(data["created_at"]) if data.get("created_at") else None,
            version=int(data["version"]),
        )

    def public_json(self) -> dict[str, Any]:
        """What an operator listing shows: everything but the hash."""
        return {
            "name": self.name,
            "role": self.role.value,
            "principal": self.principal,
            "revoked": self.revoked,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def check_principal(principal: str | None) -> str | None:
    if principal is not None and (not principal.startswith(PRINCIPAL_PREFIX) or any(c.isspace() for c in principal)):
        raise GatewayValidationError(f"principal {principal!r} is not an IAM ARN (arn:aws:iam::ACCOUNT:...)")
    return principal


def new_analyst(name: str, role: Role, principal: str | None, now: dt.datetime) -> tuple[Analyst, str]:
    """A new record and its token (the only time the token exists in clear)."""
    check_name("Analyst", name)
    key_id, token = new_token()
    analyst = Analyst(
        name=name,
        key_id=key_id,
        token_hash=hash_secret(token),
        role=role,
        principal=check_principal(principal),
        created_at=now,
    )
    return analyst, token


def authenticate(analysts: dict[str, Analyst], token: str | None) -> Analyst:
    """The live analyst a bearer token belongs to; any failure is the same ``AuthenticationError``."""
    refused = AuthenticationError("invalid or revoked token; ask an operator for a token (dpgw analysts add)")
    key_id = key_id_of(token or "")
    if key_id is None:
        raise refused
    analyst = next((a for a in analysts.values() if a.key_id == key_id), None)
    if analyst is None or analyst.revoked or not secret_matches(token or "", analyst.token_hash):
        raise refused
    return analyst


def by_principal(analysts: dict[str, Analyst], principal: str | None) -> Analyst:
    """The live analyst bound to an IAM principal ARN; unknown or revoked is an ``AuthorizationError``."""
    forms = _principal_forms(principal) if principal else set()
    match = next((a for a in analysts.values() if a.principal in forms and not a.revoked), None)
    if match is None:
        raise AuthorizationError(
            "this AWS principal is not registered as an analyst; ask an operator to run: "
            "dpgw analysts add NAME --principal ARN"
        )
    return match


def _principal_forms(arn: str) -> set[str]:
    """The ARN as the caller presents it, plus its role's ARN for an assumed-role session.

    API Gateway reports a caller who assumed a role as ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``;
    an operator registers the role itself, ``arn:aws:iam::ACCOUNT:role/ROLE``.
    """
    forms = {arn}
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        forms.add(f"{parts[0]}:{parts[1]}:iam::{parts[4]}:role/{role}")
    return forms
