"""Credit notifications from the collection bank's webhook, for VietQR transfers.

Format (ours; the bank integration or the sandbox simulator speaks it):

    POST <our webhook URL>
    Content-Type: application/json
    X-Signature: sha256=<lowercase hex HMAC-SHA256(shared secret, raw request body bytes)>

    {"transfer_id": "FT25001234567",           bank's unique id of the credit, 1-64 chars
     "amount": 150000,                          JSON integer, minor units (VND: dong), > 0
     "currency": "VND",                         ISO 4217
     "description": "NOP PHI PF7K2M9Q4X",       the transfer text as the payer's bank sent it
     "credited_at": "2025-01-02T03:04:05Z"}     ISO 8601 with an offset

The signature covers the raw bytes, so the body is verified before it is parsed, and no
re-serialisation can change what was signed. The bank retries until it gets a 2xx: receivers
deduplicate on ``transfer_id``. The amount is what arrived, which may differ from what was asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from payments.domain import strict_json
from payments.domain.money import is_known_currency
from payments.providers.outcomes import Rejected, Rejection
from payments.providers.signing import hmac_sha256_hex_bytes, signature_matches

SIGNATURE_HEADER = "X-Signature"
_PREFIX = "sha256="


@dataclass(frozen=True)
class CreditNotification:
    transfer_id: str
    amount: int  # minor units of ``currency``
    currency: str
    description: str
    credited_at: datetime  # aware UTC


def signature_header(secret: str, body: bytes) -> str:
    """The ``X-Signature`` value for ``body``: what the bank (or the simulator) sends."""
    return _PREFIX + hmac_sha256_hex_bytes(secret, body)


def encode_notification(secret: str, credit: CreditNotification) -> tuple[bytes, str]:
    """Body and signature header for ``credit``, as the bank sends them (sandbox simulator)."""
    body = json.dumps(
        {
            "transfer_id": credit.transfer_id,
            "amount": credit.amount,
            "currency": credit.currency,
            "description": credit.description,
            "credited_at": credit.credited_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
        ensure_ascii=False,
    ).encode()
    return body, signature_header(secret, body)


def verify_notification(
    secret: str, body: bytes, signature: str | None
) -> CreditNotification | Rejected:
    """Check the signature over the raw body in constant time, then parse it strictly."""
    if not signature:
        return Rejected(Rejection.MISSING_SIGNATURE, f"{SIGNATURE_HEADER} header is missing")
    if not signature.startswith(_PREFIX):
        return Rejected(Rejection.BAD_SIGNATURE, f"{SIGNATURE_HEADER} must start with {_PREFIX}")
    if not signature_matches(hmac_sha256_hex_bytes(secret, body), signature[len(_PREFIX) :]):
        return Rejected(Rejection.BAD_SIGNATURE, "signature does not match the body")
    try:
        data = strict_json.loads(body)
    except strict_json.DuplicateKey as exc:
        return Rejected(Rejection.MALFORMED, f"body is not one JSON reading: {exc}")
    except (ValueError, UnicodeDecodeError):
        return Rejected(Rejection.MALFORMED, "body is not JSON")
    if not isinstance(data, dict):
        return Rejected(Rejection.MALFORMED, "body is not a JSON object")
    return _parse(data)


def _parse(data: dict[str, object]) -> CreditNotification | Rejected:
    transfer_id = data.get("transfer_id")
    amount = data.get("amount")
    currency = data.get("currency")
    description = data.get("description")
    credited_at = data.get("credited_at")
    if not isinstance(transfer_id, str) or not 0 < len(transfer_id) <= 64:
        return Rejected(Rejection.MALFORMED, "transfer_id must be a string of 1-64 characters")
    # type() rather than isinstance(): JSON true is a bool, and bool is an int subclass.
    if type(amount) is not int or amount <= 0:
        return Rejected(Rejection.MALFORMED, "amount must be a positive JSON integer")
    if not isinstance(currency, str) or not is_known_currency(currency):
        return Rejected(Rejection.MALFORMED, "currency must be an ISO 4217 code")
    if not isinstance(description, str):
        return Rejected(Rejection.MALFORMED, "description must be a string")
    if not isinstance(credited_at, str):
        return Rejected(Rejection.MALFORMED, "credited_at must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(credited_at)
    except ValueError:
        return Rejected(Rejection.MALFORMED, "credited_at is not an ISO 8601 time")
    if moment.tzinfo is None:
        return Rejected(Rejection.MALFORMED, "credited_at has no UTC offset")
    return CreditNotification(
        transfer_id=transfer_id,
        amount=amount,
        currency=currency,
        description=description,
        credited_at=moment.astimezone(UTC),
    )
