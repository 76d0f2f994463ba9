"""The state table: plan lifecycle state, the one-execution-per-plan lock, run records, event
de-duplication, parked task tokens. The one module that knows DynamoDB: its keys, its attribute values, its
condition and update expressions.

Items (pk, sk):
  PLAN#<plan>  STATE                 PlanState: lifecycle, lock (activeExecution, ...), lastDrill, ...
  PLAN#<plan>  RUN#<startedAt>#<id>  RunRecord: one per execution, timeline, jobs, fencing, errors, result
  PLAN#<plan>  LAYOUT#<server>       a VM's disk layout recorded before failback changes it
  PLAN#<plan>  NEWVM#<server>        the new VM a failback creates for a server
  EVENT#<id>   EVENT                 a trigger event already acted on (expires with ttl)
  WAIT#<id>    <executionArn>        a task token parked until a DRS event names <id> (expires with ttl)

Handlers use `store()`, a StateStore; documents it returns are the items without their keys. The unit
tests use the in-memory one in tests/fakes/state_store.py, which keeps the same conditional-write semantics
(tests/unit/test_state_store.py runs the same contract against both).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from lambdas.adapters.aws import client, error_code
from lambdas.domain import lifecycle
from lambdas.domain.records import PlanState, RunRecord, ServerRecord, Waiter

STATE_SK = "STATE"
# DynamoDB caps an UpdateExpression at 4 KB: large updates (a wave of 200 servers) go in slices.
MAX_ASSIGNMENTS_PER_UPDATE = 50


class StateStore(Protocol):
    """What the tasks and drctl read and write, named for what it means."""

    # The plan's state and its lock.
    def plan_state(self, plan: str) -> PlanState: ...

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
        """Take the plan's lock for `workflow` if no other execution holds it (or only `stale` does), the
        plan's lifecycle allows the workflow (lifecycle.may_start), and, with `automatic_cutoff`, no
        automatic failover began at or after it. One write: None, and nothing changed, when refused."""
        ...

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
        """Settle the plan's lifecycle and release its lock (and a pending approval) if `execution_arn`
        still holds it; None, and nothing changed, when it does not."""
        ...

    def record_automatic_failover(self, plan: str, at: str) -> None: ...

    def record_refusal(self, plan: str, refusal: dict[str, Any]) -> None: ...

    def request_approval(self, plan: str, pending: dict[str, Any]) -> None: ...

    def record_replication(self, plan: str, replication: dict[str, Any]) -> None: ...

    def record_drill_sweep(self, plan: str, sweep: dict[str, Any]) -> None: ...

    # Run records.
    def open_run(self, record: RunRecord) -> bool:
        """Create the run record once; False if it already existed (a retried begin_run)."""
        ...

    def run_record(self, plan: str, run_sk: str) -> RunRecord: ...

    def runs(self, plan: str, limit: int = 20) -> list[RunRecord]:
        """The plan's newest run records first."""
        ...

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None:
        """Set top-level fields of the run record, and nested ones given as 'a.b' paths."""
        ...

    def record_launch(
        self, plan: str, run_sk: str, wave: int, wave_record: dict[str, Any], servers: dict[str, ServerRecord]
    ) -> None:
        """A wave's launch request: its wave entry and each requested server's entry, replaced whole."""
        ...

    def record_servers(self, plan: str, run_sk: str, progress: dict[str, ServerRecord]) -> None:
        """Progress of servers (launched, failed, healthy): the fields set in each ServerRecord."""
        ...

    def finish_run(self, plan: str, run_sk: str, closing: dict[str, Any]) -> None:
        """Close the run record: status, endedAt, lifecycleAfter, measurements, report, failure."""
        ...

    def abort_run(self, plan: str, run_sk: str, at: str, execution: dict[str, Any]) -> bool:
        """Close a run the sweep found ended without its last task, only if it is still RUNNING; False
        when it was closed meanwhile."""
        ...

    def mark_taken_over(self, plan: str, run_sk: str, by: str, at: str) -> None: ...

    # Trigger events, failback records, parked task tokens.
    def claim_event(self, event_id: str, execution_arn: str, expires: int) -> str | None:
        """Record that `execution_arn` acts on the trigger event; the execution that did first (this one,
        or the one of an earlier delivery)."""
        ...

    def record_layout_once(self, plan: str, server: str, layout: dict[str, Any], run_id: str) -> None: ...

    def layout(self, plan: str, server: str) -> dict[str, Any] | None: ...

    def forget_layout(self, plan: str, server: str) -> None: ...

    def record_new_vm_once(self, plan: str, server: str, new_vm: dict[str, Any], run_id: str) -> None: ...

    def new_vm(self, plan: str, server: str) -> dict[str, Any] | None: ...

    def forget_new_vm(self, plan: str, server: str) -> None: ...

    def add_waiter(self, resource_id: str, waiter: Waiter) -> None: ...

    def waiters(self, resource_id: str) -> list[Waiter]: ...

    def remove_waiter(self, resource_id: str, execution_arn: str) -> None: ...


def to_attr(value: Any) -> dict[str, Any]:
    """Python value -> DynamoDB attribute value (floats go through Decimal, as DynamoDB requires)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(Decimal(str(value)))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def from_attr(attr: dict[str, Any]) -> Any:
    ((kind, value),) = attr.items()
    if kind == "NULL":
        return None
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    return value


def from_item(item: dict[str, Any] | None) -> dict[str, Any]:
    return {k: from_attr(v) for k, v in (item or {}).items()}


def _without_keys(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("pk", "sk")}


def _run(document: dict[str, Any]) -> RunRecord:
    """A run record keeps its sort key: the tasks address it by that."""
    return RunRecord.from_document({k: v for k, v in document.items() if k != "pk"})


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def plan_key(plan: str) -> dict[str, Any]:
    return _key(f"PLAN#{plan}", STATE_SK)


def run_key(plan: str, run_sk: str) -> dict[str, Any]:
    return _key(f"PLAN#{plan}", run_sk)


def run_sort_key(started_at: str, run_id: str) -> str:
    return f"RUN#{started_at}#{run_id}"


def _layout_key(plan: str, server: str) -> dict[str, Any]:
    return _key(f"PLAN#{plan}", f"LAYOUT#{server}")


def _new_vm_key(plan: str, server: str) -> dict[str, Any]:
    return _key(f"PLAN#{plan}", f"NEWVM#{server}")


def _event_key(event_id: str) -> dict[str, Any]:
    return _key(f"EVENT#{event_id}", "EVENT")


def _waiter_pk(resource_id: str) -> str:
    return f"WAIT#{resource_id}"


def lock_condition(
    workflow: str, stale: str | None, automatic_cutoff: str | None
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The ConditionExpression (names, values) of take_lock: lifecycle.may_start as DynamoDB checks it,
    with the lock's holder and, for an alarm, the flapping guard."""
    rule = lifecycle.TRANSITIONS[workflow]
    names = {"#active": "activeExecution", "#lifecycle": "lifecycle"}
    values: dict[str, Any] = {}
    holders = ["attribute_not_exists(#active)", "#active = :execution"]
    if stale is not None:
        holders.append("#active = :stale")
        values[":stale"] = stale
    states = []
    for index, state in enumerate(rule.allowed_from):
        values[f":allowed{index}"] = state
        states.append(f"#lifecycle = :allowed{index}")
    if lifecycle.NORMAL in rule.allowed_from:
        states.append("attribute_not_exists(#lifecycle)")  # a plan that never ran is NORMAL
    for index, state in enumerate(rule.reenter_incomplete):
        names["#incomplete"] = "incomplete"
        values[f":incomplete{index}"] = state
        values[":true"] = True
        states.append(f"(#lifecycle = :incomplete{index} AND #incomplete = :true)")
    condition = f"({' OR '.join(holders)}) AND ({' OR '.join(states)})"
    if automatic_cutoff is not None:
        names["#lastAutomatic"] = "lastAutomaticFailover"
        values[":cutoff"] = automatic_cutoff
        condition += " AND (attribute_not_exists(#lastAutomatic) OR #lastAutomatic < :cutoff)"
    return condition, names, values


class DynamoStateStore:
    """The state table in DynamoDB. dynamodb/table: another client and table than the Lambda's own (drctl
    reads with the operator's credentials); by default the cached client and STATE_TABLE_NAME."""

    def __init__(self, dynamodb: Any = None, table: str | None = None) -> None:
        self._dynamodb = dynamodb
        self._table_name = table

    def _client(self) -> Any:
        return self._dynamodb or client("dynamodb")

    def _table(self) -> str:
        return self._table_name or os.environ["STATE_TABLE_NAME"]

    # Generic item operations.
    def _get(self, key: dict[str, Any]) -> dict[str, Any]:
        response = self._client().get_item(TableName=self._table(), Key=key, ConsistentRead=True)
        return from_item(response.get("Item"))

    def _update(
        self,
        key: dict[str, Any],
        update: str,
        condition: str | None,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Apply an update only if the condition holds; None when it does not."""
        params: dict[str, Any] = {
            "TableName": self._table(),
            "Key": key,
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            params["ExpressionAttributeValues"] = {k: to_attr(v) for k, v in values.items()}
        if condition:
            params["ConditionExpression"] = condition
        try:
            response = self._client().update_item(**params)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(response.get("Attributes"))

    def _set(self, key: dict[str, Any], fields: dict[str, Any]) -> None:
        """SET top-level fields (and map entries given as 'a.b' paths) unconditionally."""
        items = list(fields.items())
        for start in range(0, len(items), MAX_ASSIGNMENTS_PER_UPDATE):
            names: dict[str, str] = {}
            values: dict[str, Any] = {}
            assignments = []
            for index, (path, value) in enumerate(items[start : start + MAX_ASSIGNMENTS_PER_UPDATE]):
                parts = []
                for depth, part in enumerate(path.split(".")):
                    names[f"#f{index}_{depth}"] = part
                    parts.append(f"#f{index}_{depth}")
                values[f":v{index}"] = value
                assignments.append(f"{'.'.join(parts)} = :v{index}")
            self._update(key, "SET " + ", ".join(assignments), None, names, values)

    def _put(self, key: dict[str, Any], fields: dict[str, Any], *, if_absent: bool) -> bool:
        params: dict[str, Any] = {
            "TableName": self._table(),
            "Item": {**key, **{k: to_attr(v) for k, v in fields.items()}},
        }
        if if_absent:
            params["ConditionExpression"] = "attribute_not_exists(pk)"
        try:
            self._client().put_item(**params)
        except ClientError as exc:
            if if_absent and error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _delete(self, key: dict[str, Any]) -> None:
        self._client().delete_item(TableName=self._table(), Key=key)

    # The plan's state and its lock.
    def plan_state(self, plan: str) -> PlanState:
        return plan_state(plan, dynamodb=self._client(), table=self._table())

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
        condition, names, values = lock_condition(workflow, stale, automatic_cutoff)
        names.update({"#activeWorkflow": "activeWorkflow", "#lockedAt": "lockedAt"})
        update = "SET #active = :execution, #activeWorkflow = :workflow, #lockedAt = :now, "
        update += "#lifecycle = if_not_exists(#lifecycle, :normal)"
        values.update(
            {":execution": execution_arn, ":workflow": workflow, ":now": at, ":normal": lifecycle.NORMAL}
        )
        taken = self._update(plan_key(plan), update, condition, names, values)
        return None if taken is None else PlanState.from_document(_without_keys(taken))

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
        names = {
            "#lifecycle": "lifecycle",
            "#incomplete": "incomplete",
            "#lastExecution": "lastExecution",
            "#updatedAt": "updatedAt",
            "#active": "activeExecution",
            "#activeWorkflow": "activeWorkflow",
            "#lockedAt": "lockedAt",
            "#pendingApproval": "pendingApproval",
        }
        values: dict[str, Any] = {
            ":lifecycle": lifecycle,
            ":incomplete": incomplete,
            ":execution": execution_arn,
            ":now": at,
        }
        assignments = [
            "#lifecycle = :lifecycle",
            "#incomplete = :incomplete",
            "#lastExecution = :execution",
            "#updatedAt = :now",
        ]
        if last_drill is not None:
            names["#lastDrill"] = "lastDrill"
            values[":lastDrill"] = last_drill
            assignments.append("#lastDrill = :lastDrill")
        released = self._update(
            plan_key(plan),
            "SET " + ", ".join(assignments) + " REMOVE #active, #activeWorkflow, #lockedAt, #pendingApproval",
            "#active = :execution",
            names,
            values,
        )
        return None if released is None else PlanState.from_document(_without_keys(released))

    def record_automatic_failover(self, plan: str, at: str) -> None:
        self._set(plan_key(plan), {"lastAutomaticFailover": at})

    def record_refusal(self, plan: str, refusal: dict[str, Any]) -> None:
        self._set(plan_key(plan), {"lastRefusal": refusal})

    def request_approval(self, plan: str, pending: dict[str, Any]) -> None:
        self._set(plan_key(plan), {"pendingApproval": pending})

    def record_replication(self, plan: str, replication: dict[str, Any]) -> None:
        self._set(plan_key(plan), {"replication": replication})

    def record_drill_sweep(self, plan: str, sweep: dict[str, Any]) -> None:
        self._set(plan_key(plan), {"lastDrillSweep": sweep})

    # Run records.
    def open_run(self, record: RunRecord) -> bool:
        document = record.to_document()
        del document["sk"]
        return self._put(run_key(record.plan, record.sk), document, if_absent=True)

    def run_record(self, plan: str, run_sk: str) -> RunRecord:
        return _run(self._get(run_key(plan, run_sk)))

    def runs(self, plan: str, limit: int = 20) -> list[RunRecord]:
        return query_runs(plan, limit, dynamodb=self._client(), table=self._table())

    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None:
        self._set(run_key(plan, run_sk), fields)

    def record_launch(
        self, plan: str, run_sk: str, wave: int, wave_record: dict[str, Any], servers: dict[str, ServerRecord]
    ) -> None:
        fields: dict[str, Any] = {f"servers.{sid}": s.to_document() for sid, s in servers.items()}
        self._set(run_key(plan, run_sk), {**fields, f"waves.w{wave}": wave_record})

    def record_servers(self, plan: str, run_sk: str, progress: dict[str, ServerRecord]) -> None:
        fields = {
            f"servers.{sid}.{name}": value
            for sid, server in progress.items()
            for name, value in server.to_document().items()
        }
        if fields:
            self._set(run_key(plan, run_sk), fields)

    def finish_run(self, plan: str, run_sk: str, closing: dict[str, Any]) -> None:
        self._set(run_key(plan, run_sk), closing)

    def abort_run(self, plan: str, run_sk: str, at: str, execution: dict[str, Any]) -> bool:
        closed = self._update(
            run_key(plan, run_sk),
            "SET #status = :aborted, #endedAt = :now, #execution = :execution, #closedBy = :sweep",
            "#status = :running",
            {"#status": "status", "#endedAt": "endedAt", "#execution": "execution", "#closedBy": "closedBy"},
            {
                ":aborted": "ABORTED",
                ":running": "RUNNING",
                ":now": at,
                ":execution": execution,
                ":sweep": "sweep",
            },
        )
        return closed is not None

    def mark_taken_over(self, plan: str, run_sk: str, by: str, at: str) -> None:
        self._set(run_key(plan, run_sk), {"status": "ABORTED", "endedAt": at, "takenOverBy": by})

    # Trigger events, failback records, parked task tokens.
    def claim_event(self, event_id: str, execution_arn: str, expires: int) -> str | None:
        fields = {"executionArn": execution_arn, "ttl": expires}
        if self._put(_event_key(event_id), fields, if_absent=True):
            return execution_arn
        holder: str | None = self._get(_event_key(event_id)).get("executionArn")
        return holder

    def record_layout_once(self, plan: str, server: str, layout: dict[str, Any], run_id: str) -> None:
        self._put(_layout_key(plan, server), {"layout": layout, "runId": run_id}, if_absent=True)

    def layout(self, plan: str, server: str) -> dict[str, Any] | None:
        layout: dict[str, Any] | None = self._get(_layout_key(plan, server)).get("layout")
        return layout

    def forget_layout(self, plan: str, server: str) -> None:
        self._delete(_layout_key(plan, server))

    def record_new_vm_once(self, plan: str, server: str, new_vm: dict[str, Any], run_id: str) -> None:
        self._put(_new_vm_key(plan, server), {"newVm": new_vm, "runId": run_id}, if_absent=True)

    def new_vm(self, plan: str, server: str) -> dict[str, Any] | None:
        new_vm: dict[str, Any] | None = self._get(_new_vm_key(plan, server)).get("newVm")
        return new_vm

    def forget_new_vm(self, plan: str, server: str) -> None:
        self._delete(_new_vm_key(plan, server))

    def add_waiter(self, resource_id: str, waiter: Waiter) -> None:
        document = waiter.to_document()
        execution_arn = document.pop("executionArn")
        self._put(_key(_waiter_pk(resource_id), execution_arn), document, if_absent=False)

    def waiters(self, resource_id: str) -> list[Waiter]:
        response = self._client().query(
            TableName=self._table(),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _waiter_pk(resource_id)}},
            ConsistentRead=True,
        )
        found = []
        for item in response.get("Items", []):
            document = from_item(item)
            document.pop("pk", None)
            found.append(Waiter.from_document({**document, "executionArn": document.pop("sk")}))
        return found

    def remove_waiter(self, resource_id: str, execution_arn: str) -> None:
        self._delete(_key(_waiter_pk(resource_id), execution_arn))


_default = DynamoStateStore()


def store() -> StateStore:
    """The Lambda's state table (STATE_TABLE_NAME, the cached client)."""
    return _default


def plan_state(plan: str, *, dynamodb: Any = None, table: str | None = None) -> PlanState:
    """The plan's state. dynamodb/table: another client and table than the Lambda's (drctl reads with the
    operator's credentials; tests/infra/test_operator_role.py follows the client into these calls)."""
    response = (dynamodb or client("dynamodb")).get_item(
        TableName=table or os.environ["STATE_TABLE_NAME"], Key=plan_key(plan), ConsistentRead=True
    )
    return PlanState.from_document(_without_keys(from_item(response.get("Item"))))


def run_record(plan: str, run_sort_key: str) -> RunRecord:
    return _default.run_record(plan, run_sort_key)


def query_runs(
    plan: str, limit: int = 20, *, dynamodb: Any = None, table: str | None = None
) -> list[RunRecord]:
    """The plan's newest run records first (dynamodb/table as for plan_state)."""
    response = (dynamodb or client("dynamodb")).query(
        TableName=table or os.environ["STATE_TABLE_NAME"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
        ExpressionAttributeValues={":pk": {"S": f"PLAN#{plan}"}, ":run": {"S": "RUN#"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_run(from_item(item)) for item in response.get("Items", [])]


def run_of_execution(runs: list[RunRecord], execution_arn: str | None) -> RunRecord | None:
    """The run record of an execution among runs (newest first), or the newest when no execution is given."""
    return next((r for r in runs if execution_arn is None or r.execution_arn == execution_arn), None)
