"""Plan lifecycle: NORMAL -> FAILED_OVER -> FAILED_BACK -> NORMAL, with drills only from NORMAL.

The lock and the lifecycle check are one conditional write (StateStore.take_lock, which checks may_start),
so two starts racing each other can never both pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lambdas.domain.records import PlanState, RunRecord

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
    # A plan flagged incomplete in one of these states may be entered again: recovery re-run on a plan left
    # FAILED_OVER by an incomplete recovery.
    reenter_incomplete: tuple[Lifecycle, ...] = ()


TRANSITIONS: dict[str, Transition] = {
    "drill": Transition((NORMAL,), NORMAL, NORMAL),
    "recovery": Transition((NORMAL,), FAILED_OVER, FAILED_OVER, reenter_incomplete=(FAILED_OVER,)),
    "failback": Transition((FAILED_OVER,), FAILED_BACK, FAILED_OVER),
    "return_to_normal": Transition((FAILED_BACK,), NORMAL, FAILED_BACK),
}


def may_start(workflow: str, state: PlanState) -> bool:
    """Whether the plan's lifecycle lets `workflow` start (the lock is the store's to check). A plan that
    never ran is NORMAL."""
    transition = TRANSITIONS[workflow]
    current = state.lifecycle or NORMAL
    return current in transition.allowed_from or (
        current in transition.reenter_incomplete and state.incomplete is True
    )


def refusal_reason(workflow: str, plan: str, state: PlanState, execution_arn: str) -> str:
    """Explain, after a refused lock, why the workflow may not start."""
    active = state.active_execution
    if active and active != execution_arn:
        return (
            f"plan {plan} already has a running {state.active_workflow or 'workflow'} execution "
            f"({active}); wait for it to finish or stop it, then start again"
        )
    lifecycle = state.lifecycle or NORMAL
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
