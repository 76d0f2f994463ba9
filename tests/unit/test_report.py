from __future__ import annotations

import re
from typing import Any

import pytest

from lambdas.domain.report import REPORT_VERSION, build_report, render_html
from lambdas.domain.report_chart import (
    MAX_TICKS,
    PLOT_LEFT,
    PLOT_RIGHT,
    TICK_STEPS,
    Chart,
    Row,
    tick_step,
    timeline_chart,
)
from lambdas.plan import Plan, parse_plan
from tests.browser import elements
from tests.report_samples import at, failed_drill_record, recovery_record

PLOT = PLOT_RIGHT - PLOT_LEFT

# The document's fields in version 1: a later version adds fields and never renames or drops one.
V1_FIELDS = {
    "report_version", "plan", "workflow", "run_id", "execution_arn", "status", "trigger", "started_at",
    "ended_at", "duration_s", "lifecycle_after", "snapshot", "targets", "achieved", "waves", "timeline",
    "preflight", "confirmation", "fencing", "traffic", "cleanup", "failback", "restore", "errors",
}  # fmt: skip
V1_TIMELINE_FIELDS = {
    "server", "source_server_id", "wave", "critical", "recovery_instance_id", "snapshot_at",
    "launch_requested_s", "launched_s", "healthy_s", "launch_failed",
}  # fmt: skip


@pytest.fixture
def plan(sample_plan_document: dict[str, Any]) -> Plan:
    return parse_plan(sample_plan_document)


def test_report_carries_timeline_objectives_cleanup_and_errors(plan: Plan) -> None:
    report = build_report(plan, failed_drill_record())
    db = next(t for t in report["timeline"] if t["server"] == "shop-db-1")
    assert (db["launch_requested_s"], db["launched_s"], db["healthy_s"]) == (60.0, 540.0, 660.0)
    app = next(t for t in report["timeline"] if t["server"] == "shop-app-1")
    assert app["launch_failed"] is True and app["healthy_s"] is None and app["launch_failed_s"] == 960.0
    assert report["duration_s"] == 1200.0
    assert report["targets"] == {
        "rto_seconds": 1800,
        "rpo_seconds": 900,
        "rto_minutes": 30,
        "rpo_minutes": 15,
    }
    assert report["achieved"]["rpo_met"] is True and report["achieved"]["rto_met"] is False
    assert report["errors"][0]["error"] == "LaunchFailed"
    assert [w["name"] for w in report["waves"]] == ["database", "application"]


def test_document_keeps_every_version_1_field_and_numbers_waves_from_1(plan: Plan) -> None:
    report = build_report(plan, failed_drill_record())
    assert report["report_version"] == REPORT_VERSION >= 2
    assert set(report) >= V1_FIELDS
    assert all(set(t) >= V1_TIMELINE_FIELDS for t in report["timeline"])
    assert [(w["index"], w["number"], w["job_ids"]) for w in report["waves"]] == [
        (0, 1, ["drsjob-0a1b2c3d4e5f60001"]),
        (1, 2, ["drsjob-0a1b2c3d4e5f60002"]),
    ]
    states = {t["server"]: (t["wave_number"], t["state"]) for t in report["timeline"]}
    assert states == {
        "shop-db-1": (1, "healthy"),
        "shop-app-1": (2, "launch failed"),
        "shop-app-2": (2, "never healthy"),
        "shop-reports": (2, "not launched"),
    }
    assert report["achieved"]["rpo_minutes"] == 0.5 and report["achieved"]["rto_minutes"] is None
    assert report["duration_minutes"] == 20.0


def chart_of(plan: Plan, record: dict[str, Any]) -> Chart:
    chart = timeline_chart(build_report(plan, record))
    assert chart is not None
    return chart


def row(chart: Chart, server: str) -> Row:
    return next(r for g in chart.groups for r in g.rows if r.server == server)


def test_bars_follow_the_times_on_a_minute_axis(plan: Plan) -> None:
    chart = chart_of(plan, failed_drill_record())
    # Run 20 min, RTO target 30 min: the axis runs 0..30 in steps of 5.
    assert chart.scale_minutes == 30
    assert [t.label for t in chart.ticks] == ["0", "5", "10", "15", "20", "25", "30"]
    assert chart.ticks[0].x == PLOT_LEFT and chart.ticks[-1].x == PLOT_RIGHT
    db = row(chart, "shop-db-1")
    launching, booting = db.segments
    assert launching.kind == "launching" and booting.kind == "booting"
    assert launching.x == pytest.approx(PLOT_LEFT + PLOT * 1 / 30, abs=0.01)  # requested at 1 min
    assert launching.width == pytest.approx(PLOT * 8 / 30, abs=0.02)  # launched at 9 min
    assert booting.x == pytest.approx(launching.x + launching.width, abs=0.02)
    assert booting.width == pytest.approx(PLOT * 2 / 30, abs=0.02)  # healthy at 11 min
    assert chart.target is not None and chart.target.x == PLOT_RIGHT
    assert chart.target.label == "RTO target 30.0 min"
    assert chart.achieved is None  # RTO not reached


def test_failures_are_marked_where_they_happened(plan: Plan) -> None:
    chart = chart_of(plan, failed_drill_record())
    failed = row(chart, "shop-app-1")
    assert [s.kind for s in failed.segments] == ["failed"]
    assert failed.segments[0].x == pytest.approx(PLOT_LEFT + PLOT * 11.5 / 30, abs=0.01)
    assert failed.marker_x == pytest.approx(PLOT_LEFT + PLOT * 16 / 30, abs=0.01)  # failure seen at 16 min
    unhealthy = row(chart, "shop-app-2")
    assert [s.kind for s in unhealthy.segments] == ["launching", "unhealthy"]
    assert unhealthy.marker_x == pytest.approx(PLOT_LEFT + PLOT * 20 / 30, abs=0.01)  # end of the run
    missing = row(chart, "shop-reports")
    assert missing.segments == [] and missing.marker_x is None and missing.state == "not launched"
    assert "launch failed T+16.0 min" in failed.title and "optional" in missing.title


def test_rows_are_grouped_by_wave_below_their_header(plan: Plan) -> None:
    chart = chart_of(plan, recovery_record())
    assert [(g.number, g.name, [r.server for r in g.rows]) for g in chart.groups] == [
        (1, "database", ["shop-db-1"]),
        (2, "application", ["shop-app-1", "shop-app-2", "shop-reports"]),
    ]
    ys = [g.y for g in chart.groups] + [r.y for g in chart.groups for r in g.rows]
    assert chart.groups[1].y > chart.groups[0].rows[-1].y and chart.axis_y > max(ys)
    assert chart.achieved is not None and chart.achieved.label == "RTO achieved 25.5 min"


def test_a_run_longer_than_the_target_widens_the_axis(plan: Plan) -> None:
    record = failed_drill_record()
    record["endedAt"] = at(47)
    chart = chart_of(plan, record)
    assert chart.scale_minutes == 50
    assert chart.target is not None
    assert chart.target.x == pytest.approx(PLOT_LEFT + PLOT * 30 / 50, abs=0.01)
    assert row(chart, "shop-app-2").marker_x == pytest.approx(PLOT_LEFT + PLOT * 47 / 50, abs=0.01)


@pytest.mark.parametrize("longest", [0.1, 0.9, 4.99, 5.01, 30, 61, 199, 1000, 20000])
def test_tick_step_covers_the_run_in_few_ticks(longest: float) -> None:
    step = tick_step(longest)
    assert step * MAX_TICKS >= longest
    smaller = [s for s in TICK_STEPS if s < step]
    assert not smaller or smaller[-1] * MAX_TICKS < longest  # the finest step that fits


def test_no_chart_when_nothing_was_launched(plan: Plan) -> None:
    record = failed_drill_record()
    record["servers"] = {}
    report = build_report(plan, record)
    assert timeline_chart(report) is None
    page = render_html(report)
    assert "No server was asked to launch in this run." in page
    assert 'class="servers"' not in page and 'class="timeline"' not in page


def external_references(page: str) -> list[str]:
    """Every address the page would fetch or link to outside itself (the whole page, styles included)."""
    addresses = re.findall(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]+)""", page, re.IGNORECASE)
    addresses += re.findall(r"""url\(\s*["']?([^"')]+)""", page, re.IGNORECASE)
    addresses += re.findall(r"""@import\s+["']([^"']+)""", page, re.IGNORECASE)
    return [a for a in addresses if not a.startswith(("#", "data:"))]


def test_external_references_finds_addresses_anywhere_in_the_page() -> None:
    page = '<style>body{background:url("https://x.test/a.png")}</style><p><a href="//cdn.test/b">b</a></p>'
    assert external_references(page) == ["//cdn.test/b", "https://x.test/a.png"]


def test_html_is_self_contained_and_escaped(plan: Plan) -> None:
    page = render_html(build_report(plan, failed_drill_record()))
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert external_references(page) == []
    assert "&lt;shop-app-1&gt;" in page and "<shop-app-1>" not in page
    assert "1 drill instance(s) terminated and confirmed gone" in page


def by_class(page: str, css: str) -> list[Any]:
    return [e for e in elements(page) if css in e.classes]


def test_objectives_in_minutes_with_a_mark_each(plan: Plan) -> None:
    page = render_html(build_report(plan, failed_drill_record()))
    rows = {e.attrs["data-objective"]: e for e in elements(page) if "data-objective" in e.attrs}
    assert set(rows) == {"rto", "rpo"}
    cells = [e.text for e in by_class(page, "num")]
    assert cells == ["not reached", "30.0 min", "0.5 min", "15.0 min"]
    # RTO missed, RPO met (the record above), each with its own mark.
    assert [e.text for e in by_class(page, "verdict")] == ["\u2718 missed", "\u2714 met"]


def test_page_numbers_waves_from_1_and_shows_jobs(plan: Plan) -> None:
    page = render_html(build_report(plan, failed_drill_record()))
    labels = [e.text for e in by_class(page, "wave-label")]
    assert labels == ["Wave 1 \u00b7 database", "Wave 2 \u00b7 application"]
    waves = [e for e in elements(page) if e.tag == "tr" and "data-wave" in e.attrs]
    assert [w.attrs["data-wave"] for w in waves] == ["1", "2"]
    assert "drsjob-0a1b2c3d4e5f60001" in page and "drsjob-0a1b2c3d4e5f60002" in page
    assert [e.attrs["data-server"] for e in by_class(page, "server")] == [s.name for s in plan.servers()]


def test_trigger_traffic_and_fencing_are_on_the_page(plan: Plan) -> None:
    record = recovery_record()
    record["trigger"] = {
        "kind": "manual",
        "requestedBy": "alice",
        "reason": "Azure region down <incident 42>",
        "alarmName": "",
        "eventId": "",
    }
    page = render_html(build_report(plan, record))
    facts = dict(zip(
        [e.text for e in elements(page) if e.tag == "dt"],
        [e.text for e in elements(page) if e.tag == "dd"],
        strict=True,
    ))  # fmt: skip
    assert facts["requested by"] == "alice"
    assert facts["reason"] == "Azure region down <incident 42>"
    assert "&lt;incident 42&gt;" in page
    assert facts["record"] == "shop.example.com" and facts["from"] == "20.50.10.11"
    assert facts["change id"] == "/change/C0123456789ABCDEFGHIJ"
    assert "10.20.1.17" in page and "2026-11-25T03:26:00.000Z" in page and "T+26.0 min" in page
    assert "NOT fenced" in page and "Azure did not answer (timeout after 3 attempts)" in page
    assert "shop-azure-unhealthy" not in page  # the manual trigger replaced the alarm


def test_failback_and_restore_sections_only_when_the_run_has_them(plan: Plan) -> None:
    record = failed_drill_record()
    assert 'id="failback"' not in render_html(build_report(plan, record))
    record["failback"] = {"requestedAt": at(1), "launchJobId": "drsjob-0f0f0f0f0f0f0f0f1", "servers": {}}
    record["restore"] = {"at": at(2), "states": {}, "replicationStarted": [], "jobIds": ["drsjob-1"]}
    page = render_html(build_report(plan, record))
    assert 'id="failback"' in page and "drsjob-0f0f0f0f0f0f0f0f1" in page
    assert 'id="restore"' in page and "drsjob-1" in page
