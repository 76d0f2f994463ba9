"""Last task of every workflow, on success and on failure: settle the lifecycle state, release the
plan's lock, close the run record with measured RTO/RPO, and notify."""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.adapters import notify, reports, state_store
from lambdas.adapters.reports import report_prefix
from lambdas.domain import lifecycle
from lambdas.domain.measure import measurements
from lambdas.domain.report import build_report, render_html
from lambdas.handlers.common import RunTask, iso, logger, new_metrics, now, task


class FinishInput(RunTask, frozen=True):
    outcome: Literal["succeeded", "failed"]
    error: dict[str, Any] | None = None


def error_message(error: dict[str, Any] | None) -> dict[str, str] | None:
    """Step Functions hands over {"Error", "Cause"}; a Lambda's Cause is JSON with its errorMessage."""
    if not error:
        return None
    cause = str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            cause = str(parsed.get("errorMessage", cause))
    except json.JSONDecodeError:
        pass
    return {"error": str(error.get("Error", "Unknown")), "message": cause[:2000]}


@task(FinishInput)
def handler(event: FinishInput) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    record = run.record()
    succeeded = event.outcome == "succeeded"
    failure = error_message(event.error)
    new_state: str  # as the plan's state item has it once settled
    new_state, incomplete = lifecycle.lifecycle_after(
        run.workflow, succeeded, run.workflow == "recovery" and lifecycle.changed_production(record)
    )
    ended = iso(now())
    measured = measurements(record.to_document(), plan.targets.rto_minutes, plan.targets.rpo_minutes)

    last_drill: dict[str, Any] | None = None
    if run.is_drill:
        last_drill = {
            "at": ended,
            "result": "SUCCEEDED" if succeeded else "FAILED",
            "executionArn": run.execution_arn,
            "rtoSeconds": measured["rto_seconds"],
            "rpoSeconds": measured["rpo_seconds"],
        }
    store = state_store.store()
    released = store.release_lock(
        run.plan, run.execution_arn, new_state, incomplete, ended, last_drill=last_drill
    )
    if released is None:
        state = store.plan_state(run.plan)
        if state.last_execution != run.execution_arn:
            logger.warning("lock no longer held by this execution; lifecycle left unchanged")
        new_state = state.lifecycle or new_state

    status = "SUCCEEDED" if succeeded else "FAILED"
    closing = {
        "status": status,
        "endedAt": ended,
        "lifecycleAfter": new_state,
        "measurements": measured,
        **({"failure": failure} if failure else {}),
    }
    report = build_report(plan, {**record.to_document(), **closing})
    stored = reports.put_report(
        report_prefix(run.plan, iso(run.started_at), run.run_id), report, render_html(report)
    )
    store.finish_run(run.plan, run.run_sk, {**closing, "report": stored})
    _emit_metrics(run.plan, run.workflow, succeeded, measured)
    summary = {
        "plan": run.plan,
        "workflow": run.workflow,
        "status": status,
        "lifecycle": new_state,
        "incomplete": incomplete,
        "rto_seconds": measured["rto_seconds"],
        "rpo_seconds": measured["rpo_seconds"],
        "failure": failure,
        "report": stored["uri"],
    }
    subject = f"[DR] {run.workflow} {status.lower()} for {run.plan}"
    if failure and failure["error"] == "OutageNotConfirmed":
        subject = f"[DR] outage alarm not confirmed for {run.plan}: nothing failed over"
    notify.publish(subject, {**summary, "execution": run.execution_arn})
    return summary


def _emit_metrics(plan: str, workflow: str, succeeded: bool, measured: dict[str, Any]) -> None:
    """CloudWatch metrics (embedded metric format) behind the dashboard's result and RTO/RPO trends."""
    metrics = new_metrics()
    metrics.add_dimension(name="plan", value=plan)
    metrics.add_dimension(name="workflow", value=workflow)
    metrics.add_metric(name="RunSucceeded", unit=MetricUnit.Count, value=1 if succeeded else 0)
    for name, key in (("RtoSeconds", "rto_seconds"), ("RpoSeconds", "rpo_seconds")):
        if measured.get(key) is not None:
            metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=float(measured[key]))
    metrics.flush_metrics()
