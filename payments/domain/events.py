"""Records of what happened: payment transitions and the audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PaymentEvent:
    payment_id: str
    from_status: str | None
    to_status: str
    cause: str
    actor: str
    occurred_at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class AuditEntry:
    action: str
    actor: str
    occurred_at: datetime
    agency_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    """An audit row as it is read back: the entry, its id (time-ordered: the log is
    append-only) and the code of the agency it concerns, if any."""

    id: int
    entry: AuditEntry
    agency_code: str | None = None
