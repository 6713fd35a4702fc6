"""Payer pages: the checkout page (the payment in whatever state it is), the confirm step
before a second try, choosing a provider, the provider's browser return, the transfer page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from payments.collection.usecases import checkout as service
from payments.domain.attempts import Provider, StartRefusal
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.domain.errors import AttemptRefused, CheckoutClosed, InvalidInput, NotFound
from payments.domain.money import format_minor_units
from payments.domain.payer_view import PayerState, payer_view
from payments.domain.text import text_problem
from payments.entrypoints.web.i18n import LANGUAGES
from payments.entrypoints.web.rendering import language, message, page, vietnam_time, with_query
from payments.entrypoints.web.states import state_context
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
    StartRefusal.TRANSFER_ONLY: "transfer_only",
}
# The form value of the explained choice to pay again while a try may still take the money.
CONFIRM_ANOTHER = "another"


def _token(request: Request) -> str | None:
    token: str = request.path_params["token"]
    return None if text_problem(token) or len(token) > 64 else token


def _checkout_path(token: str) -> str:
    return f"/checkout/{token}"


async def _load(request: Request, token: str | None) -> service.CheckoutView | None:
    if token is None:
        return None
    try:
        return await service.checkout_view(container(request).uow_factory, token)
    except NotFound:
        return None


def _not_found(request: Request, lang: str | None = None) -> Response:
    return message(
        request,
        "not_found_title",
        "not_found",
        status_code=404,
        lang=lang,
        next_key="not_found_next",
    )


def _details(request: Request, view: service.CheckoutView, lang: str) -> dict[str, Any]:
    """What every state of the checkout page shows about the payment."""
    app = container(request)
    payment = view.payment
    path = _checkout_path(payment.checkout_token)
    now = app.clock()
    payer = payer_view(payment, view.attempts, now)
    return {
        "lang": lang,
        "payment": payment,
        "agency_name": view.agency.name,
        "amount": format_minor_units(payment.draft.amount, payment.draft.currency),
        "expires": vietnam_time(payment.expires_at),
        "expires_iso": payment.expires_at.isoformat(),
        # Only providers that can take the payment's currency: none may charge it as another.
        "providers": [p.name.value for p in app.providers.for_currency(payment.draft.currency)],
        "action": path,
        # The portal reads the status from the API: the link carries only the id.
        "portal_url": with_query(payment.draft.return_url, payment_id=payment.id),
        **state_context(
            view,
            payer,
            providers=app.providers,
            checkout_path=path,
            lang=lang,
            now=now,
        ),
    }


async def checkout_page(request: Request) -> Response:
    """The payment as its payer needs to see it: what to pay and how, a try in progress, the
    rest of a transfer, the proof once paid, or what to do when it can no longer be paid."""
    view = await _load(request, _token(request))
    if view is None:
        return _not_found(request)
    return page(request, "checkout.html", _details(request, view, language(request)))


async def confirm_page(request: Request) -> Response:
    """The explained, separate step before paying again while a try may still take the money.

    Reached from the in-progress page, or when a choice of provider needs it. Any other state
    has nothing to confirm: back to the checkout page."""
    view = await _load(request, _token(request))
    lang = language(request)
    if view is None:
        return _not_found(request)
    details = _details(request, view, lang)
    if details["state"] != PayerState.IN_PROGRESS.value:
        return RedirectResponse(details["self_url"], status_code=303)
    chosen = request.query_params.get("provider")
    return page(
        request,
        "again.html",
        {**details, "chosen": chosen if chosen in details["providers"] else None},
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
        return _not_found(request, lang)
    if not _same_origin(request, base_url):
        return message(request, "error_title", "forbidden", status_code=403, lang=lang)
    try:
        provider = app.providers.get(Provider(str(form.get("provider", ""))))
    except ValueError:
        provider = None
    confirmed = form.get("confirm") == CONFIRM_ANOTHER
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
            confirmed=confirmed,
        )
    except NotFound:
        return _not_found(request, lang)
    except InvalidInput:  # the provider cannot take the payment's currency: nothing started
        return message(request, "error_title", "currency_not_accepted", status_code=422, lang=lang)
    except CheckoutClosed:
        return RedirectResponse(with_query(request.url.path, lang=lang), status_code=303)
    except AttemptRefused as refused:
        if refused.reason == StartRefusal.UNCONFIRMED:
            # Not refused outright: the payer is told what paying again means, then chooses.
            again = with_query(f"{request.url.path}/again", lang=lang, provider=provider.name)
            return RedirectResponse(again, status_code=303)
        return _not_started(request, REFUSAL_TEXTS[StartRefusal(refused.reason)], 409, lang)
    if started.reused and started.attempt.redirect_url:
        # The payer's open try at this provider: its page again, not a second attempt.
        return RedirectResponse(started.attempt.redirect_url, status_code=303)
    target = await provider.start_checkout(
        CheckoutRequest(
            payment=started.payment,
            attempt=started.attempt,
            checkout_url=f"{base_url}/checkout/{token}",
            # The language rides in the path: providers append their own query string, and
            # none of them sends the language back.
            return_url=f"{base_url}/checkout/return/{provider.name}/{lang}",
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
    """The browser back from a provider: verified and kept for the record, never applied.

    A verified return goes on (``303``) to the checkout page, which shows the payment's state
    as the gateway knows it: paid once the provider's callback or status answer is in, else in
    progress. So the page can be reloaded, bookmarked or switched to the other language without
    the provider's query string. The token in the redirect is no new secret: only the payer's
    browser holds a return the provider signed for this payment.
    """
    app = container(request)
    chosen = request.path_params.get("lang")
    lang = chosen if chosen in LANGUAGES else language(request)
    try:
        name = Provider(request.path_params["provider"])
    except ValueError:
        return _not_found(request, lang)
    provider = app.providers.get(name)
    if provider is None:
        return _not_found(request, lang)
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
        return message(
            request,
            "result_title",
            "result_unverified",
            status_code=400,
            lang=lang,
            next_key="unverified_next",
        )
    payment = await service.payment_by_id(app.uow_factory, stored.payment_id)
    return RedirectResponse(
        with_query(_checkout_path(payment.checkout_token), lang=lang), status_code=303
    )


async def vietqr_page(request: Request) -> Response:
    """The bank transfer page: QR code, and the same details in text for typing by hand.

    The QR asks for what is still due: after part of a transfer arrived, only the rest, with
    the same reference so that the parts add up. A payment that can no longer be paid (paid,
    expired, cancelled) has no transfer page: its checkout page says what it is."""
    app = container(request)
    token = _token(request)
    provider = app.providers.get(Provider.VIETQR)
    lang = language(request)
    view = await _load(request, token) if isinstance(provider, VietqrProvider) else None
    if view is None or not isinstance(provider, VietqrProvider):
        return _not_found(request)
    attempt = next((a for a in view.attempts if a.id == request.path_params["attempt_id"]), None)
    if attempt is None or attempt.provider is not Provider.VIETQR:
        return _not_found(request)
    if attempt.currency not in provider.currencies:  # an attempt stored before the check
        return message(request, "error_title", "currency_not_accepted", status_code=409)
    payment = view.payment
    checkout_path = _checkout_path(payment.checkout_token)
    payer = payer_view(payment, view.attempts, app.clock())
    if not payer.payable:
        return RedirectResponse(with_query(checkout_path, lang=lang), status_code=303)
    payload = provider.payload(attempt, amount=payer.amount_due)
    currency = payment.draft.currency
    here = with_query(request.url.path, lang=lang)
    return page(
        request,
        "vietqr.html",
        {
            "lang": lang,
            "payment": payment,
            "attempt": attempt,
            "config": provider.config,
            "payload": payload,
            "qr_svg": svg_qr(payload),  # segno's own SVG markup: rendered unescaped
            "due": format_minor_units(payer.amount_due, currency),
            "amount": format_minor_units(payment.draft.amount, currency),
            "received": format_minor_units(payer.received, currency) if payer.received else None,
            "self_url": here,
            "checkout_url": with_query(checkout_path, lang=lang),
            "portal_url": with_query(payment.draft.return_url, payment_id=payment.id),
            "simulator": (
                "/sandbox/vietqr/transfer?"
                + urlencode({"reference": attempt.provider_ref, "back": here})
                if app.settings.sandbox
                else None
            ),
        },
    )


routes = [
    Route("/checkout/return/{provider}/{lang}", provider_return, methods=["GET"]),
    # Returns of attempts started before the language rode in the path.
    Route("/checkout/return/{provider}", provider_return, methods=["GET"]),
    Route("/checkout/{token}/vietqr/{attempt_id}", vietqr_page, methods=["GET"]),
    Route("/checkout/{token}/again", confirm_page, methods=["GET"]),
    Route("/checkout/{token}", checkout_page, methods=["GET"]),
    Route("/checkout/{token}", choose_provider, methods=["POST"]),
]
