from __future__ import annotations

import httpx

from tests.support.api import Portal, payment_body


async def test_create_and_read(client: httpx.AsyncClient, portal: Portal) -> None:
    body = payment_body()
    created = await client.post(
        "/v1/payments", json=body, headers={**portal.auth(), "Idempotency-Key": "k1"}
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "created"
    assert payment["checkout_url"].startswith("https://pay.test/checkout/")
    read = await client.get(f"/v1/payments/{payment['id']}", headers=portal.auth())
    assert read.status_code == 200
    # The one payment adds its attempts (none yet) to what the creation answered.
    assert read.json() == {**payment, "attempts": []}
