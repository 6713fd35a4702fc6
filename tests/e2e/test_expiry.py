"""A payment not paid by expires_at becomes expired, exactly once, with an event."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from payments.collection.usecases.payments import expire_due_payments
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, api_client, payment_body


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_overdue_payments_expire_and_others_do_not(
    database_url: str, portal: Portal, uow_factory: SqlUnitOfWorkFactory
) -> None:
    clock = Clock(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    async with api_client(database_url, clock=clock) as client:
        ids = []
        for i, minutes in enumerate([10, 10, 120]):
            body = payment_body(expires_at=(clock.now + timedelta(minutes=minutes)).isoformat())
            answer = await client.post(
                "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": f"e{i}"}
            )
            ids.append(answer.json()["id"])
        await client.post(f"/v1/payments/{ids[1]}/cancel", headers=portal.auth())

        assert await expire_due_payments(uow_factory, now=clock.now + timedelta(minutes=9)) == 0
        later = clock.now + timedelta(minutes=11)
        # Two sweepers at once (two processes, say) expire the payment once between them.
        counts = await asyncio.gather(
            expire_due_payments(uow_factory, now=later), expire_due_payments(uow_factory, now=later)
        )
        assert sorted(counts) == [0, 1]

        statuses = [
            (await client.get(f"/v1/payments/{pid}", headers=portal.auth())).json()["status"]
            for pid in ids
        ]
        assert statuses == ["expired", "cancelled", "created"]
        events = (await client.get(f"/v1/payments/{ids[0]}/events", headers=portal.auth())).json()
        assert [(e["to_status"], e["cause"], e["actor"]) for e in events["data"]][-1] == (
            "expired",
            "expiry",
            "system",
        )
        cancel = await client.post(f"/v1/payments/{ids[0]}/cancel", headers=portal.auth())
        assert cancel.status_code == 409
        # The expired payment no longer holds its reference: the portal may ask again.
        expired = (await client.get(f"/v1/payments/{ids[0]}", headers=portal.auth())).json()
        again = await client.post(
            "/v1/payments",
            json=payment_body(reference=expired["reference"]),
            headers={**portal.auth(), "Idempotency-Key": "e-again"},
        )
        assert again.status_code == 201, again.text
