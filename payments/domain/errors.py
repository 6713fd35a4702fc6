"""One error root for the whole gateway. Every error raised on purpose is a PaymentsError; this
drawing is the whole tree, wherever a class is defined (a test compares it with the classes):

    PaymentsError
    ├── InvalidInput                a request broke a rule; carries per-field problems
    │   ├── StatementError              a statement or report file cannot be read (reconcile)
    │   └── UnbalancedEntry             a ledger draft breaks an entry rule (ledger)
    ├── NotAuthenticated            no or unknown credentials
    ├── NotPermitted                credentials lack the role for the action
    │   └── WrongRole                   the audit log is the administrators' (services.audit)
    ├── NotFound                    no such resource (or not visible to the caller)
    │   ├── AccountNotFound             no such ledger account (ledger)
    │   └── EntryNotFound               no such ledger entry (ledger)
    ├── Conflict                    the request clashes with the current state
    │   ├── AlreadyReversed             the entry has its one reversal already (ledger)
    │   ├── AttemptRefused              no new attempt now: one is under way, or too many
    │   ├── CheckoutClosed              the payment can no longer be paid (paid, expired...)
    │   ├── InvalidTransition           the state machine forbids the move
    │   ├── ReferenceInUse              an open payment already carries the reference
    │   ├── RefundExceedsAvailable      more than is left to refund (refunds.rules)
    │   └── SourceKeyConflict           the source key was used for other content (ledger)
    ├── IdempotencyKeyReused        same key, different request (a 422, not a conflict)
    ├── PreconditionFailed          the caller's view of the state is stale
    ├── Unavailable                 no database connection came free in time (overload); retry
    ├── RateLimited                 the API key made its requests of the minute; retry next minute
    ├── InvalidConfiguration        start-up settings cannot run (e.g. a placeholder secret)
    ├── BadStatementConfiguration   the treasury statement source is set up wrong (reconcile)
    ├── StatementUnavailable        the treasury statement could not be had (reconcile.ports)
    ├── ReportUnavailable           a provider's settlement report could not be had (reconcile)
    ├── ReportSkipped               no settlement report is configured for the provider (reconcile)
    ├── DownloadFailed              a statement or report download failed (reconcile.sources)
    ├── InvalidFormat               an upload's source and format do not go together
    └── InvalidQrPayload            a VietQR payload cannot be read (providers.vietqr.qr)

Errors carry data; HTTP status codes are chosen only at the edge. The web edge's own control
flow (ApiError, the console's SignInRequired, NotStaff, CsrfRefused) stays outside the tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class PaymentsError(Exception):
    """Root of every error the gateway raises on purpose."""

    title = "Request failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(PaymentsError):
    title = "Invalid request"

    def __init__(self, problems: Sequence[FieldProblem], detail: str | None = None) -> None:
        self.problems = list(problems)
        summary = "; ".join(f"{p.field}: {p.message}" for p in self.problems)
        super().__init__(detail or summary or "invalid request")


class NotAuthenticated(PaymentsError):
    title = "Not authenticated"


class NotPermitted(PaymentsError):
    title = "Not permitted"


class NotFound(PaymentsError):
    title = "Not found"


class Conflict(PaymentsError):
    title = "Conflict"


class ReferenceInUse(Conflict):
    title = "Reference already in use"

    def __init__(self, reference: str, existing_payment_id: str, existing_status: str) -> None:
        super().__init__(
            f"reference {reference!r} is already used by payment {existing_payment_id} "
            f"({existing_status})"
        )
        self.reference = reference
        self.existing_payment_id = existing_payment_id
        self.existing_status = existing_status


class InvalidTransition(Conflict):
    title = "Invalid state transition"

    def __init__(self, resource_id: str, current: str, wanted: str) -> None:
        super().__init__(f"{resource_id} is {current}; it cannot become {wanted}")
        self.resource_id = resource_id
        self.current = current
        self.wanted = wanted


class CheckoutClosed(Conflict):
    title = "Payment can no longer be paid"

    def __init__(self, payment_id: str, status: str) -> None:
        super().__init__(f"{payment_id} is {status}; no new payment attempt can start")
        self.payment_id = payment_id
        self.status = status


class AttemptRefused(Conflict):
    title = "No new payment attempt"

    def __init__(self, payment_id: str, reason: str, detail: str) -> None:
        super().__init__(f"{payment_id}: {detail}")
        self.payment_id = payment_id
        self.reason = reason  # attempts.StartRefusal's value


class IdempotencyKeyReused(PaymentsError):
    title = "Idempotency key reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request; "
            "use a new key for a new request"
        )
        self.key = key


class PreconditionFailed(PaymentsError):
    title = "Precondition failed"


class Unavailable(PaymentsError):
    title = "Temporarily unavailable"

    def __init__(self, detail: str, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class RateLimited(PaymentsError):
    title = "Too many requests"

    def __init__(self, limit: int, retry_after_seconds: int) -> None:
        super().__init__(
            f"this API key may make {limit} requests a minute; "
            f"retry in {retry_after_seconds} s, when the next minute starts"
        )
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds


class InvalidConfiguration(PaymentsError):
    title = "Invalid configuration"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(
            "the gateway cannot start outside sandbox mode: "
            + "; ".join(problems)
            + " (set them, or PAYMENTS_SANDBOX=true for the built-in simulators)"
        )
        self.problems = list(problems)
