from __future__ import annotations

from datetime import UTC, datetime

from payments.domain.access import Role
from payments.services.access import authenticate, create_agency, create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory


async def test_agency_and_key_round_trip(uow_factory: SqlUnitOfWorkFactory) -> None:
    now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    agency = await create_agency(
        uow_factory,
        code="DVC",
        name="Cổng DVC",
        allowed_hosts=["Portal.Example.VN"],
        actor="test",
        now=now,
    )
    assert agency.allowed_hosts == frozenset({"portal.example.vn"})
    _, plain = await create_api_key(
        uow_factory, agency_code="DVC", role=Role.PORTAL, label=None, actor="test", now=now
    )
    caller = await authenticate(uow_factory, plain)
    assert caller.agency_code == "DVC"
    assert caller.role is Role.PORTAL
