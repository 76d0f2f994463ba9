"""Plan lifecycle: NORMAL -> FAILED_OVER -> FAILED_BACK -> NORMAL, with drills only from NORMAL.

The lock and the lifecycle check are one conditional DynamoDB write (see handlers/begin_run.py), so two
starts racing each other can never both pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lambdas.domain.records import RunRecord

Lifecycle = Literal["NORMAL", "FAILED_OVER", "FAILED_BACK"]
NORMAL: Lifecycle = "NORMAL"
FAILED_OVER: Lifecycle = "FAILED_OVER"
FAILED_BACK: Lifecycle = "FAILED_BACK"


@dataclass(frozen=True)
class Transition:
    allowed_from: tuple[Lifecycle, ...]
    on_success: Lifecycle
    # A failure that changed production (source fenced or recovery instances launched) cannot pretend
    # nothing happened: the plan moves to on_partial_failure, flagged incomplete.
    on_partial_failure: Lifecycle


TRANSITIONS: dict[str, Transition] = {
    "drill": Transition((NORMAL,), NORMAL, NORMAL),
    "recovery": Transition((NORMAL,), FAILED_OVER, FAILED_OVER),
    "failback": Transition((FAILED_OVER,), FAILED_BACK, FAILED_OVER),
    "return_to_normal": Transition((FAILED_BACK,), NORMAL, FAILED_BACK),
}


def lock_condition(workflow: str) -> tuple[str, dict[str, Any]]:
    """ConditionExpression (and its values) under which `workflow` may take the plan's lock.

    The same execution may take it again (a retried Lambda). Recovery may also be re-run on a plan left
    FAILED_OVER by an incomplete recovery.
    """
    transition = TRANSITIONS[workflow]
    values: dict[str, Any] = {}
    states = []
    for index, state in enumerate(transition.allowed_from):
        values[f":allowed{index}"] = state
        states.append(f"#lifecycle = :allowed{index}")
    if NORMAL in transition.allowed_from:
        states.append("attribute_not_exists(#lifecycle)")
    if workflow == "recovery":
        values[":failed_over"] = FAILED_OVER
        values[":true"] = True
        states.append("(#lifecycle = :failed_over AND #incomplete = :true)")
    condition = "(attribute_not_exists(#active) OR #active = :execution) AND (" + " OR ".join(states) + ")"
    return condition, values


def refusal_reason(workflow: str, plan: str, state_item: dict[str, Any], execution_arn: str) -> str:
    """Explain, after a failed conditional write, why the workflow may not start."""
    active = state_item.get("activeExecution")
    if active and active != execution_arn:
        return (
            f"plan {plan} already has a running {state_item.get('activeWorkflow', 'workflow')} execution "
            f"({active}); wait for it to finish or stop it, then start again"
        )
    lifecycle = state_item.get("lifecycle", NORMAL)
    allowed = " or ".join(TRANSITIONS[workflow].allowed_from)
    return f"{workflow} needs plan {plan} in state {allowed}, but it is {lifecycle}" + _next_step_hint(
        lifecycle
    )


def _next_step_hint(lifecycle: str) -> str:
    hints: dict[str, str] = {
        FAILED_OVER: "; run failback when Azure is healthy again",
        FAILED_BACK: "; run return_to_normal to restore replication",
        NORMAL: "",
    }
    return hints.get(lifecycle, "")


def changed_production(record: RunRecord) -> bool:
    """Whether a run (its record) fenced an Azure source or launched a recovery instance."""
    fenced = any(v.get("fenced") for v in (record.fencing or {}).values())
    launched = any(s.recovery_instance_id for s in (record.servers or {}).values())
    return fenced or launched


def lifecycle_after(workflow: str, succeeded: bool, changed_production: bool) -> tuple[Lifecycle, bool]:
    """(new lifecycle, incomplete flag) at the end of a run."""
    transition = TRANSITIONS[workflow]
    if succeeded:
        return transition.on_success, False
    if changed_production:
        return transition.on_partial_failure, workflow == "recovery"
    return transition.allowed_from[0], False
