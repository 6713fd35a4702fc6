"""The status query: the provider's own answer about our attempt, or ``Unknown``. Trouble on
the way is never a final answer, and an answer about another transaction is refused."""

from __future__ import annotations

from datetime import UTC, datetime

from payments.domain.attempts import ProviderOutcome, Result
from payments.providers.interface import PaymentProvider
from payments.sandbox.faults import HANG_SECONDS, SLOW_SECONDS, Fault
from tests.conformance.cases import FOREIGN_SECRET, ProviderCase
from tests.conformance.requests import fresh_attempt
from tests.conformance.sandbox import TIMEOUT_SECONDS, Sandbox
from tests.conformance.trouble import FAULTS, NO_ANSWER, kind, plan, provider_calls


async def test_an_attempt_the_provider_never_saw_is_not_paid(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    payment = await sandbox.payment((await sandbox.new_payment())["id"])
    now = datetime.now(UTC)
    answer = await provider.query_status(fresh_attempt(payment, provider, now), now=now)

    if case.never_seen is None:
        assert kind(answer) == "unknown"
        return
    assert case.never_seen is not Result.SUCCEEDED
    assert isinstance(answer, ProviderOutcome), answer
    assert answer.result is case.never_seen


async def test_a_paid_attempt_is_told_paid_and_trouble_is_unknown_never_final(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    attempt = await case.paid(sandbox)
    answer = await provider.query_status(attempt, now=datetime.now(UTC))
    if not case.has_query:  # nothing to ask: the interface's "unknown", never a guess
        assert kind(answer) == "unknown"
    else:  # the provider's own word on our attempt: paid, in full, to us
        assert isinstance(answer, ProviderOutcome), answer
        assert answer.result is Result.SUCCEEDED
        assert (answer.provider, answer.provider_ref) == (case.name, attempt.provider_ref)
        assert (answer.merchant, answer.amount, answer.currency) == (
            attempt.merchant,
            attempt.amount,
            attempt.currency,
        )
        assert answer.provider_txn_id == attempt.provider_txn_id
    faults, operation = case.faults(sandbox), case.operations.query
    calls_before = provider_calls(sandbox)
    seen = {}
    for fault in FAULTS:
        plan(faults, operation, fault)
        seen[fault] = kind(await provider.query_status(attempt, now=datetime.now(UTC)))

    if not case.has_query:
        assert seen == {fault: "unknown" for fault in FAULTS}
        assert provider_calls(sandbox) == calls_before
        return
    expected = {fault: "unknown" if fault in NO_ANSWER else "succeeded" for fault in FAULTS}
    expected[Fault.WRONG] = "rejected"  # signed or echoed, but about another transaction
    assert seen == expected
    assert faults is not None
    assert operation is not None
    assert faults.calls[operation] == len(FAULTS) + 1
    # The slow answer was waited for (at the test's word), the hung one never came.
    assert sandbox.waits.asked == [SLOW_SECONDS, HANG_SECONDS]


async def test_an_answer_about_another_paid_transaction_is_refused(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    await case.paid(sandbox)
    _, unpaid = await case.opened(sandbox)
    plan(case.faults(sandbox), case.operations.query, Fault.WRONG)
    now = datetime.now(UTC)

    wrong = await provider.query_status(unpaid, now=now)  # the answer names the paid one
    truth = await provider.query_status(unpaid, now=now)

    if not case.has_query:
        assert (kind(wrong), kind(truth)) == ("unknown", "unknown")
    else:
        assert (kind(wrong), kind(truth)) == ("rejected", "pending")


async def test_a_query_the_provider_refuses_to_answer_is_not_an_answer(
    case: ProviderCase, sandbox: Sandbox
) -> None:
    """Credentials the provider does not accept (a rotated key): its refusal is about our
    request, not the payment, so it must not settle the attempt either way."""
    attempt = await case.paid(sandbox)
    stranger = case.provider(
        sandbox.container, timeout_seconds=TIMEOUT_SECONDS, secret=FOREIGN_SECRET
    )
    answer = await stranger.query_status(attempt, now=datetime.now(UTC))
    assert kind(answer) in ("unknown", "rejected"), answer
