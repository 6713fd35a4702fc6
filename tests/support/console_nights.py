"""A reconciled night for the staff console: runs with exceptions to read and resolve, and a
key for every role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from payments.domain.access import Role
from payments.reconcile.usecases.day import reconcile_day
from payments.services.access import create_api_key
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.reconcile_days import (
    DAY,
    NIGHT,
    csv_line,
    gateway,
    import_csv,
    next_day,
    statement,
)

STAFF_NAME = "Nguyễn Thị Lan"


@dataclass(frozen=True)
class Night:
    run_id: int
    matched: str
    missing: str
    keys: dict[Role, str]
    key_ids: dict[Role, int]


async def seed_night(uow: SqlUnitOfWorkFactory) -> Night:
    """A day with one matched payment, one the treasury has not received (yet), an unknown
    credit; the next day, where the late credit arrives, reconciled too (no exception), so the
    chart has two days. Keys for every role."""
    gw = await gateway(uow)
    matched, missing = await gw.paid(950_000), await gw.paid(90_000)
    await import_csv(uow, statement(csv_line(matched.id, 950_000), csv_line("NOIDUNG-LA", 40_000)))
    result = await reconcile_day(uow, DAY, now=NIGHT)
    await import_csv(
        uow,
        statement(
            csv_line(missing.id, 90_000, booked=next_day(DAY)),  # a day late
            csv_line("", 5, booked=next_day(DAY), direction="d"),
        ),
        next_day(DAY),
        at=NIGHT + timedelta(days=1),
    )
    await reconcile_day(uow, next_day(DAY), now=NIGHT + timedelta(days=1))
    keys, key_ids = {}, {}
    for role in Role:
        key, plain = await create_api_key(
            uow, agency_code="DVC", role=role, label=STAFF_NAME, actor="t", now=NIGHT
        )
        keys[role], key_ids[role] = plain, key.id
    return Night(result.run.id, matched.id, missing.id, keys, key_ids)
