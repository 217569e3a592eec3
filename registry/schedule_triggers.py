"""When a schedule fires, as in Azure ML's schedule YAML: a cron trigger (5 fields, or 6 with seconds first as
NCRONTAB writes them) or a recurrence (frequency, interval, optional hours/minutes/week days), each with an
optional start time, end time and time zone."""
from __future__ import annotations

import calendar
import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from pydantic import Field, field_validator

from . import defaults as d
from .resources import Schema

WEEK_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UNITS = {"second": dt.timedelta(seconds=1), "minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1),
         "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}
SEARCH_LIMIT = 100_000


class TriggerBase(Schema):
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    time_zone: str = d.DEFAULT_SCHEDULE_TIME_ZONE

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}': use an IANA name such as 'Europe/Paris' or 'UTC'")
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def localize(self, moment: dt.datetime | None) -> dt.datetime | None:
        """Naive times in the YAML are in the trigger's time zone."""
        if moment is None:
            return None
        return moment.replace(tzinfo=self.zone()) if moment.tzinfo is None else moment


class CronTrigger(TriggerBase):
    type: Literal["cron"]
    expression: str

    @field_validator("expression")
    @classmethod
    def _valid(cls, value: str) -> str:
        fields = value.split()
        seconds = len(fields) == 6
        if len(fields) not in (5, 6) or not croniter.is_valid(value, second_at_beginning=seconds):
            raise ValueError("must be a cron expression of 5 fields (minute hour day month weekday) or 6 with "
                             "seconds first")
        for part in (item for field in fields for item in field.split(",")):
            low, dash, high = part.split("/")[0].partition("-")
            if dash and low.isdigit() and high.isdigit() and int(low) > int(high):
                raise ValueError(f"the range '{part}' runs backwards: write it low-high")
        try:
            croniter(value, dt.datetime(2000, 1, 1), second_at_beginning=seconds).get_next(dt.datetime)
        except CroniterBadDateError:
            raise ValueError("never fires: no date matches it (such as 30 February)") from None
        return value

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        start = self.localize(self.start_time)
        base = max(moment, start - dt.timedelta(microseconds=1)) if start else moment
        seconds = len(self.expression.split()) == 6
        found = croniter(self.expression, base.astimezone(self.zone()),
                         second_at_beginning=seconds).get_next(dt.datetime)
        return _until(found.astimezone(dt.timezone.utc), self.localize(self.end_time))


class RecurrencePattern(Schema):
    hours: list[Annotated[int, Field(ge=0, le=23, strict=True)]] | None = None
    minutes: list[Annotated[int, Field(ge=0, le=59, strict=True)]] | None = None
    week_days: list[str] | None = None

    @field_validator("week_days")
    @classmethod
    def _days(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        lowered = [v.lower() for v in value]
        unknown = [v for v in lowered if v not in WEEK_DAYS]
        if unknown:
            raise ValueError(f"unknown week day(s) {', '.join(unknown)}: use {', '.join(WEEK_DAYS)}")
        return lowered


class RecurrenceTrigger(TriggerBase):
    type: Literal["recurrence"]
    frequency: Literal["second", "minute", "hour", "day", "week", "month"]
    interval: int = Field(ge=1, le=d.MAX_RECURRENCE_INTERVAL, strict=True)
    schedule: RecurrencePattern | None = None

    def next_after(self, moment: dt.datetime, created: dt.datetime | None = None) -> dt.datetime | None:
        """The first occurrence strictly after moment, counting intervals from the start time."""
        start = (self.localize(self.start_time) or created or moment).astimezone(self.zone())
        end = self.localize(self.end_time)
        if self.schedule and (self.schedule.hours or self.schedule.minutes or self.schedule.week_days):
            return _until(self._patterned(start, moment), end)
        if self.frequency == "month":
            number = 0
            while number < SEARCH_LIMIT:
                candidate = _add_months(start, number * self.interval)
                if candidate > moment:
                    return _until(candidate.astimezone(dt.timezone.utc), end)
                number += 1
            return None
        step = UNITS[self.frequency] * self.interval
        if start > moment:
            return _until(start.astimezone(dt.timezone.utc), end)
        steps = (moment - start) // step + 1
        return _until((start + steps * step).astimezone(dt.timezone.utc), end)

    def _patterned(self, start: dt.datetime, moment: dt.datetime) -> dt.datetime | None:
        pattern = self.schedule
        hours = sorted(pattern.hours) if pattern.hours else [start.hour]
        minutes = sorted(pattern.minutes) if pattern.minutes else [start.minute]
        days = {WEEK_DAYS.index(w) for w in pattern.week_days} if pattern.week_days else None
        day = max(start, moment.astimezone(self.zone())).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(SEARCH_LIMIT):
            if self._day_matches(start, day, days):
                for hour in hours:
                    for minute in minutes:
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start and candidate > moment:
                            return candidate.astimezone(dt.timezone.utc)
            day += dt.timedelta(days=1)
        return None

    def _day_matches(self, start: dt.datetime, day: dt.datetime, days: set[int] | None) -> bool:
        elapsed = (day.date() - start.date()).days
        if self.frequency == "week":
            weeks = (day.date() - (start.date() - dt.timedelta(days=start.weekday()))).days // 7
            return weeks % self.interval == 0 and (days is None or day.weekday() in days)
        if days is not None and day.weekday() not in days:
            return False
        return self.frequency != "day" or elapsed % self.interval == 0


Trigger = Annotated[CronTrigger | RecurrenceTrigger, Field(discriminator="type")]


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _until(moment: dt.datetime | None, end: dt.datetime | None) -> dt.datetime | None:
    if moment is None or (end is not None and moment > end):
        return None
    return moment
