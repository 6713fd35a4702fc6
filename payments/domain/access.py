"""Agencies, API keys and the roles that decide who may do what."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    PORTAL = "portal"
    FINANCE = "finance"
    TREASURY = "treasury"
    ADMIN = "admin"


@dataclass(frozen=True)
class Agency:
    id: int
    code: str
    name: str
    allowed_hosts: frozenset[str]
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: int
    agency_id: int
    role: Role
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    # Requests a minute for this key alone; None: PAYMENTS_RATE_LIMIT_PER_MINUTE; 0: no limit.
    rate_limit_per_minute: int | None = None


@dataclass(frozen=True)
class Caller:
    """Who is calling: resolved from the API key on every request."""

    api_key_id: int
    agency_id: int
    agency_code: str
    role: Role
    # Carried along so creating a payment needs no agency query; like the key itself it is
    # cached for a few seconds, so a changed host list applies within that time.
    allowed_hosts: frozenset[str] = frozenset()
    rate_limit_per_minute: int | None = None  # the key's own limit, if it has one

    @classmethod
    def of(cls, key: ApiKey, agency: Agency) -> Caller:
        """The caller a key of ``agency`` stands for (the API and the console both)."""
        return cls(
            api_key_id=key.id,
            agency_id=agency.id,
            agency_code=agency.code,
            role=key.role,
            allowed_hosts=agency.allowed_hosts,
            rate_limit_per_minute=key.rate_limit_per_minute,
        )

    @property
    def actor(self) -> str:
        return f"apikey:{self.api_key_id}"


KEY_PREFIX = "pfk_"
# Key ids are 32-bit integers in the database: a larger one names no key (and must not reach
# a query, where PostgreSQL would refuse it as out of range).
MAX_KEY_ID = 2**31 - 1
MAX_KEY_RATE_LIMIT = 1_000_000  # requests a minute; stored as a 32-bit integer too


def new_api_key() -> str:
    """A random key; only its hash is stored, the key itself is shown once."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + 6]
