"""Server-to-server callbacks from providers (IPN). Only these move money.

Every message is stored as received with its verification result, whatever happens next; an
unverified one never changes state. The answer is the provider's own acknowledgement format.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payments.adapters.metrics import CALLBACK_ERROR, count_callback
from payments.collection.usecases import checkout as service
from payments.collection.usecases.transfers import apply_bank_credit
from payments.domain import strict_json
from payments.domain.attempts import Provider, Verdict
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.domain.credits import BankCredit
from payments.http.requests import container
from payments.providers.interface import Acknowledgement, PaymentProvider
from payments.providers.outcomes import Rejected
from payments.providers.vietqr.credit import SIGNATURE_HEADER
from payments.providers.vietqr.provider import VietqrProvider

log = structlog.get_logger()


def _answer(ack: Acknowledgement) -> Response:
    if ack.body is None:
        return Response(status_code=ack.status_code)
    return JSONResponse(dict(ack.body), status_code=ack.status_code)


async def handle_ipn(
    request: Request, provider: PaymentProvider, params: dict[str, object]
) -> Response:
    app = container(request)
    now = app.clock()
    raw = ProviderCallback(
        provider=provider.name,
        channel=Channel.IPN,
        payload=params,
        received_at=now,
        verification=VERIFIED,
        provider_ref=provider.reference_of(params),
    )
    checked = provider.verify_callback(params)
    try:
        if isinstance(checked, Rejected):
            log.warning("callback_rejected", provider=provider.name, reason=checked.reason.value)
            await service.record_callback(app.uow_factory, _unverified(raw, checked))
            count_callback(provider.name, Verdict.UNVERIFIED)
            return _answer(provider.acknowledge(verdict=None, rejection=checked))
        applied = await service.apply_provider_outcome(
            app.uow_factory, checked, callback=raw, now=now
        )
    except Exception:
        # The provider retries on an error answer; the stored state is whatever committed.
        log.exception("callback_failed", provider=provider.name)
        count_callback(provider.name, CALLBACK_ERROR)
        return _answer(provider.acknowledge(verdict=None, rejection=None))
    count_callback(provider.name, applied.verdict)
    log.info(
        "callback_applied",
        provider=provider.name,
        verdict=applied.verdict.value,
        payment_id=applied.payment.id if applied.payment else None,
    )
    return _answer(provider.acknowledge(verdict=applied.verdict, rejection=None))


def _unverified(raw: ProviderCallback, rejection: Rejected) -> ProviderCallback:
    return ProviderCallback(
        provider=raw.provider,
        channel=raw.channel,
        payload=raw.payload,
        received_at=raw.received_at,
        verification=rejection.reason.value,
        provider_ref=raw.provider_ref,
        verdict=Verdict.UNVERIFIED,
        reason=rejection.detail,
    )


async def vnpay_ipn(request: Request) -> Response:
    provider = container(request).providers.get(Provider.VNPAY)
    if provider is None:
        return Response(status_code=404)
    # VNPay sends each parameter once; of a repeated one the last value is checked.
    params: dict[str, object] = {key: value for key, value in request.query_params.items()}
    return await handle_ipn(request, provider, params)


async def momo_ipn(request: Request) -> Response:
    app = container(request)
    provider = app.providers.get(Provider.MOMO)
    if provider is None:
        return Response(status_code=404)
    raw = await request.body()
    try:
        body = strict_json.loads(raw) if len(raw) <= app.settings.max_body_bytes else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        # Not JSON at all: nothing MoMo signed, nothing worth storing as a callback.
        log.warning("callback_not_json", provider="momo", size=len(raw))
        return Response(status_code=400)
    return await handle_ipn(request, provider, body)


def _stored_form(raw: bytes) -> dict[str, object]:
    """The body as we keep it: the JSON object when it is one, else its text (bounded)."""
    try:
        decoded = strict_json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    if isinstance(decoded, dict):
        return decoded
    return {"raw": raw[:4096].decode("utf-8", "replace")}


async def vietqr_credit(request: Request) -> Response:
    """A credit notification from the collection bank (format in providers.vietqr.credit)."""
    app = container(request)
    provider = app.providers.get(Provider.VIETQR)
    if not isinstance(provider, VietqrProvider):
        return Response(status_code=404)
    raw = await request.body()
    if len(raw) > app.settings.max_body_bytes:
        return Response(status_code=413)
    now = app.clock()
    payload = _stored_form(raw)
    checked = provider.verify_credit(raw, request.headers.get(SIGNATURE_HEADER))
    callback = ProviderCallback(
        provider=Provider.VIETQR,
        channel=Channel.CREDIT,
        payload=payload,
        received_at=now,
        verification=VERIFIED,
        provider_ref=provider.reference_of(payload),
    )
    try:
        if isinstance(checked, Rejected):
            log.warning("callback_rejected", provider="vietqr", reason=checked.reason.value)
            await service.record_callback(app.uow_factory, _unverified(callback, checked))
            count_callback(Provider.VIETQR, Verdict.UNVERIFIED)
            return _answer(provider.acknowledge(verdict=None, rejection=checked))
        credit = BankCredit(
            transfer_id=checked.transfer_id,
            amount=checked.amount,
            currency=checked.currency,
            description=checked.description,
            credited_at=checked.credited_at,
            reference=callback.provider_ref,
        )
        applied = await apply_bank_credit(app.uow_factory, credit, callback=callback, now=now)
    except Exception:
        log.exception("callback_failed", provider="vietqr")
        count_callback(Provider.VIETQR, CALLBACK_ERROR)
        return _answer(provider.acknowledge(verdict=None, rejection=None))
    count_callback(Provider.VIETQR, applied.verdict)
    log.info("callback_applied", provider="vietqr", verdict=applied.verdict.value)
    return _answer(provider.acknowledge(verdict=applied.verdict, rejection=None))


routes = [
    Route("/callbacks/vnpay/ipn", vnpay_ipn, methods=["GET"]),
    Route("/callbacks/momo/ipn", momo_ipn, methods=["POST"]),
    Route("/callbacks/vietqr", vietqr_credit, methods=["POST"]),
]
