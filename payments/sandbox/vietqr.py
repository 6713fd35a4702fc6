"""Sandbox collection bank for VietQR, mounted only in sandbox mode.

A tester "transfers" exactly, less, more, or with a wrong reference; the simulator then sends
the signed credit notification to the gateway (twice, later, or not at all, on request) and sends
the browser back to the QR page, as a banking app leaves the payer to come back by hand.
"""

from __future__ import annotations

import secrets

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from payments.domain.attempts import Provider
from payments.domain.payer_view import amount_due
from payments.http.requests import container
from payments.providers.vietqr.credit import (
    SIGNATURE_HEADER,
    CreditNotification,
    encode_notification,
)
from payments.providers.vietqr.provider import VietqrProvider
from payments.sandbox.delivery import deliveries, switches
from payments.sandbox.pages import page

log = structlog.get_logger()
PREFIX = "/sandbox/vietqr"
CHOICES = ("exact", "less", "more", "wrong_reference")


def _back(value: str) -> str:
    # Only our own checkout pages: the sandbox must not become an open redirect.
    return value if value.startswith("/checkout/") and "//" not in value else "/"


async def transfer_page(request: Request) -> Response:
    return page(
        request,
        "vietqr.html",
        {
            "reference": request.query_params.get("reference", "")[:32],
            "back": _back(request.query_params.get("back", "")),
            "action": f"{PREFIX}/transfer",
            "choices": CHOICES,
        },
    )


async def transfer(request: Request) -> Response:
    app = container(request)
    provider = app.providers.get(Provider.VIETQR)
    form = await request.form(max_files=0, max_fields=10)
    reference = str(form.get("reference", ""))[:32]
    choice = str(form.get("choice", ""))
    back = _back(str(form.get("back", "")))
    # The payer's banking app would read the amount from the QR; the simulator reads what the
    # QR asks for from the stored payment (a read-only shortcut the sandbox alone takes): the
    # amount, or only the rest once part of it arrived.
    async with app.uow_factory() as uow:
        attempt = await uow.attempts.by_provider_ref(Provider.VIETQR, reference)
        payment = await uow.payments.by_id(attempt.payment_id) if attempt else None
    if not isinstance(provider, VietqrProvider) or attempt is None or choice not in CHOICES:
        return Response("sandbox VietQR: unknown reference or choice", status_code=400)
    asked = (amount_due(payment) if payment else 0) or attempt.amount
    amount = {"exact": asked, "less": asked // 2, "more": asked + 50_000}
    text = "PFWRONGREF99" if choice == "wrong_reference" else reference.lower()
    credit = CreditNotification(
        transfer_id="FT" + secrets.token_hex(6).upper(),
        amount=amount.get(choice, attempt.amount),
        currency=attempt.currency,
        description=f"NOP PHI {text} CHUYEN KHOAN",
        credited_at=app.clock(),
    )
    body, signature = encode_notification(provider.config.webhook_secret, credit)

    async def send_credit() -> None:
        answer = await app.http.post(
            f"{app.settings.base_url}/callbacks/vietqr",
            content=body,
            headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
            timeout=15,
        )
        log.info("sandbox_vietqr_credit", status=answer.status_code)

    chosen = switches(form, drop="drop", duplicate="duplicate")
    await deliveries(request).deliver(chosen, send_credit)
    return RedirectResponse(back, status_code=303)


routes = [
    Route(f"{PREFIX}/transfer", transfer_page, methods=["GET"]),
    Route(f"{PREFIX}/transfer", transfer, methods=["POST"]),
]
