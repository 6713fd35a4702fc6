"""One typed settings object, read from ``PAYMENTS_*`` environment variables at start-up.

Every variable is listed in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./payments.db"


def normalise_database_url(url: str) -> str:
    """Map plain URLs to the async drivers we ship (asyncpg, aiosqlite)."""
    for plain, asynchronous in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return asynchronous + url[len(plain) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", frozen=True)

    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        description="SQLAlchemy URL; PostgreSQL in production, a SQLite file by default.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public base URL used in the links we hand out (checkout_url).",
    )
    sandbox: bool = Field(
        default=False,
        description="Sandbox providers and demo conveniences (plain http return URLs allowed).",
    )
    max_amount: int = Field(
        default=100_000_000_000,
        gt=0,
        description="Largest amount accepted for one payment, in minor units.",
    )
    default_expiry_minutes: int = Field(
        default=24 * 60, gt=0, description="Expiry of a payment when the portal gives none."
    )
    max_expiry_minutes: int = Field(
        default=30 * 24 * 60, gt=0, description="Latest expiry a portal may ask for."
    )
    max_body_bytes: int = Field(
        default=64 * 1024, gt=0, description="Largest accepted request body."
    )
    idempotency_ttl_hours: int = Field(
        default=24, gt=0, description="How long an Idempotency-Key and its answer are kept."
    )
    expiry_interval_seconds: int = Field(
        default=30,
        ge=0,
        description="How often the web process expires overdue payments (0 turns it off).",
    )
    db_pool_size: int = Field(default=10, gt=0, description="Database connections per process.")
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_json: bool = Field(default=True, description="JSON log lines (false: console format).")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
