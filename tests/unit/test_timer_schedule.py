"""Timer schedules: 6-field NCRONTAB (seconds first) and TimeSpan intervals (no runtime)."""
from __future__ import annotations

import datetime as dt

import pytest

from devhost.triggers.timer import Schedule

UTC = dt.timezone.utc
MONDAY_NOON = dt.datetime(2024, 1, 1, 12, 0, 1, 500000, tzinfo=UTC)  # 2024-01-01 was a Monday


def at(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def occurrences(expression: str, start: dt.datetime, count: int) -> list[dt.datetime]:
    schedule, found, moment = Schedule(expression), [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment)
    return found


@pytest.mark.parametrize("expression,expected", [
    ("*/2 * * * * *", [at(2024, 1, 1, 12, 0, 2), at(2024, 1, 1, 12, 0, 4), at(2024, 1, 1, 12, 0, 6)]),
    ("5 * * * * *", [at(2024, 1, 1, 12, 0, 5), at(2024, 1, 1, 12, 1, 5), at(2024, 1, 1, 12, 2, 5)]),
    ("0 */5 * * * *", [at(2024, 1, 1, 12, 5), at(2024, 1, 1, 12, 10), at(2024, 1, 1, 12, 15)]),
    ("0 0 * * * *", [at(2024, 1, 1, 13), at(2024, 1, 1, 14), at(2024, 1, 1, 15)]),
    ("0 30 9 * * 1-5", [at(2024, 1, 2, 9, 30), at(2024, 1, 3, 9, 30), at(2024, 1, 4, 9, 30)]),
    ("0 30 9 * * Mon-Fri", [at(2024, 1, 2, 9, 30), at(2024, 1, 3, 9, 30), at(2024, 1, 4, 9, 30)]),
    ("0 0 12 * * 0", [at(2024, 1, 7, 12), at(2024, 1, 14, 12), at(2024, 1, 21, 12)]),  # 0 is Sunday
    ("0 0 0 1 1 *", [at(2025, 1, 1), at(2026, 1, 1), at(2027, 1, 1)]),
    ("10,20 0 12 * * *", [at(2024, 1, 1, 12, 0, 10), at(2024, 1, 1, 12, 0, 20), at(2024, 1, 2, 12, 0, 10)]),
    ("  */2 * * * * *  ", [at(2024, 1, 1, 12, 0, 2), at(2024, 1, 1, 12, 0, 4), at(2024, 1, 1, 12, 0, 6)]),
])
def test_six_field_ncrontab(expression, expected):
    assert occurrences(expression, MONDAY_NOON, 3) == expected


def test_an_occurrence_is_strictly_after_the_moment_given():
    assert Schedule("*/2 * * * * *").next_after(at(2024, 1, 1, 12, 0, 2)) == at(2024, 1, 1, 12, 0, 4)


def test_occurrences_keep_the_time_zone():
    assert Schedule("*/2 * * * * *").next_after(MONDAY_NOON).tzinfo is not None


@pytest.mark.parametrize("expression,interval", [
    ("00:00:05", dt.timedelta(seconds=5)),
    ("00:01:00", dt.timedelta(minutes=1)),
    ("01:30:00", dt.timedelta(hours=1, minutes=30)),
    ("0:0:1", dt.timedelta(seconds=1)),
    ("1.02:00:00", dt.timedelta(days=1, hours=2)),
    ("1:00:00:00", dt.timedelta(days=1)),
])
def test_timespan_is_a_fixed_interval(expression, interval):
    schedule = Schedule(expression)
    assert schedule.interval == interval
    assert occurrences(expression, MONDAY_NOON, 3) == [MONDAY_NOON + interval * n for n in (1, 2, 3)]


def test_app_setting_reference_is_resolved(monkeypatch):
    monkeypatch.setenv("DEVHOST_TEST_SCHEDULE", "*/10 * * * * *")
    assert Schedule("%DEVHOST_TEST_SCHEDULE%").next_after(MONDAY_NOON) == at(2024, 1, 1, 12, 0, 10)


@pytest.mark.parametrize("expression,message", [
    ("* * * * *", "must be a 6-field NCRONTAB expression"),  # the 5-field cron of Unix
    ("* * * * * * *", "must be a 6-field NCRONTAB expression"),
    ("", "must be a 6-field NCRONTAB expression"),
    ("every two seconds", "must be a 6-field NCRONTAB expression"),
    ("%DEVHOST_TEST_UNSET_SETTING%", "must be a 6-field NCRONTAB expression"),
    ("61 * * * * *", "is not a valid NCRONTAB expression"),
    ("0 0 25 * * *", "is not a valid NCRONTAB expression"),
    ("*/0 * * * * *", "is not a valid NCRONTAB expression"),
    ("0 0 0 * * 8", "is not a valid NCRONTAB expression"),
    ("a b c d e f", "is not a valid NCRONTAB expression"),
    ("0 0 0 31 2 *", "never occurs"),  # 31 February
    ("00:00:00", "the interval must be positive"),
    ("aa:bb:cc", "is not a TimeSpan"),
    ("1:2", "is not a TimeSpan"),
    ("-1:00:00", "is not a TimeSpan"),
    ("00:61:00", "minutes and seconds 0-59"),
    ("24:00:00", "hours must be 0-23"),
])
def test_invalid_schedules_are_rejected_with_a_message(expression, message, monkeypatch):
    monkeypatch.delenv("DEVHOST_TEST_UNSET_SETTING", raising=False)
    with pytest.raises(ValueError, match=message) as raised:
        Schedule(expression)
    assert f"timer schedule '{expression}'" in str(raised.value)  # the message names the schedule
