"""The run report: what an auditor reads to know whether a drill (or a failover) met its targets, and what an
incident review reads to know what happened when.

`build_report` turns a run record into a JSON-ready document; `render_html` makes a self-contained page
(no scripts, no external assets) from templates/report.html.j2: the timeline chart (report_chart.py), RTO/RPO
against targets in minutes, the trigger, outage confirmation, fencing, the traffic switch, DRS jobs per wave,
cleanup, failback, and every error. Waves are numbered from 1 on the page, as `drctl plan show` does.

Version 2 of the document adds fields (never renames): minutes next to seconds, wave numbers and names on the
timeline, each server's state and absolute times, the approval and the launch-failure time.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader

from lambdas.domain.measure import parse_time
from lambdas.domain.report_chart import fmt_minutes, timeline_chart
from lambdas.plan import Plan

REPORT_VERSION = 2
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _seconds_between(start: datetime | None, end: Any) -> float | None:
    moment = parse_time(end)
    return round((moment - start).total_seconds(), 3) if start and moment else None


def _minutes(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 60, 3)


def since_start_text(seconds: Any) -> str:
    """'T+12.3 min': when, in minutes since the run started, something happened ('-' when it did not)."""
    return "-" if seconds is None else f"T+{float(seconds) / 60:.1f} min"


def server_state(entry: dict[str, Any]) -> str:
    if entry.get("launchFailed"):
        return "launch failed"
    if entry.get("healthyAt"):
        return "healthy"
    if entry.get("launchedAt"):
        return "never healthy"
    if entry.get("launchRequestedAt"):
        return "launch not finished"
    return "not launched"


def build_report(plan: Plan, record: dict[str, Any]) -> dict[str, Any]:
    started = parse_time(record.get("startedAt"))
    servers = record.get("servers") or {}
    waves_record = record.get("waves") or {}
    timeline = []
    for index, wave in enumerate(plan.waves):
        for server in wave.servers:
            entry = servers.get(server.source_server_id) or {}
            timeline.append(
                {
                    "server": server.name,
                    "source_server_id": server.source_server_id,
                    "wave": entry.get("wave"),
                    "wave_number": index + 1,
                    "wave_name": wave.name,
                    "critical": server.critical,
                    "state": server_state(entry),
                    "recovery_instance_id": entry.get("recoveryInstanceId"),
                    "ec2_instance_id": entry.get("ec2InstanceId"),
                    "snapshot_at": entry.get("snapshotAt"),
                    "launch_requested_at": entry.get("launchRequestedAt"),
                    "launched_at": entry.get("launchedAt"),
                    "healthy_at": entry.get("healthyAt"),
                    "launch_requested_s": _seconds_between(started, entry.get("launchRequestedAt")),
                    "launched_s": _seconds_between(started, entry.get("launchedAt")),
                    "healthy_s": _seconds_between(started, entry.get("healthyAt")),
                    "launch_failed": bool(entry.get("launchFailed")),
                    "launch_failed_s": _seconds_between(started, entry.get("launchFailedAt")),
                }
            )
    measured = record.get("measurements") or {}
    errors = [record["failure"]] if record.get("failure") else []
    preflight = record.get("preflight") or {}
    rto_target, rpo_target = plan.targets.rto_minutes * 60, plan.targets.rpo_minutes * 60
    duration = _seconds_between(started, record.get("endedAt"))
    return {
        "report_version": REPORT_VERSION,
        "plan": plan.name,
        "workflow": record.get("workflow"),
        "run_id": record.get("runId"),
        "execution_arn": record.get("executionArn"),
        "status": record.get("status"),
        "trigger": record.get("trigger") or {},
        "started_at": record.get("startedAt"),
        "ended_at": record.get("endedAt"),
        "duration_s": duration,
        "duration_minutes": _minutes(duration),
        "lifecycle_after": record.get("lifecycleAfter"),
        "snapshot": record.get("snapshot"),
        "took_over_from": record.get("tookOverFrom"),
        "targets": {
            "rto_seconds": rto_target,
            "rpo_seconds": rpo_target,
            "rto_minutes": plan.targets.rto_minutes,
            "rpo_minutes": plan.targets.rpo_minutes,
        },
        "achieved": {
            "rto_seconds": measured.get("rto_seconds"),
            "rpo_seconds": measured.get("rpo_seconds"),
            "rto_minutes": _minutes(measured.get("rto_seconds")),
            "rpo_minutes": _minutes(measured.get("rpo_seconds")),
            "rto_met": measured.get("rto_met"),
            "rpo_met": measured.get("rpo_met"),
        },
        "waves": [
            {
                "index": index,
                "number": index + 1,
                "name": wave.name,
                "servers": [s.name for s in wave.servers],
                "job_ids": (waves_record.get(f"w{index}") or {}).get("jobIds", []),
                "launch_requested_at": (waves_record.get(f"w{index}") or {}).get("launchRequestedAt"),
            }
            for index, wave in enumerate(plan.waves)
        ],
        "timeline": timeline,
        "preflight": {"problems": preflight.get("problems", []), "warnings": preflight.get("warnings", [])},
        "approval": record.get("approval") or {},
        "confirmation": record.get("confirmation") or {},
        "fencing": record.get("fencing") or {},
        "traffic": record.get("traffic") or {},
        "cleanup": record.get("cleanup") or {},
        "failback": record.get("failback") or {},
        "restore": record.get("restore") or {},
        "errors": errors,
    }


def plan_changes(restore: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan changes a return to normal asks for (servers that failed back to a new VM)."""
    entries = (restore.get("newSourceServers") or {}).values()
    return [entry["planChange"] for entry in entries if entry.get("planChange")]


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["minutes"] = fmt_minutes
    environment.filters["tplus"] = since_start_text
    return environment


def render_html(report: dict[str, Any]) -> str:
    started = parse_time(report.get("started_at"))

    def since_start(moment: Any) -> str:
        return since_start_text(_seconds_between(started, moment))

    return (
        _environment()
        .get_template("report.html.j2")
        .render(report=report, chart=timeline_chart(report), since_start=since_start)
    )
