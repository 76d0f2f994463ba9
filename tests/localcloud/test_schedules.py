"""The local cloud's schedule expressions and clock: when EventBridge and Scheduler fire, what they send."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from localcloud.schedule_expressions import InvalidScheduleExpression, next_fire, parse
from localcloud.schedules import Firing, ScheduleClock, scheduled_event, scheduler_input

T0 = datetime(2025, 1, 15, 10, 7, 30, tzinfo=UTC)  # a Wednesday


def fire(
    expression: str, after: datetime = T0, zone: str = "UTC", scheduler: bool = False
) -> datetime | None:
    return next_fire(parse(expression, scheduler=scheduler), after, after, ZoneInfo(zone))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(5 minutes)", datetime(2025, 1, 15, 10, 12, 30, tzinfo=UTC)),
        ("rate(1 hour)", datetime(2025, 1, 15, 11, 7, 30, tzinfo=UTC)),
        ("cron(0 3 1 * ? *)", datetime(2025, 2, 1, 3, 0, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", datetime(2025, 1, 15, 10, 15, tzinfo=UTC)),
        ("cron(0 20 ? * MON-FRI *)", datetime(2025, 1, 15, 20, 0, tzinfo=UTC)),
        ("cron(0 8 ? * SUN *)", datetime(2025, 1, 19, 8, 0, tzinfo=UTC)),
        ("cron(0 8 ? * 1 *)", datetime(2025, 1, 19, 8, 0, tzinfo=UTC)),  # 1 is Sunday
        ("cron(0 8 L * ? *)", datetime(2025, 1, 31, 8, 0, tzinfo=UTC)),
        ("cron(0 8 ? * 6L *)", datetime(2025, 1, 31, 8, 0, tzinfo=UTC)),  # last Friday
        ("cron(0 8 ? * 2#1 *)", datetime(2025, 2, 3, 8, 0, tzinfo=UTC)),  # first Monday
        ("cron(0 8 1W * ? *)", datetime(2025, 2, 3, 8, 0, tzinfo=UTC)),  # 1 Feb 2025 is a Saturday
        ("cron(0 0 1 JAN ? 2026)", datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(0 0 1 1 ? 2024)", None),  # only in the past
    ],
)
def test_next_fire(expression: str, expected: datetime | None) -> None:
    assert fire(expression) == expected


def test_a_rate_counts_from_its_creation() -> None:
    origin = T0
    later = T0 + timedelta(minutes=12)
    assert next_fire(parse("rate(5 minutes)"), later, origin) == T0 + timedelta(minutes=15)


def test_cron_in_a_schedules_time_zone() -> None:
    # 03:00 in Berlin (UTC+1 in winter) is 02:00 UTC.
    assert fire("cron(0 3 1 * ? *)", zone="Europe/Berlin") == datetime(2025, 2, 1, 2, 0, tzinfo=UTC)


def test_a_one_time_schedule_fires_once() -> None:
    assert fire("at(2025-01-15T12:00:00)", scheduler=True) == datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
    assert fire("at(2025-01-15T09:00:00)", scheduler=True) is None


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(1 minutes)", "singular for a value of 1"),
        ("rate(5 minute)", "singular for a value of 1"),
        ("rate(0 minutes)", "positive"),
        ("rate(5 seconds)", "not rate"),
        ("cron(0 3 1 * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 3 1 * ?)", "six fields"),
        ("cron(60 3 1 * ? *)", "minutes 60 is outside 0-59"),
        ("cron(0 3 1 13 ? *)", "month 13 is outside 1-12"),
        ("cron(0 3 ? * 8 *)", "day-of-week 8 is outside 1-7"),
        ("cron(0 3 ? * FRI-MON *)", "runs backwards"),
        ("cron(0 3 1 * ? 1969)", "year 1969 is outside 1970-2199"),
        ("at(2025-01-15T12:00:00)", "not rate(...) or cron(...)"),  # a scheduled rule takes no at()
    ],
)
def test_invalid_expressions_are_refused_naming_the_fault(expression: str, reason: str) -> None:
    with pytest.raises(InvalidScheduleExpression, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse(expression)


def test_a_still_clock_fires_only_when_advanced() -> None:
    fired: list[Firing] = []
    clock = ScheduleClock(60, fired.append, running=False)
    clock.add("rule", "monitor", parse("rate(5 minutes)"))
    start = clock.now()
    assert clock.fire_due() == [] and fired == []

    assert clock.advance(timedelta(minutes=4)) == []
    [first] = clock.advance(timedelta(minutes=1))
    assert (first.kind, first.name, first.scheduled_time) == ("rule", "monitor", start + timedelta(minutes=5))
    # A jump over many ticks fires once, then the schedule goes on from the clock's new time.
    assert len(clock.advance(timedelta(hours=1))) == 1
    assert clock.next_due("rule", "monitor") == start + timedelta(minutes=70)
    assert len(fired) == 2


def test_a_running_clock_fires_by_itself() -> None:
    fired: list[Firing] = []
    clock = ScheduleClock(6000, fired.append, running=True)  # rate(1 minute) every 10 ms
    clock.add("rule", "often", parse("rate(1 minute)"))
    clock.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while len(fired) < 3 and datetime.now(UTC) < deadline:
            time.sleep(0.01)
    finally:
        clock.stop()
    assert len(fired) >= 3
    times = [f.scheduled_time for f in fired]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_what_a_scheduled_rule_and_a_schedule_deliver() -> None:
    firing = Firing("rule", "monitor", datetime(2025, 1, 15, 10, 5, tzinfo=UTC), id="e1")
    rule_arn = "arn:aws:events:us-east-1:123456789012:rule/monitor"
    assert scheduled_event(rule_arn, firing, "123456789012", "us-east-1") == {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2025-01-15T10:05:00Z",
        "region": "us-east-1",
        "resources": [rule_arn],
        "detail": {},
    }
    text = '{"plan": "shop", "at": "<aws.scheduler.scheduled-time>", "by": "<aws.scheduler.schedule-arn>"}'
    assert (
        scheduler_input(text, "arn:s", firing)
        == '{"plan": "shop", "at": "2025-01-15T10:05:00Z", "by": "arn:s"}'
    )
