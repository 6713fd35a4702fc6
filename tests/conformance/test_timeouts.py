"""A provider that never answers: every call comes back ``Unknown`` when the client's own
timeout fires. The simulator's wait is the test's and never ends, so no test sleeps through
it; only the one-second client timeout runs, once, for all the calls together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from payments.providers.interface import PaymentProvider
from payments.sandbox.faults import HANG_SECONDS, Fault
from tests.conformance.cases import ProviderCase, RefundKind
from tests.conformance.requests import checkout_of, fresh_attempt, refund_of
from tests.conformance.sandbox import Sandbox
from tests.conformance.trouble import Answer, kind, plan, provider_calls, timed_out

NAMES = ("start", "query", "refund", "refund_status")  # the calls, as gathered


async def test_a_hung_provider_is_unknown_once_the_clients_timeout_fires(
    case: ProviderCase, sandbox: Sandbox, provider: PaymentProvider
) -> None:
    attempt = await case.paid(sandbox)
    payment = await sandbox.payment(attempt.payment_id)
    now = datetime.now(UTC)
    faults, operations = case.faults(sandbox), case.operations
    asked = [operations.start, operations.query, operations.refund, operations.refund_status]
    for operation in asked:
        plan(faults, operation, Fault.HANG)
    calls_before = provider_calls(sandbox)
    answers: tuple[Answer, ...] = await asyncio.gather(
        provider.start_checkout(checkout_of(payment, fresh_attempt(payment, provider, now), now)),
        provider.query_status(attempt, now=now),
        provider.refund(refund_of(attempt, 10_000, now), now=now),
        provider.refund_status(refund_of(attempt, 20_000, now), now=now),
    )

    seen = {name: (kind(a), timed_out(a)) for name, a in zip(NAMES, answers, strict=True)}
    calls = [name for name, operation in zip(NAMES, asked, strict=True) if operation]
    expected = {name: ("unknown", True) for name in calls}
    # What needs no call cannot hang: it answers as it always does, at once.
    if operations.start is None:
        expected["start"] = ("redirect", False)
    if operations.query is None:
        expected["query"] = ("unknown", False)  # no status query: the interface's answer
    if case.refund_kind is RefundKind.TRANSFER_INSTRUCTION:
        expected["refund"] = expected["refund_status"] = ("submitted", False)
    assert seen == expected
    # Every call reached the provider and was held there: the client's deadline ended each.
    assert provider_calls(sandbox) - calls_before == len(calls)
    assert sandbox.waits.asked == [HANG_SECONDS] * len(calls)
