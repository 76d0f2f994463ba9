"""Last task of every workflow, on success and on failure: settle the lifecycle state, release the
plan's lock, close the run record with measured RTO/RPO, and notify (lambdas/domain/runs.py)."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.adapters import notify, reports, state_store
from lambdas.domain import runs
from lambdas.handlers.common import RunTask, logger, new_metrics, now, task


class FinishInput(RunTask, frozen=True):
    outcome: Literal["succeeded", "failed"]
    error: dict[str, Any] | None = None


@task(FinishInput)
def handler(event: FinishInput) -> dict[str, Any]:
    plan = event.run.load_plan()
    ports = runs.FinishPorts(
        store=state_store.store(),
        notify=notify,
        log=logger,
        clock=now,
        reports=reports,
        metrics=_emit_metrics,
    )
    return runs.finish_run(ports, event.run, plan, event.outcome == "succeeded", event.error)


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
