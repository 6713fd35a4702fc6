"""Payer pages: the checkout page, choosing a provider, and the provider's browser return."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from payments.collection.usecases import checkout as service
from payments.domain.attempts import Provider, Result, StartRefusal
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.domain.errors import AttemptRefused, CheckoutClosed, InvalidInput, NotFound
from payments.domain.money import format_minor_units
from payments.domain.payments import PaymentStatus
from payments.domain.text import text_problem
from payments.entrypoints.web.rendering import language, message, page, vietnam_time, with_query
from payments.http.requests import container
from payments.providers.interface import CheckoutRequest
from payments.providers.outcomes import Rejected, Unknown
from payments.providers.vietqr.provider import VietqrProvider
from payments.providers.vietqr.qr import svg_qr

log = structlog.get_logger()
MAX_FORM_BYTES = 4096
REFUSAL_TEXTS = {
    StartRefusal.IN_PROGRESS: "attempt_in_progress",
    StartRefusal.TOO_MANY: "too_many_attempts",
}


def _token(request: Request) -> str | None:
    token: str = request.path_params["token"]
    return None if text_problem(token) or len(token) > 64 else token


async def checkout_page(request: Request) -> Response:
    app = container(request)
    token = _token(request)
    try:
        if token is None:
            raise NotFound("bad token")
        view = await service.checkout_view(app.uow_factory, token)
    except NotFound:
        return message(request, "not_found_title", "not_found", status_code=404)
    payment = view.payment
    now = app.clock()
    payable = view.payable(now)
    state = payment.status.value
    if not payable and payment.status in service.PAYABLE:
        state = PaymentStatus.EXPIRED.value  # overdue; the sweep will record it shortly
    return page(
        request,
        "checkout.html",
        {
            "payment": payment,
            "agency_name": view.agency.name,
            "amount": format_minor_units(payment.draft.amount, payment.draft.currency),
            "expires": vietnam_time(payment.expires_at),
            "expires_iso": payment.expires_at.isoformat(),
            "payable": payable,
            "state": state,
            # Only providers that can take the payment's currency: none may charge it as another.
            "providers": [p.name.value for p in app.providers.for_currency(payment.draft.currency)],
            "action": request.url.path,
        },
    )


def _same_origin(request: Request, base_url: str) -> bool:
    """CSRF defence for the provider choice.

    The checkout token in the URL is already the capability: a forged POST must know it. What
    is left is a page that learned a link (a leaked log line, a shared screenshot) making the
    payer's browser start attempts. Browsers send ``Origin`` on every form POST, so we require
    it to be ours; when it is absent (old browsers, privacy settings) ``Referer`` must be ours.
    No per-page form token: it would need server state or a signing key for a page that is
    meant to be cacheable-free and session-free, and Origin gives the same protection here.
    """
    ours = urlsplit(base_url)
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return True
        origin = referer
    theirs = urlsplit(origin)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


async def choose_provider(request: Request) -> Response:
    app = container(request)
    base_url = app.settings.base_url
    token = _token(request)
    form = await request.form(max_files=0, max_fields=10)
    lang = str(form.get("lang", "")) if form.get("lang") in ("vi", "en") else language(request)
    if token is None:
        return message(request, "not_found_title", "not_found", status_code=404, lang=lang)
    if not _same_origin(request, base_url):
        return message(request, "error_title", "forbidden", status_code=403, lang=lang)
    try:
        provider = app.providers.get(Provider(str(form.get("provider", ""))))
    except ValueError:
        provider = None
    if provider is None:
        return message(request, "error_title", "bad_provider", status_code=400, lang=lang)
    now = app.clock()
    try:
        started = await service.start_attempt(
            app.uow_factory,
            token=token,
            provider=provider.name,
            merchant=provider.merchant,
            currencies=provider.currencies,
            max_attempts=app.settings.max_attempts_per_payment,
            now=now,
        )
    except NotFound:
        return message(request, "not_found_title", "not_found", status_code=404, lang=lang)
    except InvalidInput:  # the provider cannot take the payment's currency: nothing started
        return message(request, "error_title", "currency_not_accepted", status_code=422, lang=lang)
    except CheckoutClosed:
        return RedirectResponse(with_query(request.url.path, lang=lang), status_code=303)
    except AttemptRefused as refused:
        return _not_started(request, REFUSAL_TEXTS[StartRefusal(refused.reason)], 409, lang)
    if started.reused and started.attempt.redirect_url:
        # The payer's open try at this provider: its page again, not a second attempt.
        return RedirectResponse(started.attempt.redirect_url, status_code=303)
    target = await provider.start_checkout(
        CheckoutRequest(
            payment=started.payment,
            attempt=started.attempt,
            checkout_url=f"{base_url}/checkout/{token}",
            return_url=f"{base_url}/checkout/return/{provider.name}",
            ipn_url=f"{base_url}/callbacks/{provider.name}/ipn",
            payer_ip=request.client.host if request.client else "127.0.0.1",
            language=lang,
            now=now,
        )
    )
    url = None if isinstance(target, Unknown) else target.url
    await service.record_start(app.uow_factory, started.attempt.id, url, now=now)
    if isinstance(target, Unknown):
        log.warning("checkout_start_unknown", provider=provider.name, reason=target.reason)
        return _not_started(request, "provider_unavailable", 502, lang)
    return RedirectResponse(target.url, status_code=303)


def _not_started(request: Request, text_key: str, status_code: int, lang: str) -> Response:
    """No provider page this time: why, and the way back to the choice of provider."""
    return page(
        request,
        "message.html",
        {
            "title_key": "error_title",
            "text_key": text_key,
            "back_url": with_query(request.url.path, lang=lang),
            "lang": lang,
        },
        status_code=status_code,
    )


async def provider_return(request: Request) -> Response:
    """The browser back from a provider: verified for display only, never applied."""
    app = container(request)
    try:
        name = Provider(request.path_params["provider"])
    except ValueError:
        return message(request, "not_found_title", "not_found", status_code=404)
    provider = app.providers.get(name)
    if provider is None:
        return message(request, "not_found_title", "not_found", status_code=404)
    params = {key: value for key, value in request.query_params.items()}
    checked = provider.verify_callback(params)
    stored = await service.record_callback(
        app.uow_factory,
        ProviderCallback(
            provider=name,
            channel=Channel.RETURN,
            payload=params,
            received_at=app.clock(),
            verification=checked.reason.value if isinstance(checked, Rejected) else VERIFIED,
            provider_ref=provider.reference_of(params),
        ),
    )
    if isinstance(checked, Rejected) or stored.payment_id is None:
        return page(request, "result.html", {"result_key": "result_unverified"}, status_code=400)
    payment = await service.payment_by_id(app.uow_factory, stored.payment_id)
    if payment.status is PaymentStatus.SUCCEEDED:
        result_key = "result_paid"
    elif checked.result in (Result.SUCCEEDED, Result.PENDING):
        result_key = "result_processing"  # the IPN has not been applied (yet)
    else:
        result_key = "result_failed"
    return page(
        request,
        "result.html",
        {
            "result_key": result_key,
            "amount": format_minor_units(payment.draft.amount, payment.draft.currency),
            # The portal reads the status from the API: the redirect carries only the id.
            "portal_url": with_query(payment.draft.return_url, payment_id=payment.id),
        },
    )


async def vietqr_page(request: Request) -> Response:
    """The bank transfer page: QR code, and the same details in text for typing by hand."""
    app = container(request)
    token = _token(request)
    provider = app.providers.get(Provider.VIETQR)
    try:
        if token is None or not isinstance(provider, VietqrProvider):
            raise NotFound("no such page")
        view = await service.checkout_view(app.uow_factory, token)
    except NotFound:
        return message(request, "not_found_title", "not_found", status_code=404)
    attempt = next((a for a in view.attempts if a.id == request.path_params["attempt_id"]), None)
    if attempt is None or attempt.provider is not Provider.VIETQR:
        return message(request, "not_found_title", "not_found", status_code=404)
    if attempt.currency not in provider.currencies:  # an attempt stored before the check
        return message(request, "error_title", "currency_not_accepted", status_code=409)
    payment = view.payment
    payload = provider.payload(attempt)
    currency = payment.draft.currency
    received = payment.flags.received_amount
    return page(
        request,
        "vietqr.html",
        {
            "payment": payment,
            "attempt": attempt,
            "config": provider.config,
            "payload": payload,
            "qr_svg": svg_qr(payload),  # segno's own SVG markup: rendered unescaped
            "amount": format_minor_units(attempt.amount, currency),
            "received": format_minor_units(received, currency) if received else None,
            "state": payment.status.value,
            "checkout_path": f"/checkout/{token}",
            # Once paid, the way back to the portal, carrying only the id (as after a return).
            "portal_url": (
                with_query(payment.draft.return_url, payment_id=payment.id)
                if payment.status is PaymentStatus.SUCCEEDED
                else None
            ),
            "simulator": (
                "/sandbox/vietqr/transfer?"
                + urlencode({"reference": attempt.provider_ref, "back": request.url.path})
                if app.settings.sandbox
                else None
            ),
        },
    )


routes = [
    Route("/checkout/return/{provider}", provider_return, methods=["GET"]),
    Route("/checkout/{token}/vietqr/{attempt_id}", vietqr_page, methods=["GET"]),
    Route("/checkout/{token}", checkout_page, methods=["GET"]),
    Route("/checkout/{token}", choose_provider, methods=["POST"]),
]
