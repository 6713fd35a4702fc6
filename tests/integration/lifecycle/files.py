"""The files the world sends at night, written with the real writers and read back through
the real parsers: the treasury's statement (CSV, one file per currency) and each provider's
settlement report, built from what the providers took (``World.takings`` / ``World.taken``),
with the anomalies a rule drew: a line missing, late (on a later day's statement), twice,
with a wrong amount, in a batch; a report line missing, twice, with a wrong amount.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from payments.domain.attempts import Provider
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.settlements import (
    SettlementLine,
    SettlementReport,
    read_settlement,
    write_settlement,
)
from payments.reconcile.formats.statements import BookingStatus, Direction, StatementLine
from payments.reconcile.formats.writers import csv_statement
from tests.integration.lifecycle.recon_match import SLine, TLine, due
from tests.integration.lifecycle.world import Truth, World

LINE_KINDS = ("exact", "exact", "exact", "missing", "late", "twice", "wrong", "batch", "fixed")
REPORT_KINDS = ("exact", "exact", "exact", "missing", "twice", "wrong")
FEES = {Provider.VNPAY: 1, Provider.MOMO: 2, Provider.VIETQR: 0}  # per cent of the amount


def fee(provider: Provider, amount: int) -> int:
    return amount * FEES[provider] // 100


@dataclass(frozen=True)
class Owed:
    """A payment the treasury should receive: its reference on the line and the amount."""

    payment_id: str
    reference: str
    amount: int
    currency: str
    provider: Provider


@dataclass
class Statement:
    currency: str
    content: bytes
    lines: list[TLine]


@dataclass
class Treasury:
    """The treasury's side: lines held back to arrive on a later day's statement."""

    deferred: list[Owed] = field(default_factory=list)
    strangers: int = 0

    def statements(
        self, day: date, owed: list[Owed], kinds: Mapping[str, str], stranger: bool
    ) -> list[Statement]:
        rows: list[tuple[Owed | None, StatementLine]] = []
        batches: dict[tuple[Provider, str], list[Owed]] = {}
        for o in [*self.deferred, *owed]:
            kind = kinds.get(o.payment_id, "exact") if o not in self.deferred else "exact"
            if kind == "missing":
                continue
            if kind == "late":
                continue
            if kind == "batch":
                batches.setdefault((o.provider, o.currency), []).append(o)
                continue
            if kind in ("wrong", "fixed"):
                rows.append((o, _line(day, o.reference, o.amount + 500, o.currency)))
            if kind != "wrong":
                rows.append((o, _line(day, o.reference, o.amount, o.currency)))
            if kind == "twice":
                rows.append((o, _line(day, o.reference, o.amount, o.currency)))
        self.deferred = [o for o in owed if kinds.get(o.payment_id) == "late"]
        for (provider, currency), group in sorted(batches.items()):
            total = sum(o.amount for o in group)
            line = _line(day, None, total, currency)._replace(
                batch_reference=batch_of(provider, day), batch_count=len(group), batch_total=total
            )
            rows.append((None, line))
        if stranger:
            self.strangers += 1
            rows.append((None, _line(day, f"pay_STRANGER{self.strangers:08d}", 77_000, "VND")))
        return _files(day, [line for _, line in rows])


def batch_of(provider: Provider, day: date) -> str:
    return f"B{provider.value.upper()}{day.strftime('%Y%m%d')}"


def _line(day: date, reference: str | None, amount: int, currency: str) -> StatementLine:
    return StatementLine(
        0,
        amount,
        currency,
        Direction.CREDIT,
        False,
        BookingStatus.BOOKED,
        day,
        None,
        None,
        None,
        "NOP NSNN",
        reference,
    )


def _files(day: date, lines: list[StatementLine]) -> list[Statement]:
    found = []
    for currency in sorted({"VND", *(line.currency for line in lines)}):
        mine = [line for line in lines if line.currency == currency]
        content = "".join(csv_statement(mine)).encode()
        reader = read_csv(io.BytesIO(content), expected_currency=currency)
        parsed = list(reader)
        assert not reader.errors, reader.errors
        tlines = [
            TLine(
                p.line_number,
                p.payment_reference,
                p.amount,
                p.currency,
                p.booking_date or day,
                p.batch_reference,
                p.batch_count,
            )
            for p in parsed
        ]
        found.append(Statement(currency, content, tlines))
    return found


def settlement_report(
    world: World, provider: Provider, day: date, kinds: Mapping[str, str], batched: set[str]
) -> tuple[SettlementReport, list[SLine], bytes]:
    """``provider``'s report of ``day``: each attempt it took money for on the day, in VND
    (the layouts' only currency); ``batched``: payments remitted in the provider's batch."""
    lines: list[SettlementLine] = []
    taken = [t for t in world.taken if t.provider is provider and t.currency == "VND"]
    for truth in [t for t in taken if t.paid_at is not None and due(t.paid_at) == day]:
        kind = kinds.get(truth.ref, "exact")
        if kind == "missing":
            continue
        amount = truth.amount + (1000 if kind == "wrong" else 0)
        batch = batch_of(provider, day) if truth.payment_id in batched else None
        for _ in range(2 if kind == "twice" else 1):
            lines.append(_settled(truth, provider, amount, day, batch))
    out = io.StringIO()
    # The world's providers send the older layout, which says nothing about refunds: the
    # reference model does not model refund lines (refund_matching has tests of its own).
    write_settlement(provider.value, lines, out, lists_refunds=False)
    content = out.getvalue().encode()
    report = read_settlement(provider.value, io.BytesIO(content))
    slines = [
        SLine(
            s.provider,
            s.line_number,
            s.payment_reference,
            s.amount,
            s.currency,
            s.fee,
            s.batch_reference,
        )
        for s in report.require_clean()
    ]
    return report, slines, content


def _settled(
    truth: Truth, provider: Provider, amount: int, day: date, batch: str | None
) -> SettlementLine:
    return SettlementLine(
        provider.value,
        0,
        truth.txn or truth.ref,
        truth.ref,
        amount,
        fee(provider, amount),
        "VND",
        day,
        batch,
    )


def night_of(day: date) -> datetime:
    """20:00 in Hanoi: after the cut-off, when the files arrive and the day is run."""
    return datetime(day.year, day.month, day.day, 13, 0, tzinfo=UTC)
