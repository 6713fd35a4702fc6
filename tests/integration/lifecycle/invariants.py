"""The invariants checked after every step, on what the database holds (``readback.Stored``):
the nine of ARCHITECTURE.md section 5 that a read can see (the seventh, "a rejected operation
changes nothing", is checked around each refused operation: ``readback.snapshot``), and the
reference model's view of every payment, refund, account and reconciliation run.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from payments.ledger.entries import AccountType, Entry
from payments.reconcile.ports import ItemState, StoredItem
from payments.reconcile.rules.matching import MATCHED_OUTCOMES
from payments.refunds.rules.lifecycle import RefundStatus, captured_amount
from tests.integration.lifecycle.model import Gateway
from tests.integration.lifecycle.model_recon import Recon
from tests.integration.lifecycle.model_refunds import Refunds
from tests.integration.lifecycle.readback import Stored
from tests.integration.lifecycle.recon_match import EXCEPTIONS, Item, item_key

R = RefundStatus


def ledger_rules(stored: Stored, earlier: dict[int, Entry]) -> None:
    """Section 5, 1-5: balanced per currency, balances sum to zero and are the fold of the
    postings, positive amounts in the account's currency, nothing changed, keys once."""
    currency_of = {t.account.code: t.account.currency for t in stored.totals}
    folded: Counter[str] = Counter()
    for entry in stored.entries:
        per_currency: Counter[str] = Counter()
        for leg in entry.legs:
            assert leg.amount > 0, entry
            assert leg.currency == currency_of[leg.account.code], entry
            per_currency[leg.currency] += leg.net
            folded[leg.account.code] += leg.net
        assert not any(per_currency.values()), entry
        if entry.id in earlier:
            assert earlier[entry.id] == entry, f"entry {entry.id} changed"
    assert not set(earlier) - {e.id for e in stored.entries}, "an entry disappeared"
    keys = Counter(e.source_key for e in stored.entries)
    assert not [k for k, n in keys.items() if n > 1], keys.most_common(3)
    per_currency_total: Counter[str] = Counter()
    for t in stored.totals:
        assert t.net == folded[t.account.code], t
        per_currency_total[t.account.currency] += t.net
    assert not any(per_currency_total.values()), per_currency_total
    reversed_ = Counter(e.reversal_of for e in stored.entries if e.reversal_of is not None)
    assert all(n == 1 for n in reversed_.values()), reversed_


def books_agree(stored: Stored, gw: Gateway, recon: Recon) -> None:
    """Every account's balance is the model's; assets and liabilities on their normal side;
    a settled and reconciled day leaves its payments' clearing at what is still owed back."""
    real = {t.account.code: t.net for t in stored.totals if t.net}
    expected = {code: net for code, net in gw.books.nets.items() if net}
    assert real == expected, (sorted(real.items()), sorted(expected.items()))
    keys = {
        e.source_key for e in stored.entries if e.source_key.startswith(("payment:", "refund:"))
    }
    assert keys == gw.books.keys, sorted(keys ^ gw.books.keys)
    assert sum(1 for e in stored.entries if e.reversal_of) == gw.books.reversals
    for t in stored.totals:
        if t.account.type is AccountType.ASSET:
            assert t.net >= 0, f"{t.account.code} {t.net}: an asset on its credit side"
        if t.account.type is AccountType.LIABILITY:
            assert t.net <= 0, f"{t.account.code} {t.net}: a liability on its debit side"
    for day in recon.days:
        if recon.clean(day):
            for payment in gw.payments.values():
                if payment.id in recon.net and recon.settled_on[payment.id] == day:
                    # Zero, but for money taken beyond the amount not yet paid back (still
                    # refundable: machine-findings.md, finding 3).
                    left = payment.overpaid - _paid_from_excess(recon, payment.id)
                    assert recon.clearing_of(payment) == left, payment
    if recon.days and all(recon.clean(d) for d in recon.days) and _all_due_settled(gw, recon):
        clearing = sum(n for c, n in real.items() if c.startswith("clearing:"))
        owed_back = sum(p.overpaid - _paid_from_excess(recon, p.id) for p in gw.payments.values())
        assert clearing == owed_back, (clearing, owed_back)


def _paid_from_excess(recon: Recon, payment_id: str) -> int:
    return sum(r.from_excess for r in recon.refunds.of(payment_id) if r.status is R.SUCCEEDED)


def _all_due_settled(gw: Gateway, recon: Recon) -> bool:
    succeeded = [p.id for p in gw.payments.values() if p.status.value == "succeeded"]
    return all(pid in recon.settled_on for pid in succeeded)


def payments_agree(stored: Stored, gw: Gateway, refunds: Refunds) -> None:
    for pid, model in gw.payments.items():
        real = stored.payments[pid]
        flags = real.flags
        seen = (
            real.status,
            flags.late,
            flags.needs_review,
            flags.received_amount,
            flags.overpaid_amount,
        )
        assert seen == (
            model.status,
            model.late,
            model.needs_review,
            model.received,
            model.overpaid,
        ), (pid, seen, model)
        mine = [r for r in stored.refunds.values() if r.payment_id == pid]
        refunded = sum(r.amount for r in mine if r.status is R.SUCCEEDED)
        in_flight = sum(r.amount for r in mine if not r.terminal)
        captured = captured_amount(real)
        assert (captured, refunded, captured - refunded - in_flight) == refunds.totals(model)
        live = sum(r.amount for r in mine if r.status not in (R.FAILED, R.REJECTED))
        assert live <= captured, pid  # section 5, 6: never more than was captured
    for aid, attempt in gw.attempts.items():
        real_attempt = stored.attempts[aid]
        expected = (attempt.status, attempt.next_query_at, attempt.left_for_review_at)
        assert real_attempt == expected, (aid, real_attempt, attempt)
    for rid, refund in refunds.refunds.items():
        real_refund = stored.refunds[rid]
        assert (real_refund.status, real_refund.next_action_at, real_refund.from_excess) == (
            refund.status,
            refund.next_action_at,
            refund.from_excess,
        ), (rid, real_refund, refund)


def items_of(stored: Stored, day: date) -> list[Item]:
    return [
        (
            i.item.outcome,
            i.item.payment_id,
            i.item.line_number,
            i.item.provider,
            i.item.treasury_amount,
        )
        for i in stored.items[day]
    ]


def reconciliation_agrees(stored: Stored, recon: Recon) -> None:
    """Each day's latest run reports what the model says, with the exceptions staff resolved
    resolved; it conserves money; the books' per-payment rows are the model's."""
    assert set(stored.runs) == {d for d, day in recon.days.items() if day.items is not None}
    for day, run in stored.runs.items():
        model = recon.days[day]
        assert model.items is not None
        assert sorted(items_of(stored, day), key=repr) == sorted(model.items, key=repr), day
        assert run.matched_gateway_total == run.matched_treasury_total  # section 5, 9
        shares: Counter[tuple[int | None, str]] = Counter()
        for stored_item in stored.items[day]:
            item = stored_item.item
            if item.outcome in MATCHED_OUTCOMES:
                shares[(item.line_number, item.currency)] += item.treasury_amount or 0
            key = item_key(items_of_one(stored_item))
            if item.outcome in EXCEPTIONS:
                resolved = key in model.resolved
                assert stored_item.state is (ItemState.RESOLVED if resolved else ItemState.OPEN)
            else:
                assert stored_item.state is ItemState.CLOSED
        lines: dict[tuple[int | None, str], int] = {
            (t.line_number, t.currency): t.amount for s in model.statements for t in s
        }
        for where, share in shares.items():
            assert share == lines[where], (day, where)  # each line matched at most once
    assert {p: d for p, (d, _) in stored.settled.items()} == recon.settled_on
    assert {p: d for p, (d, _) in stored.confirmed.items()} == recon.confirmed_on
    posted = {p for p, (_, entry) in stored.confirmed.items() if entry is not None}
    assert posted == recon.remitted


def items_of_one(stored_item: StoredItem) -> Item:
    i = stored_item.item
    return (i.outcome, i.payment_id, i.line_number, i.provider, i.treasury_amount)
