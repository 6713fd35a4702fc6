"""Rules that tell a known hard story in one step (each also arises from the single rules,
just rarely in a short run): money taken twice, a success after expiry or cancellation, a
transfer in parts or beyond the amount."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from payments.domain.attempts import Provider, Result
from payments.domain.errors import IdempotencyKeyReused
from payments.domain.payments import PaymentKind
from tests.integration.lifecycle.rules_clock import ClockRules
from tests.integration.lifecycle.rules_payments import AMOUNTS, PaymentRules
from tests.integration.lifecycle.world import Truth


class StoryRules(PaymentRules, ClockRules):
    def _new(self, agency: int, amount: int, expiry: int | None = None) -> None:
        self.create(PaymentKind.CHARGE, "VND", amount, agency, "1052", expiry, None, None)

    def _takes(self, truth: Truth, part: float = 1.0) -> None:
        """The provider behind ``truth`` takes the money and says so."""
        if truth.provider is Provider.VIETQR:
            amount = int(truth.amount * part)
            self._credit(self.world.transfer(truth.ref, amount, "VND", self.now))
            return
        self.world.pay(truth, Result.SUCCEEDED, self.now)
        self.world.say(truth, Result.SUCCEEDED, self.now)
        self.deliver(len(self.world.messages) - 1, "genuine")

    @rule(
        agency=st.integers(0, 1),
        amount=AMOUNTS,
        first=st.sampled_from(list(Provider)),
        second=st.sampled_from(list(Provider)),
    )
    def paid_twice(self, agency: int, amount: int, first: Provider, second: Provider) -> None:
        """The payer pays at two providers: the second capture is owed back."""
        self._new(agency, amount)
        payment = list(self.gw.payments.values())[-1]
        one = self._start(payment, first)
        if second is first:
            # Choosing it again at once goes back to the same page: the payer comes back
            # after that provider's page has lapsed (a bank transfer reference never does).
            self.tick(minutes=11)
        two = self._start(payment, second)
        if one is None or two is None:
            return  # the clock moved past its expiry: nothing more to pay
        self._takes(self.world.truth[one.ref])
        if two is not one:
            self._takes(self.world.truth[two.ref])

    @rule(
        agency=st.integers(0, 1),
        amount=AMOUNTS,
        provider=st.sampled_from(list(Provider)),
        how=st.sampled_from(["expired", "cancelled"]),
    )
    def paid_late(self, agency: int, amount: int, provider: Provider, how: str) -> None:
        """The money comes after the payment expired or was cancelled: recorded, flagged."""
        self._new(agency, amount, expiry=10)
        payment = list(self.gw.payments.values())[-1]
        attempt = self._start(payment, provider)
        assert attempt is not None
        truth = self.world.truth[attempt.ref]
        if provider is not Provider.VIETQR:
            self.world.pay(truth, Result.SUCCEEDED, self.now)  # its message is held up
        if how == "cancelled":
            self.cancel(len(self.gw.payments) - 1)
        else:
            self.tick(minutes=11)
            self.expiry_sweep()
        if provider is Provider.VIETQR:
            self._takes(truth)
        else:
            self.world.say(truth, Result.SUCCEEDED, self.now)
            self.deliver(len(self.world.messages) - 1, "genuine")

    @rule(agency=st.integers(0, 1), amount=AMOUNTS, parts=st.sampled_from([0.5, 1.25]))
    def transfer_in_parts(self, agency: int, amount: int, parts: float) -> None:
        """A VietQR transfer of half the amount then the rest, or a quarter too much."""
        self._new(agency, amount)
        attempt = self._start(list(self.gw.payments.values())[-1], Provider.VIETQR)
        assert attempt is not None
        truth = self.world.truth[attempt.ref]
        self._takes(truth, parts)
        if parts < 1:
            self._takes(truth, 1 - parts)

    @precondition(lambda self: self.asked)
    @rule(at=st.integers(0, 10**6), same=st.booleans())
    def portal_retries(self, at: int, same: bool) -> None:
        """A portal sends a creation again with its Idempotency-Key: the same body gets the
        stored answer and creates nothing; another body is refused."""
        portal, asked, key, payment_id, when = self.asked[at % len(self.asked)]
        if self.now - when >= timedelta(hours=23):
            return  # the key's 24 hours are over: it is free again
        body = asked if same else replace(asked, amount=asked.amount + 1000)
        call = self.drive.create(portal, body, key, self.now)
        if not same:
            self.refused(call, IdempotencyKeyReused)
            return
        again = self.unchanged(call)
        assert again.replayed
        assert again.response.body == payment_id
