"""What a case declares is what its module and the gateway's rules say about the provider."""

from __future__ import annotations

from payments.domain.attempts import QUERYABLE
from payments.providers.interface import PaymentProvider
from tests.conformance.cases import ProviderCase, RefundKind


async def test_the_declared_capabilities_are_the_modules(
    case: ProviderCase, provider: PaymentProvider
) -> None:
    assert provider.name is case.name
    assert provider.refunds_told_apart is case.refunds_told_apart
    # The requery asks exactly the providers that have a status query.
    assert (case.name in QUERYABLE) is case.has_query
    assert (case.operations.query is not None) is case.has_query
    assert (case.never_seen is not None) is case.has_query
    # A refund by API has a call to make and a status to ask; a transfer instruction has neither.
    api = case.refund_kind is RefundKind.API
    assert (case.operations.refund is not None) is api
    assert (case.operations.refund_status is not None) is api
    assert provider.currencies == frozenset({"VND"})
