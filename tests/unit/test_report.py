from __future__ import annotations

import re
from typing import Any

from lambdas.domain.report import build_report, render_html
from lambdas.plan import parse_plan


def record() -> dict[str, Any]:
    return {
        "runId": "run-1",
        "workflow": "drill",
        "executionArn": "arn:aws:states:us-east-1:1:execution:drill:run-1",
        "status": "FAILED",
        "startedAt": "2026-11-25T03:00:00.000Z",
        "endedAt": "2026-11-25T03:20:00.000Z",
        "snapshot": "latest",
        "trigger": {"kind": "schedule"},
        "servers": {
            "s-0a1b2c3d4e5f60001": {
                "wave": 0,
                "launchRequestedAt": "2026-11-25T03:01:00.000Z",
                "launchedAt": "2026-11-25T03:09:00.000Z",
                "healthyAt": "2026-11-25T03:11:00.000Z",
                "recoveryInstanceId": "i-0123456789abcdef0",
                "snapshotAt": "2026-11-25T02:59:30+00:00",
            },
            "s-0a1b2c3d4e5f60002": {"wave": 1, "launchFailed": True},
        },
        "measurements": {"rto_seconds": None, "rpo_seconds": 30.0, "rto_met": False, "rpo_met": True},
        "cleanup": {"recoveryInstanceIds": ["i-0123456789abcdef0"], "completedAt": "2026-11-25T03:19:00Z"},
        "failure": {
            "error": "LaunchFailed",
            "message": "wave application: critical servers failed: <shop-app-1>",
        },
    }


def test_report_carries_timeline_objectives_cleanup_and_errors(sample_plan_document: dict[str, Any]) -> None:
    plan = parse_plan(sample_plan_document)
    report = build_report(plan, record())
    db = next(t for t in report["timeline"] if t["server"] == "shop-db-1")
    assert (db["launch_requested_s"], db["launched_s"], db["healthy_s"]) == (60.0, 540.0, 660.0)
    app = next(t for t in report["timeline"] if t["server"] == "shop-app-1")
    assert app["launch_failed"] is True and app["healthy_s"] is None
    assert report["duration_s"] == 1200.0
    assert report["targets"] == {"rto_seconds": 1800, "rpo_seconds": 900}
    assert report["achieved"]["rpo_met"] is True and report["achieved"]["rto_met"] is False
    assert report["errors"][0]["error"] == "LaunchFailed"
    assert [w["name"] for w in report["waves"]] == ["database", "application"]


def external_references(page: str) -> list[str]:
    """Every address the page would fetch or link to outside itself (the whole page, styles included)."""
    addresses = re.findall(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]+)""", page, re.IGNORECASE)
    addresses += re.findall(r"""url\(\s*["']?([^"')]+)""", page, re.IGNORECASE)
    addresses += re.findall(r"""@import\s+["']([^"']+)""", page, re.IGNORECASE)
    return [a for a in addresses if not a.startswith(("#", "data:"))]


def test_external_references_finds_addresses_anywhere_in_the_page() -> None:
    page = '<style>body{background:url("https://x.test/a.png")}</style><p><a href="//cdn.test/b">b</a></p>'
    assert external_references(page) == ["//cdn.test/b", "https://x.test/a.png"]


def test_html_is_self_contained_and_escaped(sample_plan_document: dict[str, Any]) -> None:
    plan = parse_plan(sample_plan_document)
    page = render_html(build_report(plan, record()))
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert external_references(page) == []
    assert "&lt;shop-app-1&gt;" in page and "<shop-app-1>" not in page
    # RTO missed, RPO met (the record above), each with its own mark.
    assert page.count('<span class="bad">missed</span>') == 1
    assert page.count('<span class="ok">met</span>') == 1
    assert "1 drill instance(s) terminated and confirmed gone" in page
