"""The record of every message a provider sent us, kept whether or not we trusted it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from payments.domain.attempts import Provider, Verdict


class Channel(StrEnum):
    IPN = "ipn"  # server-to-server notification: the only kind that moves money
    RETURN = "return"  # browser return: shown, never applied
    CREDIT = "credit"  # bank credit notification (VietQR)
    QUERY = "query"  # our status query's answer


VERIFIED = "ok"


@dataclass(frozen=True)
class ProviderCallback:
    provider: Provider
    channel: Channel
    payload: Mapping[str, Any]  # the raw parameters or JSON body, as received
    received_at: datetime
    verification: str  # VERIFIED, or why the message was rejected
    provider_ref: str | None = None
    payment_id: str | None = None
    attempt_id: str | None = None
    verdict: Verdict | None = None
    reason: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def verified(self) -> bool:
        return self.verification == VERIFIED
