"""Key management on in-memory fakes: listing, revoking (idempotent, audited, scoped to the
caller's agency, the caller's own key only when confirmed) and rotating (same agency, role,
label and rate limit; the old key revoked in the same transaction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.access import MAX_KEY_ID, Caller, Role, display_prefix
from payments.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from payments.services import access as service
from tests.unit.fakes import FakeUnitOfWorkFactory

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


async def agency_with_keys(uow: FakeUnitOfWorkFactory, code: str) -> dict[Role, str]:
    await service.create_agency(
        uow, code=code, name=code, allowed_hosts=["portal.example.vn"], actor="t", now=NOW
    )
    keys = {}
    for role in (Role.PORTAL, Role.ADMIN):
        _, keys[role] = await service.create_api_key(
            uow,
            agency_code=code,
            role=role,
            label=f"{code} {role.value}",
            actor="t",
            now=NOW,
            rate_limit_per_minute=30 if role is Role.PORTAL else None,
        )
    return keys


async def setup() -> tuple[FakeUnitOfWorkFactory, Caller, Caller, Caller]:
    """Two agencies; A's admin and portal callers, B's admin caller."""
    uow = FakeUnitOfWorkFactory()
    a = await agency_with_keys(uow, "A")
    b = await agency_with_keys(uow, "B")
    return (
        uow,
        await service.authenticate(uow, a[Role.ADMIN]),
        await service.authenticate(uow, a[Role.PORTAL]),
        await service.authenticate(uow, b[Role.ADMIN]),
    )


def change(
    caller: Caller | None,
    *,
    note: str | None = None,
    confirm_self: bool = False,
    request_id: str | None = None,
) -> service.KeyChange:
    return service.KeyChange(
        actor=caller.actor if caller else "cli",
        now=LATER,
        caller=caller,
        note=note,
        confirm_self=confirm_self,
        request_id=request_id,
    )


async def test_listings_show_agencies_and_keys_newest_first() -> None:
    uow, _, _, b_admin = await setup()
    assert [a.code for a in await service.list_agencies(uow)] == ["A", "B"]
    every = await service.list_api_keys(uow, agency_code=None)
    assert [(item.agency_code, item.key.role) for item in every] == [
        ("B", Role.ADMIN),
        ("B", Role.PORTAL),
        ("A", Role.ADMIN),
        ("A", Role.PORTAL),
    ]
    only_a = await service.list_api_keys(uow, agency_code="A")
    assert {item.agency_code for item in only_a} == {"A"}
    with pytest.raises(NotFound):
        await service.list_api_keys(uow, agency_code="NOPE")

    first, more = await service.api_key_page(uow, b_admin, before_id=None, limit=1)
    assert [k.id for k in first] == [b_admin.api_key_id]
    assert more
    rest, more = await service.api_key_page(uow, b_admin, before_id=first[-1].id, limit=5)
    assert [k.role for k in rest] == [Role.PORTAL]
    assert not more
    assert {k.agency_id for k in [*first, *rest]} == {b_admin.agency_id}


async def test_revoking_stops_the_key_is_audited_once_and_is_idempotent() -> None:
    uow, a_admin, a_portal, _ = await setup()
    revoked = await service.revoke_api_key(
        uow,
        a_portal.api_key_id,
        change(a_admin, note="  laptop lost ", request_id="req-1"),
    )
    assert revoked.revoked_at == LATER
    again = await service.revoke_api_key(
        uow, a_portal.api_key_id, service.KeyChange(actor="cli", now=LATER + timedelta(hours=1))
    )
    assert again.revoked_at == LATER  # the first revocation stands
    rows = [a for a in uow.store.audit if a.action == "apikey.revoked"]
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor, row.request_id, row.target_type, row.target_id, row.agency_id) == (
        a_admin.actor,
        "req-1",
        "api_key",
        str(a_portal.api_key_id),
        a_admin.agency_id,
    )
    assert row.detail == {"prefix": revoked.prefix, "role": "portal", "note": "laptop lost"}
    stored = [k for k, _ in uow.store.keys.values() if k.id == a_portal.api_key_id]
    assert stored[0].revoked_at == LATER


async def test_another_agencys_key_or_an_unknown_id_is_not_found_and_untouched() -> None:
    uow, a_admin, _, b_admin = await setup()
    for key_id in (b_admin.api_key_id, 999, 0, -1, MAX_KEY_ID + 1):
        with pytest.raises(NotFound):
            await service.revoke_api_key(uow, key_id, change(a_admin))
        with pytest.raises(NotFound):
            await service.rotate_api_key(uow, key_id, change(a_admin))
        with pytest.raises(NotFound):
            await service.get_api_key(uow, a_admin, key_id)
    assert all(k.revoked_at is None for k, _ in uow.store.keys.values())
    # The operator (no caller) reaches any agency's key.
    assert (await service.revoke_api_key(uow, b_admin.api_key_id, change(None))).revoked_at


async def test_the_key_in_use_is_revoked_or_rotated_only_when_confirmed() -> None:
    uow, a_admin, _, _ = await setup()
    for act in (service.revoke_api_key, service.rotate_api_key):
        with pytest.raises(InvalidInput) as refused:
            await act(uow, a_admin.api_key_id, change(a_admin))
        assert [p.field for p in refused.value.problems] == ["confirm_self"]
    assert len(uow.store.keys) == 4  # nothing made, nothing revoked
    assert all(k.revoked_at is None for k, _ in uow.store.keys.values())
    revoked = await service.revoke_api_key(
        uow, a_admin.api_key_id, change(a_admin, confirm_self=True)
    )
    assert revoked.revoked_at == LATER


async def test_rotation_makes_a_twin_and_revokes_the_old_key_together() -> None:
    uow, a_admin, a_portal, _ = await setup()
    before = dict(uow.store.keys)
    rotated = await service.rotate_api_key(uow, a_portal.api_key_id, change(a_admin, note="yearly"))
    old, new = rotated.old, rotated.new
    assert (old.id, old.revoked_at) == (a_portal.api_key_id, LATER)
    assert new.id not in {k.id for k, _ in before.values()}
    assert (new.agency_id, new.role, new.label, new.rate_limit_per_minute) == (
        a_admin.agency_id,
        Role.PORTAL,
        "A portal",
        30,
    )
    assert (new.created_at, new.revoked_at, new.prefix) == (
        LATER,
        None,
        display_prefix(rotated.plain),
    )
    assert rotated.plain not in repr(rotated)  # a log line of it would not leak the key
    assert (await service.authenticate(uow, rotated.plain)).api_key_id == new.id
    row = next(a for a in uow.store.audit if a.action == "apikey.rotated")
    assert row.target_id == str(old.id)
    assert row.detail == {
        "prefix": old.prefix,
        "role": "portal",
        "new_key_id": new.id,
        "new_prefix": new.prefix,
        "note": "yearly",
    }
    assert rotated.plain not in str(uow.store.audit)
    # The old key is refused, and a revoked key is not rotated (its access would come back).
    with pytest.raises(Conflict):
        await service.rotate_api_key(uow, old.id, change(a_admin))
    assert len(uow.store.keys) == len(before) + 1


async def test_the_revoked_key_is_refused() -> None:
    uow, a_admin, _, _ = await setup()
    _, plain = await service.create_api_key(
        uow, agency_code="A", role=Role.FINANCE, label=None, actor="t", now=NOW
    )
    key = await service.authenticate(uow, plain)
    await service.revoke_api_key(uow, key.api_key_id, change(a_admin))
    with pytest.raises(NotAuthenticated):
        await service.authenticate(uow, plain)


@pytest.mark.parametrize(
    ("label", "rate_limit", "fields"),
    [
        ("a\x00b", None, ["label"]),
        ("x" * 201, None, ["label"]),
        ("ok", -1, ["rate_limit_per_minute"]),
        ("ok", 1_000_001, ["rate_limit_per_minute"]),
        ("\u202eevil", 2**40, ["rate_limit_per_minute", "label"]),
    ],
)
async def test_a_bad_label_or_rate_limit_makes_no_key(
    label: str, rate_limit: int | None, fields: list[str]
) -> None:
    uow = FakeUnitOfWorkFactory()
    await agency_with_keys(uow, "A")
    with pytest.raises(InvalidInput) as refused:
        await service.create_api_key(
            uow,
            agency_code="A",
            role=Role.PORTAL,
            label=label,
            actor="t",
            now=NOW,
            rate_limit_per_minute=rate_limit,
        )
    assert [p.field for p in refused.value.problems] == fields
    assert len(uow.store.keys) == 2


async def test_a_bad_note_changes_nothing() -> None:
    uow, a_admin, a_portal, _ = await setup()
    for act in (service.revoke_api_key, service.rotate_api_key):
        with pytest.raises(InvalidInput):
            await act(uow, a_portal.api_key_id, change(a_admin, note="n" * 501))
    assert all(k.revoked_at is None for k, _ in uow.store.keys.values())
