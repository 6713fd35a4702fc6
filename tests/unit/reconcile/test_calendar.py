"""Vietnam business days."""

from __future__ import annotations

from datetime import date

from payments.reconcile.rules.calendar import DEFAULT_CALENDAR as CAL
from payments.reconcile.rules.calendar import VietnamCalendar


def test_weekends_fixed_and_lunar_holidays_are_closed() -> None:
    assert CAL.is_business_day(date(2025, 3, 12))  # a Wednesday
    assert not CAL.is_business_day(date(2025, 3, 15))  # Saturday
    assert not CAL.is_business_day(date(2025, 9, 2))  # National Day
    assert not CAL.is_business_day(date(2025, 1, 29))  # Tết
    assert not CAL.is_business_day(date(2024, 4, 18))  # Hùng Kings
    assert not CAL.is_business_day(date(2031, 5, 1))  # fixed-date, outside the table


def test_add_business_days_skips_tet() -> None:
    assert CAL.add_business_days(date(2025, 1, 24), 1) == date(2025, 2, 3)
    assert CAL.add_business_days(date(2025, 3, 14), 1) == date(2025, 3, 17)
    assert CAL.add_business_days(date(2025, 3, 15), 1) == date(2025, 3, 17)  # from a Saturday
    assert CAL.add_business_days(date(2025, 3, 17), -1) == date(2025, 3, 14)
    assert CAL.add_business_days(date(2025, 3, 12), 0) == date(2025, 3, 12)


def test_business_days_between() -> None:
    assert CAL.business_days_between(date(2025, 3, 12), date(2025, 3, 12)) == 0
    assert CAL.business_days_between(date(2025, 3, 14), date(2025, 3, 17)) == 1
    assert CAL.business_days_between(date(2025, 1, 24), date(2025, 2, 3)) == 1
    assert CAL.business_days_between(date(2025, 3, 17), date(2025, 3, 14)) == -1


def test_configured_holidays_extend_the_table() -> None:
    calendar = VietnamCalendar.with_holidays(["2025-03-13"])
    assert not calendar.is_business_day(date(2025, 3, 13))
    assert calendar.add_business_days(date(2025, 3, 12), 1) == date(2025, 3, 14)
    assert calendar.next_business_day(date(2025, 3, 13)) == date(2025, 3, 14)
