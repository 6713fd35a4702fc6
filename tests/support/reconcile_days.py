"""Building a reconciliation day on a real database: succeeded payments through the checkout
services, and a treasury statement as the CSV the treasury sends."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from payments.collection.usecases import checkout
from payments.collection.usecases import payments as service
from payments.domain.access import Caller
from payments.domain.attempts import Provider, ProviderOutcome, Result
from payments.domain.payments import Payment
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.settlements import SettlementLine, read_settlement, write_settlement
from payments.reconcile.usecases.imports import Imported, import_settlement, import_statement
from payments.unit_of_work import WorkFactory
from tests.support.factories import LIMITS, draft, portal_caller, respond

DAY = date(2025, 3, 12)  # a Wednesday, business day in Vietnam
CREATED = datetime(2025, 3, 12, 1, 30, tzinfo=UTC)  # 08:30 in Hanoi
CAPTURED = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)  # 09:00 in Hanoi, before the 16:00 cut-off
NIGHT = datetime(2025, 3, 12, 18, 0, tzinfo=UTC)  # 01:00 the next morning in Hanoi
MERCHANT = "DEMOTMN1"
HEADER = "booking_date,amount,currency,direction,bank_reference,payment_reference,remittance\n"


@dataclass
class Gateway:
    uow: WorkFactory
    caller: Caller
    made: int = 0

    async def payment(self, amount: int = 150_000) -> Payment:
        """A payment in status created (the payer has not paid yet)."""
        self.made += 1
        created = await service.create_payment(
            self.uow,
            caller=self.caller,
            draft=draft(reference=f"HS-{self.made}", amount=amount),
            idempotency=service.IdempotentRequest(f"k{self.made}", "f"),
            limits=LIMITS,
            respond=respond,
            now=CREATED,
        )
        assert created.payment is not None
        return created.payment

    async def started(
        self, amount: int = 150_000, provider: Provider = Provider.VNPAY
    ) -> checkout.StartedAttempt:
        """A payment the payer is paying at ``provider``: its attempt is open."""
        payment = await self.payment(amount)
        return await checkout.start_attempt(
            self.uow,
            token=payment.checkout_token,
            provider=provider,
            merchant=MERCHANT,
            currencies=frozenset({"VND"}),
            now=CREATED,
        )

    async def paid(
        self,
        amount: int = 150_000,
        *,
        at: datetime = CAPTURED,
        provider: Provider = Provider.VNPAY,
    ) -> Payment:
        """A payment ``provider`` captured at ``at``."""
        started = await self.started(amount, provider)
        applied = await checkout.apply_provider_outcome(
            self.uow, success(started), callback=None, now=at
        )
        assert applied.payment is not None
        return applied.payment


def success(started: checkout.StartedAttempt) -> ProviderOutcome:
    return ProviderOutcome(
        started.attempt.provider,
        started.attempt.provider_ref,
        MERCHANT,
        started.attempt.amount,
        "VND",
        Result.SUCCEEDED,
        "00",
        "14000001",
    )


async def gateway(uow: WorkFactory) -> Gateway:
    return Gateway(uow, await portal_caller(uow, CREATED))


def csv_line(
    reference: str,
    amount: int = 150_000,
    *,
    booked: date = DAY,
    direction: str = "credit",
    bank_reference: str = "",
) -> str:
    return f"{booked.isoformat()},{amount},VND,{direction},{bank_reference},{reference},NOP NSNN\n"


def statement(*lines: str) -> bytes:
    return (HEADER + "".join(lines)).encode()


def camt054(day: date, payment_id: str, amount: int = 150_000) -> bytes:
    """The treasury's credit notification (camt.054.001.04) of ``day``: one booked credit."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>KBNN-054-{day:%Y%m%d}</MsgId><CreDtTm>{day}T20:00:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>KBNN-054-{day:%Y%m%d}</Id>
      <CreDtTm>{day}T20:00:00</CreDtTm>
      <Acct><Id><Othr><Id>7111</Id></Othr></Id><Ccy>VND</Ccy></Acct>
      <Ntry>
        <Amt Ccy="VND">{amount}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <RvslInd>false</RvslInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt>
        <AcctSvcrRef>KB{day:%Y%m%d}0001</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>{payment_id}</EndToEndId></Refs>
          <Amt Ccy="VND">{amount}</Amt>
          <RmtInf><Ustrd>NOP NSNN {payment_id}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
""".encode()


async def import_csv(
    uow: WorkFactory, content: bytes, day: date = DAY, *, at: datetime = NIGHT
) -> Imported:
    return await import_statement(
        uow, read_csv(io.BytesIO(content)), business_date=day, actor="ops", now=at
    )


def next_day(day: date, days: int = 1) -> date:
    return day + timedelta(days=days)


async def settle(
    uow: WorkFactory,
    *paid: Payment,
    fee: int = 0,
    day: date = DAY,
    at: datetime = NIGHT,
) -> Imported:
    """VNPay's settlement report of ``day``, naming ``paid`` (gross, ``fee`` each)."""
    lines = [
        SettlementLine("vnpay", n, f"SETTLE{n}", p.id, p.draft.amount, fee, "VND", day)
        for n, p in enumerate(paid, start=2)
    ]
    out = io.StringIO()
    write_settlement("vnpay", lines, out)
    report = read_settlement("vnpay", io.BytesIO(out.getvalue().encode()))
    return await import_settlement(uow, report, business_date=day, actor="ops", now=at)


def vnpay_report(*settled: tuple[str, int]) -> bytes:
    """VNPay's report: (provider reference, amount) per captured payment."""
    out = io.StringIO()
    write_settlement(
        "vnpay",
        [
            SettlementLine("vnpay", n, f"1400{n:04d}", ref, amount, 0, "VND", DAY)
            for n, (ref, amount) in enumerate(settled, start=2)
        ],
        out,
    )
    return out.getvalue().encode()


async def import_vnpay(
    uow: WorkFactory, content: bytes, day: date = DAY, *, minutes: int = 0
) -> Imported:
    report = read_settlement("vnpay", io.BytesIO(content))
    at = NIGHT + timedelta(minutes=minutes)
    return await import_settlement(uow, report, business_date=day, actor="ops", now=at)
