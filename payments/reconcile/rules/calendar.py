"""Vietnam business days: weekends and public holidays, as data.

Fixed-date holidays come from the Labour Code 2019 (art. 112): 1 January, 30 April, 1 May and
2 September plus one day next to it. The lunar ones (Tết, 5 days; Hùng Kings' day, 10th day of
the 3rd lunar month) move every year, and the government announces each year which weekdays
are off (bridging and compensatory days included). ``HOLIDAYS`` lists the weekdays off for
2024-2027 from those announcements (2024, 2025) and from the lunar calendar (2026, 2027: verify
against the official notice when it is published and extend the table). Years outside the
table only get the fixed-date holidays, so a missing year is visible as too few days off,
never as a crash. Treasury operations follow the civil-service calendar.

Extend or replace the table with ``VietnamCalendar(extra_holidays=...)`` (configuration).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

_FIXED = ((1, 1), (4, 30), (5, 1), (9, 2))

# Weekdays off, per year, beyond what _FIXED gives (weekend days need not be listed).
_ANNOUNCED: dict[int, tuple[str, ...]] = {
    2024: (
        "2024-02-08", "2024-02-09", "2024-02-12", "2024-02-13", "2024-02-14",  # Tết
        "2024-04-18",  # Hùng Kings
        "2024-04-29",  # bridge day (worked back on Saturday 4 May)
        "2024-09-03",  # National Day, second day
    ),
    2025: (
        "2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31",  # Tết
        "2025-04-07",  # Hùng Kings
        "2025-05-02",  # bridge day (worked back on Saturday 26 April)
        "2025-09-01",  # National Day, second day
    ),
    2026: (
        "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",  # Tết (verify)
        "2026-04-27",  # Hùng Kings falls on Sunday 26 April: Monday off (verify)
        "2026-09-01",  # National Day, second day (verify)
    ),
    2027: (
        "2027-02-04", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10",  # Tết (verify)
        "2027-04-16",  # Hùng Kings (verify)
        "2027-05-03",  # 1 May is a Saturday: Monday off
        "2027-09-03",  # National Day, second day (verify)
    ),
}  # fmt: skip


def _table() -> frozenset[date]:
    days = {date.fromisoformat(text) for texts in _ANNOUNCED.values() for text in texts}
    return frozenset(days)


HOLIDAYS = _table()


@dataclass(frozen=True)
class VietnamCalendar:
    extra_holidays: frozenset[date] = frozenset()
    # Replace the built-in table entirely (e.g. with a calendar published by the treasury).
    holidays: frozenset[date] = field(default=HOLIDAYS)

    @classmethod
    def with_holidays(cls, days: Iterable[date | str]) -> VietnamCalendar:
        """The built-in table plus configured days (``"2028-01-26"`` strings or dates)."""
        parsed = frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in days)
        return cls(extra_holidays=parsed)

    def is_holiday(self, day: date) -> bool:
        return (day.month, day.day) in _FIXED or day in self.holidays or day in self.extra_holidays

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_business_day(self, day: date) -> date:
        """``day`` itself when it is a business day, else the first one after it."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def add_business_days(self, day: date, count: int) -> date:
        """Move ``count`` business days from ``day`` (backwards when negative).

        ``day`` need not be a business day: Saturday + 1 is Monday (when Monday is open).
        """
        step = timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_business_day(day):
                remaining -= 1
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in (start, end]: 0 for the same day, negative when end < start."""
        if end < start:
            return -self.business_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count += 1
        return count


DEFAULT_CALENDAR = VietnamCalendar()
