"""EventBridge schedule expressions, as EventBridge (scheduled rules) and EventBridge Scheduler read them:
when a schedule is due next.

Rules from the EventBridge user guide ("Using cron and rate expressions to schedule rules") and the
EventBridge Scheduler user guide ("Schedule types"):
- `rate(value unit)`: a positive whole value; unit minute|minutes|hour|hours|day|days, singular for 1 and
  plural above. The rate starts when the rule (schedule) is created.
- `cron(minutes hours day-of-month month day-of-week year)`: six fields; minutes 0-59, hours 0-23,
  day-of-month 1-31 (`, - * ? / L W`), month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT (`, - * ? L #`),
  year 1970-2199. One of day-of-month and day-of-week must be `?`. Precision is one minute.
- Scheduler only: `at(yyyy-mm-ddThh:mm:ss)`, a one-time schedule.
Rules are evaluated in UTC; a Scheduler schedule in its ScheduleExpressionTimezone.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
# EventBridge numbers the days of the week 1 (SUN) to 7 (SAT).
WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
LAST_YEAR = 2199


class InvalidScheduleExpression(ValueError):
    """EventBridge refuses the expression ("Parameter ScheduleExpression is not valid.")."""


@dataclass(frozen=True)
class Rate:
    interval: timedelta

    def next_after(self, moment: datetime, origin: datetime) -> datetime | None:
        """The first tick strictly after moment of a rate that started at origin."""
        if moment < origin:
            return origin + self.interval
        ticks = (moment - origin) // self.interval + 1
        return origin + ticks * self.interval


@dataclass(frozen=True)
class At:
    moment: datetime  # naive, in the schedule's time zone

    def next_after(self, moment: datetime, origin: datetime, zone: ZoneInfo) -> datetime | None:
        when = self.moment.replace(tzinfo=zone).astimezone(UTC)
        return when if when > moment else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: str  # kept as text: L, W and ? depend on the month
    day_of_week: str

    def next_after(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """The first whole minute strictly after moment (UTC) that the expression names, or None."""
        local = moment.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
        day = local.date()
        while day.year <= LAST_YEAR:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = _first_of_next_month(day)
                continue
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute)
                        when = candidate.replace(tzinfo=zone).astimezone(UTC)
                        if when > moment:
                            return when
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        if self.day_of_month != "?":
            return _day_of_month_matches(self.day_of_month, day)
        return _day_of_week_matches(self.day_of_week, day)


Expression = Rate | Cron | At


def parse(expression: str, *, scheduler: bool = False) -> Expression:
    """The parsed expression; InvalidScheduleExpression naming what is wrong. scheduler: also `at(...)`."""
    text = expression.strip()
    if match := re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", text):
        value, unit = int(match[1]), match[2]
        if value <= 0:
            raise InvalidScheduleExpression(f"{expression}: the rate must be a positive whole number")
        if (value == 1) != (not unit.endswith("s")):
            raise InvalidScheduleExpression(
                f"{expression}: the unit is singular for a value of 1 and plural above"
            )
        seconds = {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
        return Rate(timedelta(seconds=value * seconds))
    if match := re.fullmatch(r"cron\(([^()]*)\)", text):
        return _parse_cron(expression, match[1].split())
    if scheduler and (match := re.fullmatch(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)", text)):
        return At(datetime.fromisoformat(match[1]))
    kinds = "rate(...), cron(...) or at(...)" if scheduler else "rate(...) or cron(...)"
    raise InvalidScheduleExpression(f"{expression}: not {kinds}")


def next_fire(
    expression: Expression, after: datetime, origin: datetime, zone: ZoneInfo | None = None
) -> datetime | None:
    """When the schedule fires next, strictly after `after` (UTC); origin: when it was created."""
    zone = zone or ZoneInfo("UTC")
    if isinstance(expression, Rate):
        return expression.next_after(after, origin)
    if isinstance(expression, At):
        return expression.next_after(after, origin, zone)
    return expression.next_after(after, zone)


def _parse_cron(expression: str, fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise InvalidScheduleExpression(f"{expression}: a cron expression has six fields, not {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise InvalidScheduleExpression(
            f"{expression}: exactly one of day-of-month and day-of-week must be '?'"
        )
    if dom != "?":
        _check_day_of_month(expression, dom)
    if dow != "?":
        _check_day_of_week(expression, dow)
    return Cron(
        minutes=_values(expression, "minutes", minutes, 0, 59),
        hours=_values(expression, "hours", hours, 0, 23),
        months=_values(expression, "month", month, 1, 12, MONTHS),
        years=_values(expression, "year", year, 1970, LAST_YEAR),
        day_of_month=dom,
        day_of_week=dow,
    )


def _values(
    expression: str, name: str, field: str, low: int, high: int, names: dict[str, int] | None = None
) -> frozenset[int]:
    values: set[int] = set()
    for item in field.split(","):
        values |= _item(expression, name, item, low, high, names or {})
    return frozenset(values)


def _item(expression: str, name: str, item: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    def number(text: str) -> int:
        value = names.get(text.upper()) if names else None
        if value is None:
            if not text.isdigit():
                raise InvalidScheduleExpression(f"{expression}: {name} value '{text}' is not valid")
            value = int(text)
        if not low <= value <= high:
            raise InvalidScheduleExpression(f"{expression}: {name} {value} is outside {low}-{high}")
        return value

    base, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise InvalidScheduleExpression(f"{expression}: {name} increment '{step_text}' is not valid")
        step = int(step_text)
    if base == "*":
        start, end = low, high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = number(first), number(last)
        if start > end:
            raise InvalidScheduleExpression(f"{expression}: {name} range '{base}' runs backwards")
    else:
        start = number(base)
        end = high if step_text else start
    return set(range(start, end + 1, step))


def _check_day_of_month(expression: str, field: str) -> None:
    if field in ("L", "LW"):
        return
    if re.fullmatch(r"\d{1,2}W", field):
        if not 1 <= int(field[:-1]) <= 31:
            raise InvalidScheduleExpression(f"{expression}: day-of-month {field} is outside 1-31")
        return
    if "W" in field or "L" in field:
        raise InvalidScheduleExpression(f"{expression}: day-of-month '{field}' is not valid")
    _values(expression, "day-of-month", field, 1, 31)


def _check_day_of_week(expression: str, field: str) -> None:
    if match := re.fullmatch(r"(\w{1,3})#(\d)", field):
        _values(expression, "day-of-week", match[1], 1, 7, WEEKDAYS)
        if not 1 <= int(match[2]) <= 5:
            raise InvalidScheduleExpression(
                f"{expression}: day-of-week occurrence #{match[2]} is outside 1-5"
            )
        return
    if field == "L" or re.fullmatch(r"\w{1,3}L", field):
        if field != "L":
            _values(expression, "day-of-week", field[:-1], 1, 7, WEEKDAYS)
        return
    _values(expression, "day-of-week", field, 1, 7, WEEKDAYS)


def _day_of_month_matches(field: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if field == "L":
        return day.day == last
    if field.endswith("W"):
        target = last if field == "LW" else min(int(field[:-1]), last)
        return day == _nearest_weekday(date(day.year, day.month, target))
    return day.day in _values(field, "day-of-month", field, 1, 31)


def _day_of_week_matches(field: str, day: date) -> bool:
    weekday = day.isoweekday() % 7 + 1  # Monday 1 (ISO) -> 2; Sunday 7 (ISO) -> 1
    if "#" in field:
        name, _, nth = field.partition("#")
        wanted = next(iter(_values(field, "day-of-week", name, 1, 7, WEEKDAYS)))
        return weekday == wanted and (day.day - 1) // 7 + 1 == int(nth)
    if field.endswith("L") and field != "L":
        wanted = next(iter(_values(field, "day-of-week", field[:-1], 1, 7, WEEKDAYS)))
        last = calendar.monthrange(day.year, day.month)[1]
        return weekday == wanted and day.day + 7 > last
    if field == "L":
        return weekday == 7
    return weekday in _values(field, "day-of-week", field, 1, 7, WEEKDAYS)


def _nearest_weekday(day: date) -> date:
    """The weekday nearest to day within its month (the W of a cron day-of-month)."""
    if day.weekday() < 5:
        return day
    last = calendar.monthrange(day.year, day.month)[1]
    if day.weekday() == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    # Sunday: the Monday after, or the Friday before on the month's last day
    return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)


def _first_of_next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
