"""What the portal and treasury staff do over the JSON API during a browser test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from payments.domain.access import Role
from tests.browser.server import PORTAL_PATH
from tests.support.api import Portal, payment_body, uow_for


@dataclass
class Gateway:
    base_url: str
    database_url: str
    portal: Portal

    @property
    def return_url(self) -> str:
        return f"{self.base_url}{PORTAL_PATH}"

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10)

    async def create_payment(self) -> dict[str, Any]:
        async with self._client() as http:
            answer = await http.post(
                "/v1/payments",
                json=payment_body(return_url=self.return_url),
                headers={**self.portal.auth(), "Idempotency-Key": uuid.uuid4().hex},
            )
        assert answer.status_code == 201, answer.text
        payment: dict[str, Any] = answer.json()
        return payment

    async def payment(self, payment_id: str) -> dict[str, Any]:
        async with self._client() as http:
            answer = await http.get(f"/v1/payments/{payment_id}", headers=self.portal.auth())
        assert answer.status_code == 200, answer.text
        payment: dict[str, Any] = answer.json()
        return payment

    async def trial_balance_is_balanced(self) -> bool:
        async with self._client() as http:
            answer = await http.get(
                "/v1/ledger/trial-balance", headers=self.portal.auth(Role.TREASURY)
            )
        assert answer.status_code == 200, answer.text
        balanced: bool = answer.json()["balanced"]
        return balanced

    async def ledger_entries_of(self, payment_id: str) -> dict[str, int]:
        """Source key -> amount moved, for every ledger entry this payment caused."""
        uow = uow_for(self.database_url)
        try:
            async with uow() as tx:
                entries = await tx.ledger.entries_after(0, 10_000)
        finally:
            await uow.engine.dispose()
        prefix = f"payment:{payment_id}:"
        return {
            e.source_key: sum(leg.amount for leg in e.legs if leg.net > 0)
            for e in entries
            if e.source_key.startswith(prefix)
        }
