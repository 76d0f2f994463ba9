"""An in-memory StateStore for unit tests: the DynamoDB store's conditional-write semantics, without
DynamoDB (tests/unit/test_state_store.py runs the same contract against both)."""

from __future__ import annotations

import copy
from typing import Any

from lambdas.domain import lifecycle
from lambdas.domain.records import PlanState, RunRecord, ServerRecord, Waiter

LOCK_FIELDS = ("activeExecution", "activeWorkflow", "lockedAt", "pendingApproval")


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """SET a.b.c as DynamoDB does: the maps on the way must exist."""
    *parents, last = path.split(".")
    target = document
    for part in parents:
        if not isinstance(target.get(part), dict):
            raise ValueError(f"The document path provided in the update expression is invalid: {path}")
        target = target[part]
    target[last] = copy.deepcopy(value)


class InMemoryStateStore:
    def __init__(self) -> None:
        self.plans: dict[str, dict[str, Any]] = {}
        self.run_items: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.layouts: dict[tuple[str, str], dict[str, Any]] = {}
        self.new_vms: dict[tuple[str, str], dict[str, Any]] = {}
        self.parked: dict[str, dict[str, dict[str, Any]]] = {}

    # The plan's state and its lock.
    def plan_state(self, plan: str) -> PlanState:
        return PlanState.from_document(copy.deepcopy(self.plans.get(plan, {})))

    def take_lock(
        self,
        plan: str,
        workflow: str,
        execution_arn: str,
        at: str,
        *,
        stale: str | None = None,
        automatic_cutoff: str | None = None,
    ) -> PlanState | None:
        state = self.plan_state(plan)
        holder = state.active_execution
        if holder and holder not in (execution_arn, stale):
            return None
        if not lifecycle.may_start(workflow, state):
            return None
        last = state.last_automatic_failover
        if automatic_cutoff is not None and last and not last < automatic_cutoff:
            return None
        document = self.plans.setdefault(plan, {})
        document.update({"activeExecution": execution_arn, "activeWorkflow": workflow, "lockedAt": at})
        document.setdefault("lifecycle", lifecycle.NORMAL)
        return self.plan_state(plan)

    def release_lock(
        self,
        plan: str,
        execution_arn: str,
        lifecycle: str,
        incomplete: bool,
        at: str,
        *,
        last_drill: dict[str, Any] | None = None,
    ) -> PlanState | None:
        document = self.plans.get(plan)
        if document is None or document.get("activeExecution") != execution_arn:
            return None
        document.update(
            {
                "lifecycle": lifecycle,
                "incomplete": incomplete,
                "lastExecution": execution_arn,
                "updatedAt": at,
            }
        )
        if last_drill is not None:
            document["lastDrill"] = copy.deepcopy(last_drill)
        for field in LOCK_FIELDS:
            document.pop(field, None)
        return self.plan_state(plan)

    def _set_plan(self, plan: str, field: str, value: Any) -> None:
        self.plans.setdefault(plan, {})[field] = copy.deepcopy(value)

    def record_automatic_failover(self, plan: str, at: str) -> None:
        self._set_plan(plan, "lastAutomaticFailover", at)

    def record_refusal(self, plan: str, refusal: dict[str, Any]) -> None:
        self._set_plan(plan, "lastRefusal", refusal)

    def request_approval(self, plan: str, pending: dict[str, Any]) -> None:
        self._set_plan(plan, "pendingApproval", pending)

    def record_replication(self, plan: str, replication: dict[str, Any]) -> None:
        self._set_plan(plan, "replication", replication)

    def record_drill_sweep(self, plan: str, sweep: dict[str, Any]) -> None:
        self._set_plan(plan, "lastDrillSweep", sweep)

    # Run records.
    def open_run(self, record: RunRecord) -> bool:
        key = (record.plan, record.sk)
        if key in self.run_items:
            return False
        self.run_items[key] = record.to_document()
        return True

    def run_record(self, plan: str, run_sk: str) -> RunRecord:
        return RunRecord.from_document(copy.deepcopy(self.run_items.get((plan, run_sk), {})))

    def runs(self, plan: str, limit: int = 20) -> list[RunRecord]:
        keys = sorted((k for k in self.run_items if k[0] == plan), key=lambda k: k[1], reverse=True)
        return [self.run_record(*key) for key in keys[:limit]]

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None:
        document = self.run_items.setdefault((plan, run_sk), {"sk": run_sk})
        for path, value in fields.items():
            _set_path(document, path, value)

    def record_launch(
        self, plan: str, run_sk: str, wave: int, wave_record: dict[str, Any], servers: dict[str, ServerRecord]
    ) -> None:
        fields: dict[str, Any] = {f"servers.{sid}": s.to_document() for sid, s in servers.items()}
        self.update_run(plan, run_sk, {**fields, f"waves.w{wave}": wave_record})

    def record_servers(self, plan: str, run_sk: str, progress: dict[str, ServerRecord]) -> None:
        fields = {
            f"servers.{sid}.{name}": value
            for sid, server in progress.items()
            for name, value in server.to_document().items()
        }
        self.update_run(plan, run_sk, fields)

    def finish_run(self, plan: str, run_sk: str, closing: dict[str, Any]) -> None:
        self.update_run(plan, run_sk, closing)

    def abort_run(self, plan: str, run_sk: str, at: str, execution: dict[str, Any]) -> bool:
        document = self.run_items.get((plan, run_sk))
        if document is None or document.get("status") != "RUNNING":
            return False
        closing = {"status": "ABORTED", "endedAt": at, "execution": execution, "closedBy": "sweep"}
        document.update(copy.deepcopy(closing))
        return True

    def mark_taken_over(self, plan: str, run_sk: str, by: str, at: str) -> None:
        self.update_run(plan, run_sk, {"status": "ABORTED", "endedAt": at, "takenOverBy": by})

    # Trigger events, failback records, parked task tokens.
    def claim_event(self, event_id: str, execution_arn: str, expires: int) -> str | None:
        seen = self.events.setdefault(event_id, {"executionArn": execution_arn, "ttl": expires})
        holder: str | None = seen.get("executionArn")
        return holder

    def record_layout_once(self, plan: str, server: str, layout: dict[str, Any], run_id: str) -> None:
        self.layouts.setdefault((plan, server), copy.deepcopy({"layout": layout, "runId": run_id}))

    def layout(self, plan: str, server: str) -> dict[str, Any] | None:
        layout: dict[str, Any] | None = copy.deepcopy(self.layouts.get((plan, server), {}).get("layout"))
        return layout

    def forget_layout(self, plan: str, server: str) -> None:
        self.layouts.pop((plan, server), None)

    def record_new_vm_once(self, plan: str, server: str, new_vm: dict[str, Any], run_id: str) -> None:
        self.new_vms.setdefault((plan, server), copy.deepcopy({"newVm": new_vm, "runId": run_id}))

    def new_vm(self, plan: str, server: str) -> dict[str, Any] | None:
        new_vm: dict[str, Any] | None = copy.deepcopy(self.new_vms.get((plan, server), {}).get("newVm"))
        return new_vm

    def forget_new_vm(self, plan: str, server: str) -> None:
        self.new_vms.pop((plan, server), None)

    def add_waiter(self, resource_id: str, waiter: Waiter) -> None:
        self.parked.setdefault(resource_id, {})[waiter.execution_arn] = waiter.to_document()

    def waiters(self, resource_id: str) -> list[Waiter]:
        parked = self.parked.get(resource_id, {})
        return [Waiter.from_document(copy.deepcopy(parked[arn])) for arn in sorted(parked)]

    def remove_waiter(self, resource_id: str, execution_arn: str) -> None:
        self.parked.get(resource_id, {}).pop(execution_arn, None)
