"""The run report: what an auditor reads to know whether a drill (or a failover) met its targets.

`build_report` turns a run record into a JSON-ready document; `render_html` makes a self-contained page
(no scripts, no external assets) with the timeline of waves and servers, RTO/RPO against targets, what
was fenced and cleaned up, and every error.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from lambdas.domain.measure import parse_time
from lambdas.plan import Plan

REPORT_VERSION = 1


def _seconds_between(start: datetime | None, end: Any) -> float | None:
    moment = parse_time(end)
    return round((moment - start).total_seconds(), 3) if start and moment else None


def build_report(plan: Plan, record: dict[str, Any]) -> dict[str, Any]:
    started = parse_time(record.get("startedAt"))
    servers = record.get("servers") or {}
    timeline = []
    for server in plan.servers():
        entry = servers.get(server.source_server_id) or {}
        timeline.append(
            {
                "server": server.name,
                "source_server_id": server.source_server_id,
                "wave": entry.get("wave"),
                "critical": server.critical,
                "recovery_instance_id": entry.get("recoveryInstanceId"),
                "snapshot_at": entry.get("snapshotAt"),
                "launch_requested_s": _seconds_between(started, entry.get("launchRequestedAt")),
                "launched_s": _seconds_between(started, entry.get("launchedAt")),
                "healthy_s": _seconds_between(started, entry.get("healthyAt")),
                "launch_failed": bool(entry.get("launchFailed")),
            }
        )
    measured = record.get("measurements") or {}
    errors = [record["failure"]] if record.get("failure") else []
    preflight = record.get("preflight") or {}
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
        "duration_s": _seconds_between(started, record.get("endedAt")),
        "lifecycle_after": record.get("lifecycleAfter"),
        "snapshot": record.get("snapshot"),
        "targets": {
            "rto_seconds": plan.targets.rto_minutes * 60,
            "rpo_seconds": plan.targets.rpo_minutes * 60,
        },
        "achieved": {
            "rto_seconds": measured.get("rto_seconds"),
            "rpo_seconds": measured.get("rpo_seconds"),
            "rto_met": measured.get("rto_met"),
            "rpo_met": measured.get("rpo_met"),
        },
        "waves": [
            {
                "index": index,
                "name": wave.name,
                "servers": [s.name for s in wave.servers],
                "job_ids": ((record.get("waves") or {}).get(f"w{index}") or {}).get("jobIds", []),
            }
            for index, wave in enumerate(plan.waves)
        ],
        "timeline": timeline,
        "preflight": {"problems": preflight.get("problems", []), "warnings": preflight.get("warnings", [])},
        "confirmation": record.get("confirmation") or {},
        "fencing": record.get("fencing") or {},
        "traffic": record.get("traffic") or {},
        "cleanup": record.get("cleanup") or {},
        "failback": record.get("failback") or {},
        "restore": record.get("restore") or {},
        "errors": errors,
    }


def _fmt(seconds: Any) -> str:
    if seconds is None:
        return "-"
    value = float(seconds)
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.1f} s"


def plan_changes(restore: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan changes a return to normal asks for (servers that failed back to a new VM)."""
    entries = (restore.get("newSourceServers") or {}).values()
    return [entry["planChange"] for entry in entries if entry.get("planChange")]


def _plan_changes_html(restore: dict[str, Any]) -> list[str]:
    changes = plan_changes(restore)
    if not changes:
        return []
    items = "".join(f"<li>{html.escape(str(c.get('text')))}</li>" for c in changes)
    return [f"<h2>Plan changes to make</h2><ul>{items}</ul>"]


def _verdict(met: Any) -> str:
    if met is None:
        return '<span class="na">not measured</span>'
    return '<span class="ok">met</span>' if met else '<span class="bad">missed</span>'


def render_html(report: dict[str, Any]) -> str:
    e = html.escape
    achieved, targets = report["achieved"], report["targets"]
    end = max(
        [t["healthy_s"] or t["launched_s"] or 0 for t in report["timeline"]] + [report["duration_s"] or 0, 1]
    )
    rows = []
    for item in report["timeline"]:
        bars = ""
        for key, css in (("launch_requested_s", "req"), ("launched_s", "up"), ("healthy_s", "ok")):
            if item[key] is not None:
                bars += f'<i class="{css}" style="left:{100 * item[key] / end:.2f}%" title="{key}"></i>'
        state = (
            "launch failed"
            if item["launch_failed"]
            else ("healthy" if item["healthy_s"] is not None else "-")
        )
        name = e(item["server"]) + ("" if item["critical"] else " (optional)")
        instance = e(str(item["recovery_instance_id"] or "-"))
        snapshot = e(str(item["snapshot_at"] or "-"))
        rows.append(
            f"<tr><td>{e(str(item['wave']))}</td><td>{name}</td><td>{instance}</td><td>{snapshot}</td>"
            f"<td>{_fmt(item['launched_s'])}</td><td>{_fmt(item['healthy_s'])}</td><td>{e(state)}</td>"
            f'<td class="lane">{bars}</td></tr>'
        )
    fencing = (
        "".join(
            f"<li>{e(str(v.get('name')))}: {'fenced' if v.get('fenced') else 'NOT fenced'}"
            f" - {e(str(v.get('reason')))}</li>"
            for v in report["fencing"].values()
        )
        or "<li>not applicable</li>"
    )
    cleanup = report["cleanup"]
    cleanup_text = (
        f"{len(cleanup.get('recoveryInstanceIds', []))} drill instance(s) terminated"
        + (" and confirmed gone" if cleanup.get("completedAt") else " - NOT confirmed")
        if cleanup
        else "not applicable"
    )
    errors = "".join(
        f"<li><b>{e(str(x.get('error')))}</b>: {e(str(x.get('message')))}</li>" for x in report["errors"]
    )
    warnings = "".join(f"<li>{e(w)}</li>" for w in report["preflight"]["warnings"])
    status_css = "ok" if report["status"] == "SUCCEEDED" else "bad"
    workflow, plan = e(str(report["workflow"])), e(report["plan"])
    objectives = "".join(
        f"<tr><td>{label}</td><td>{_fmt(achieved[key])}</td><td>{_fmt(targets[key])}</td>"
        f"<td>{_verdict(achieved[met])}</td></tr>"
        for label, key, met in (
            ("RTO (trigger to healthy)", "rto_seconds", "rto_met"),
            ("RPO (data lost)", "rpo_seconds", "rpo_met"),
        )
    )
    header = (
        "<tr><th>wave</th><th>server</th><th>recovery instance</th><th>snapshot</th><th>launched</th>"
        "<th>healthy</th><th>state</th><th>requested / launched / healthy</th></tr>"
    )
    summary = " | ".join(
        [
            f"Run {e(str(report['run_id']))}",
            f"started {e(str(report['started_at']))}",
            f"ended {e(str(report['ended_at']))}",
            f"duration {_fmt(report['duration_s'])}",
            f"trigger {e(str(report['trigger'].get('kind')))}",
            f"snapshot {e(str(report['snapshot']))}",
            f"lifecycle after: {e(str(report['lifecycle_after']))}",
        ]
    )
    return "\n".join(
        [
            '<!doctype html><html lang="en"><head><meta charset="utf-8">',
            f"<title>DR {workflow} report - {plan}</title><style>{STYLE}</style></head><body>",
            f'<h1>DR {workflow} of plan {plan}: <span class="{status_css}">{e(str(report["status"]))}</span>',
            "</h1>",
            f"<p>{summary}</p>",
            "<h2>Objectives</h2>",
            f"<table><tr><th></th><th>achieved</th><th>target</th><th></th></tr>{objectives}</table>",
            "<h2>Timeline</h2>",
            f"<table>{header}{''.join(rows)}</table>",
            f"<h2>Outage confirmation (Azure)</h2><ul>{_confirmation(report['confirmation'])}</ul>",
            f"<h2>Source fencing (Azure)</h2><ul>{fencing}</ul>",
            f"<h2>Cleanup</h2><p>{e(cleanup_text)}</p>",
            *_plan_changes_html(report["restore"]),
            f"<h2>Preflight warnings</h2><ul>{warnings or '<li>none</li>'}</ul>",
            f"<h2>Errors</h2><ul>{errors or '<li>none</li>'}</ul>",
            f'<p class="na">Execution {e(str(report["execution_arn"]))},',
            f"report version {report['report_version']}</p>",
            "</body></html>",
        ]
    )


def _confirmation(confirmation: dict[str, Any]) -> str:
    if not confirmation:
        return "<li>not applicable (not started by an alarm)</li>"
    verdict = "confirmed" if confirmation.get("confirmed") else "NOT confirmed: no failover"
    items = [f"<li><b>{verdict}</b> at {html.escape(str(confirmation.get('at')))}</li>"]
    for name, state in (confirmation.get("evidence") or {}).items():
        items.append(
            f"<li>{html.escape(name)}: power {html.escape(str(state.get('power')))}, "
            f"provisioning {html.escape(str(state.get('provisioning')))}</li>"
        )
    return "".join(items)


STYLE = " ".join(
    [
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}",
        "table{border-collapse:collapse;width:100%}",
        "td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}",
        ".ok{color:#17803d} .bad{color:#b3261e} .na{color:#777}",
        ".lane{position:relative;width:30%;min-width:200px}",
        ".lane i{position:absolute;top:6px;width:8px;height:8px;border-radius:4px}",
        "i.req{background:#999} i.up{background:#2f6fd6} i.ok{background:#17803d}",
    ]
)
