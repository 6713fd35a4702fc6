"""One typed settings object, read from ``PAYMENTS_*`` environment variables at start-up.

The field descriptions are the configuration reference: ``docs/configuration.md`` is generated
from them (``payments docs configuration``), and a unit test fails when the two differ.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from payments.domain.attempts import DEFAULT_MAX_ATTEMPTS
from payments.domain.schedule import parse_local_time
from payments.domain.text import text_problem

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./payments.db"
# Values that are obviously not a real secret: refused outside sandbox mode.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "change_me", "secret", "password", "placeholder", "todo", "xxx"}
)
SANDBOX_PREFIX = "sandbox-"
# The sandbox's help contact: a reserved domain (RFC 2606), so no real desk gets demo calls.
SANDBOX_HELP_CONTACT = "hotro@example.com (sandbox)"
MIN_SESSION_SECRET = 32  # characters of the console's cookie-signing secret
MIN_METRICS_TOKEN = 16  # characters of the /metrics bearer token outside sandbox mode
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``10.0.0.0/8, 127.0.0.1`` -> networks (a bare address is a network of one)."""
    found = []
    for part in text.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP network (CIDR) or address") from None
    if not found:
        raise ValueError("no network given")
    return tuple(found)


@dataclass(frozen=True)
class VnpaySettings:
    tmn_code: str
    hash_secret: str = field(repr=False)
    pay_url: str
    api_url: str
    settlement_url: str = ""  # empty: no settlement report fetched
    settlement_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class MomoSettings:
    partner_code: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    api_url: str
    settlement_url: str = ""  # empty: no settlement report fetched
    settlement_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class VietqrSettings:
    bank_bin: str
    account_no: str
    account_name: str
    webhook_secret: str = field(repr=False)


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
    """Every setting is an environment variable: the field's name in capitals after the prefix
    `PAYMENTS_` (`database_url` is `PAYMENTS_DATABASE_URL`), read once at start-up. Amounts are
    integers in minor units; times of day are Vietnam local time (UTC+7), `HH:MM`.

    Provider settings: in sandbox mode every unset value points at the built-in simulators.
    Outside sandbox mode the web app (and the worker, for the provider settings) refuses to
    start, naming the variables and never their values, when one is missing, a placeholder
    (`changeme`, `secret`, ...) or a sandbox secret. The settlement report URLs are optional
    everywhere: an empty value switches a report off, in sandbox mode too.
    """

    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", frozen=True)

    database_url: str = Field(
        default=DEFAULT_SQLITE_URL,
        description="The database: a SQLite file by default, `postgresql://user@host/db` in "
        "production (the asyncpg driver is chosen for you, as aiosqlite is for `sqlite://`).",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public base of the URLs the gateway hands out (`checkout_url`); a "
        "`https` base also makes the console's session cookie `Secure`.",
    )
    sandbox: bool = Field(
        default=False,
        description="Sandbox providers (the simulators, mounted under `/sandbox/`) and demo "
        "conveniences (plain `http` return and notification URLs).",
    )
    max_amount: int = Field(
        default=100_000_000_000,
        gt=0,
        description="Largest amount of one payment, in minor units.",
    )
    default_expiry_minutes: int = Field(
        default=24 * 60, gt=0, description="Expiry of a payment when the portal gives none."
    )
    max_expiry_minutes: int = Field(
        default=30 * 24 * 60,
        gt=0,
        description="Latest expiry a portal may ask for (30 days by default).",
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Largest request body of the API, provider callbacks and console forms "
        "(`413` above it); statement uploads have their own limit, "
        "`PAYMENTS_STATEMENT_MAX_BYTES`.",
    )
    idempotency_ttl_hours: int = Field(
        default=24, gt=0, description="How long an `Idempotency-Key` and its answer are kept."
    )
    rate_limit_per_minute: int = Field(
        default=6000,
        ge=0,
        description="Requests per UTC minute per API key, across every web process (`429` "
        "beyond it); a key created with its own `--rate-limit` keeps that; `0`: no limit.",
    )
    refund_approval_threshold: int = Field(
        default=10_000_000,
        ge=0,
        description="Refunds above this amount (minor units) wait in `awaiting_approval` for a "
        "second finance officer (`0`: every refund does).",
    )
    max_attempts_per_payment: int = Field(
        default=DEFAULT_MAX_ATTEMPTS,
        gt=0,
        description="Provider tries a payment may have in all; beyond them the checkout "
        "refuses to start another (choosing a provider whose try is open reuses it).",
    )
    help_contact: str | None = Field(
        default=None,
        max_length=200,
        description="Whom payers may ask about a payment, shown on every checkout page: one "
        "line of at most 200 characters, such as a hotline and an email address (`Tổng đài "
        "1900 xxxx, hotro@example.gov.vn`). Unset: a demo contact in sandbox mode; otherwise "
        "the pages send payers to the agency that asked them to pay.",
    )
    expiry_interval_seconds: int = Field(
        default=30,
        ge=0,
        description="How often the worker requeries providers, expires overdue payments and "
        "purges stale idempotency keys and rate-limit counts (`0`: off).",
    )
    run_worker_in_web: bool = Field(
        default=False,
        description="Run the worker's jobs inside the web process too (`payments demo` sets "
        "`true`).",
    )
    worker_poll_ms: int = Field(
        default=1000,
        gt=0,
        description="How often a worker looks for due notifications and refunds; it looks for "
        "due daily jobs ten times less often (at least every 30 seconds).",
    )
    worker_lease_seconds: int = Field(
        default=60,
        gt=0,
        description="How long a worker's claim (a notification, a daily run) holds before "
        "another worker may take it over.",
    )
    notify_timeout_seconds: int = Field(
        default=10, gt=0, description="Timeout of one notification post to a portal."
    )
    webhook_secret_overlap_hours: int = Field(
        default=24,
        ge=0,
        description="How long the previous webhook secret keeps signing after a rotation.",
    )
    nightly_at: str = Field(
        default="01:00",
        description="Vietnam local time (`HH:MM`) at which daily jobs run for the previous "
        "business day.",
    )
    seal_interval_seconds: int = Field(
        default=5,
        ge=0,
        description="How often the worker extends the ledger's hash chain over new entries "
        "(`0`: off; the nightly anchor still seals first).",
    )
    seal_batch: int = Field(
        default=1000,
        gt=0,
        description="Entries per sealing transaction; a round seals at most 20 batches.",
    )
    ledger_anchor_file: str | None = Field(
        default=None,
        description="File the nightly job appends the chain's head to (`<UTC time> "
        "<position>:<hash>`, opened with `O_APPEND`, each line fsynced); give it to "
        "`payments ledger verify --anchor`.",
    )
    ledger_anchor_url: str | None = Field(
        default=None,
        description="URL the nightly job posts the chain's head to (JSON `anchor`, `position`, "
        "`chain_hash`, `anchored_at`); any answer but 2xx is logged as `ledger_anchor_failed`.",
    )
    ledger_anchor_token: str | None = Field(
        default=None,
        repr=False,
        description="Bearer token sent to `PAYMENTS_LEDGER_ANCHOR_URL`.",
    )
    events_settle_seconds: int = Field(
        default=5,
        ge=0,
        description="`GET /v1/events` lists only events at least this old, so a poller's "
        "cursor never passes an event whose transaction commits late.",
    )
    treasury_statement_url: str | None = Field(
        default=None,
        description="Treasury statement endpoint (`GET ?date=YYYY-MM-DD&format=csv` or "
        "`camt`); when set, the worker reconciles every night. `payments reconcile --fetch` "
        "also reads it, and in sandbox mode falls back to the sandbox treasury.",
    )
    treasury_statement_token: str | None = Field(
        default=None, repr=False, description="Bearer token sent to the statement endpoint."
    )
    statement_format: str = Field(
        default="csv",
        pattern="^(csv|camt)$",
        description="Treasury statement format: `csv`, or `camt` (ISO 20022 camt.053/054).",
    )
    statement_csv_mapping: str | None = Field(
        default=None,
        description="CSV column mapping of the treasury statement: inline JSON "
        '(`{"columns": {"amount": "So tien"}, "delimiter": ";"}`) or the path of a JSON file; '
        "unset: the default layout.",
    )
    statement_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        gt=0,
        description="Largest statement or settlement report uploaded over the API or the "
        "console, or fetched by the nightly job and `reconcile --fetch` (`413` above it; 512 "
        "MiB by default, and a national day of CSV is about 150 MB). A settlement report, "
        "parsed whole, is limited to 64 MiB however it comes (an upload gets `413` as the body "
        "passes it, a download fails as it passes it, a file given to the CLI is refused).",
    )
    reconcile_cutoff: str = Field(
        default="16:00",
        description="Vietnam local time (`HH:MM`) after which a capture belongs to the next "
        "business day.",
    )
    settlement_window_days: int = Field(
        default=3,
        ge=0,
        description="Business days after its due date a treasury booking still counts as "
        "`late` (beyond them it is `late` too, noted as outside the window); also how long a "
        "refund the gateway paid may wait for its provider's report before it is "
        "`refund_missing_at_provider`.",
    )
    db_pool_size: int = Field(
        default=10,
        gt=0,
        description="Database connections per process, kept open (a reconciliation run or a "
        "large statement upload opens 2 more of its own while it lasts).",
    )
    db_pool_overflow: int = Field(
        default=0,
        ge=0,
        description="Extra connections per process for bursts, closed again when returned "
        "(under a steady load they churn: measured 15% slower than waiting).",
    )
    db_pool_timeout: int = Field(
        default=10,
        ge=1,
        le=300,
        description="Seconds a request waits for a free connection before a `503` with "
        "`Retry-After`.",
    )
    log_level: str = Field(default="info", description="`debug`, `info`, `warning` or `error`.")
    log_json: bool = Field(
        default=True,
        description="JSON log lines (`false`: readable console lines; the demo uses those).",
    )
    # /metrics (docs/operations/metrics.md): off outside sandbox mode until one of these is set.
    metrics_token: str | None = Field(
        default=None,
        repr=False,
        description="Bearer token /metrics asks for (at least 16 characters outside sandbox).",
    )
    metrics_networks: str | None = Field(
        default=None,
        description="Comma-separated networks (CIDR) /metrics answers, e.g. 10.0.0.0/8,::1/128.",
    )
    metrics_payments_window_minutes: int = Field(
        default=60,
        gt=0,
        le=24 * 60,
        description="payments_recent_payments counts the payments created this many minutes back.",
    )
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the worker's own /metrics (0: none).",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's /metrics listens on."
    )
    # Providers: in sandbox mode every unset value points at the built-in simulators.
    vnpay_tmn_code: str | None = Field(
        default=None, description="VNPay terminal code (`vnp_TmnCode`)."
    )
    vnpay_hash_secret: str | None = Field(
        default=None,
        repr=False,
        description="VNPay HMAC-SHA512 secret (required outside sandbox).",
    )
    vnpay_pay_url: str | None = Field(default=None, description="VNPay payment page.")
    vnpay_api_url: str | None = Field(
        default=None, description="VNPay API for `querydr` and `refund`."
    )
    vnpay_settlement_url: str | None = Field(
        default=None,
        description="VNPay settlement report endpoint (`GET ?date=YYYY-MM-DD`), fetched by the "
        "nightly job and `reconcile --fetch`; unset or empty: not fetched (logged as skipped).",
    )
    vnpay_settlement_token: str | None = Field(
        default=None,
        repr=False,
        description="Bearer token sent to the VNPay settlement report endpoint.",
    )
    momo_partner_code: str | None = Field(default=None, description="MoMo partner code.")
    momo_access_key: str | None = Field(
        default=None, repr=False, description="MoMo access key (required outside sandbox)."
    )
    momo_secret_key: str | None = Field(
        default=None,
        repr=False,
        description="MoMo HMAC-SHA256 secret (required outside sandbox).",
    )
    momo_api_url: str | None = Field(default=None, description="MoMo API base URL.")
    momo_settlement_url: str | None = Field(
        default=None,
        description="MoMo settlement report endpoint (`GET ?date=YYYY-MM-DD`), fetched by the "
        "nightly job and `reconcile --fetch`; unset or empty: not fetched (logged as skipped).",
    )
    momo_settlement_token: str | None = Field(
        default=None,
        repr=False,
        description="Bearer token sent to the MoMo settlement report endpoint.",
    )
    vietqr_bank_bin: str | None = Field(default=None, description="Collection bank BIN.")
    vietqr_account_no: str | None = Field(default=None, description="Collection account number.")
    vietqr_account_name: str | None = Field(
        default=None, description="Account holder shown to payers."
    )
    vietqr_webhook_secret: str | None = Field(
        default=None,
        repr=False,
        description="HMAC-SHA256 secret of the bank's credit notifications.",
    )
    session_secret: str | None = Field(
        default=None,
        repr=False,
        description="Signs the staff console's session cookie: at least 32 characters, "
        "required outside sandbox (the web app refuses a missing, placeholder, sandbox or "
        "short one); sandbox: a random one per process.",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("nightly_at", "reconcile_cutoff")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        parse_local_time(value)  # ValueError names the problem
        return value.strip()

    @field_validator("help_contact")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        problem = text_problem(value)
        if problem or "\n" in value or "\r" in value or "\t" in value:
            raise ValueError(f"must be one line of plain text ({problem or 'a line break'})")
        return value.strip()

    @property
    def payer_help_contact(self) -> str | None:
        """The help contact payers see; None: send them to the collecting agency."""
        return self.help_contact or (SANDBOX_HELP_CONTACT if self.sandbox else None)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, value: str | None) -> str | None:
        if value is not None:
            parse_networks(value)  # ValueError names the entry that is not a network
        return value

    @property
    def metrics_allowed_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.metrics_networks) if self.metrics_networks else ()

    def metrics_problems(self) -> list[str]:
        """Why the /metrics token cannot guard real metrics (empty in sandbox mode)."""
        value = self.metrics_token
        if self.sandbox or value is None:
            return []
        if value.strip().lower() in PLACEHOLDER_SECRETS or value.startswith(SANDBOX_PREFIX):
            return ["PAYMENTS_METRICS_TOKEN is a placeholder or a sandbox secret"]
        if len(value.strip()) < MIN_METRICS_TOKEN:
            return [f"PAYMENTS_METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN} characters"]
        return []

    # --- providers ------------------------------------------------------------------------

    def _value(self, name: str, sandbox_default: str) -> str:
        value = getattr(self, name)
        if value is None:
            return sandbox_default if self.sandbox else ""
        return str(value)

    @property
    def vnpay(self) -> VnpaySettings:
        sim = f"{self.base_url}/sandbox/vnpay"
        return VnpaySettings(
            tmn_code=self._value("vnpay_tmn_code", "PFSANDBX"),
            hash_secret=self._value("vnpay_hash_secret", SANDBOX_PREFIX + "vnpay-hash-secret"),
            pay_url=self._value("vnpay_pay_url", f"{sim}/paymentv2/vpcpay.html"),
            api_url=self._value("vnpay_api_url", f"{sim}/merchant_webapi/api/transaction"),
            settlement_url=self._value("vnpay_settlement_url", f"{sim}/settlement"),
            settlement_token=self.vnpay_settlement_token or None,
        )

    @property
    def momo(self) -> MomoSettings:
        return MomoSettings(
            partner_code=self._value("momo_partner_code", "MOMOSANDBOX"),
            access_key=self._value("momo_access_key", SANDBOX_PREFIX + "momo-access-key"),
            secret_key=self._value("momo_secret_key", SANDBOX_PREFIX + "momo-secret-key"),
            api_url=self._value("momo_api_url", f"{self.base_url}/sandbox/momo"),
            settlement_url=self._value(
                "momo_settlement_url", f"{self.base_url}/sandbox/momo/settlement"
            ),
            settlement_token=self.momo_settlement_token or None,
        )

    @property
    def vietqr(self) -> VietqrSettings:
        return VietqrSettings(
            bank_bin=self._value("vietqr_bank_bin", "970415"),
            account_no=self._value("vietqr_account_no", "113366668888"),
            account_name=self._value("vietqr_account_name", "KBNN SANDBOX"),
            webhook_secret=self._value(
                "vietqr_webhook_secret", SANDBOX_PREFIX + "vietqr-webhook-secret"
            ),
        )

    @property
    def statement_url(self) -> str:
        """The treasury statement endpoint; in sandbox mode the sandbox treasury by default."""
        return self._value("treasury_statement_url", f"{self.base_url}/sandbox/treasury/statement")

    def provider_problems(self) -> list[str]:
        """Why the provider configuration cannot run for real money (empty in sandbox mode).

        Names the variables, never their values.
        """
        if self.sandbox:
            return []
        problems = []
        required = (
            "vnpay_tmn_code", "vnpay_pay_url", "vnpay_api_url",
            "momo_partner_code", "momo_api_url",
            "vietqr_bank_bin", "vietqr_account_no", "vietqr_account_name",
        )  # fmt: skip
        secrets = (
            "vnpay_hash_secret",
            "momo_access_key",
            "momo_secret_key",
            "vietqr_webhook_secret",
        )
        for name in required:
            if not getattr(self, name):
                problems.append(f"PAYMENTS_{name.upper()} is not set")
        for name in secrets:
            value = getattr(self, name)
            if value is None or value.strip().lower() in PLACEHOLDER_SECRETS:
                problems.append(f"PAYMENTS_{name.upper()} is missing or a placeholder")
            elif value.startswith(SANDBOX_PREFIX):
                problems.append(f"PAYMENTS_{name.upper()} is a sandbox secret")
        return problems

    def console_problems(self) -> list[str]:
        """Why the staff console's session secret cannot sign real sessions (empty in sandbox
        mode, where a random secret is made per process)."""
        value = self.session_secret
        if self.sandbox:
            return []
        if value is None or value.strip().lower() in PLACEHOLDER_SECRETS:
            return ["PAYMENTS_SESSION_SECRET is missing or a placeholder"]
        if value.startswith(SANDBOX_PREFIX):
            return ["PAYMENTS_SESSION_SECRET is a sandbox secret"]
        if len(value.strip()) < MIN_SESSION_SECRET:
            return [f"PAYMENTS_SESSION_SECRET is shorter than {MIN_SESSION_SECRET} characters"]
        return []
