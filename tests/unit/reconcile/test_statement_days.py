"""The statement-day stories of ``tests/integration/reconcile/test_statement_days.py`` on the
in-memory store, which must answer as the databases do: a file is known by its source, day
and content; a provider's newest report of a day is the one a run reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from payments.services.ports import UnitOfWorkFactory
from tests.integration.reconcile import test_statement_days as stories
from tests.unit.fakes import FakeUnitOfWorkFactory

STORIES: list[Callable[[UnitOfWorkFactory], Awaitable[None]]] = [
    stories.test_two_days_of_empty_files_are_each_their_own_days,
    stories.test_a_day_s_empty_report_still_checks_its_provider,
    stories.test_the_same_bytes_for_the_same_day_store_nothing_new,
    stories.test_a_corrected_provider_report_supersedes_the_first,
    stories.test_a_day_s_treasury_statements_all_count,
]


@pytest.mark.parametrize("story", STORIES, ids=lambda story: story.__name__.removeprefix("test_"))
async def test_on_the_in_memory_store(
    story: Callable[[UnitOfWorkFactory], Awaitable[None]],
) -> None:
    await story(FakeUnitOfWorkFactory())
