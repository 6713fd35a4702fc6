"""``payments ledger check`` on a live database: sound books pass; an account with a balance
of the wrong sign (the collection account paying out what it never received, the defect of
issue 12) fails, named."""

from __future__ import annotations

from payments.ledger import chart
from payments.ledger.entries import EntryDraft, credit, debit
from payments.ledger.posting import post_entry
from payments.unit_of_work import SqlUnitOfWorkFactory
from tests.support.cli_thread import run_cli
from tests.support.ledger_builders import T0, payment_draft


async def test_check_passes_sound_books_and_names_a_wrong_sign(
    uow_factory: SqlUnitOfWorkFactory, database_url: str
) -> None:
    async with uow_factory() as uow:
        await post_entry(uow.ledger, payment_draft(150_000), now=T0)
        await uow.commit()
    sound = run_cli("ledger", "check", "--database-url", database_url)
    assert sound.exit_code == 0, sound.output
    assert "books OK" in sound.output

    remitted_unsettled = EntryDraft(
        source_key="remittance:test",
        description="Remitted before the provider settled",
        occurred_at=T0,
        legs=(
            debit(chart.budget_payable("DVC", "2862"), 150_000),
            credit(chart.collection_bank(), 150_000),
        ),
    )
    async with uow_factory() as uow:
        await post_entry(uow.ledger, remitted_unsettled, now=T0)
        await uow.commit()
    wrong = run_cli("ledger", "check", "--database-url", database_url)
    assert wrong.exit_code == 1
    assert "BOOKS WRONG: 1 problem(s)" in wrong.output
    assert "asset account collection-bank has a credit balance of 150000 VND" in wrong.output
