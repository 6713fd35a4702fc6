"""Refunds whose provider answer is in doubt, on fakes: one refund of a payment at a provider
that cannot tell refunds apart, answers that are about another refund, the end of the check
ladder, and settling by hand with four eyes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.attempts import Provider
from payments.domain.errors import Conflict, InvalidInput, InvalidTransition, NotPermitted
from payments.providers.refunds import RefundFailed, RefundSucceeded, RefundUnknown
from payments.refunds.ports import RefundFilter
from payments.refunds.rules.lifecycle import (
    CHECK_LADDER,
    QUEUE_WAIT,
    Refund,
    RefundStatus,
    ResolutionOutcome,
    queued_behind,
)
from payments.refunds.usecases import requests as service
from payments.refunds.usecases.execution import execute_refund, process_due_refunds
from payments.refunds.usecases.resolutions import (
    confirm_resolution,
    decline_resolution,
    propose_resolution,
)
from tests.support.refund_support import Paid, Providers, ScriptedProvider, ask
from tests.support.refunds_on_fakes import nets, setup
from tests.unit.fakes import FakeUnitOfWorkFactory

NOW = datetime(2026, 11, 22, 3, 0, 0, 250_000, tzinfo=UTC)
R = RefundStatus


async def asked(uow: FakeUnitOfWorkFactory, paid: Paid, amount: int, now: datetime) -> Refund:
    made = await ask(uow, paid.officer(1), paid.payment.id, amount, now)
    assert made.refund is not None
    return made.refund


async def refund(uow: FakeUnitOfWorkFactory, paid: Paid, refund_id: str) -> Refund:
    return await service.get_refund(uow, paid.officer(1), refund_id)


def test_a_refund_waits_for_a_sibling_at_the_provider_and_never_shares_its_second() -> None:
    moment = datetime(2026, 11, 22, 3, 0, 0, 900_000, tzinfo=UTC)

    def sibling(status: R, *, attempt: str = "att_1", sent: datetime | None = None) -> Refund:
        return _refund(f"rfd_{status}_{attempt}", status, attempt, sent)

    me = _refund("rfd_me", R.APPROVED, "att_1", None)
    assert queued_behind(me, [me], moment) is None
    for status in (R.PROCESSING, R.PENDING, R.UNKNOWN):
        assert queued_behind(me, [me, sibling(status)], moment) == moment + QUEUE_WAIT
    # Settled siblings free the payment, but their create second stays theirs.
    settled = sibling(R.SUCCEEDED, sent=moment.replace(microsecond=1))
    assert queued_behind(me, [settled], moment) == moment.replace(microsecond=0) + timedelta(
        seconds=1
    )
    earlier = sibling(R.FAILED, sent=moment - timedelta(seconds=1))
    assert queued_behind(me, [earlier], moment) is None
    # Another attempt of the payment is another transaction at the provider.
    assert queued_behind(me, [sibling(R.UNKNOWN, attempt="att_2")], moment) is None


def _refund(refund_id: str, status: R, attempt_id: str, sent: datetime | None) -> Refund:
    return Refund(
        id=refund_id,
        payment_id="pay_1",
        attempt_id=attempt_id,
        agency_id=1,
        provider="vnpay",
        amount=10_000,
        currency="VND",
        full=False,
        captured_amount=150_000,
        from_excess=0,
        reason="r",
        status=status,
        requested_by="apikey:1",
        request_id=refund_id,
        created_at=NOW,
        updated_at=NOW,
        provider_requested_at=sent,
    )


async def test_at_a_provider_that_cannot_tell_refunds_apart_one_is_sent_at_a_time() -> None:
    uow, paid, scripted, providers = await setup()
    scripted.refunds_told_apart = False
    first = await asked(uow, paid, 30_000, NOW)
    second = await asked(uow, paid, 30_000, NOW)
    scripted.refunds.append(RefundUnknown("timed out"))
    assert (await execute_refund(uow, providers, first.id, now=NOW)).status is R.UNKNOWN
    queued = await execute_refund(uow, providers, second.id, now=NOW)
    assert queued.status is R.APPROVED
    assert queued.next_action_at == NOW + QUEUE_WAIT
    assert [r.request_id for r in scripted.sent] == [first.id]

    # A minute on, the first is asked about (VNPay has it) and the second still waits.
    scripted.statuses.append(RefundSucceeded(30_000, "RF-1", "00"))
    later = NOW + timedelta(minutes=1)
    run = await process_due_refunds(uow, providers, now=later)
    assert (run.sent, run.checked, run.settled) == (0, 1, 1)
    assert [r.request_id for r in scripted.sent] == [first.id]
    run = await process_due_refunds(uow, providers, now=later + QUEUE_WAIT)
    assert (run.sent, run.settled) == (1, 1)
    assert [r.request_id for r in scripted.sent] == [first.id, second.id]
    assert scripted.sent[1].requested_at == later + QUEUE_WAIT
    assert (await refund(uow, paid, second.id)).status is R.SUCCEEDED
    assert (await nets(uow))["clearing:vnpay"] == 90_000


async def test_two_refunds_in_one_second_get_seconds_of_their_own() -> None:
    uow, paid, scripted, providers = await setup()
    scripted.refunds_told_apart = False
    first = await asked(uow, paid, 30_000, NOW)
    second = await asked(uow, paid, 30_000, NOW)
    assert (await execute_refund(uow, providers, first.id, now=NOW)).status is R.SUCCEEDED
    queued = await execute_refund(uow, providers, second.id, now=NOW)
    assert queued.next_action_at == NOW.replace(microsecond=0) + timedelta(seconds=1)
    await process_due_refunds(uow, providers, now=queued.next_action_at)
    seconds = {r.requested_at.replace(microsecond=0) for r in scripted.sent}
    assert len(seconds) == 2


async def test_a_provider_that_tells_refunds_apart_gets_them_at_once() -> None:
    uow, paid, scripted, providers = await setup(Provider.MOMO)
    first = await asked(uow, paid, 30_000, NOW)
    second = await asked(uow, paid, 30_000, NOW)
    scripted.refunds.append(RefundUnknown("timed out"))
    await execute_refund(uow, providers, first.id, now=NOW)
    assert (await execute_refund(uow, providers, second.id, now=NOW)).status is R.SUCCEEDED


async def test_a_success_naming_another_refunds_number_is_no_answer() -> None:
    uow, paid, scripted, providers = await setup(Provider.MOMO)
    first = await asked(uow, paid, 30_000, NOW)
    second = await asked(uow, paid, 30_000, NOW)
    done = await execute_refund(uow, providers, first.id, now=NOW)
    scripted.refunds.append(RefundUnknown("timed out"))
    await execute_refund(uow, providers, second.id, now=NOW)
    # The status query answers with the first refund's number: it is not about the second.
    scripted.statuses.append(RefundSucceeded(30_000, done.provider_refund_id or "", "00"))
    await process_due_refunds(uow, providers, now=NOW + timedelta(minutes=1))
    doubted = await refund(uow, paid, second.id)
    assert doubted.status is R.UNKNOWN
    assert doubted.provider_refund_id is None
    assert f"refund {first.id}'s" in (doubted.provider_message or "")
    assert (await nets(uow))["clearing:momo"] == 120_000


async def run_the_ladder(
    uow: FakeUnitOfWorkFactory, scripted: ScriptedProvider, refund_id: str, start: datetime
) -> datetime:
    """Ask about a refund at each step of the ladder, the provider never certain."""
    providers = Providers({Provider.VNPAY: scripted})
    moment = start
    for step in CHECK_LADDER:
        moment += step
        scripted.statuses.append(RefundUnknown("answer unusable"))
        run = await process_due_refunds(uow, providers, now=moment)
        assert run.checked == 1, refund_id
    return moment


async def test_after_the_ladder_a_refund_is_raised_to_people_and_still_asked_daily() -> None:
    uow, paid, scripted, providers = await setup()
    made = await asked(uow, paid, 40_000, NOW)
    scripted.refunds.append(RefundUnknown("timed out"))
    await execute_refund(uow, providers, made.id, now=NOW)
    raised = await list_escalated(uow, paid)
    assert raised == []
    end = await run_the_ladder(uow, scripted, made.id, NOW)
    held = await refund(uow, paid, made.id)
    assert held.status is R.UNKNOWN
    assert held.escalated_at == end
    assert held.next_action_at == end + timedelta(days=1)
    assert [r.id for r in await list_escalated(uow, paid)] == [made.id]
    audit = [a for a in uow.store.audit if a.action == "refund.escalated"]
    assert [(a.target_id, a.detail["checks"]) for a in audit] == [(made.id, len(CHECK_LADDER))]
    events = await service.refund_events(uow, paid.officer(1), made.id)
    assert [e.cause for e in events].count("escalated") == 1
    # Asked again a day on; raised once only. The provider's answer then settles it.
    scripted.statuses.append(RefundSucceeded(40_000, "RF-late", "00"))
    run = await process_due_refunds(uow, providers, now=end + timedelta(days=1))
    assert run.settled == 1
    assert len([a for a in uow.store.audit if a.action == "refund.escalated"]) == 1
    assert await list_escalated(uow, paid) == []


async def list_escalated(uow: FakeUnitOfWorkFactory, paid: Paid) -> list[Refund]:
    rows, _ = await service.list_refunds(
        uow, paid.officer(1), RefundFilter(escalated=True), before_id=None, limit=10
    )
    return list(rows)


async def stuck() -> tuple[FakeUnitOfWorkFactory, Paid, Refund]:
    uow, paid, scripted, providers = await setup()
    made = await asked(uow, paid, 40_000, NOW)
    scripted.refunds.append(RefundUnknown("timed out"))
    await execute_refund(uow, providers, made.id, now=NOW)
    await run_the_ladder(uow, scripted, made.id, NOW)
    return uow, paid, made


LATER = NOW + timedelta(days=2)


async def test_two_officers_settle_a_refund_the_provider_paid() -> None:
    uow, paid, made = await stuck()
    proposed = await propose_resolution(
        uow, paid.officer(1), made.id, outcome=ResolutionOutcome.SUCCEEDED,
        provider_refund_id=" VNP-778899 ", note="Seen paid on the VNPay merchant portal",
        now=LATER,
    )  # fmt: skip
    assert proposed.status is R.UNKNOWN  # nothing moves on one officer's word
    assert proposed.resolution is not None
    assert proposed.resolution.provider_refund_id == "VNP-778899"
    assert (await nets(uow))["refunds-payable"] == -40_000
    with pytest.raises(NotPermitted):
        await confirm_resolution(uow, paid.officer(1), made.id, note=None, now=LATER)
    with pytest.raises(Conflict):  # one proposal at a time
        await propose_resolution(
            uow, paid.officer(2), made.id, outcome=ResolutionOutcome.FAILED,
            provider_refund_id=None, note="x", now=LATER,
        )  # fmt: skip
    done = await confirm_resolution(uow, paid.officer(2), made.id, note="checked", now=LATER)
    assert done.status is R.SUCCEEDED
    assert done.provider_refund_id == "VNP-778899"
    assert done.resolution is None
    assert done.next_action_at is None
    books = await nets(uow)
    assert books["refunds-payable"] == 0
    assert books["clearing:vnpay"] == 110_000
    actions = [(a.action, a.actor) for a in uow.store.audit if "resolution" in a.action]
    assert actions == [
        ("refund.resolution_proposed", "apikey:1"),
        ("refund.resolution_confirmed", "apikey:2"),
    ]
    with pytest.raises(Conflict):  # settled: nothing left to confirm
        await confirm_resolution(uow, paid.officer(3), made.id, note=None, now=LATER)


async def test_a_refund_settled_as_failed_gives_the_amount_back_to_the_budget() -> None:
    uow, paid, made = await stuck()
    await propose_resolution(
        uow, paid.officer(1), made.id, outcome=ResolutionOutcome.FAILED,
        provider_refund_id=None, note="VNPay support: never received", now=LATER,
    )  # fmt: skip
    done = await confirm_resolution(uow, paid.officer(2), made.id, note=None, now=LATER)
    assert done.status is R.FAILED
    books = await nets(uow)
    assert books["refunds-payable"] == 0
    assert books["clearing:vnpay"] == 150_000
    summary = await service.payment_refunds(uow, paid.officer(1), paid.payment.id)
    assert summary.totals.available == 150_000


async def test_a_declined_proposal_moves_nothing_and_a_new_one_may_follow() -> None:
    uow, paid, made = await stuck()
    await propose_resolution(
        uow, paid.officer(1), made.id, outcome=ResolutionOutcome.FAILED,
        provider_refund_id=None, note="looks lost", now=LATER,
    )  # fmt: skip
    with pytest.raises(NotPermitted):
        await decline_resolution(uow, paid.officer(1), made.id, note=None, now=LATER)
    declined = await decline_resolution(
        uow, paid.officer(2), made.id, note="the portal shows it paid", now=LATER
    )
    assert declined.status is R.UNKNOWN
    assert declined.resolution is None
    again = await propose_resolution(
        uow, paid.officer(2), made.id, outcome=ResolutionOutcome.SUCCEEDED,
        provider_refund_id="VNP-1", note="portal", now=LATER,
    )  # fmt: skip
    assert again.resolution is not None


async def test_a_proposal_must_be_complete_and_about_a_refund_in_doubt() -> None:
    uow, paid, made = await stuck()
    with pytest.raises(InvalidInput):  # a success needs the provider's number
        await propose_resolution(
            uow, paid.officer(1), made.id, outcome=ResolutionOutcome.SUCCEEDED,
            provider_refund_id="  ", note="paid", now=LATER,
        )  # fmt: skip
    with pytest.raises(InvalidInput):  # and every proposal says how the officer knows
        await propose_resolution(
            uow, paid.officer(1), made.id, outcome=ResolutionOutcome.FAILED,
            provider_refund_id=None, note=" ", now=LATER,
        )  # fmt: skip
    assert (await refund(uow, paid, made.id)).resolution is None
    uow2, paid2, _, providers2 = await setup()
    settled = await asked(uow2, paid2, 10_000, NOW)
    await execute_refund(uow2, providers2, settled.id, now=NOW)
    with pytest.raises(InvalidTransition):
        await propose_resolution(
            uow2, paid2.officer(1), settled.id, outcome=ResolutionOutcome.FAILED,
            provider_refund_id=None, note="x", now=LATER,
        )  # fmt: skip
    # The provider's refund number settles one refund only.
    with pytest.raises(Conflict):
        await propose_resolution(
            uow2, paid2.officer(1), (await asked(uow2, paid2, 5_000, NOW)).id,
            outcome=ResolutionOutcome.SUCCEEDED,
            provider_refund_id=f"RF-{settled.id}", note="x", now=LATER,
        )  # fmt: skip


async def test_the_providers_answer_makes_a_proposal_moot() -> None:
    uow, paid, scripted, providers = await setup()
    made = await asked(uow, paid, 40_000, NOW)
    scripted.refunds.append(RefundUnknown("timed out"))
    await execute_refund(uow, providers, made.id, now=NOW)
    end = await run_the_ladder(uow, scripted, made.id, NOW)
    await propose_resolution(
        uow, paid.officer(1), made.id, outcome=ResolutionOutcome.SUCCEEDED,
        provider_refund_id="VNP-9", note="portal", now=end,
    )  # fmt: skip
    scripted.statuses.append(RefundFailed("09", "rejected by the bank"))
    await process_due_refunds(uow, providers, now=end + timedelta(days=1))
    settled = await refund(uow, paid, made.id)
    assert settled.status is R.FAILED
    assert settled.resolution is None
    events = await service.refund_events(uow, paid.officer(1), made.id)
    assert events[-1].detail.get("proposal_dropped") == "succeeded"
    with pytest.raises(Conflict):
        await confirm_resolution(uow, paid.officer(2), made.id, note=None, now=end)
