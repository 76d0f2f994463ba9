"""Approval gate before an automatic failover: store the task token and ask a human.

The workflow waits (task token) until an operator with the operator role approves or rejects
(`drctl approve|abort`, i.e. SendTaskSuccess / SendTaskFailure), or until the plan's timeout, after
which approval.on_timeout decides.
"""

from __future__ import annotations

from typing import Any

from lambdas.adapters import notify, state_store
from lambdas.handlers.common import RunTask, iso, now, task


class ApprovalInput(RunTask, frozen=True):
    task_token: str


@task(ApprovalInput)
def handler(event: ApprovalInput) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    state_store.store().request_approval(
        run.plan, {"taskToken": event.task_token, "executionArn": run.execution_arn, "since": iso(now())}
    )
    run.update_record(
        {
            "approval": {
                "requestedAt": iso(now()),
                "timeoutMinutes": plan.approval.timeout_minutes,
                "onTimeout": plan.approval.on_timeout,
            }
        }
    )
    notify.publish(
        f"[DR] approval needed: failover of {run.plan}",
        {
            "plan": run.plan,
            "execution": run.execution_arn,
            "action": f"drctl approve --plan {run.plan}   (or: drctl abort --plan {run.plan})",
            "timeout_minutes": plan.approval.timeout_minutes,
            "on_timeout": plan.approval.on_timeout,
        },
    )
    return {"requested": True}
