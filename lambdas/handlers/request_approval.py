"""Approval gate before an automatic failover: store the task token and ask a human
(lambdas/domain/approval.py)."""

from __future__ import annotations

from typing import Any

from lambdas.adapters import notify, state_store
from lambdas.domain import approval
from lambdas.handlers.common import RunTask, now, task


class ApprovalInput(RunTask, frozen=True):
    task_token: str


@task(ApprovalInput)
def handler(event: ApprovalInput) -> dict[str, Any]:
    run = event.run
    ports = approval.ApprovalPorts(store=state_store.store(), publish=notify.publish, clock=now)
    waiting = approval.ApprovalRun(run.load_plan(), run.run_sk, run.execution_arn)
    return approval.request(waiting, event.task_token, ports)
