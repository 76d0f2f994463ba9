"""`drctl local demo`: the whole DR lifecycle of the sample plan on the local cloud, in one command."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drctl.progress import ProgressPrinter
from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from localcloud.progress import find_run

LIFECYCLE = ["drill", "recovery", "failback", "return_to_normal"]


@dataclass
class WorkflowResult:
    workflow: str
    status: str
    seconds: float
    run: dict[str, Any]


def run_workflow(
    cloud: LocalCloud,
    plan: Plan,
    workflow: str,
    document: dict[str, Any],
    timeout: float = 300.0,
    emit: Any = print,
) -> WorkflowResult:
    started = time.monotonic()
    arn = cloud.start_workflow(workflow, document)
    printer = ProgressPrinter(plan.name, workflow, emit)
    sfn = cloud.client("stepfunctions")
    deadline = started + timeout
    while True:
        status = sfn.describe_execution(executionArn=arn)
        run = find_run(plan.name, arn) or {}
        printer.update(run)
        if status["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{workflow} still running after {timeout:.0f}s")
        time.sleep(0.2)
    if not run:
        # Refused before a run record existed (bad input, wrong state, another execution running).
        run = {
            "status": status["status"],
            "failure": {"error": status.get("error"), "message": status.get("cause")},
        }
        printer.update({**run, "status": "FAILED"})
    return WorkflowResult(workflow, status["status"], time.monotonic() - started, run)


def _fmt_seconds(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}s"


def summary_table(results: list[WorkflowResult]) -> str:
    lines = [f"{'workflow':<18}{'result':<11}{'duration':>10}{'RTO':>10}{'RPO':>10}  lifecycle after"]
    for r in results:
        measured = r.run.get("measurements") or {}
        lines.append(
            f"{r.workflow:<18}{r.status:<11}{r.seconds:>9.1f}s{_fmt_seconds(measured.get('rto_seconds')):>10}"
            f"{_fmt_seconds(measured.get('rpo_seconds')):>10}  {r.run.get('lifecycleAfter', '-')}"
        )
    return "\n".join(lines)


def save_report(cloud: LocalCloud, run: dict[str, Any], report_dir: Path) -> Path | None:
    """Copy a run's HTML and JSON report out of the (local) report bucket."""
    stored = run.get("report") or {}
    if not stored:
        return None
    s3 = cloud.client("s3")
    saved = None
    for key in (stored["json"], stored["html"]):
        target = report_dir / key.removeprefix("reports/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=stored["bucket"], Key=key)["Body"].read())
        saved = target
    return saved


def run_demo(cloud: LocalCloud, plan: Plan, report_dir: Path, emit: Any = print) -> list[WorkflowResult]:
    results = []
    for workflow in LIFECYCLE:
        emit(f"\n== {workflow.replace('_', ' ')} of plan {plan.name} ==")
        document = {"plan": plan.name, "reason": "local demo", "requested_by": "drctl local demo"}
        result = run_workflow(cloud, plan, workflow, document, emit=emit)
        results.append(result)
        page = save_report(cloud, result.run, report_dir)
        if page:
            emit(f"  report: {page}")
        if result.status != "SUCCEEDED":
            emit(f"{workflow} did not succeed; stopping the demo here")
            break
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"demo-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    report.write_text(
        json.dumps(
            [
                {"workflow": r.workflow, "status": r.status, "seconds": round(r.seconds, 2), "run": r.run}
                for r in results
            ],
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    emit("\n" + summary_table(results))
    emit(
        f"\nOn the local cloud, waits run {cloud.settings.time_scale:g}x faster than the plan says and the"
        " emulated DRS steps take seconds: durations here are not production RTOs."
    )
    emit(f"\nReport: {report}")
    return results
