"""Starting a checkout: the payer is sent to pay our attempt's reference, the exact amount, or
is told the provider did not answer; never to a page we cannot vouch for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from payments.domain.errors import InvalidInput
from payments.providers.interface import PaymentProvider
from payments.sandbox.faults import HANG_SECONDS, SLOW_SECONDS, Fault
from tests.conformance.cases import ProviderCase, Told
from tests.conformance.requests import checkout_of, fresh_attempt
from tests.conformance.sandbox import Sandbox
from tests.conformance.trouble import FAULTS, NO_ANSWER, kind, plan, provider_calls

AMOUNT = 123_457  # odd on purpose: a unit slip (x100, thousands) shows


async def test_the_payer_is_sent_with_our_reference_and_the_exact_amount(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    location, attempt = await case.opened(sandbox, amount=AMOUNT)
    assert await case.told(sandbox, location) == Told(attempt.provider_ref, AMOUNT)
    assert attempt.amount == AMOUNT
    assert attempt.merchant == provider.merchant
    assert attempt.redirect_url == location  # a second choice goes back to the same page


async def test_a_start_the_provider_did_not_answer_is_unknown(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    payment = await sandbox.payment((await sandbox.new_payment())["id"])
    now = datetime.now(UTC)
    faults, operation = case.faults(sandbox), case.operations.start
    seen = {}
    for fault in FAULTS:
        plan(faults, operation, fault)
        attempt = fresh_attempt(payment, provider, now)
        seen[fault] = kind(await provider.start_checkout(checkout_of(payment, attempt, now)))

    if operation is None:  # nothing to ask the provider: the page is ours to build
        assert seen == {fault: "redirect" for fault in FAULTS}
        assert provider_calls(sandbox) == 0
    else:
        # An answer about another order is no page for ours.
        unusable = NO_ANSWER | {Fault.WRONG}
        assert seen == {f: "unknown" if f in unusable else "redirect" for f in FAULTS}
        assert faults is not None
        assert faults.calls[operation] == len(FAULTS)
        assert sandbox.waits.asked == [SLOW_SECONDS, HANG_SECONDS]


async def test_a_currency_the_provider_cannot_take_is_refused_before_any_call(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    payment = await sandbox.payment((await sandbox.new_payment())["id"])
    now = datetime.now(UTC)
    attempt = replace(fresh_attempt(payment, provider, now), currency="USD")
    with pytest.raises(InvalidInput) as refused:
        await provider.start_checkout(checkout_of(payment, attempt, now))
    assert "currency" in {problem.field for problem in refused.value.problems}
    assert provider_calls(sandbox) == 0
