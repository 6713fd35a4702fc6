"""Time-ordered ids as a range: every id minted inside a time window lies between the window's
id bounds, and an id of another millisecond lies outside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from payments.domain.ids import PAYMENT_ID_PREFIX, id_window, new_payment_id

# Naive bounds, as Hypothesis takes them; every value drawn is in UTC.
MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001
    max_value=datetime(2400, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(MOMENTS, MOMENTS, MOMENTS)
def test_an_id_is_inside_the_bounds_exactly_when_its_millisecond_is(
    start: datetime, end: datetime, minted: datetime
) -> None:
    low, high = id_window(PAYMENT_ID_PREFIX, start, end)
    assert low is not None
    assert high is not None
    payment_id = new_payment_id(minted)
    if start <= minted < end:
        assert low <= payment_id < high
    if _ms(minted) < _ms(start):
        assert payment_id < low
    if _ms(minted) > _ms(end):
        assert payment_id >= high


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def test_an_open_side_has_no_bound() -> None:
    moment = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    assert id_window(PAYMENT_ID_PREFIX, None, None) == (None, None)
    low, high = id_window(PAYMENT_ID_PREFIX, moment, None)
    assert low is not None
    assert high is None


def test_a_moment_outside_the_ids_range_bounds_nothing() -> None:
    # The time condition alone then decides (an id cannot encode a time before 1970).
    before_ids = datetime(1969, 12, 31, tzinfo=UTC)
    assert id_window(PAYMENT_ID_PREFIX, before_ids, before_ids + timedelta(days=1))[0] is None
