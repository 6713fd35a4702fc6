"""`payments agency list` and `payments apikey list|revoke|rotate` against a real database:
tables by default, JSON on request, never a key or its hash; an unknown key id exits 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from payments.domain.access import Role, hash_api_key
from payments.domain.errors import NotAuthenticated
from payments.services.access import authenticate, create_api_key
from payments.services.ports import AuditFilter
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.api import Portal, make_portal
from tests.support.cli_thread import run_cli


async def key_ids(uow_factory: SqlUnitOfWorkFactory, portal: Portal) -> dict[Role, int]:
    ids = {}
    async with uow_factory() as uow:
        for role, plain in portal.keys.items():
            found = await uow.api_keys.by_hash(hash_api_key(plain))
            assert found is not None
            ids[role] = found[0].id
    return ids


async def test_agencies_and_keys_are_listed_as_tables_or_json(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, portal: Portal
) -> None:
    other = await make_portal(uow_factory, datetime.now(UTC))
    await create_api_key(
        uow_factory,
        agency_code=portal.code,
        role=Role.TREASURY,
        label="Nguyễn Thị Lan\nKBNN",
        actor="t",
        now=datetime.now(UTC),
        rate_limit_per_minute=0,
    )
    db = ("--database-url", database_url)

    agencies = run_cli("agency", "list", *db)
    assert agencies.exit_code == 0, agencies.output
    lines = agencies.stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "ALLOWED", "HOSTS", "CREATED", "(UTC)"]
    assert [line.split()[0] for line in lines[1:]] == sorted([portal.code, other.code])
    listed = json.loads(run_cli("agency", "list", "--json", *db).stdout)
    assert [a["code"] for a in listed] == sorted([portal.code, other.code])
    assert listed[0]["allowed_hosts"] == ["portal.example.vn"]

    table = run_cli("apikey", "list", "--agency", portal.code, *db)
    assert table.exit_code == 0, table.output
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["ID", "AGENCY", "ROLE", "PREFIX"]
    assert len(rows) == 5  # one a role, and the labelled one, on one line despite its newline
    assert "Nguyễn Thị Lan KBNN" in rows[0]
    assert " none " in rows[0]
    assert {row.split()[1] for row in rows} == {portal.code}

    every = json.loads(run_cli("apikey", "list", "--all", "--json", *db).stdout)
    assert {k["agency"] for k in every} == {portal.code, other.code}
    assert len(every) == 9
    assert [k["id"] for k in every] == sorted((k["id"] for k in every), reverse=True)
    text = json.dumps(every)
    for plain in [*portal.keys.values(), *other.keys.values()]:
        assert plain not in text
        assert hash_api_key(plain) not in text

    for wrong in ((), ("--all", "--agency", portal.code)):
        refused = run_cli("apikey", "list", *wrong, *db)
        assert refused.exit_code == 2
        assert "give --agency CODE or --all" in refused.output
    unknown = run_cli("apikey", "list", "--agency", "NOPE", *db)
    assert (unknown.exit_code, "no agency" in unknown.output) == (1, True)


async def test_revoke_and_rotate_from_the_command_line(
    database_url: str, uow_factory: SqlUnitOfWorkFactory, portal: Portal
) -> None:
    ids = await key_ids(uow_factory, portal)
    db = ("--database-url", database_url)

    revoked = run_cli("apikey", "revoke", str(ids[Role.PORTAL]), "--note", "leaked", *db)
    assert revoked.exit_code == 0, revoked.output
    assert f"API key {ids[Role.PORTAL]} (" in revoked.stdout
    assert "revoked at" in revoked.stdout
    with pytest.raises(NotAuthenticated):
        await authenticate(uow_factory, portal.keys[Role.PORTAL])
    again = run_cli("apikey", "revoke", str(ids[Role.PORTAL]), *db)
    assert again.exit_code == 0
    assert "(already)" in again.stdout

    rotated = run_cli("apikey", "rotate", str(ids[Role.FINANCE]), *db)
    assert rotated.exit_code == 0, rotated.output
    plain = rotated.stdout.strip()
    assert plain.startswith("pfk_")
    assert "\n" not in plain
    assert f"API key {ids[Role.FINANCE]} (" in rotated.stderr
    assert "successor" in rotated.stderr
    new = await authenticate(uow_factory, plain)
    assert (new.role, new.agency_code) == (Role.FINANCE, portal.code)
    with pytest.raises(NotAuthenticated):
        await authenticate(uow_factory, portal.keys[Role.FINANCE])
    twice = run_cli("apikey", "rotate", str(ids[Role.FINANCE]), *db)
    assert twice.exit_code == 1
    assert "create a new key instead" in twice.output

    async with uow_factory() as uow:
        rows = await uow.audit.page(
            AuditFilter(action_prefix="apikey.", actor="cli"), before_id=None, limit=10
        )
    assert [(r.entry.action, r.entry.target_id) for r in rows] == [
        ("apikey.rotated", str(ids[Role.FINANCE])),
        ("apikey.revoked", str(ids[Role.PORTAL])),
    ]
    assert rows[1].entry.detail["note"] == "leaked"
    assert rows[0].entry.detail["new_key_id"] == new.api_key_id
    assert plain not in str(rows)

    for command in ("revoke", "rotate"):
        for unknown in ("999999", "0", str(2**40)):
            missing = run_cli("apikey", command, unknown, *db)
            assert missing.exit_code == 2, (command, unknown, missing.output)
            assert "no API key" in missing.output
        not_a_number = run_cli("apikey", command, "twelve", *db)
        assert not_a_number.exit_code == 2
