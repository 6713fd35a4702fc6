"""Refund use cases on fakes: asking, four eyes, execution, timeouts, failures, VietQR."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from payments.collection.usecases import payments as payment_service
from payments.domain.access import Role
from payments.domain.attempts import Provider
from payments.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidTransition,
    NotFound,
    NotPermitted,
    PreconditionFailed,
)
from payments.providers.refunds import (
    RefundFailed,
    RefundNotFound,
    RefundOutcome,
    RefundPending,
    RefundRequest,
    RefundSubmitted,
    RefundSucceeded,
    RefundUnknown,
    TransferInstruction,
)
from payments.refunds.ports import RefundFilter
from payments.refunds.rules.lifecycle import LEASE, RefundExceedsAvailable, RefundStatus
from payments.refunds.usecases import requests as service
from payments.refunds.usecases.execution import execute_refund, process_due_refunds, record_outcome
from payments.services.ports import StoredResponse
from tests.support.factories import LIMITS, draft, portal_caller
from tests.support.refund_support import (
    POLICY,
    Providers,
    ScriptedProvider,
    ask,
    paid_payment,
)
from tests.support.refunds_on_fakes import nets, setup

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
R = RefundStatus


async def test_a_small_refund_is_approved_booked_sent_and_paid() -> None:
    uow, paid, scripted, providers = await setup()
    asked = await ask(uow, paid.officer(1), paid.payment.id, 50_000, NOW)
    assert asked.refund is not None
    assert asked.refund.status is R.APPROVED
    assert asked.refund.next_action_at == NOW
    booked = await nets(uow)
    assert booked["refunds-payable"] == -50_000
    assert booked[f"budget-payable:{paid.code}:2662"] == -100_000

    done = await execute_refund(uow, providers, asked.refund.id, now=NOW)
    assert done.status is R.SUCCEEDED
    assert done.next_action_at is None
    assert done.provider_refund_id == f"RF-{done.request_id}"
    (sent,) = scripted.sent
    assert (sent.amount, sent.full, sent.request_id) == (50_000, False, asked.refund.id)
    after = await nets(uow)
    assert after["refunds-payable"] == 0
    assert after["clearing:vnpay"] == 100_000

    summary = await service.payment_refunds(uow, paid.officer(1), paid.payment.id)
    assert (summary.totals.refunded, summary.totals.in_flight, summary.totals.available) == (
        50_000,
        0,
        100_000,
    )
    kinds = [n.type for n in uow.store.outbox.notifications.values() if n.resource_type == "refund"]
    assert kinds == ["refund.approved", "refund.processing", "refund.succeeded"]
    audit = [a for a in uow.store.audit if a.action.startswith("refund.")]
    assert [(a.action, a.actor) for a in audit] == [("refund.requested", "apikey:1")]
    events = await service.refund_events(uow, paid.officer(1), done.id)
    assert [(e.from_status, e.to_status, e.actor) for e in events] == [
        (None, "approved", "apikey:1"),
        ("approved", "processing", "system"),
        ("processing", "succeeded", "provider"),
    ]


async def test_sending_again_does_nothing_once_sent() -> None:
    uow, paid, scripted, providers = await setup()
    asked = await ask(uow, paid.officer(1), paid.payment.id, 150_000, NOW)
    assert asked.refund is not None
    assert asked.refund.full
    await execute_refund(uow, providers, asked.refund.id, now=NOW)
    again = await execute_refund(uow, providers, asked.refund.id, now=NOW)
    assert again.status is R.SUCCEEDED
    assert len(scripted.sent) == 1
    assert scripted.sent[0].full


async def test_refunds_never_exceed_the_capture() -> None:
    uow, paid, _, _ = await setup()
    await ask(uow, paid.officer(1), paid.payment.id, 100_000, NOW)
    with pytest.raises(RefundExceedsAvailable) as raised:
        await ask(uow, paid.officer(1), paid.payment.id, 50_001, NOW)
    assert raised.value.available == 50_000
    await ask(uow, paid.officer(1), paid.payment.id, 50_000, NOW)
    with pytest.raises(RefundExceedsAvailable):
        await ask(uow, paid.officer(1), paid.payment.id, 1, NOW)


async def test_a_stale_expected_available_is_a_failed_precondition() -> None:
    uow, paid, _, _ = await setup()
    await ask(uow, paid.officer(1), paid.payment.id, 40_000, NOW, expected_available=150_000)
    with pytest.raises(PreconditionFailed):
        await ask(uow, paid.officer(1), paid.payment.id, 40_000, NOW, expected_available=150_000)
    asked = await ask(
        uow, paid.officer(1), paid.payment.id, 40_000, NOW, expected_available=110_000
    )
    assert asked.refund is not None


async def test_a_retry_with_the_same_key_replays_and_refunds_once() -> None:
    uow, paid, _, _ = await setup()
    first = await ask(uow, paid.officer(1), paid.payment.id, 40_000, NOW, key="k1")
    again = await ask(uow, paid.officer(1), paid.payment.id, 40_000, NOW, key="k1")
    assert first.refund is not None
    assert again.refund is None
    assert again.replayed
    assert again.response == first.response
    assert service.replayed_refund_id(again.response) == first.refund.id
    assert len(uow.store.refunds.refunds) == 1
    with pytest.raises(IdempotencyKeyReused):
        await ask(uow, paid.officer(1), paid.payment.id, 41_000, NOW, key="k1")


async def test_a_refused_request_leaves_its_key_free() -> None:
    uow, paid, _, _ = await setup()
    with pytest.raises(RefundExceedsAvailable):
        await ask(uow, paid.officer(1), paid.payment.id, 150_001, NOW, key="k2")
    assert (paid.agency_id, "k2") not in uow.store.idempotency


async def test_above_the_threshold_a_second_officer_approves() -> None:
    uow, paid, scripted, providers = await setup(amount=5_000_000)
    asked = await ask(uow, paid.officer(1), paid.payment.id, 2_000_000, NOW)
    refund = asked.refund
    assert refund is not None
    assert refund.status is R.AWAITING_APPROVAL
    assert refund.next_action_at is None
    assert "refunds-payable" not in await nets(uow)  # nothing booked while it waits
    # It reserves its amount meanwhile.
    with pytest.raises(RefundExceedsAvailable):
        await ask(uow, paid.officer(1), paid.payment.id, 3_000_001, NOW)
    # Nothing sends it before approval.
    assert await process_due_refunds(uow, providers, now=NOW + timedelta(days=1)) is not None
    assert scripted.sent == []

    with pytest.raises(NotPermitted):
        await service.approve_refund(uow, paid.officer(1), refund.id, note=None, now=NOW)
    stranger = replace(paid.officer(9), agency_id=paid.agency_id + 100)
    with pytest.raises(NotFound):
        await service.approve_refund(uow, stranger, refund.id, note=None, now=NOW)
    portal = replace(paid.officer(2), role=Role.PORTAL)
    with pytest.raises(NotPermitted):
        await service.approve_refund(uow, portal, refund.id, note=None, now=NOW)

    approved = await service.approve_refund(uow, paid.officer(2), refund.id, note="ok", now=NOW)
    assert approved.status is R.APPROVED
    assert approved.approved_by == "apikey:2"
    assert (await nets(uow))["refunds-payable"] == -2_000_000
    again = await service.approve_refund(uow, paid.officer(2), refund.id, note="ok", now=NOW)
    assert again == approved  # a repeated click changes nothing
    with pytest.raises(InvalidTransition):
        await service.reject_refund(uow, paid.officer(3), refund.id, note=None, now=NOW)
    done = await execute_refund(uow, providers, refund.id, now=NOW)
    assert done.status is R.SUCCEEDED
    actions = [(a.action, a.actor) for a in uow.store.audit if a.action.startswith("refund.")]
    assert actions == [("refund.requested", "apikey:1"), ("refund.approved", "apikey:2")]


async def test_a_rejected_refund_frees_its_amount() -> None:
    uow, paid, _, _ = await setup(amount=5_000_000)
    asked = await ask(uow, paid.officer(1), paid.payment.id, 5_000_000, NOW)
    assert asked.refund is not None
    rejected = await service.reject_refund(
        uow, paid.officer(2), asked.refund.id, note="not owed", now=NOW
    )
    assert rejected.status is R.REJECTED
    assert rejected.rejected_by == "apikey:2"
    assert rejected.next_action_at is None
    with pytest.raises(InvalidTransition):
        await service.approve_refund(uow, paid.officer(3), asked.refund.id, note=None, now=NOW)
    summary = await service.payment_refunds(uow, paid.officer(1), paid.payment.id)
    assert summary.totals.available == 5_000_000


async def test_another_agency_sees_nothing() -> None:
    uow, paid, _, _ = await setup()
    other = await paid_payment(uow, NOW)
    asked = await ask(uow, paid.officer(1), paid.payment.id, 1_000, NOW)
    assert asked.refund is not None
    with pytest.raises(NotFound):
        await ask(uow, other.officer(5), paid.payment.id, 1_000, NOW)
    with pytest.raises(NotFound):
        await service.get_refund(uow, other.officer(5), asked.refund.id)
    with pytest.raises(NotFound):
        await service.payment_refunds(uow, other.officer(5), paid.payment.id)
    rows, _ = await service.list_refunds(
        uow, other.officer(5), RefundFilter(), before_id=None, limit=10
    )
    assert rows == []


async def test_only_finance_asks_and_only_paid_payments_are_refunded() -> None:
    uow, paid, _, _ = await setup()
    with pytest.raises(NotPermitted):
        await ask(uow, replace(paid.officer(1), role=Role.ADMIN), paid.payment.id, 1_000, NOW)
    portal = await portal_caller(uow, NOW, code="UNPAID")
    created = await payment_service.create_payment(
        uow,
        caller=portal,
        draft=draft(reference="HS-UNPAID"),
        idempotency=payment_service.IdempotentRequest("u", "f"),
        limits=LIMITS,
        respond=lambda p: StoredResponse(201, p.id),
        now=NOW,
    )
    assert created.payment is not None
    unpaid_officer = replace(paid.officer(1), agency_id=portal.agency_id)
    with pytest.raises(Conflict):
        await ask(uow, unpaid_officer, created.payment.id, 1, NOW)


async def test_a_timeout_then_a_status_query_that_reports_success() -> None:
    uow, paid, scripted, providers = await setup()
    scripted.refunds.append(RefundUnknown("timed out"))
    asked = await ask(uow, paid.officer(1), paid.payment.id, 60_000, NOW)
    assert asked.refund is not None
    unknown = await execute_refund(uow, providers, asked.refund.id, now=NOW)
    assert unknown.status is R.UNKNOWN
    assert unknown.next_action_at == NOW + timedelta(minutes=1)
    assert (await process_due_refunds(uow, providers, now=NOW)).checked == 0  # not due yet

    scripted.statuses.append(RefundSucceeded(60_000, "RF9", "00"))
    run = await process_due_refunds(uow, providers, now=NOW + timedelta(minutes=1))
    assert (run.sent, run.checked, run.settled) == (0, 1, 1)
    refund = await service.get_refund(uow, paid.officer(1), asked.refund.id)
    assert refund.status is R.SUCCEEDED
    assert refund.provider_refund_id == "RF9"
    assert len(scripted.sent) == 1  # asked, never sent twice
    assert scripted.asked[0].request_id == scripted.sent[0].request_id
    assert scripted.asked[0].requested_at == scripted.sent[0].requested_at
    # A duplicate answer afterwards changes nothing and posts nothing.
    await record_outcome(uow, refund.id, RefundSucceeded(60_000, "RF9", "00"), now=NOW)
    await record_outcome(uow, refund.id, RefundFailed("99", "late"), now=NOW)
    assert (await service.get_refund(uow, paid.officer(1), refund.id)).status is R.SUCCEEDED
    assert (await nets(uow))["clearing:vnpay"] == 90_000


async def test_a_refund_the_provider_never_got_is_sent_again_with_the_same_id() -> None:
    uow, paid, scripted, providers = await setup()
    scripted.refunds.append(RefundUnknown("connection reset"))
    asked = await ask(uow, paid.officer(1), paid.payment.id, 60_000, NOW)
    assert asked.refund is not None
    await execute_refund(uow, providers, asked.refund.id, now=NOW)
    scripted.statuses.append(RefundNotFound("no such request"))
    await process_due_refunds(uow, providers, now=NOW + timedelta(minutes=2))
    assert [r.request_id for r in scripted.sent] == [asked.refund.id, asked.refund.id]
    assert scripted.sent[0].requested_at == scripted.sent[1].requested_at == NOW
    refund = await service.get_refund(uow, paid.officer(1), asked.refund.id)
    assert refund.status is R.SUCCEEDED


async def test_pending_is_asked_on_a_ladder_and_unknown_never_overwrites_it() -> None:
    uow, paid, scripted, providers = await setup()
    scripted.refunds.append(RefundPending("94", "processing"))
    asked = await ask(uow, paid.officer(1), paid.payment.id, 60_000, NOW)
    assert asked.refund is not None
    pending = await execute_refund(uow, providers, asked.refund.id, now=NOW)
    assert pending.status is R.PENDING
    at = NOW + timedelta(minutes=1)
    scripted.statuses.append(RefundUnknown("timeout"))
    await process_due_refunds(uow, providers, now=at)
    still = await service.get_refund(uow, paid.officer(1), asked.refund.id)
    assert still.status is R.PENDING
    assert still.checks == 1
    assert still.next_action_at == at + timedelta(minutes=5)
    scripted.statuses.append(RefundFailed("09", "refused by the bank"))
    await process_due_refunds(uow, providers, now=at + timedelta(minutes=5))
    failed = await service.get_refund(uow, paid.officer(1), asked.refund.id)
    assert failed.status is R.FAILED
    assert failed.provider_code == "09"


async def test_a_failure_after_booking_reverses_the_booking() -> None:
    uow, paid, scripted, providers = await setup()
    scripted.refunds.append(RefundFailed("95", "not refundable"))
    asked = await ask(uow, paid.officer(1), paid.payment.id, 150_000, NOW)
    assert asked.refund is not None
    failed = await execute_refund(uow, providers, asked.refund.id, now=NOW)
    assert failed.status is R.FAILED
    books = await nets(uow)
    assert books["refunds-payable"] == 0
    assert books[f"budget-payable:{paid.code}:2662"] == -150_000
    summary = await service.payment_refunds(uow, paid.officer(1), paid.payment.id)
    assert summary.totals.available == 150_000


async def test_a_process_lost_mid_call_leaves_a_refund_the_next_run_settles() -> None:
    uow, paid, scripted, providers = await setup()

    class Crash(Exception):
        pass

    async def crash(request: RefundRequest, *, now: datetime) -> RefundOutcome:
        raise Crash

    asked = await ask(uow, paid.officer(1), paid.payment.id, 60_000, NOW)
    assert asked.refund is not None
    scripted_refund = scripted.refund
    scripted.refund = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await execute_refund(uow, providers, asked.refund.id, now=NOW)
    stuck = await service.get_refund(uow, paid.officer(1), asked.refund.id)
    assert stuck.status is R.PROCESSING
    assert stuck.next_action_at == NOW + LEASE
    scripted.refund = scripted_refund  # type: ignore[method-assign]
    assert (await process_due_refunds(uow, providers, now=NOW + LEASE / 2)).checked == 0
    run = await process_due_refunds(uow, providers, now=NOW + LEASE)
    assert (run.checked, run.settled) == (1, 1)
    assert len(scripted.asked) == 1  # asked before sending again
    done = await service.get_refund(uow, paid.officer(1), asked.refund.id)
    assert done.status is R.SUCCEEDED


async def test_vietqr_refunds_stay_submitted_until_confirmed() -> None:
    uow, paid, _, _ = await setup(provider=Provider.VIETQR)
    instruction = TransferInstruction(
        "970415", "113366668888", 50_000, "rfd_x", "rfd_x HOAN TIEN", "FT1"
    )
    scripted = ScriptedProvider(refunds=[RefundSubmitted(instruction)])
    providers = Providers({Provider.VIETQR: scripted})
    asked = await ask(uow, paid.officer(1), paid.payment.id, 50_000, NOW)
    assert asked.refund is not None
    submitted = await execute_refund(uow, providers, asked.refund.id, now=NOW)
    assert submitted.status is R.SUBMITTED
    assert submitted.next_action_at is None
    assert submitted.transfer_instruction is not None
    assert submitted.transfer_instruction["from_account_no"] == "113366668888"
    run = await process_due_refunds(uow, providers, now=NOW + timedelta(days=3))
    assert run.checked == 0  # nothing to ask: people settle it
    with pytest.raises(NotPermitted):
        await service.confirm_refund(
            uow, replace(paid.officer(1), role=Role.TREASURY), submitted.id, note=None, now=NOW
        )
    confirmed = await service.confirm_refund(
        uow, replace(paid.officer(7), role=Role.ADMIN), submitted.id, note="FT99", now=NOW
    )
    assert confirmed.status is R.SUCCEEDED
    again = await service.confirm_refund_transfer(
        uow, submitted.id, actor="reconciliation", bank_reference="FT99", now=NOW
    )
    assert again.status is R.SUCCEEDED
    assert (await nets(uow))["clearing:vietqr"] == 100_000
    assert [a.action for a in uow.store.audit if a.action == "refund.confirmed"] == [
        "refund.confirmed"
    ]


async def test_candidates_are_flagged_paid_payments_with_their_summary() -> None:
    uow, paid, _, _ = await setup()
    async with uow() as tx:
        flags = replace(paid.payment.flags, needs_review=True)
        await tx.payments.set_flags(paid.payment.id, flags, NOW)
        await tx.commit()
    await ask(uow, paid.officer(1), paid.payment.id, 10_000, NOW)
    rows, more = await service.refund_candidates(uow, paid.officer(1), before_id=None, limit=10)
    assert not more
    assert [(r.payment.id, r.totals.available) for r in rows] == [(paid.payment.id, 140_000)]
    assert POLICY.approval_threshold == 1_000_000


async def test_one_refund_failing_unexpectedly_does_not_strand_the_others() -> None:
    uow, paid, scripted, providers = await setup()
    first = await ask(uow, paid.officer(1), paid.payment.id, 10_000, NOW)
    second = await ask(uow, paid.officer(1), paid.payment.id, 20_000, NOW + timedelta(seconds=1))
    assert first.refund is not None
    assert second.refund is not None
    first_id, succeed = first.refund.id, scripted.refund

    async def broken_for_the_first(request: RefundRequest, *, now: datetime) -> RefundOutcome:
        if request.request_id == first_id:
            raise RuntimeError("provider client bug")
        return await succeed(request, now=now)

    scripted.refund = broken_for_the_first  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await process_due_refunds(uow, providers, now=NOW + timedelta(seconds=1))
    done = await service.get_refund(uow, paid.officer(1), second.refund.id)
    assert done.status is R.SUCCEEDED
    stuck = await service.get_refund(uow, paid.officer(1), first.refund.id)
    assert stuck.status is R.PROCESSING
