"""When schedules fire: cron with and without seconds, time zones, recurrences with patterns, start and end."""
from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter, ValidationError

from registry.schedule_triggers import Trigger

UTC = dt.timezone.utc
trigger = TypeAdapter(Trigger).validate_python


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_a_five_field_cron_fires_on_the_minute_and_six_fields_take_seconds_first():
    assert trigger({"type": "cron", "expression": "*/15 * * * *"}).next_after(at(2026, 1, 1, 10, 7)) == \
        at(2026, 1, 1, 10, 15)
    assert trigger({"type": "cron", "expression": "*/5 * * * * *"}).next_after(at(2026, 1, 1, 10, 7, 1)) == \
        at(2026, 1, 1, 10, 7, 5)


def test_a_cron_in_a_time_zone_fires_at_local_time():
    paris = trigger({"type": "cron", "expression": "0 9 * * *", "time_zone": "Europe/Paris"})
    assert paris.next_after(at(2026, 7, 1, 0, 0)) == at(2026, 7, 1, 7, 0)
    assert paris.next_after(at(2026, 1, 1, 0, 0)) == at(2026, 1, 1, 8, 0)


def test_start_and_end_times_bound_the_occurrences():
    bounded = trigger({"type": "cron", "expression": "0 * * * *", "start_time": "2026-03-01T00:00:00",
                       "end_time": "2026-03-01T02:00:00"})
    assert bounded.next_after(at(2026, 1, 1)) == at(2026, 3, 1, 0, 0)
    assert bounded.next_after(at(2026, 3, 1, 1, 30)) == at(2026, 3, 1, 2, 0)
    assert bounded.next_after(at(2026, 3, 1, 2, 0)) is None


def test_a_recurrence_counts_intervals_from_its_start():
    every_90_minutes = trigger({"type": "recurrence", "frequency": "minute", "interval": 90,
                                "start_time": "2026-01-01T00:00:00Z"})
    assert every_90_minutes.next_after(at(2026, 1, 1, 2, 0)) == at(2026, 1, 1, 3, 0)
    monthly = trigger({"type": "recurrence", "frequency": "month", "interval": 1,
                       "start_time": "2026-01-31T06:00:00Z"})
    assert monthly.next_after(at(2026, 2, 1)) == at(2026, 2, 28, 6, 0)


def test_a_weekly_recurrence_with_days_hours_and_minutes():
    pattern = trigger({"type": "recurrence", "frequency": "week", "interval": 1,
                       "start_time": "2026-01-05T00:00:00Z",
                       "schedule": {"hours": [4, 16], "minutes": [30], "week_days": ["Monday", "Friday"]}})
    assert pattern.next_after(at(2026, 1, 5, 5, 0)) == at(2026, 1, 5, 16, 30)
    assert pattern.next_after(at(2026, 1, 5, 17, 0)) == at(2026, 1, 9, 4, 30)


@pytest.mark.parametrize("bad", [
    {"type": "cron", "expression": "61 * * * *"},
    {"type": "cron", "expression": "* * * * *", "time_zone": "Nowhere/City"},
    {"type": "recurrence", "frequency": "day", "interval": 0},
    {"type": "recurrence", "frequency": "week", "interval": 1, "schedule": {"week_days": ["funday"]}},
    {"type": "hourly"},
])
def test_bad_triggers_are_refused(bad):
    with pytest.raises(ValidationError):
        trigger(bad)
