"""Driving the real gateway at the service layer, as the entrypoints do, on one database.

Provider messages go through the real verification (``verify_callback``, ``verify_credit``)
and then the services exactly as the callback routes hand them over (an unverified one is only
recorded); status queries go through the real VNPay and MoMo clients to the world.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import date, datetime, timedelta

from payments.collection.usecases import checkout, transfers
from payments.collection.usecases import payments as payment_service
from payments.collection.usecases.requery import RequeryReport, requery_due_attempts
from payments.domain.access import Caller
from payments.domain.attempts import Attempt, Provider, ProviderOutcome, Verdict
from payments.domain.callbacks import VERIFIED, Channel, ProviderCallback
from payments.domain.credits import BankCredit
from payments.domain.payments import Payment, PaymentDraft
from payments.providers.outcomes import Rejected
from payments.reconcile.formats.csv_format import read_csv
from payments.reconcile.formats.settlements import read_settlement
from payments.reconcile.ports import ItemFilter, StoredItem
from payments.reconcile.usecases.day import DayResult, reconcile_day
from payments.reconcile.usecases.imports import Imported, import_settlement, import_statement
from payments.reconcile.usecases.reports import list_items
from payments.services.ports import StatusQuery, StoredResponse
from payments.unit_of_work import WorkFactory
from tests.integration.lifecycle.world import Credit, Message, World
from tests.support.factories import LIMITS
from tests.support.refund_support import Providers

CREATION = replace(LIMITS, max_amount=50_000_000, max_expiry=timedelta(days=2))


class Drive:
    def __init__(self, uow: WorkFactory, world: World) -> None:
        self.uow = uow
        self.world = world
        self.refund_providers = Providers(
            {
                Provider.VNPAY: world.desks[Provider.VNPAY],
                Provider.MOMO: world.desks[Provider.MOMO],
                Provider.VIETQR: world.vietqr,
            }
        )

    def status_query(self) -> StatusQuery:
        async def query(attempt: Attempt, now: datetime) -> ProviderOutcome | None:
            if attempt.provider not in (Provider.VNPAY, Provider.MOMO):
                return None
            provider = self.world.provider(attempt.provider)
            answer = await provider.query_status(attempt, now=now)
            return answer if isinstance(answer, ProviderOutcome) else None

        return query

    async def create(
        self, caller: Caller, draft: PaymentDraft, key: str, now: datetime
    ) -> payment_service.Created:
        return await payment_service.create_payment(
            self.uow,
            caller=caller,
            draft=draft,
            idempotency=payment_service.IdempotentRequest(
                key, hashlib.sha256(repr(draft).encode()).hexdigest()
            ),
            limits=CREATION,
            respond=lambda p: StoredResponse(201, p.id),
            now=now,
        )

    async def payment(self, payment_id: str) -> Payment:
        async with self.uow() as uow:
            found = await uow.payments.by_id(payment_id)
        assert found is not None, payment_id
        return found

    async def deliver(self, message: Message, params: dict[str, object], now: datetime) -> Verdict:
        """What the IPN route does with ``params`` (maybe not what the provider signed)."""
        provider = self.world.vnpay if message.provider is Provider.VNPAY else self.world.momo
        raw = ProviderCallback(
            provider=message.provider,
            channel=Channel.IPN,
            payload=params,
            received_at=now,
            verification=VERIFIED,
            provider_ref=provider.reference_of(params),
        )
        checked = provider.verify_callback(params)
        if isinstance(checked, Rejected):
            unverified = replace(raw, verification=checked.reason.value, verdict=Verdict.UNVERIFIED)
            await checkout.record_callback(self.uow, unverified)
            return Verdict.UNVERIFIED
        applied = await checkout.apply_provider_outcome(self.uow, checked, callback=raw, now=now)
        return applied.verdict

    async def credit(self, credit: Credit, body: bytes, now: datetime) -> Verdict:
        """What the VietQR credit route does with ``body`` and the bank's signature."""
        vietqr = self.world.vietqr
        payload = {"raw": body.decode("utf-8", "replace")}
        checked = vietqr.verify_credit(body, credit.signature)
        callback = ProviderCallback(
            provider=Provider.VIETQR,
            channel=Channel.CREDIT,
            payload=payload,
            received_at=now,
            verification=VERIFIED,
            provider_ref=vietqr.reference_of({"description": body.decode()}),
        )
        if isinstance(checked, Rejected):
            unverified = replace(
                callback, verification=checked.reason.value, verdict=Verdict.UNVERIFIED
            )
            await checkout.record_callback(self.uow, unverified)
            return Verdict.UNVERIFIED
        bank_credit = BankCredit(
            transfer_id=checked.transfer_id,
            amount=checked.amount,
            currency=checked.currency,
            description=checked.description,
            credited_at=checked.credited_at,
            reference=vietqr.reference_of({"description": checked.description}),
        )
        applied = await transfers.apply_bank_credit(
            self.uow, bank_credit, callback=callback, now=now
        )
        return applied.verdict

    async def requery(self, now: datetime) -> RequeryReport:
        return await requery_due_attempts(self.uow, self.status_query(), now=now)

    # --- the night ----------------------------------------------------------------------------

    async def import_treasury(
        self, content: bytes, currency: str, day: date, now: datetime
    ) -> Imported:
        reader = read_csv(io.BytesIO(content), expected_currency=currency)
        return await import_statement(self.uow, reader, business_date=day, actor="ops", now=now)

    async def import_report(
        self, provider: str, content: bytes, day: date, now: datetime
    ) -> Imported:
        report = read_settlement(provider, io.BytesIO(content))
        return await import_settlement(self.uow, report, business_date=day, actor="ops", now=now)

    async def run_day(self, day: date, now: datetime) -> DayResult:
        return await reconcile_day(self.uow, day, now=now, status_query=self.status_query())

    async def items(self, run_id: int) -> list[StoredItem]:
        found: list[StoredItem] = []
        after: int | None = None
        while True:
            page = await list_items(self.uow, run_id, ItemFilter(), after_id=after, limit=500)
            found += page
            if len(page) < 500:
                return found
            after = page[-1].id
