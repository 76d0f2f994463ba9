"""Scheduled EventBridge rules and EventBridge Scheduler schedules fire in the local cloud, on a clock that
runs `time_scale` times faster than real time (the scale Wait states and timeouts already run at): at 60x the
replication monitor's rate(5 minutes) fires every five seconds.

What a firing delivers is what the real services send:
- a scheduled rule: a "Scheduled Event" (source aws.events, resources [the rule's ARN], detail {}) to each
  target, through the target's Input or InputTransformer like any other event (EventBridge user guide,
  "Creating a rule that runs on a schedule");
- a Scheduler schedule: the target's Input, with the context attributes (<aws.scheduler.scheduled-time>,
  ...) replaced (EventBridge Scheduler user guide, "Adding context attributes").
A disabled rule or schedule does not fire. The clock reads the rules and schedules from moto at each firing,
so DisableRule and UpdateSchedule take effect as they do deployed.

Tests need no timing: `advance(timedelta)` moves the clock and fires what fell due (the ticks a jump passes
over fire once, as one late tick), and with `running=False` the clock stands still between advances.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from localcloud.schedule_expressions import Expression, next_fire


@dataclass
class Entry:
    """One scheduled rule ("rule") or Scheduler schedule ("schedule"), by its deployed name."""

    kind: str
    name: str
    expression: Expression
    zone: ZoneInfo
    origin: datetime
    next_at: datetime | None = None


@dataclass(frozen=True)
class Firing:
    kind: str
    name: str
    scheduled_time: datetime
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


class ScheduleClock:
    """The local cloud's schedule clock. fire(firing) delivers one tick; it must not block for long."""

    def __init__(self, scale: float, fire: Callable[[Firing], None], running: bool = True) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self._scale = scale
        self._fire = fire
        self._running = running
        self._start = datetime.now(UTC)
        self._start_real = time.monotonic()
        self._offset = timedelta(0)
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: list[Firing] = []

    def now(self) -> datetime:
        """The schedule clock's time (UTC)."""
        elapsed = (time.monotonic() - self._start_real) * self._scale if self._running else 0.0
        return self._start + timedelta(seconds=elapsed) + self._offset

    def add(self, kind: str, name: str, expression: Expression, zone: ZoneInfo | None = None) -> None:
        origin = self.now()
        zone = zone or ZoneInfo("UTC")
        with self._lock:
            self._entries[f"{kind}/{name}"] = Entry(
                kind, name, expression, zone, origin, next_fire(expression, origin, origin, zone)
            )
        self._wake.set()

    def next_due(self, kind: str, name: str) -> datetime | None:
        with self._lock:
            entry = self._entries[f"{kind}/{name}"]
            return entry.next_at

    def advance(self, delta: timedelta) -> list[Firing]:
        """Move the clock forward by delta and fire every schedule that fell due; returns the firings."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.fire_due()

    def advance_to_next(self, kind: str, name: str) -> list[Firing]:
        """Move the clock to the next tick of one rule ("rule") or schedule ("schedule") and fire."""
        due = self.next_due(kind, name)
        if due is None:
            raise ValueError(f"{kind} {name} has no tick to come")
        return self.advance(max(due - self.now(), timedelta(0)))

    def fire_due(self) -> list[Firing]:
        now = self.now()
        due: list[Firing] = []
        with self._lock:
            for entry in self._entries.values():
                if entry.next_at is not None and entry.next_at <= now:
                    due.append(Firing(entry.kind, entry.name, entry.next_at))
                    entry.next_at = next_fire(entry.expression, now, entry.origin, entry.zone)
            self.fired.extend(due)
        for firing in due:
            self._fire(firing)
        self._wake.set()
        return due

    # -- running by itself ------------------------------------------------------------------------

    def start(self) -> None:
        if self._running and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="schedule-clock", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self.fire_due()
            with self._lock:
                upcoming = [e.next_at for e in self._entries.values() if e.next_at is not None]
            # Sleep (real time) until the next tick is due; re-check at least every second.
            seconds = 1.0
            if upcoming:
                seconds = min(seconds, max((min(upcoming) - self.now()).total_seconds() / self._scale, 0.0))
            self._wake.wait(seconds)
            self._wake.clear()


def scheduler_input(text: str, schedule_arn: str, firing: Firing, attempt: int = 1) -> str:
    """A Scheduler target's Input with its context attributes replaced."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": firing.scheduled_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": firing.id.replace("-", "")[:16],
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    for keyword, value in values.items():
        text = text.replace(keyword, value)
    return text


def scheduled_event(rule_arn: str, firing: Firing, account: str, region: str) -> dict[str, object]:
    """What EventBridge sends the targets of a scheduled rule."""
    return {
        "version": "0",
        "id": firing.id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": firing.scheduled_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }
