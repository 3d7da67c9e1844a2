"""API clients, their tokens and scopes.

Tokens are random 256-bit secrets shown once; only their SHA-256 is stored. A fast hash is enough because
the token is random (no dictionary to guess from), and it lets the authorizer find a client with one query.
Scopes are ``<platform>:read``, ``<platform>:act`` or ``*``; ``act`` does not imply ``read``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from ordersync.models import Platform, UtcDatetime

TOKEN_PREFIX = "osk_"  # noqa: S105 (a visible prefix that marks ordersync tokens)
ALL_SCOPES = "*"


class Access(StrEnum):
    READ = "read"
    ACT = "act"


class ScopeError(ValueError):
    """A scope string that is neither ``*`` nor ``<platform>:read|act``."""


def parse_scope(value: str) -> str:
    """Check and normalise one scope string."""
    scope = value.strip().lower()
    if scope == ALL_SCOPES:
        return scope
    platform, _, access = scope.partition(":")
    platforms = {item.value for item in Platform}
    accesses = {item.value for item in Access}
    if platform not in platforms or access not in accesses:
        raise ScopeError(
            f"invalid scope {value!r}: use '*' or '<platform>:<access>' with platform one of "
            f"{sorted(platforms)} and access one of {sorted(accesses)}"
        )
    return scope


def scope_of(platform: Platform, access: Access) -> str:
    return f"{platform.value}:{access.value}"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class ApiClient(BaseModel):
    """A named API client as stored in the clients table (never with its token)."""

    model_config = ConfigDict(frozen=True)

    client_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    token_hash: str
    scopes: tuple[str, ...]
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None
    usage_key: str | None = Field(
        default=None, description="The value of the client's API Gateway API key in the usage plan (throttling)"
    )
    usage_key_id: str | None = Field(default=None, description="That API key's id, to delete it on revoke")

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def verifies(self, token: str) -> bool:
        """Constant-time check of a token against the stored hash."""
        return self.active and hmac.compare_digest(self.token_hash, hash_token(token))


class Principal(BaseModel):
    """Who is calling, as the authorizer passes it on to the API handler."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    scopes: frozenset[str]

    def allows(self, platform: Platform, access: Access) -> bool:
        return ALL_SCOPES in self.scopes or scope_of(platform, access) in self.scopes

    def to_context(self) -> dict[str, str]:
        """The authorizer context: API Gateway passes only flat string, number or boolean values."""
        return {"client_id": self.client_id, "scopes": " ".join(sorted(self.scopes))}

    @classmethod
    def from_context(cls, context: Mapping[str, object] | None) -> Principal | None:
        if not context or not isinstance(context.get("client_id"), str) or not context["client_id"]:
            return None
        scopes = context.get("scopes")
        return cls(client_id=str(context["client_id"]), scopes=frozenset(str(scopes or "").split()))


def normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    normalised = tuple(sorted({parse_scope(scope) for scope in scopes}))
    if not normalised:
        raise ScopeError("a client needs at least one scope")
    return normalised


def new_client(
    name: str, scopes: Iterable[str], *, now: datetime, usage_key: tuple[str, str] | None = None
) -> tuple[ApiClient, str]:
    """Make a client and its token; the token is returned once and never stored. ``usage_key`` is the
    (id, value) of its API Gateway API key, when the API throttles clients through a usage plan."""
    token = new_token()
    client = ApiClient(
        client_name=name,
        token_hash=hash_token(token),
        scopes=normalise_scopes(scopes),
        created_at=now,
        usage_key_id=usage_key[0] if usage_key else None,
        usage_key=usage_key[1] if usage_key else None,
    )
    return client, token
