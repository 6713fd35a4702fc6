"""Refunds: made once per request id whatever the wire does; a refund we have no answer for is
``unknown`` until the provider's own status answer about it (never about another refund)
settles it; "not found" comes only from the provider, and then resending the same id is safe.
VietQR has no refund API: its refund is a transfer instruction for people, asserted as such.
"""

from __future__ import annotations

from datetime import UTC, datetime

from payments.providers.interface import PaymentProvider
from payments.providers.refunds import RefundRequest, RefundSubmitted, RefundSucceeded
from payments.sandbox.faults import HANG_SECONDS, SLOW_SECONDS, Fault
from tests.conformance.cases import FOREIGN_SECRET, ProviderCase, RefundKind
from tests.conformance.requests import refund_of, seconds_apart
from tests.conformance.sandbox import TIMEOUT_SECONDS, Sandbox
from tests.conformance.trouble import DONE, FAULTS, NO_ANSWER, kind, plan

PART = 10_000


async def test_a_refund_is_made_and_its_status_says_so(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    attempt = await case.paid(sandbox)
    request = refund_of(attempt, 50_000, datetime.now(UTC))
    outcome = await provider.refund(request, now=request.requested_at)
    status = await provider.refund_status(request, now=datetime.now(UTC))

    if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION:
        assert isinstance(outcome, RefundSubmitted), outcome
        instruction = outcome.instruction
        assert instruction.amount == 50_000
        assert instruction.reference == request.request_id  # the statement line names it
        assert instruction.description.startswith(request.request_id)
        assert f"{instruction.from_bank_bin}:{instruction.from_account_no}" == provider.merchant
        assert instruction.original_transfer_id == attempt.provider_txn_id
        assert status == outcome  # no bank can be asked: it stays an instruction
        assert case.refunded(sandbox, attempt) == []
        return
    assert isinstance(outcome, RefundSucceeded), outcome
    assert outcome.amount == 50_000
    assert outcome.provider_refund_id
    assert status == outcome
    assert case.refunded(sandbox, attempt) == [50_000]


async def test_a_refund_is_made_once_whatever_the_wire_does(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    """Per fault: the refund's outcome, the status query's answer (no fault), the same request
    sent again, and the status after it. The provider holds one refund per request id."""
    attempt = await case.paid(sandbox)
    faults, operation = case.faults(sandbox), case.operations.refund
    moments = seconds_apart(datetime.now(UTC), len(FAULTS))
    seen = {}
    for fault, moment in zip(FAULTS, moments, strict=True):
        request = refund_of(attempt, PART, moment)
        plan(faults, operation, fault)
        seen[fault] = (
            kind(await provider.refund(request, now=moment)),
            kind(await provider.refund_status(request, now=moment)),
            kind(await provider.refund(request, now=moment)),
            kind(await provider.refund_status(request, now=moment)),
        )

    if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION:
        assert seen == {fault: ("submitted",) * 4 for fault in FAULTS}
        assert case.refunded(sandbox, attempt) == []
        return
    expected = {}
    for fault in FAULTS:
        # An answer about another refund (wrong) is no answer about ours.
        first = "unknown" if fault in NO_ANSWER | {Fault.WRONG} else "succeeded"
        found = "succeeded" if fault in DONE else "not_found"  # the provider's word: resend
        expected[fault] = (first, found, "succeeded", "succeeded")
    assert seen == expected
    assert case.refunded(sandbox, attempt) == [PART] * len(FAULTS)
    assert sandbox.waits.asked == [SLOW_SECONDS, HANG_SECONDS]


async def test_trouble_asking_a_refunds_status_is_unknown_never_not_found(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    """Only the provider may say "not found": it has the gateway send the refund again."""
    attempt = await case.paid(sandbox)
    request = refund_of(attempt, PART, datetime.now(UTC))
    made = kind(await provider.refund(request, now=request.requested_at))
    faults, operation = case.faults(sandbox), case.operations.refund_status
    seen = {}
    for fault in FAULTS:
        plan(faults, operation, fault)
        seen[fault] = kind(await provider.refund_status(request, now=datetime.now(UTC)))

    if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION:
        assert made == "submitted"
        assert seen == {fault: "submitted" for fault in FAULTS}
        return
    assert made == "succeeded"
    unusable = NO_ANSWER | {Fault.WRONG}
    assert seen == {f: "unknown" if f in unusable else "succeeded" for f in FAULTS}
    assert case.refunded(sandbox, attempt) == [PART]


async def lost_sibling(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider, amounts: tuple[int, int]
) -> tuple[RefundRequest, RefundRequest]:
    """Two refunds of one payment created in the same second; the second never arrives."""
    attempt = await case.paid(sandbox)
    moment = datetime.now(UTC)
    made, lost = (refund_of(attempt, amount, moment) for amount in amounts)
    await provider.refund(made, now=moment)
    plan(case.faults(sandbox), case.operations.refund, Fault.LOSE)
    await provider.refund(lost, now=moment)
    return made, lost


async def test_the_status_of_a_lost_refund_is_not_its_siblings(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    made, lost = await lost_sibling(case, sandbox, provider, (PART, 2 * PART))
    now = datetime.now(UTC)
    of_made = await provider.refund_status(made, now=now)
    of_lost = await provider.refund_status(lost, now=now)

    if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION:
        assert isinstance(of_lost, RefundSubmitted)
        assert of_lost.instruction.reference == lost.request_id
        assert of_lost.instruction.amount == lost.amount
        return
    assert isinstance(of_made, RefundSucceeded)
    assert of_made.amount == made.amount
    # Told apart: the provider has no such refund. Not told apart: it cannot say, and the
    # sibling's answer (another amount) is not taken for ours.
    assert kind(of_lost) == ("not_found" if case.refunds_told_apart else "unknown")
    assert case.refunded(sandbox, made.attempt) == [made.amount]


async def test_refunds_in_one_second_are_told_apart_only_where_the_protocol_can(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    """The same amount twice in one second: whatever the module checks, a protocol that names
    only the payment and the second cannot tell which one it answers about. The lack is
    asserted, so ``refunds_told_apart`` stays false and the gateway never lets it happen (one
    refund of a payment at such a provider at a time, each in a second of its own)."""
    made, lost = await lost_sibling(case, sandbox, provider, (PART, PART))
    now = datetime.now(UTC)
    of_made = await provider.refund_status(made, now=now)
    of_lost = await provider.refund_status(lost, now=now)

    if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION:
        assert isinstance(of_lost, RefundSubmitted)
        assert of_lost.instruction.reference == lost.request_id
    elif case.refunds_told_apart:
        assert kind(of_lost) == "not_found"
    else:
        assert isinstance(of_made, RefundSucceeded)
        assert of_lost == of_made  # the sibling's refund, number and all: a protocol limit
    assert case.refunded(sandbox, made.attempt) == (
        [] if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION else [PART]
    )


async def test_a_refund_the_provider_refuses_to_discuss_is_never_not_found(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    """Credentials the provider does not accept: it refuses our request, which says nothing
    about the refund; "not found" would have the gateway send it again."""
    attempt = await case.paid(sandbox)
    request = refund_of(attempt, PART, datetime.now(UTC))
    made = kind(await provider.refund(request, now=request.requested_at))
    stranger = case.provider(
        sandbox.container, timeout_seconds=TIMEOUT_SECONDS, secret=FOREIGN_SECRET
    )
    again = refund_of(attempt, PART, datetime.now(UTC))
    refused = kind(await stranger.refund(again, now=again.requested_at))
    status = kind(await stranger.refund_status(request, now=datetime.now(UTC)))

    if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION:
        assert (made, refused, status) == ("submitted", "submitted", "submitted")
        return
    assert made == "succeeded"
    assert refused in ("failed", "unknown")  # refused outright, or an answer we cannot trust
    assert status == "unknown"
    assert case.refunded(sandbox, attempt) == [PART]
