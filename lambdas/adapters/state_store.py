"""DynamoDB: plan lifecycle state, the one-execution-per-plan lock, run records, event de-duplication.

Every item the table holds (pk, sk), and who writes it today:
  PLAN#<plan>  STATE                 lifecycle, activeExecution, activeWorkflow, lockedAt, incomplete,
                                     lastExecution, updatedAt: begin_run (lock, conditional), finish_run and
                                     the sweep (release, conditional); lastDrill: finish_run; lastRefusal:
                                     begin_run, confirm_outage; lastAutomaticFailover: fence_source;
                                     pendingApproval: request_approval; replication: replication_monitor;
                                     lastDrillSweep: the sweep. Read by drctl (status, approve, abort).
  PLAN#<plan>  RUN#<startedAt>#<id>  one record per execution: opened by begin_run (put if absent), fields
                                     set by every task (servers.<sid>.*, waves.w<n>, fencing, failback.*,
                                     restore.*, ...), closed by finish_run, or ABORTED by the sweep
                                     (conditional on RUNNING) or by begin_run taking over a stale lock.
                                     Read by the tasks, drctl, localcloud/progress.py and bench.
  PLAN#<plan>  LAYOUT#<server>       a VM's disk layout before failback: failback (put if absent, delete)
  PLAN#<plan>  NEWVM#<server>        a new VM failback creates: failback (put if absent), return to normal
                                     (delete)
  EVENT#<id>   EVENT                 a trigger event already acted on (expires with ttl): begin_run
  WAIT#<id>    <executionArn>        a task token parked until a DRS event (expires with ttl): waits
Condition and update expressions are built here, in handlers/begin_run.py (the lock, the flapping guard,
a stale lock taken over), handlers/sweep.py (closing a run ABORTED) and domain/lifecycle.py (the lock
condition).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from lambdas.adapters.aws import client, error_code
from lambdas.domain.records import PlanState, RunRecord

STATE_SK = "STATE"


def _table() -> str:
    return os.environ["STATE_TABLE_NAME"]


def plan_key(plan: str) -> dict[str, Any]:
    return {"pk": {"S": f"PLAN#{plan}"}, "sk": {"S": STATE_SK}}


def run_key(plan: str, run_sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"PLAN#{plan}"}, "sk": {"S": run_sort_key}}


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


def get_item(key: dict[str, Any]) -> dict[str, Any]:
    response = client("dynamodb").get_item(TableName=_table(), Key=key, ConsistentRead=True)
    return from_item(response.get("Item"))


def conditional_update(
    key: dict[str, Any],
    update: str,
    condition: str | None,
    names: dict[str, str],
    values: dict[str, Any],
) -> dict[str, Any] | None:
    """Apply an update only if the condition holds; None when it does not (the caller explains why)."""
    params: dict[str, Any] = {
        "TableName": _table(),
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
        response = client("dynamodb").update_item(**params)
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return from_item(response.get("Attributes"))


# DynamoDB caps an UpdateExpression at 4 KB: large updates (a wave of 200 servers) go in slices.
MAX_ASSIGNMENTS_PER_UPDATE = 50


def set_fields(key: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """SET top-level fields (and map entries given as 'a.b' paths) unconditionally."""
    items = list(fields.items())
    result: dict[str, Any] = {}
    for start in range(0, len(items), MAX_ASSIGNMENTS_PER_UPDATE):
        result = _set_slice(key, dict(items[start : start + MAX_ASSIGNMENTS_PER_UPDATE]))
    return result


def _set_slice(key: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    assignments = []
    for index, (path, value) in enumerate(fields.items()):
        parts = []
        for depth, part in enumerate(path.split(".")):
            names[f"#f{index}_{depth}"] = part
            parts.append(f"#f{index}_{depth}")
        values[f":v{index}"] = value
        assignments.append(f"{'.'.join(parts)} = :v{index}")
    result = conditional_update(key, "SET " + ", ".join(assignments), None, names, values)
    assert result is not None
    return result


def release_lock(
    plan: str,
    execution_arn: str,
    lifecycle: str,
    incomplete: bool,
    at: str,
    also: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Settle the plan's lifecycle and release its lock, if `execution_arn` still holds it (None when it
    does not); `also` sets more top-level fields in the same write."""
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
    for index, (field, value) in enumerate((also or {}).items()):
        names[f"#also{index}"] = field
        values[f":also{index}"] = value
        assignments.append(f"#also{index} = :also{index}")
    return conditional_update(
        plan_key(plan),
        "SET " + ", ".join(assignments) + " REMOVE #active, #activeWorkflow, #lockedAt, #pendingApproval",
        "#active = :execution",
        names,
        values,
    )


def record_automatic_failover(plan: str, at: str) -> None:
    """Stamp the flapping guard: an alarm-started run is about to change production (see begin_run)."""
    set_fields(plan_key(plan), {"lastAutomaticFailover": at})


def record_refusal(plan: str, refusal: dict[str, Any]) -> None:
    """Keep the latest refused or unconfirmed automatic start on the plan, for `drctl status`."""
    set_fields(plan_key(plan), {"lastRefusal": refusal})


def put_if_absent(key: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Create an item once; False if it already existed."""
    item = {**key, **{k: to_attr(v) for k, v in fields.items()}}
    try:
        client("dynamodb").put_item(
            TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def put_item(key: dict[str, Any], fields: dict[str, Any]) -> None:
    client("dynamodb").put_item(
        TableName=_table(), Item={**key, **{k: to_attr(v) for k, v in fields.items()}}
    )


def delete_item(key: dict[str, Any]) -> None:
    client("dynamodb").delete_item(TableName=_table(), Key=key)


def query_prefix(pk: str) -> list[dict[str, Any]]:
    """All items of one partition."""
    response = client("dynamodb").query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return [from_item(item) for item in response.get("Items", [])]


def plan_state(plan: str, *, dynamodb: Any = None, table: str | None = None) -> PlanState:
    """The plan's state item (empty when the plan never ran). dynamodb/table: as for query_runs."""
    response = (dynamodb or client("dynamodb")).get_item(
        TableName=table or _table(), Key=plan_key(plan), ConsistentRead=True
    )
    return PlanState.from_document(from_item(response.get("Item")))


def run_record(plan: str, run_sort_key: str) -> RunRecord:
    return RunRecord.from_document(get_item(run_key(plan, run_sort_key)))


def query_runs(
    plan: str, limit: int = 20, *, dynamodb: Any = None, table: str | None = None
) -> list[RunRecord]:
    """The plan's newest run records first. dynamodb/table: another client and table than this function's
    (drctl reads with the operator's credentials)."""
    response = (dynamodb or client("dynamodb")).query(
        TableName=table or _table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :run)",
        ExpressionAttributeValues={":pk": {"S": f"PLAN#{plan}"}, ":run": {"S": "RUN#"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [RunRecord.from_document(from_item(item)) for item in response.get("Items", [])]


def run_of_execution(runs: list[RunRecord], execution_arn: str | None) -> RunRecord | None:
    """The run record of an execution among runs (newest first), or the newest when no execution is given."""
    return next((r for r in runs if execution_arn is None or r.execution_arn == execution_arn), None)
