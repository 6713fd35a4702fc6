"""Refunds the gateway paid against the refund lines of the providers' settlement reports
(``payments.reconcile.rules.refund_matching``): stories, then generated days."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from payments.reconcile.formats.settlements import LineKind, SettlementLine
from payments.reconcile.rules.calendar import DEFAULT_CALENDAR
from payments.reconcile.rules.matching import MatchConfig, MatchItem, Outcome
from payments.reconcile.rules.refund_matching import GatewayRefund, match_refunds
from payments.reconcile.rules.unknown_lines import FirstSeen
from tests.unit.reconcile.stories import DAY, MORNING, pid

WINDOW_END = DEFAULT_CALENDAR.add_business_days(DAY, 3)  # the default settlement window
BEFORE = DEFAULT_CALENDAR.add_business_days(DAY, -1)


def rid(number: int) -> str:
    return f"rfd_01JNZ8Q4J5K6M7N8P9Q{number:07d}"


def refund(
    number: int,
    amount: int = 30_000,
    *,
    status: str = "succeeded",
    provider: str = "vnpay",
    refund_no: str | None = None,
    matched: FirstSeen | None = None,
    days_ago: int = 0,
) -> GatewayRefund:
    return GatewayRefund(
        refund_id=rid(number),
        request_id=rid(number),
        payment_id=pid(number),
        provider=provider,
        amount=amount,
        currency="VND",
        status=status,
        provider_refund_id=f"R{number}" if refund_no is None else refund_no,
        settled_at=MORNING - timedelta(days=days_ago) if status == "succeeded" else None,
        agency="1054321",
        treasury_code="0011",
        chapter="755",
        sub_item="2862",
        matched=matched,
    )


def paid_out(
    line_number: int,
    number: int,
    amount: int = 30_000,
    *,
    provider: str = "vnpay",
    refund_no: str | None = None,
    day: date = DAY,
) -> SettlementLine:
    """A report's refund line for our refund ``number``."""
    return SettlementLine(
        provider, line_number, f"R{number}" if refund_no is None else refund_no, rid(number),
        amount, 0, "VND", day, None, LineKind.REFUND,
    )  # fmt: skip


def run(
    day: date,
    refunds: list[GatewayRefund],
    lines: list[SettlementLine],
    *,
    providers: frozenset[str] = frozenset({"vnpay"}),
    window: int = 3,
) -> list[MatchItem]:
    return match_refunds(
        day, refunds, lines, providers=providers, config=MatchConfig(window_days=window)
    )


def test_a_refund_the_provider_reports_alike_is_matched_with_its_refund_and_payment() -> None:
    [item] = run(DAY, [refund(1)], [paid_out(2, 1)])
    assert item.outcome is Outcome.REFUND_MATCHED
    assert (item.refund_id, item.payment_id, item.line_number) == (rid(1), pid(1), 2)
    assert (item.gateway_amount, item.treasury_amount, item.provider) == (30_000, 30_000, "vnpay")
    assert (item.agency, item.booking_date, item.days_late) == ("1054321", DAY, None)
    assert item.note == "provider refund R1"


def test_a_refund_the_report_omits_is_missing_once_the_settlement_window_is_over() -> None:
    paid = [refund(1)]
    assert run(DAY, paid, []) == []  # the provider may still list it
    assert run(DEFAULT_CALENDAR.add_business_days(DAY, 2), paid, []) == []
    [item] = run(WINDOW_END, paid, [])
    assert item.outcome is Outcome.REFUND_MISSING_AT_PROVIDER
    assert (item.refund_id, item.payment_id, item.line_number) == (rid(1), pid(1), None)
    assert (item.gateway_amount, item.treasury_amount, item.reference) == (30_000, None, rid(1))
    assert "paid at the gateway on 2025-03-12" in item.note
    # Without a window it is missing on its own day.
    [same_day] = run(DAY, paid, [], window=0)
    assert same_day.outcome is Outcome.REFUND_MISSING_AT_PROVIDER


def test_a_refund_listed_later_inside_the_window_is_matched_late() -> None:
    [item] = run(WINDOW_END, [refund(1)], [paid_out(2, 1, day=WINDOW_END)])
    assert (item.outcome, item.days_late) == (Outcome.REFUND_MATCHED, 3)


def test_a_refund_matched_on_an_earlier_day_is_done_and_a_later_line_for_it_a_duplicate() -> None:
    done = refund(1, matched=FirstSeen(BEFORE, 7), days_ago=1)
    assert run(WINDOW_END, [done], []) == []  # never missing again
    [item] = run(DAY, [done], [paid_out(2, 1)])
    assert item.outcome is Outcome.REFUND_DUPLICATE
    assert (item.refund_id, item.payment_id) == (rid(1), pid(1))
    assert item.note == "already matched on 2025-03-11 (run 7)"
    # A rerun of the day it was matched on matches it again.
    same = refund(1, matched=FirstSeen(DAY, 7))
    assert [i.outcome for i in run(DAY, [same], [paid_out(2, 1)])] == [Outcome.REFUND_MATCHED]


def test_two_lines_for_one_refund_are_a_match_and_a_duplicate() -> None:
    items = run(DAY, [refund(1)], [paid_out(2, 1), paid_out(3, 1)])
    assert [(i.outcome, i.line_number, i.refund_id) for i in items] == [
        (Outcome.REFUND_MATCHED, 2, rid(1)),
        (Outcome.REFUND_DUPLICATE, 3, rid(1)),
    ]
    assert items[1].note == "also on line 2 (R1)"


def test_a_line_naming_no_refund_or_one_not_paid_is_unknown_at_the_gateway() -> None:
    failed, pending = refund(2, status="failed"), refund(3, status="pending")
    momo = refund(4, provider="momo")
    lines = [paid_out(2, 1), paid_out(3, 2), paid_out(4, 3), paid_out(5, 4)]
    items = run(DAY, [failed, pending, momo], lines, providers=frozenset({"vnpay", "momo"}))
    assert [i.outcome for i in items[:4]] == [Outcome.REFUND_UNKNOWN_AT_GATEWAY] * 4
    untied, tied_failed, tied_pending, other_provider = items[:4]
    assert (untied.refund_id, untied.payment_id, untied.reference) == (None, None, rid(1))
    assert (untied.treasury_amount, untied.gateway_amount) == (30_000, None)
    assert (tied_failed.refund_id, tied_failed.payment_id) == (rid(2), pid(2))
    assert tied_failed.gateway_amount is None  # the gateway paid nothing of it
    assert "failed at the gateway" in tied_failed.note
    assert "pending at the gateway" in tied_pending.note
    assert f"names refund {rid(4)}, a momo refund" in other_provider.note
    # The MoMo refund itself is not in MoMo's report: missing there, once its window is over.
    assert run(WINDOW_END, [momo], [], providers=frozenset({"vnpay", "momo"}))[0].outcome is (
        Outcome.REFUND_MISSING_AT_PROVIDER
    )


def test_an_amount_or_refund_number_that_differs_is_a_mismatch() -> None:
    items = run(
        DAY,
        [refund(1), refund(2), refund(3, refund_no="")],
        [paid_out(2, 1, 30_001), paid_out(3, 2, refund_no="R1")],
    )
    assert [(i.outcome, i.refund_id) for i in items] == [
        (Outcome.REFUND_AMOUNT_MISMATCH, rid(1)),
        (Outcome.REFUND_AMOUNT_MISMATCH, rid(2)),
    ]
    assert items[0].note == "gateway 30000 VND, provider 30001 VND"
    assert items[1].note == "provider refund R1, the gateway recorded R2"


def test_a_refund_whose_provider_number_the_gateway_never_learnt_matches_on_id_and_amount() -> None:
    unnumbered = refund(1)._replace(provider_refund_id=None)
    assert [i.outcome for i in run(DAY, [unnumbered], [paid_out(2, 1)])] == [Outcome.REFUND_MATCHED]


def test_only_the_providers_whose_reports_list_refunds_are_checked() -> None:
    assert run(WINDOW_END, [refund(1, provider="momo")], []) == []


# --- generated days ---------------------------------------------------------------------

FATES = (
    "matched",  # listed alike
    "late",  # listed, the refund paid days ago
    "missing",  # not listed, its window over
    "waiting",  # not listed, still inside its window: no item
    "mismatch",  # listed with another amount
    "renumbered",  # listed with another provider refund number
    "twice",  # listed twice
    "done",  # matched on an earlier day, listed again
    "done_unlisted",  # matched on an earlier day, not listed: no item
    "not_paid",  # failed / pending / unknown at the gateway, yet listed
)
EXPECTED = {
    "matched": [Outcome.REFUND_MATCHED],
    "late": [Outcome.REFUND_MATCHED],
    "missing": [Outcome.REFUND_MISSING_AT_PROVIDER],
    "waiting": [],
    "mismatch": [Outcome.REFUND_AMOUNT_MISMATCH],
    "renumbered": [Outcome.REFUND_AMOUNT_MISMATCH],
    "twice": [Outcome.REFUND_MATCHED, Outcome.REFUND_DUPLICATE],
    "done": [Outcome.REFUND_DUPLICATE],
    "done_unlisted": [],
    "not_paid": [Outcome.REFUND_UNKNOWN_AT_GATEWAY],
}
RUN_DAY = WINDOW_END  # a Monday: refunds of the Wednesday before are past their window


@st.composite
def days(
    draw: st.DrawFn,
) -> tuple[list[GatewayRefund], list[SettlementLine], dict[str, str], int]:
    fates = draw(st.lists(st.sampled_from(FATES), max_size=20))
    strangers = draw(st.integers(0, 3))
    refunds: list[GatewayRefund] = []
    listed: list[tuple[int, int, str | None]] = []  # refund number, amount, refund number
    fate_of: dict[str, str] = {}
    for number, fate in enumerate(fates, start=1):
        amount = draw(st.integers(1, 5_000)) * 1_000
        days_ago = 5 if fate in ("late", "missing") else 0
        status = (
            draw(st.sampled_from(["failed", "pending", "unknown"]))
            if fate == "not_paid"
            else "succeeded"
        )
        matched = FirstSeen(BEFORE, 1) if fate.startswith("done") else None
        refunds.append(refund(number, amount, status=status, matched=matched, days_ago=days_ago))
        fate_of[rid(number)] = fate
        if fate in ("missing", "waiting", "done_unlisted"):
            continue
        wrong = amount + 1_000 if fate == "mismatch" else amount
        listed.append((number, wrong, "R0" if fate == "renumbered" else None))
        if fate == "twice":
            listed.append((number, amount, None))
    order = draw(st.permutations(listed))
    lines = [
        paid_out(at, number, amount, refund_no=refund_no, day=RUN_DAY)
        for at, (number, amount, refund_no) in enumerate(order, start=2)
    ]
    lines += [paid_out(len(lines) + 2 + k, 900 + k, 10_000, day=RUN_DAY) for k in range(strangers)]
    # Refunds due today or "waiting" ones: settled on the run day itself.
    refunds = [
        r._replace(settled_at=r.settled_at + (RUN_DAY - DAY))
        if fate_of[r.refund_id] == "waiting" and r.settled_at is not None
        else r
        for r in refunds
    ]
    return draw(st.permutations(refunds)), lines, fate_of, strangers


@given(days())
@settings(max_examples=150, deadline=None)
def test_every_refund_and_every_refund_line_ends_in_exactly_one_item(
    day: tuple[list[GatewayRefund], list[SettlementLine], dict[str, str], int],
) -> None:
    refunds, lines, fate_of, strangers = day
    items = run(RUN_DAY, refunds, lines)

    # Each report line is in exactly one item, and every other item is a missing refund.
    by_line = Counter(i.line_number for i in items if i.line_number is not None)
    assert by_line == Counter(line.line_number for line in lines)
    missing = [i for i in items if i.line_number is None]
    assert all(i.outcome is Outcome.REFUND_MISSING_AT_PROVIDER for i in missing)
    # Each refund ends in the items its fate calls for (a succeeded refund in exactly one,
    # unless it waits inside its window or was done before), and nothing else does.
    found: dict[str | None, list[Outcome]] = {}
    for item in items:
        found.setdefault(item.refund_id, []).append(item.outcome)
    for refund_id, fate in fate_of.items():
        assert sorted(found.get(refund_id, [])) == sorted(EXPECTED[fate]), (fate, found)
    assert found.get(None, []) == [Outcome.REFUND_UNKNOWN_AT_GATEWAY] * strangers
    assert set(found) - {None} <= set(fate_of)
    # Matched amounts agree on both sides, and a refund is matched at most once.
    matched = [i for i in items if i.outcome is Outcome.REFUND_MATCHED]
    assert all(i.gateway_amount == i.treasury_amount for i in matched)
    assert len({i.refund_id for i in matched}) == len(matched)
    # The same day again, in any order of the refunds, gives the same items.
    assert run(RUN_DAY, sorted(refunds, key=lambda r: r.refund_id), lines) == items
