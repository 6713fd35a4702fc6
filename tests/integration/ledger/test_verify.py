"""`ledger verify` and the hash chain: a sound ledger passes, an edit behind our back is named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payments.ledger.entries import Entry
from payments.ledger.posting import post_entry, reverse_entry
from payments.ledger.sql_store import ledger_snapshot
from payments.ledger.verification import seal_journal, verify_ledger
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.ledger_builders import T0, payment_draft
from tests.support.ledger_cli import run_cli


async def _post_some(uow_factory: SqlUnitOfWorkFactory, count: int) -> list[Entry]:
    entries = []
    async with uow_factory() as uow:
        for n in range(count):
            posted = await post_entry(
                uow.ledger, payment_draft(1_000 * (n + 1)), now=T0 + timedelta(minutes=n)
            )
            entries.append(posted.entry)
        await uow.commit()
    return entries


async def _seal(uow_factory: SqlUnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        result = await seal_journal(uow.ledger, now=T0, batch=3)
        await uow.commit()
    return result.sealed


async def _edit_behind_the_back(engine: AsyncEngine, sql: str) -> None:
    """Change a stored row with the guard triggers out of the way, as an intruder would."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(sql))
        else:
            await conn.execute(text("DROP TRIGGER ledger_postings_no_update"))
            await conn.execute(text("DROP TRIGGER ledger_entries_no_update"))
            await conn.execute(text(sql))


async def test_a_sound_ledger_verifies_and_seals_in_batches(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    entries = await _post_some(uow_factory, 5)
    async with uow_factory() as uow:
        await reverse_entry(uow.ledger, entries[1].id, now=T0)
        await uow.commit()
    assert [await _seal(uow_factory) for _ in range(3)] == [3, 3, 0]
    await _post_some(uow_factory, 2)
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.ok, report.problems
    assert (report.entries, report.sealed) == (8, 6)


async def test_verify_names_a_sealed_entry_edited_behind_our_back(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, database_url: str
) -> None:
    entries = await _post_some(uow_factory, 4)
    await _seal(uow_factory)
    victim = entries[2]
    await _edit_behind_the_back(
        engine, f"UPDATE ledger_entries SET description = 'nothing to see' WHERE id = {victim.id}"
    )
    result = run_cli("verify", "--database-url", database_url)
    assert result.exit_code == 1
    assert f"first broken entry: {victim.id}" in result.output
    assert "no longer matches its seal" in result.output


async def test_verify_names_an_edited_amount(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, database_url: str
) -> None:
    entries = await _post_some(uow_factory, 3)
    victim = entries[1]
    await _edit_behind_the_back(
        engine,
        f"UPDATE ledger_postings SET amount = amount + 1 "
        f"WHERE entry_id = {victim.id} AND side = 'debit'",
    )
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert report.first_broken_entry == victim.id
    assert any("differ by 1" in str(p) for p in report.problems)
    result = run_cli("verify", "--database-url", database_url)
    assert result.exit_code == 1
    assert f"first broken entry: {victim.id}" in result.output


async def test_verify_cli_passes_on_a_sound_ledger(
    uow_factory: SqlUnitOfWorkFactory, database_url: str
) -> None:
    await _post_some(uow_factory, 2)
    sealed = run_cli("seal", "--database-url", database_url)
    assert sealed.exit_code == 0, sealed.output
    assert "sealed 2 entries" in sealed.output
    result = run_cli("verify", "--database-url", database_url)
    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output


async def test_verify_names_an_entry_neither_sealed_nor_queued(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine, database_url: str
) -> None:
    entries = await _post_some(uow_factory, 4)
    await _seal(uow_factory)
    lost = entries[3]
    # The queue is not part of the immutable record: a plain DELETE goes through the guards.
    async with engine.begin() as conn:
        await conn.execute(text(f"DELETE FROM ledger_unsealed WHERE entry_id = {lost.id}"))
    assert await _seal(uow_factory) == 0
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert [str(p) for p in report.problems] == [
        f"entry {lost.id}: is neither sealed nor in the sealing queue: no seal will cover it"
    ]
    result = run_cli("verify", "--database-url", database_url)
    assert result.exit_code == 1
    assert f"first broken entry: {lost.id}" in result.output


async def test_verify_names_a_sealed_entry_still_queued_and_sealing_goes_on(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    entries = await _post_some(uow_factory, 2)
    await _seal(uow_factory)
    stale = entries[0]
    async with engine.begin() as conn:
        await conn.execute(text(f"INSERT INTO ledger_unsealed (entry_id) VALUES ({stale.id})"))
    (later,) = await _post_some(uow_factory, 1)
    # The stale row is skipped, not sealed twice: sealing of new entries carries on.
    assert await _seal(uow_factory) == 1
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert [str(p) for p in report.problems] == [
        f"entry {stale.id}: is sealed but still in the sealing queue"
    ]
    assert (report.entries, report.sealed) == (3, 3)
    assert later.id not in {p.entry_id for p in report.problems}


@pytest.mark.postgres_only
async def test_verify_names_a_queued_entry_that_does_not_exist(
    uow_factory: SqlUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    await _post_some(uow_factory, 1)
    async with engine.begin() as conn:  # replica role: past the foreign key, as an intruder
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("INSERT INTO ledger_unsealed (entry_id) VALUES (999)"))
    async with ledger_snapshot(engine) as store:
        report = await verify_ledger(store)
    assert [str(p) for p in report.problems] == ["entry 999: is in the sealing queue but missing"]
