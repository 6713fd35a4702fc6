"""The rules for lines the day's match found no payment for, the same on both sides
(``payments/reconcile/rules/unknown_lines.py``; issue 13, defect 6)."""

from __future__ import annotations

from datetime import date

from payments.domain.attempts import Result
from payments.reconcile.rules.matching import MatchItem, MatchReport, Outcome
from payments.reconcile.rules.unknown_lines import (
    AttemptSeen,
    FirstSeen,
    NamedPayment,
    answer_note,
    asked_provider,
    confirmed_note,
    named_provider,
    tie_lines,
    untied_references,
)

DAY = date(2025, 3, 13)
EARLIER = date(2025, 3, 12)
PAYMENT = NamedPayment("pay_1", "DVC", 150_000, "VND", "0011", "418", "2662", "pending", "momo")


def line(outcome: Outcome, reference: str | None, provider: str | None = None) -> MatchItem:
    note = "provider transaction 31" if outcome is Outcome.PROVIDER_UNKNOWN else ""
    return MatchItem(
        outcome, None, 2, "VND", None, 150_000, reference, None, None, None, None, None,
        provider, DAY, None, note,
    )  # fmt: skip


def tied(*items: MatchItem, named: dict[str, NamedPayment]) -> list[MatchItem]:
    return list(tie_lines(MatchReport(DAY, items, 0, 0), named).items)


def test_both_sides_show_the_payment_a_line_names() -> None:
    treasury = line(Outcome.UNKNOWN_AT_GATEWAY, "att_1")
    momo = line(Outcome.PROVIDER_UNKNOWN, "att_1", "momo")
    stranger = line(Outcome.UNKNOWN_AT_GATEWAY, "pay_nobody")
    assert untied_references([treasury, momo, stranger]) == {"att_1", "pay_nobody"}
    one, two, three = tied(treasury, momo, stranger, named={"att_1": PAYMENT})
    for item in (one, two):
        assert (item.payment_id, item.agency, item.sub_item, item.provider) == (
            "pay_1",
            "DVC",
            "2662",
            "momo",
        )
        assert item.note.endswith("names payment pay_1, pending at the gateway")
    assert (one.outcome, two.outcome) == (Outcome.UNKNOWN_AT_GATEWAY, Outcome.PROVIDER_UNKNOWN)
    assert two.note.startswith("provider transaction 31; ")
    assert three == stranger
    # Each side is asked about the attempts it can speak of.
    assert (asked_provider(one), asked_provider(two)) == (None, "momo")


def test_a_payment_matched_on_an_earlier_day_makes_a_duplicate() -> None:
    matched = PAYMENT._replace(
        status="succeeded",
        matched=FirstSeen(EARLIER, 7),
        settled=FirstSeen(EARLIER, 7),
    )
    treasury, vnpay = tied(
        line(Outcome.UNKNOWN_AT_GATEWAY, "pay_1"),
        line(Outcome.PROVIDER_UNKNOWN, "pay_1", "vnpay"),
        named={"pay_1": matched},
    )
    assert (treasury.outcome, treasury.payment_id, treasury.gateway_amount) == (
        Outcome.DUPLICATE,
        "pay_1",
        150_000,
    )
    assert treasury.note == "already matched on 2025-03-12 (run 7)"
    assert (vnpay.outcome, vnpay.provider) == (Outcome.PROVIDER_DUPLICATE, "vnpay")
    assert vnpay.note == "provider transaction 31; already settled on 2025-03-12 (run 7)"


def test_a_match_of_the_same_day_is_no_earlier_match() -> None:
    # A rerun of the day that matched it: that match is this day's own, not a first one.
    same_day = PAYMENT._replace(status="succeeded", matched=FirstSeen(DAY, 7))
    [item] = tied(line(Outcome.UNKNOWN_AT_GATEWAY, "pay_1"), named={"pay_1": same_day})
    assert (item.outcome, item.payment_id) == (Outcome.UNKNOWN_AT_GATEWAY, "pay_1")


def test_the_provider_a_reference_names() -> None:
    attempts = [
        AttemptSeen("att_1", "vnpay", "att_1", "failed"),
        AttemptSeen("att_2", "momo", "att_2", "succeeded"),
        AttemptSeen("att_3", "vietqr", "PF12345", "pending"),
    ]
    assert named_provider("att_1", attempts) == "vnpay"
    assert named_provider("PF12345", attempts) == "vietqr"
    assert named_provider("pay_1", attempts) == "momo"  # its succeeded attempt
    assert named_provider("pay_1", attempts[:1]) is None  # none succeeded


def test_late_success_only_for_a_payment_flagged_late() -> None:
    assert confirmed_note("momo", "pay_1", late=False) == (
        "momo confirmed payment pay_1: recorded as a success; rerun the day to match it"
    )
    assert "recorded as a late success" in confirmed_note("momo", "pay_1", late=True)


def test_other_answers_label_the_line_without_recording_anything() -> None:
    assert (
        answer_note("momo", "att_1", Result.PENDING) == "momo reports attempt att_1 still pending"
    )
    assert answer_note("momo", "att_1", Result.FAILED) == "momo reports attempt att_1 failed"
    assert answer_note("momo", "att_1", Result.SUCCEEDED, "amount differs") == (
        "momo reports attempt att_1 paid; not recorded: amount differs"
    )
