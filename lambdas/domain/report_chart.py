"""Geometry of the run report's timeline chart (drawn as inline SVG by templates/report.html.j2).

One row per server, grouped by wave: a bar from launch requested to launched (DRS conversion and boot) and on
to healthy (status checks passed). A launch that failed is a red bar up to when the failure was seen; a
server that launched but never became healthy gets a red dashed bar to the end of the run. The x axis is in
minutes since the run started (the trigger, which is where RTO is measured from), with the RTO target as a
vertical line. Pure: numbers in, coordinates out, so the drawing is tested without a browser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH = 960
LABEL_WIDTH = 220
RIGHT_PAD = 28
TOP = 34  # room for the target line's label
ROW_HEIGHT = 22
BAR_HEIGHT = 12
WAVE_HEADER = 24
AXIS_HEIGHT = 44
MAX_TICKS = 10
TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 240, 480, 720, 1440)

PLOT_LEFT = LABEL_WIDTH
PLOT_RIGHT = WIDTH - RIGHT_PAD


@dataclass(frozen=True)
class Segment:
    kind: str  # launching | booting | failed | unhealthy
    x: float
    width: float


@dataclass(frozen=True)
class Row:
    server: str
    label: str
    state: str
    y: float
    title: str
    segments: list[Segment]
    marker_x: float | None = None  # where a failure is marked (an x at the bar's end)


@dataclass(frozen=True)
class Group:
    number: int
    name: str
    y: float
    rows: list[Row]


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Line:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    axis_y: float
    scale_minutes: float
    ticks: list[Tick]
    groups: list[Group] = field(default_factory=list)
    target: Line | None = None
    achieved: Line | None = None

    def x(self, minutes: float) -> float:
        return position(minutes, self.scale_minutes)


def position(minutes: float, scale_minutes: float) -> float:
    """x of a moment `minutes` after the run started, on an axis from 0 to `scale_minutes`."""
    return round(PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * minutes / scale_minutes, 2)


def tick_step(longest_minutes: float) -> float:
    """The smallest step of TICK_STEPS that covers `longest_minutes` in at most MAX_TICKS steps."""
    for step in TICK_STEPS:
        if longest_minutes <= step * MAX_TICKS:
            return step
    return math.ceil(longest_minutes / MAX_TICKS / TICK_STEPS[-1]) * TICK_STEPS[-1]


def _minutes(seconds: Any) -> float | None:
    return None if seconds is None else float(seconds) / 60


def _label(minutes: float) -> str:
    return f"{minutes:g}"


def fmt_minutes(minutes: float | None) -> str:
    return "-" if minutes is None else f"{minutes:.1f} min"


def timeline_chart(report: dict[str, Any]) -> Chart | None:
    """The chart of a report document (build_report), or None when no server was asked to launch."""
    timeline = report["timeline"]
    if not any(t.get("launch_requested_s") is not None for t in timeline):
        return None
    end = _minutes(report.get("duration_s"))
    target = _minutes((report.get("targets") or {}).get("rto_seconds"))
    achieved = _minutes((report.get("achieved") or {}).get("rto_seconds"))
    moments = [
        m
        for t in timeline
        for m in (
            _minutes(t.get("launch_requested_s")),
            _minutes(t.get("launched_s")),
            _minutes(t.get("healthy_s")),
            _minutes(t.get("launch_failed_s")),
        )
        if m is not None
    ]
    longest = max([*moments, end or 0.0, target or 0.0, achieved or 0.0])
    step = tick_step(max(longest, 0.1))
    scale = max(step, math.ceil(longest / step - 1e-9) * step)
    run_end = end if end is not None else max(moments, default=0.0)

    groups: list[Group] = []
    y = float(TOP)
    for wave in report["waves"]:
        number = wave.get("number", wave["index"] + 1)
        members = [t for t in timeline if t.get("wave_number") == number]
        group_y = y
        y += WAVE_HEADER
        rows = []
        for item in members:
            rows.append(_row(item, y, scale, run_end))
            y += ROW_HEIGHT
        groups.append(Group(number=number, name=str(wave["name"]), y=group_y, rows=rows))
    axis_y = y + 6
    ticks = []
    value = 0.0
    while value <= scale + 1e-9:
        ticks.append(Tick(x=position(value, scale), label=_label(round(value, 2))))
        value += step
    return Chart(
        width=WIDTH,
        height=axis_y + AXIS_HEIGHT,
        plot_left=PLOT_LEFT,
        plot_right=PLOT_RIGHT,
        plot_top=TOP - 6,
        axis_y=axis_y,
        scale_minutes=scale,
        ticks=ticks,
        groups=groups,
        target=Line(position(target, scale), f"RTO target {fmt_minutes(target)}") if target else None,
        achieved=(
            Line(position(achieved, scale), f"RTO achieved {fmt_minutes(achieved)}")
            if achieved is not None
            else None
        ),
    )


def _row(item: dict[str, Any], y: float, scale: float, run_end: float) -> Row:
    requested = _minutes(item.get("launch_requested_s"))
    launched = _minutes(item.get("launched_s"))
    healthy = _minutes(item.get("healthy_s"))
    failed_at = _minutes(item.get("launch_failed_s"))
    state = str(item.get("state") or "")
    segments: list[Segment] = []
    marker = None

    def span(kind: str, start: float, stop: float) -> None:
        x0, x1 = position(start, scale), position(max(start, stop), scale)
        segments.append(Segment(kind=kind, x=x0, width=round(x1 - x0, 2)))

    if requested is not None:
        if item.get("launch_failed"):
            stop = failed_at if failed_at is not None else requested
            span("failed", requested, stop)
            marker = position(stop, scale)
        elif launched is not None:
            span("launching", requested, launched)
            if healthy is not None:
                span("booting", launched, healthy)
            else:
                span("unhealthy", launched, run_end)
                marker = position(max(launched, run_end), scale)
        else:
            span("unhealthy", requested, run_end)
            marker = position(max(requested, run_end), scale)
    parts = [
        f"{item['server']} ({'critical' if item.get('critical', True) else 'optional'}): {state}",
        f"launch requested {_at(requested)}",
    ]
    if item.get("launch_failed"):
        parts.append(f"launch failed {_at(failed_at)}")
    else:
        parts += [f"launched {_at(launched)}", f"healthy {_at(healthy)}"]
    label = str(item["server"]) + ("" if item.get("critical", True) else " (optional)")
    return Row(
        server=str(item["server"]),
        label=label,
        state=state,
        y=y,
        title=", ".join(parts),
        segments=segments,
        marker_x=marker,
    )


def _at(minutes: float | None) -> str:
    return "-" if minutes is None else f"T+{minutes:.1f} min"
