"""Choosing a provider again: the open attempt is reused (its page again), refused while it has
no page, capped per payment; a MoMo create left unanswered leaves the attempt ``unknown``,
shown in ``GET /v1/payments/{id}``.

The gateway runs in sandbox mode against its own simulators, on an injected clock; a provider
that times out is an httpx transport raising the client's timeout at once (no test waits).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from payments.entrypoints.web.i18n import TEXTS
from payments.sandbox.faults import Fault
from tests.support.api import Portal
from tests.support.sandbox_gateway import Gateway, gateway


@pytest.fixture
async def gw(database_url: str, portal: Portal) -> AsyncIterator[Gateway]:
    async with gateway(database_url, portal) as found:
        yield found


def refusal(answer: httpx.Response, text_key: str, lang: str = "vi") -> None:
    """A page the payer can read, in their language, with the way back to the choice."""
    assert answer.headers["content-type"].startswith("text/html")
    assert TEXTS[lang][text_key] in answer.text
    assert TEXTS[lang]["try_again"] in answer.text


@pytest.mark.parametrize("provider", ["vnpay", "momo", "vietqr"])
async def test_choosing_the_same_provider_again_reuses_the_attempt(
    gw: Gateway, provider: str
) -> None:
    payment = await gw.create()
    first = await gw.choose(payment, provider)
    assert first.status_code == 303, first.text
    for _ in range(29):  # the payer (or a script) posts the choice again and again
        again = await gw.choose(payment, provider)
        assert again.status_code == 303
        assert again.headers["location"] == first.headers["location"]
    attempts = (await gw.read(payment["id"]))["attempts"]
    assert len(attempts) == 1
    assert gw.momo.faults.calls["create"] == (1 if provider == "momo" else 0)


async def test_a_lapsed_provider_page_gives_a_new_attempt_up_to_the_cap(
    database_url: str, portal: Portal
) -> None:
    async with gateway(database_url, portal, max_attempts_per_payment=3) as gw:
        payment = await gw.create(expires_at=(gw.clock.now + timedelta(hours=2)).isoformat())
        pages = set()
        for tried in range(3):
            # The first try may still take the money: a new one needs the payer's word.
            answer = await gw.choose(payment, "vnpay", confirm=tried > 0)
            assert answer.status_code == 303, answer.text
            pages.add(answer.headers["location"])
            gw.clock.now += timedelta(minutes=11)  # VNPay's page for it has lapsed
        assert len(pages) == 3
        for lang in ("vi", "en"):
            refused = await gw.choose(payment, "momo", lang=lang, confirm=True)
            assert refused.status_code == 409
            refusal(refused, "too_many_attempts", lang)
        assert len((await gw.read(payment["id"]))["attempts"]) == 3


async def test_a_momo_create_timeout_leaves_the_attempt_unknown(gw: Gateway) -> None:
    payment = await gw.create()
    gw.stalls.paths.add("/sandbox/momo/v2/gateway/api/create")
    answer = await gw.choose(payment, "momo")
    assert answer.status_code == 502
    refusal(answer, "provider_unavailable")
    body = await gw.read(payment["id"])
    assert body["status"] == "pending"
    (attempt,) = body["attempts"]
    assert (attempt["provider"], attempt["status"]) == ("momo", "unknown")
    assert attempt["next_query_at"] is not None  # the ladder will ask MoMo what became of it
    # The payer tries MoMo again at once: no second order while the first is unanswered.
    gw.stalls.paths.clear()
    for lang in ("vi", "en"):
        again = await gw.choose(payment, "momo", lang=lang)
        assert again.status_code == 409
        refusal(again, "attempt_in_progress", lang)
    assert len((await gw.read(payment["id"]))["attempts"]) == 1
    # Another provider is another try.
    assert (await gw.choose(payment, "vnpay")).status_code == 303


@pytest.mark.parametrize("fault", [Fault.ERROR, Fault.GARBLE, Fault.LOSE])
async def test_a_momo_create_answering_5xx_or_garbage_leaves_the_attempt_unknown(
    gw: Gateway, fault: Fault
) -> None:
    payment = await gw.create()
    gw.momo.faults.plan("create", fault)
    assert (await gw.choose(payment, "momo")).status_code == 502
    (attempt,) = (await gw.read(payment["id"]))["attempts"]
    assert attempt["status"] == "unknown"


async def test_two_choices_posted_at_once_start_one_attempt(gw: Gateway) -> None:
    payment = await gw.create()
    answers = await asyncio.gather(*(gw.choose(payment, "momo") for _ in range(4)))
    codes = sorted(a.status_code for a in answers)
    # One started it; each other one was sent to its page or told it is being started.
    assert codes[0] == 303
    assert set(codes) <= {303, 409}, codes
    assert len((await gw.read(payment["id"]))["attempts"]) == 1
    assert gw.momo.faults.calls["create"] == 1
