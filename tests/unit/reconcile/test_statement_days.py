"""The statement-day stories of ``tests/support/statement_day_stories.py`` on the in-memory
store, which must answer as the databases do: a file is known by its source, day and content;
a provider's newest report of a day is the one a run reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from payments.unit_of_work import WorkFactory
from tests.support.statement_day_stories import STORIES
from tests.unit.fakes import FakeUnitOfWorkFactory


@pytest.mark.parametrize("story", STORIES, ids=lambda story: story.__name__)
async def test_on_the_in_memory_store(
    story: Callable[[WorkFactory], Awaitable[None]],
) -> None:
    await story(FakeUnitOfWorkFactory())
