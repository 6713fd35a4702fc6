"""Which imports a day's run reads, on SQLite and PostgreSQL: the stories of
``tests/support/statement_day_stories.py`` (the unit tests run them on the in-memory store)."""

from __future__ import annotations

from payments.unit_of_work import WorkFactory
from tests.support import statement_day_stories as stories


async def test_two_days_of_empty_files_are_each_their_own_days(
    uow_factory: WorkFactory,
) -> None:
    await stories.two_days_of_empty_files_are_each_their_own_days(uow_factory)


async def test_a_day_s_empty_report_still_checks_its_provider(
    uow_factory: WorkFactory,
) -> None:
    await stories.a_day_s_empty_report_still_checks_its_provider(uow_factory)


async def test_the_same_bytes_for_the_same_day_store_nothing_new(
    uow_factory: WorkFactory,
) -> None:
    await stories.the_same_bytes_for_the_same_day_store_nothing_new(uow_factory)


async def test_a_corrected_provider_report_supersedes_the_first(
    uow_factory: WorkFactory,
) -> None:
    await stories.a_corrected_provider_report_supersedes_the_first(uow_factory)


async def test_a_day_s_treasury_statements_all_count(uow_factory: WorkFactory) -> None:
    await stories.a_day_s_treasury_statements_all_count(uow_factory)
