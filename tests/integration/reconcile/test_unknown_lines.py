"""Issue 13, defect 6: a reconciliation line is never labelled without its payment, by one set
of rules for the treasury's lines and the providers' settlement lines, on SQLite and
PostgreSQL (``payments/reconcile/rules/unknown_lines.py``).

- a MoMo settlement line naming an attempt the gateway still has pending is tied to its
  payment and the attempt is asked about at MoMo, as a treasury credit naming it is;
- a camt.054 credit on a later day for a payment an earlier day matched is a duplicate of
  that match (and a provider's line for a payment an earlier day settled, likewise);
- the note says "late success" only when the payment is flagged late.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from payments.collection.usecases.checkout import StartedAttempt
from payments.collection.usecases.payments import expire_due_payments
from payments.domain.attempts import Attempt, Provider, ProviderOutcome, Result
from payments.domain.payments import PaymentStatus
from payments.reconcile.formats.settlements import SettlementLine, read_settlement, write_settlement
from payments.reconcile.ports import StoredItem
from payments.reconcile.rules.calendar import DEFAULT_CALENDAR
from payments.reconcile.rules.matching import Outcome
from payments.reconcile.sources.treasury import statement_reader
from payments.reconcile.usecases.day import DayResult, reconcile_day
from payments.reconcile.usecases.imports import import_settlement, import_statement
from payments.reconcile.usecases.reports import item_detail, list_items
from payments.services.ports import StatusQuery
from payments.unit_of_work import WorkFactory
from tests.support.reconcile_days import (
    CREATED,
    DAY,
    NIGHT,
    camt054,
    csv_line,
    gateway,
    import_csv,
    settle,
    statement,
    success,
)

THURSDAY = DEFAULT_CALENDAR.next_business_day(DAY + timedelta(days=1))
WEEK_AFTER = DEFAULT_CALENDAR.add_business_days(DAY, 8)  # outside the settlement window


async def items(uow: WorkFactory, result: DayResult) -> list[StoredItem]:
    """The run's items but the bank's fee debits (``fee``), which are only listed."""
    found = await list_items(uow, result.run.id, limit=1000)
    return [i for i in found if i.item.outcome is not Outcome.IGNORED]


def fee(day: date = DAY) -> str:
    """A day's statement line the reconciliation only lists: the bank's fee, a debit."""
    return csv_line("PHI-NH", 11_000, booked=day, direction="debit")


async def history(uow: WorkFactory, item: StoredItem) -> list[str]:
    return [h.action for h in (await item_detail(uow, item.id)).history]


async def momo_report(uow: WorkFactory, reference: str, amount: int) -> None:
    """MoMo's settlement report of DAY: one capture, of the attempt ``reference`` names."""
    out = io.StringIO()
    write_settlement(
        "momo", [SettlementLine("momo", 2, "3100001", reference, amount, 0, "VND", DAY)], out
    )
    report = read_settlement("momo", io.BytesIO(out.getvalue().encode()))
    await import_settlement(uow, report, business_date=DAY, actor="ops", now=NIGHT)


def answering(started: StartedAttempt, result: Result, asked: list[str]) -> StatusQuery:
    """A provider that answers ``result`` about ``started``'s attempt."""

    async def query(attempt: Attempt, now: datetime) -> ProviderOutcome | None:
        asked.append(attempt.id)
        return replace(success(started), result=result)

    return query


async def import_camt054(uow: WorkFactory, content: bytes, day: date) -> None:
    reader = statement_reader(io.BytesIO(content), "camt")
    await import_statement(uow, reader, business_date=day, actor="ops", now=NIGHT)


def night_of(day: date) -> datetime:
    return NIGHT + timedelta(days=(day - DAY).days)


async def test_a_momo_line_naming_a_pending_attempt_is_tied_to_its_payment_and_asked(
    uow_factory: WorkFactory,
) -> None:
    # The payer paid at MoMo, but MoMo's IPN never reached us: the attempt is still pending
    # when MoMo's report lists the capture. The line shows the payment, MoMo is asked (as a
    # treasury credit naming the attempt would be), and its answer is recorded.
    gw = await gateway(uow_factory)
    started = await gw.started(70_000, Provider.MOMO)
    await import_csv(uow_factory, statement(fee()))  # the treasury has nothing for it yet
    await momo_report(uow_factory, started.attempt.provider_ref, 70_000)
    asked: list[str] = []
    result = await reconcile_day(
        uow_factory, DAY, now=NIGHT, status_query=answering(started, Result.SUCCEEDED, asked)
    )

    assert asked == [started.attempt.id]
    assert result.confirmed == (started.payment.id,)
    [item] = await items(uow_factory, result)
    assert (item.item.outcome, item.item.payment_id, item.item.provider, item.item.agency) == (
        Outcome.PROVIDER_UNKNOWN,
        started.payment.id,
        "momo",
        "DVC",
    )
    assert f"names payment {started.payment.id}, pending at the gateway" in item.item.note
    assert (
        f"momo confirmed payment {started.payment.id}: recorded as a success; "
        "rerun the day to match it"
    ) in item.item.note
    assert await history(uow_factory, item) == ["opened", "provider_confirmed"]
    async with uow_factory() as tx:
        payment = await tx.payments.by_id(started.payment.id)
    assert payment is not None
    assert (payment.status, payment.flags.late) == (PaymentStatus.SUCCEEDED, False)

    # A rerun of the day: MoMo's line now agrees with the recorded success, and is booked.
    again = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert await items(uow_factory, again) == []
    assert again.run.settled_payments == 1


@pytest.mark.parametrize("answer", [Result.PENDING, Result.FAILED, None])
async def test_the_providers_answer_labels_a_tied_momo_line(
    uow_factory: WorkFactory, answer: Result | None
) -> None:
    # MoMo says the attempt is still pending, or failed, or does not answer: nothing is
    # recorded as paid, and the item says what MoMo said.
    gw = await gateway(uow_factory)
    started = await gw.started(70_000, Provider.MOMO)
    await import_csv(uow_factory, statement(fee()))
    await momo_report(uow_factory, started.attempt.provider_ref, 70_000)
    asked: list[str] = []
    query = answering(started, answer, asked) if answer is not None else None

    async def silent(attempt: Attempt, now: datetime) -> ProviderOutcome | None:
        asked.append(attempt.id)
        return None

    result = await reconcile_day(uow_factory, DAY, now=NIGHT, status_query=query or silent)

    assert asked == [started.attempt.id]
    assert result.confirmed == ()
    assert result.unresolved_queries == (1 if answer is None else 0)
    [item] = await items(uow_factory, result)
    assert (item.item.outcome, item.item.payment_id) == (
        Outcome.PROVIDER_UNKNOWN,
        started.payment.id,
    )
    said = {
        Result.PENDING: f"momo reports attempt {started.attempt.id} still pending",
        Result.FAILED: f"momo reports attempt {started.attempt.id} failed",
    }
    if answer is None:
        assert "momo reports" not in item.item.note
        assert await history(uow_factory, item) == ["opened"]
    else:
        assert said[answer] in item.item.note
        assert await history(uow_factory, item) == ["opened", "provider_answered"]
    async with uow_factory() as tx:
        payment = await tx.payments.by_id(started.payment.id)
    assert payment is not None
    assert payment.status is PaymentStatus.PENDING


async def test_one_attempt_named_on_both_sides_is_asked_once(
    uow_factory: WorkFactory,
) -> None:
    # The treasury credit and MoMo's line name the same pending attempt: one question, and
    # both items carry its answer and the payment.
    gw = await gateway(uow_factory)
    started = await gw.started(70_000, Provider.MOMO)
    await import_csv(uow_factory, statement(csv_line(started.attempt.provider_ref, 70_000)))
    await momo_report(uow_factory, started.attempt.provider_ref, 70_000)
    asked: list[str] = []
    result = await reconcile_day(
        uow_factory, DAY, now=NIGHT, status_query=answering(started, Result.SUCCEEDED, asked)
    )
    assert asked == [started.attempt.id]
    found = await items(uow_factory, result)
    assert [(i.item.outcome, i.item.payment_id, i.item.provider) for i in found] == [
        (Outcome.UNKNOWN_AT_GATEWAY, started.payment.id, "momo"),
        (Outcome.PROVIDER_UNKNOWN, started.payment.id, "momo"),
    ]
    confirmed = f"momo confirmed payment {started.payment.id}: recorded as a success"
    assert all(confirmed in i.item.note for i in found)


@pytest.mark.parametrize("later", [THURSDAY, WEEK_AFTER], ids=["next-day", "outside-window"])
async def test_a_later_days_camt054_credit_for_a_matched_payment_is_a_duplicate(
    uow_factory: WorkFactory, later: date
) -> None:
    # Wednesday's notification credits the payment: matched. A later notification credits it
    # again: a duplicate of Wednesday's match, not a credit the gateway does not know.
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    await import_camt054(uow_factory, camt054(DAY, paid.id), DAY)
    first = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert [(i.item.outcome, i.item.payment_id) for i in await items(uow_factory, first)] == [
        (Outcome.MATCHED, paid.id)
    ]

    await import_camt054(uow_factory, camt054(later, paid.id), later)
    second = await reconcile_day(uow_factory, later, now=night_of(later))
    [item] = await items(uow_factory, second)
    assert (item.item.outcome, item.item.payment_id, item.item.agency) == (
        Outcome.DUPLICATE,
        paid.id,
        "DVC",
    )
    assert (item.item.gateway_amount, item.item.treasury_amount) == (150_000, 150_000)
    assert f"already matched on {DAY.isoformat()} (run {first.run.id})" in item.item.note
    assert second.run.posted_payments == 0
    assert second.run.matched_treasury_total == 0


async def test_a_later_days_report_line_for_a_settled_payment_is_a_provider_duplicate(
    uow_factory: WorkFactory,
) -> None:
    # The same rule on the provider's side: VNPay settled the payment on Wednesday (and the
    # treasury confirmed it); Thursday's report lists it again.
    gw = await gateway(uow_factory)
    paid = await gw.paid()
    await import_csv(uow_factory, statement(csv_line(paid.id)))
    await settle(uow_factory, paid)
    first = await reconcile_day(uow_factory, DAY, now=NIGHT)
    assert first.run.settled_payments == 1

    await import_csv(uow_factory, statement(fee(THURSDAY)), THURSDAY, at=night_of(THURSDAY))
    await settle(uow_factory, paid, day=THURSDAY, at=night_of(THURSDAY))
    second = await reconcile_day(uow_factory, THURSDAY, now=night_of(THURSDAY))
    [item] = await items(uow_factory, second)
    assert (item.item.outcome, item.item.payment_id, item.item.provider) == (
        Outcome.PROVIDER_DUPLICATE,
        paid.id,
        "vnpay",
    )
    assert f"already settled on {DAY.isoformat()} (run {first.run.id})" in item.item.note
    assert second.run.settled_payments == 0


async def test_late_success_only_when_the_payment_is_flagged_late(
    uow_factory: WorkFactory,
) -> None:
    # One payment expired before VNPay's answer came (a late success: flags.late), one is
    # still pending (an ordinary success): the notes say which.
    gw = await gateway(uow_factory)
    expired = await gw.started(150_000)
    await expire_due_payments(uow_factory, now=CREATED + timedelta(hours=2))
    pending = await gw.started(90_000)
    await import_csv(
        uow_factory,
        statement(
            csv_line(expired.attempt.provider_ref, 150_000),
            csv_line(pending.attempt.provider_ref, 90_000),
        ),
    )
    by_attempt = {expired.attempt.id: expired, pending.attempt.id: pending}

    async def vnpay(attempt: Attempt, now: datetime) -> ProviderOutcome | None:
        return success(by_attempt[attempt.id])

    result = await reconcile_day(uow_factory, DAY, now=NIGHT, status_query=vnpay)
    assert sorted(result.confirmed) == sorted([expired.payment.id, pending.payment.id])
    # By the line's reference: what the note says, whichever payment the item shows.
    notes = {i.item.reference: i.item.note for i in await items(uow_factory, result)}
    late = {}
    async with uow_factory() as tx:
        for started in (expired, pending):
            payment = await tx.payments.by_id(started.payment.id)
            assert payment is not None
            late[started.attempt.provider_ref] = payment.flags.late
    assert late == {expired.attempt.provider_ref: True, pending.attempt.provider_ref: False}
    assert "recorded as a late success" in notes[expired.attempt.provider_ref]
    assert "recorded as a success" in notes[pending.attempt.provider_ref]
    assert "late" not in notes[pending.attempt.provider_ref]
