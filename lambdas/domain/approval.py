"""Approval gate before an automatic failover: park the task token where `drctl approve|abort` finds it
and ask the on-call channel. The workflow waits until an operator with the operator role answers
(SendTaskSuccess / SendTaskFailure) or the plan's timeout, after which approval.on_timeout decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lambdas.domain.measure import iso
from lambdas.plan import Plan


class ApprovalStore(Protocol):
    def request_approval(self, plan: str, pending: dict[str, Any]) -> None: ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class ApprovalPorts:
    store: ApprovalStore
    publish: Callable[[str, dict[str, Any]], None]
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class ApprovalRun:
    plan: Plan
    run_sk: str
    execution_arn: str


def request(run: ApprovalRun, task_token: str, ports: ApprovalPorts) -> dict[str, Any]:
    plan, name = run.plan, run.plan.name
    ports.store.request_approval(
        name, {"taskToken": task_token, "executionArn": run.execution_arn, "since": iso(ports.clock())}
    )
    approval = {
        "requestedAt": iso(ports.clock()),
        "timeoutMinutes": plan.approval.timeout_minutes,
        "onTimeout": plan.approval.on_timeout,
    }
    ports.store.update_run(name, run.run_sk, {"approval": approval})
    ports.publish(
        f"[DR] approval needed: failover of {name}",
        {
            "plan": name,
            "execution": run.execution_arn,
            "action": f"drctl approve --plan {name}   (or: drctl abort --plan {name})",
            "timeout_minutes": plan.approval.timeout_minutes,
            "on_timeout": plan.approval.on_timeout,
        },
    )
    return {"requested": True}
