"""What the logs of a whole sandbox flow hold: never a checkout token (the payer's payment
link), an API key, a provider secret, a signature or a full payer identifier.

The flow runs at log level info, so every access line and every provider exchange is written:
a payment created with the payer's id number, e-mail and phone, its checkout page opened, paid
at VNPay (signed redirect and IPN), a second one paid at MoMo, a VietQR page, a refund, an API
key created and rotated over the API."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest

from payments.domain.access import Role
from payments.settings import Settings
from tests.support.api import BASE_URL, Portal, api_client
from tests.support.checkout_flows import (
    choose_momo,
    choose_vnpay,
    create,
    path_of,
    pay_momo,
    pay_vnpay,
)

PAYER = {
    "name": "Nguyễn Văn A",
    "id_number": "001099012345",
    "email": "nguyen.van.a@example.vn",
    "phone": "0912345678",
}
# HMAC-SHA512 and HMAC-SHA256 signatures in hex (VNPay, MoMo, webhooks).
SIGNATURE = re.compile(r"\b[0-9a-fA-F]{64}(?:[0-9a-fA-F]{64})?\b")


async def test_a_whole_sandbox_flow_logs_no_token_key_secret_signature_or_payer_id(
    database_url: str, portal: Portal, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    secrets: dict[str, str] = {}
    async with api_client(database_url, sandbox=True, log_level="info") as http:
        vnpay_paid = await create(http, portal, payer=PAYER)
        momo_paid = await create(http, portal, payer=PAYER)
        for payment in (vnpay_paid, momo_paid):
            secrets[f"checkout token of {payment['id']}"] = payment["checkout_url"].rsplit("/", 1)[
                1
            ]
            assert (await http.get(path_of(payment["checkout_url"]))).status_code == 200
        returned = await pay_vnpay(http, await choose_vnpay(http, vnpay_paid), "success")
        signed = dict(parse_qsl(urlsplit(returned).query))
        secrets["VNPay return signature"] = signed["vnp_SecureHash"]
        # The return is verified, then the payer is sent to the checkout page with the result.
        shown = await http.get(path_of(returned), follow_redirects=True)
        assert shown.status_code == 200
        assert shown.history[0].status_code == 303
        await pay_momo(http, await choose_momo(http, momo_paid), "success")
        qr = await http.post(
            path_of(momo_paid["checkout_url"]),
            data={"provider": "vietqr", "lang": "vi"},
            headers={"Origin": BASE_URL},
        )
        assert qr.status_code in (303, 409), qr.text
        refund = await http.post(
            f"/v1/payments/{vnpay_paid['id']}/refunds",
            json={"amount": 10_000, "reason": "Thu trùng"},
            headers={**portal.auth(Role.FINANCE), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert refund.status_code == 201, refund.text
        made = await http.post(
            "/v1/api-keys", json={"role": "portal"}, headers=portal.auth(Role.ADMIN)
        )
        assert made.status_code == 201, made.text
        secrets["API key created over the API"] = made.json()["key"]
        rotated = await http.post(
            f"/v1/api-keys/{made.json()['id']}/rotate", headers=portal.auth(Role.ADMIN)
        )
        assert rotated.status_code == 201, rotated.text
        secrets["API key made by a rotation"] = rotated.json()["key"]
    logged = capsys.readouterr().out
    assert '"event": "request"' in logged or '"event":"request"' in logged  # it did log
    assert "/checkout/[token]" in logged

    settings = Settings(sandbox=True, base_url=BASE_URL)
    secrets |= {f"{role} API key": key for role, key in portal.keys.items()}
    secrets |= {
        "VNPay hash secret": settings.vnpay.hash_secret,
        "MoMo secret key": settings.momo.secret_key,
        "MoMo access key": settings.momo.access_key,
        "VietQR webhook secret": settings.vietqr.webhook_secret,
        "payer id number": PAYER["id_number"],
        "payer e-mail": PAYER["email"],
        "payer phone": PAYER["phone"],
    }
    leaked = [what for what, value in secrets.items() if value and value in logged]
    assert leaked == []
    assert SIGNATURE.findall(logged) == []
