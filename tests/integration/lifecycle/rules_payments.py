"""Rules: what portals, payers and providers do during the day, and the clock's work."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from payments.collection.usecases import checkout
from payments.collection.usecases import payments as payment_service
from payments.domain.attempts import Provider, Result, Verdict
from payments.domain.budget import BudgetDestination
from payments.domain.errors import (
    AttemptRefused,
    CheckoutClosed,
    Conflict,
    InvalidInput,
    ReferenceInUse,
)
from payments.domain.payments import PaymentKind, PaymentStatus
from payments.providers.momo import protocol as momo
from payments.providers.vnpay import protocol as vnpay
from tests.integration.lifecycle.drive import CREATION
from tests.integration.lifecycle.machine import LifecycleBase
from tests.integration.lifecycle.model import PAYABLE, QUERYABLE, MAttempt, MPayment, next_query
from tests.integration.lifecycle.world import MERCHANTS, MOMO, VNPAY, Credit, Truth, tampered
from tests.support.factories import draft

S = PaymentStatus
KIND_FIELDS = {
    PaymentKind.FEE: {},
    PaymentKind.CHARGE: {},
    PaymentKind.TAX: {"tax_code": "0101234567"},
    PaymentKind.CUSTOMS_DUTY: {"declaration_number": "102345678901"},
}
AMOUNTS = st.one_of(
    st.sampled_from([10_000, 150_000, 999_000, 1_000_000, 2_500_000]),
    st.integers(10_000, 3_000_000).map(lambda n: n - n % 1000),
)


def pick(items: list[str], at: int) -> str:
    return items[at % len(items)]


class PaymentRules(LifecycleBase):
    @rule(
        kind=st.sampled_from(list(PaymentKind)),
        currency=st.sampled_from(["VND"] * 6 + ["USD"]),
        amount=AMOUNTS,
        agency=st.integers(0, 1),
        sub_item=st.sampled_from(["2662", "1052"]),
        expiry=st.sampled_from([None, None, 10, 180]),
        reuse=st.one_of(st.none(), st.integers(0, 10**6)),
        problem=st.sampled_from([None] * 8 + ["amount", "too_much", "tax_code"]),
    )
    def create(
        self,
        kind: PaymentKind,
        currency: str,
        amount: int,
        agency: int,
        sub_item: str,
        expiry: int | None,
        reuse: int | None,
        problem: str | None,
    ) -> None:
        portal = self.portals[agency]
        mine = [p for p in self.gw.payments.values() if p.agency_id == portal.agency_id]
        reference = f"HS-{self.next_name()}"
        if reuse is not None and mine:
            reference = mine[reuse % len(mine)].reference  # a portal asking again
        fields: dict[str, object] = dict(KIND_FIELDS[kind])
        if problem == "amount":
            amount = 0
        elif problem == "too_much":
            amount = 60_000_000
        elif problem == "tax_code" and kind is PaymentKind.TAX:
            fields = {}
        expires_at = None if expiry is None else self.now + timedelta(minutes=expiry)
        budget = BudgetDestination("7111", "0011", "1054321", "755", sub_item)
        asked = draft(
            reference=reference,
            kind=kind,
            amount=amount,
            currency=currency,
            budget=budget,
            expires_at=expires_at,
            **fields,
        )
        call = self.drive.create(portal, asked, f"key-{self.made}", self.now)
        invalid = problem in ("amount", "too_much") or (problem and kind is PaymentKind.TAX)
        if invalid or currency not in CREATION.currencies:  # no provider takes it
            self.refused(call, InvalidInput)
            return
        if self.gw.holder(portal.agency_id, reference) is not None:
            self.refused(call, ReferenceInUse)
            return
        created = self.run(call)
        assert created.payment is not None
        assert not created.replayed
        p = created.payment
        self.asked.append((portal, asked, f"key-{self.made}", p.id, self.now))
        self.gw.payments[p.id] = MPayment(
            p.id,
            portal.agency_code,
            portal.agency_id,
            reference,
            sub_item,
            amount,
            currency,
            p.checkout_token,
            p.expires_at,
        )
        assert p.expires_at == (expires_at or self.now + timedelta(hours=1))

    @precondition(lambda self: self.gw.payments)
    @rule(at=st.integers(0, 10**6), provider=st.sampled_from(list(Provider)))
    def start_attempt(self, at: int, provider: Provider) -> None:
        every = list(self.gw.payments)
        payable = [p for p in every if self.gw.payments[p].status in PAYABLE]
        self._start(self.gw.payments[pick(payable if payable and at % 4 else every, at)], provider)

    def _start(self, payment: MPayment, provider: Provider) -> MAttempt | None:
        """The payer chooses ``provider``: a new attempt, their open one again, or a refusal;
        a new one's page is kept as the checkout page does (MoMo's create goes unanswered
        while MoMo is down: the attempt is unknown)."""
        call = checkout.start_attempt(
            self.uow,
            token=payment.token,
            provider=provider,
            merchant=MERCHANTS[provider],
            currencies=self.world.provider(provider).currencies,
            now=self.now,
            confirmed=True,  # the payer was told the first may still take the money
        )
        if payment.status not in PAYABLE or payment.expires_at <= self.now:
            self.refused(call, CheckoutClosed)
            return None
        choice = self.gw.choice(payment, provider, self.now)
        if isinstance(choice, str):
            self.refused(call, AttemptRefused)
            return None
        if choice is not None:
            again = self.unchanged(call)
            assert again.reused
            assert again.attempt.id == choice.id
            return choice
        started = self.run(call)
        assert not started.reused
        a = started.attempt
        queried = (
            next_query(self.now, payment.expires_at, self.now) if provider in QUERYABLE else None
        )
        attempt = MAttempt(
            a.id,
            payment.id,
            provider,
            a.provider_ref,
            payment.amount,
            payment.currency,
            self.now,
            self.now,
            next_query_at=queried,
        )
        self.gw.attempts[a.id] = attempt
        payment.attempts.append(a.id)
        payment.status = S.PENDING
        self.world.truth[a.provider_ref] = Truth(
            provider, a.provider_ref, payment.id, payment.amount, payment.currency
        )
        unanswered = provider is Provider.MOMO and provider in self.world.down
        page = None if unanswered else f"https://{provider.value}.test/pay/{a.provider_ref}"
        self.run(checkout.record_start(self.uow, a.id, page, now=self.now))
        if unanswered:
            self.gw.unanswered(attempt)
        else:
            attempt.page = True
        self.tick()
        return attempt

    def _open_at(self, at: int, *providers: Provider) -> Truth | None:
        """An attempt at one of ``providers`` the payer has not finished (mostly)."""
        every = [t for t in self.world.truth.values() if t.provider in providers]
        unfinished = [t for t in every if t.state is None]
        found = unfinished if unfinished and at % 5 else every
        return found[at % len(found)] if found else None

    @rule(
        agency=st.integers(0, 1),
        amount=AMOUNTS,
        provider=st.sampled_from(list(Provider)),
        lost=st.sampled_from([False] * 4 + [True]),
    )
    def citizen_pays(self, agency: int, amount: int, provider: Provider, lost: bool) -> None:
        """The usual day: a payment is created, paid at a provider, and the provider tells us
        (or its message is lost: the requery or the night finds it)."""
        self.create(PaymentKind.FEE, "VND", amount, agency, "2662", None, None, None)
        attempt = self._start(list(self.gw.payments.values())[-1], provider)
        assert attempt is not None  # a new payment takes its first attempt
        truth = self.world.truth[attempt.ref]
        if provider is Provider.VIETQR:
            self._credit(self.world.transfer(truth.ref, truth.amount, "VND", self.now))
            return
        self.world.pay(truth, Result.SUCCEEDED, self.now)
        if not lost:
            self.world.say(truth, Result.SUCCEEDED, self.now)
            self.deliver(len(self.world.messages) - 1, "genuine")

    @rule(agency=st.integers(0, 1), amount=AMOUNTS, provider=st.sampled_from(list(Provider)))
    def another_citizen_pays(self, agency: int, amount: int, provider: Provider) -> None:
        self.citizen_pays(agency, amount, provider, False)

    @rule(
        at=st.integers(0, 10**6),
        result=st.sampled_from([Result.SUCCEEDED] * 3 + [Result.FAILED]),
        says=st.sampled_from(["once", "once", "lost", "later_too"]),
    )
    def payer_finishes(self, at: int, result: Result, says: str) -> None:
        """The payer pays (or fails) at VNPay or MoMo; the provider may tell us, or not."""
        truth = self._open_at(at, Provider.VNPAY, Provider.MOMO)
        if truth is None or truth.state is not None or truth.currency != "VND":
            return
        if says == "later_too":
            self.world.say(truth, Result.PENDING, self.now)
        self.world.pay(truth, result, self.now)
        if says != "lost":
            self.world.say(truth, result, self.now)

    @precondition(lambda self: self.world.messages)
    @rule(at=st.integers(0, 10**6), how=st.sampled_from(["genuine"] * 4 + ["tampered", "wrong"]))
    def deliver(self, at: int, how: str) -> None:
        """A provider message arrives: any one sent so far (so duplicated and reordered), as
        signed, tampered with on the way, or signed by the provider with a wrong amount."""
        message = self.world.messages[at % len(self.world.messages)]
        attempt = self.gw.by_ref(message.provider, message.ref)
        assert attempt is not None
        if how == "tampered":
            call = self.drive.deliver(message, tampered(message), self.now)
            assert self.unchanged(call) is Verdict.UNVERIFIED
            return
        params, amount = message.payload, message.amount
        if how == "wrong":
            amount = message.amount + 1000
            params = _resigned(message.provider, params, amount)
        expected = self.gw.outcome(attempt, message.result, amount, "VND", self.now)
        call = self.drive.deliver(message, params, self.now)
        if expected in (Verdict.REFUSED, Verdict.DUPLICATE, Verdict.IGNORED):
            assert self.unchanged(call) is expected
        else:
            assert self.run(call) is expected
        self.tick()

    @rule(
        at=st.integers(0, 10**6),
        part=st.sampled_from(["full", "full", "half", "over", "wrong_currency", "stranger"]),
        how=st.sampled_from(["genuine"] * 5 + ["tampered"]),
    )
    def transfer(self, at: int, part: str, how: str) -> None:
        """A VietQR credit notification: the whole amount, part of it, more, in another
        currency, or naming no attempt; tampered with on the way, or as the bank sent it."""
        truth = self._open_at(at, Provider.VIETQR)
        if truth is None:
            return
        amount = {"half": truth.amount // 2, "over": truth.amount + 20_000}.get(part, truth.amount)
        currency = "EUR" if part == "wrong_currency" else truth.currency
        ref = "PFNOSUCHREF2" if part == "stranger" else truth.ref
        credit = self.world.transfer(ref, amount, currency, self.now)
        if how == "tampered":
            body = credit.body.replace(b'"amount": ', b'"amount": 9')
            assert self.unchanged(self.drive.credit(credit, body, self.now)) is Verdict.UNVERIFIED
            return
        self._credit(credit)

    def _credit(self, credit: Credit) -> None:
        attempt = self.gw.by_ref(Provider.VIETQR, credit.ref)
        seen = self.gw.credits_seen
        if credit.transfer_id in seen:
            expected = Verdict.DUPLICATE
        elif attempt is None:
            expected = Verdict.NOT_FOUND
        else:
            expected = self.gw.credit(
                attempt, credit.amount, credit.currency, credit.transfer_id, self.now
            )
        seen.add(credit.transfer_id)
        assert self.run(self.drive.credit(credit, credit.body, self.now)) is expected
        self.tick()

    @precondition(lambda self: self.world.credits)
    @rule(at=st.integers(0, 10**6))
    def credit_again(self, at: int) -> None:
        """The bank notifies a transfer again (it retries until it gets a 2xx)."""
        self._credit(self.world.credits[at % len(self.world.credits)])

    @precondition(lambda self: self.gw.payments)
    @rule(at=st.integers(0, 10**6))
    def cancel(self, at: int) -> None:
        payment = self.gw.payments[pick(list(self.gw.payments), at)]
        portal = next(p for p in self.portals if p.agency_id == payment.agency_id)
        call = payment_service.cancel_payment(
            self.uow, portal, payment.id, reason=None, now=self.now
        )
        if payment.status in PAYABLE:
            payment.status = S.CANCELLED
            self.run(call)
        elif payment.status is S.CANCELLED:
            self.unchanged(call)
        else:
            self.refused(call, Conflict)


def _resigned(provider: Provider, params: dict[str, object], amount: int) -> dict[str, object]:
    """The provider's own signature over a wrong amount: verified, then refused."""
    if provider is Provider.VNPAY:
        unsigned = {k: str(v) for k, v in params.items() if k != "vnp_SecureHash"}
        unsigned["vnp_Amount"] = vnpay.to_wire_amount(amount)
        return dict(vnpay.sign_params(VNPAY, unsigned))
    return momo.sign_ipn(MOMO, {**params, "amount": amount})
