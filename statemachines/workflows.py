"""The four DR workflows as Step Functions definitions (see README, 'Workflows').

Each names its states first (with the catches and the branches that leave the main path), then chains them
in the order they run."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn

from dr_constructs import task_functions as fn
from statemachines.tasks import RUN, Exit, Tasks


def drill(t: Tasks) -> sfn.IChainable:
    """Preflight, launch drill instances wave by wave, validate, ALWAYS terminate them, report."""
    finish_ok, finish_failed = t.finish()
    preflight = t.catch(t.run_task("Preflight", fn.PREFLIGHT, "$.preflight"), finish_failed)
    # Reached after validation and after any failure once a launch was asked for.
    cleanup = t.run_task("Terminate drill instances", fn.CLEANUP_DRILL, "$.cleanup")
    check_cleanup = t.run_task("Check termination", fn.CLEANUP_DRILL_CHECK, "$.cleanup")
    # A failed cleanup still ends the run (with the error recorded), never silently.
    cleanup_failed = t.finish_task(
        "Finish after cleanup failure",
        outcome="failed",
        error=sfn.JsonPath.object_at("$.cleanupError"),
    ).next(sfn.Fail(t.scope, "Cleanup failed", error="CleanupIncomplete", cause_path="$.cleanupError.Cause"))
    cleanup.add_catch(cleanup_failed, errors=["States.ALL"], result_path="$.cleanupError")
    check_cleanup.add_catch(cleanup_failed, errors=["States.ALL"], result_path="$.cleanupError")
    drill_failed = sfn.Choice(t.scope, "Drill failed?")
    drill_failed.when(sfn.Condition.is_present("$.error"), finish_failed).otherwise(finish_ok)

    return (
        t.begin("drill", _refused(t))
        .next(preflight)
        .next(t.wave_loop(on_error=cleanup))
        .next(t.validate_loop(on_error=cleanup))
        .next(cleanup)
        .next(t.poll_until_done("Cleanup", check_cleanup, "$.cleanup"))
        .next(drill_failed)
    )


def recovery(t: Tasks) -> sfn.IChainable:
    """Preflight, approval (automatic starts), fence Azure, launch waves, validate, switch traffic."""
    finish_ok, finish_failed = t.finish()
    preflight = t.catch(t.run_task("Preflight", fn.PREFLIGHT, "$.preflight"), finish_failed)
    fence = t.catch(t.run_task("Fence Azure source", fn.FENCE_SOURCE, "$.fencing"), finish_failed)
    switch = t.catch(
        t.run_task("Switch traffic to AWS", fn.SWITCH_TRAFFIC, "$.traffic", to="aws"), finish_failed
    )

    return (
        t.begin("recovery", _refused(t))
        .next(preflight)
        .next(_confirm_and_approve(t, finish_failed))
        .next(fence)
        .next(t.wave_loop(on_error=finish_failed))
        .next(t.validate_loop(on_error=finish_failed))
        .next(switch)
        .next(finish_ok)
    )


def _confirm_and_approve(t: Tasks, finish_failed: sfn.IChainable) -> sfn.Chain:
    """Before anything changes: an alarm is confirmed with Azure itself, and an automatic start waits for an
    operator when the plan asks for it. Goes on to the state chained next, unless not approved."""
    started_by_alarm = sfn.Choice(t.scope, "Started by an alarm?")
    confirm = t.catch(
        t.run_task("Confirm outage with Azure", fn.CONFIRM_OUTAGE, "$.confirmation"), finish_failed
    )
    needs_approval = sfn.Choice(t.scope, "Approval needed?")
    # The approval wait runs in a machine of its own (approval_gate below), whose task tokens only the
    # operator role may answer.
    approval = t.run_approval_gate()
    approval.add_catch(finish_failed, errors=["States.ALL"], result_path="$.error")
    answer = sfn.Choice(t.scope, "Approved?")
    on_timeout = sfn.Choice(t.scope, "Proceed without approval?")
    not_approved = sfn.Pass(t.scope, "Not approved", input_path="$.approval.detail", result_path="$.error")
    not_approved.next(finish_failed)

    started_by_alarm.when(sfn.Condition.string_equals(f"{RUN}.trigger", "alarm"), confirm).otherwise(
        needs_approval
    )
    confirm.next(needs_approval)
    approval.next(answer)

    def proceed_to(go_on: sfn.IChainable) -> None:
        approval_required = sfn.Condition.boolean_equals(f"{RUN}.approval_required", True)
        needs_approval.when(approval_required, approval).otherwise(go_on)
        answer.when(sfn.Condition.string_equals("$.approval.decision", "approved"), go_on).when(
            sfn.Condition.string_equals("$.approval.decision", "timed_out"), on_timeout
        ).otherwise(not_approved)
        proceed = sfn.Condition.string_equals(f"{RUN}.approval_on_timeout", "proceed")
        on_timeout.when(proceed, go_on).otherwise(not_approved)

    return sfn.Chain.custom(started_by_alarm, [Exit(proceed_to)], on_timeout)


def failback(t: Tasks) -> sfn.IChainable:
    """To the original Azure VMs: check and record their layout, boot the failback client on each (own
    disks attached), wait READY_FOR_LAUNCH, launch failback, wait COMPLETED, restore each VM's own OS disk,
    switch traffic back. Any failure first clears the failback credentials from the VMs' userData."""
    finish_ok, finish_failed = t.finish()
    clear = t.run_task("Clear failback credentials", fn.FAILBACK_CLEAR_CREDENTIALS, "$.cleared")
    clear.add_catch(finish_failed, errors=["States.ALL"], result_path="$.clearError")
    clear.next(finish_failed)

    prepare = t.catch(
        t.run_task("Check and record VM layouts", fn.FAILBACK_PREPARE, "$.prepare"), finish_failed
    )
    boot = t.catch(t.run_task("Boot failback clients", fn.FAILBACK_BOOT_CLIENTS, "$.boot"), clear)
    # DRS sends no event for FAILBACK_READY_FOR_LAUNCH: poll.
    check_ready = t.catch(
        t.run_task("Check ready for launch", fn.FAILBACK_CHECK, "$.failback", want="READY_FOR_LAUNCH"),
        clear,
    )
    launch = t.catch(t.run_task("Start failback launch", fn.FAILBACK_LAUNCH, "$.launch"), clear)
    check_done = t.catch(
        t.run_task("Check failback completed", fn.FAILBACK_CHECK, "$.failback", want="COMPLETED"),
        clear,
    )
    # DRS announces FAILBACK_COMPLETED with an event: wait on it (with a fallback check).
    wait_done = t.await_drs_event("Wait for failback events", "failback", check_done, clear)
    completed = sfn.Choice(t.scope, "Failback completed?")
    restore = t.catch(t.run_task("Restore original disks", fn.FAILBACK_RESTORE, "$.restore"), clear)
    switch = t.catch(t.run_task("Switch traffic to Azure", fn.SWITCH_TRAFFIC, "$.traffic", to="azure"), clear)

    return (
        t.begin("failback", _refused(t))
        .next(prepare)
        .next(t.poll_until_done("Failback clients", boot, "$.boot"))
        .next(t.poll_until_done("Failback replication", check_ready, "$.failback"))
        .next(launch)
        .next(check_done)
        .next(t.until_done(completed, "$.failback", otherwise=wait_done))
        .next(t.poll_until_done("Restore", restore, "$.restore"))
        .next(switch)
        .next(finish_ok)
    )


def return_to_normal(t: Tasks) -> sfn.IChainable:
    """Stop failback, restart replication Azure -> AWS (a new agent on a VM failback created), wait
    CONTINUOUS, terminate recovery instances."""
    finish_ok, finish_failed = t.finish()
    restore = t.catch(t.run_task("Restore replication", fn.RESTORE_REPLICATION, "$.restore"), finish_failed)
    # Servers that failed back to a new VM get a new replication agent (nothing to do for the others).
    install = t.catch(
        t.run_task("Install replication agents", fn.REPLICATION_AGENTS_INSTALL, "$.agents"), finish_failed
    )
    check = t.catch(
        t.run_task("Check replication", fn.RESTORE_REPLICATION_CHECK, "$.replication"), finish_failed
    )

    return (
        t.begin("return_to_normal", _refused(t))
        .next(restore)
        .next(install)
        .next(t.poll_until_done("Replication", check, "$.replication"))
        .next(finish_ok)
    )


def approval_gate(t: Tasks) -> sfn.IChainable:
    """Ask an operator and wait for the answer (task token), or for the plan's approval timeout.

    A machine of its own because Step Functions grants SendTaskSuccess per state machine: the operator
    role may answer this machine's tokens, the DRS event handler (which answers the workflows' DRS waits)
    may not. Always succeeds with {decision: approved|rejected|timed_out, detail}."""
    answered = sfn.Succeed(t.scope, "Answered")

    def decided(state_id: str, decision: str) -> sfn.Pass:
        state = sfn.Pass(
            t.scope, state_id, parameters={"decision": decision, "detail": sfn.JsonPath.object_at("$.answer")}
        )
        state.next(answered)
        return state

    wait = t.invoke(
        "Wait for approval",
        fn.REQUEST_APPROVAL,
        {"run": sfn.JsonPath.object_at(RUN), "task_token": sfn.JsonPath.task_token},
        "$.answer",
        wait_for_token=True,
        timeout_path=f"{RUN}.approval_timeout_seconds",
    )
    wait.add_catch(decided("Timed out", "timed_out"), errors=["States.Timeout"], result_path="$.answer")
    wait.add_catch(decided("Rejected", "rejected"), errors=["Rejected"], result_path="$.answer")
    # Anything else (the request could not be sent): the child fails and the recovery records why.
    failed = sfn.Fail(t.scope, "Request failed", error_path="$.answer.Error", cause_path="$.answer.Cause")
    wait.add_catch(failed, errors=["States.ALL"], result_path="$.answer")
    wait.next(decided("Approved", "approved"))
    return wait


def _refused(t: Tasks) -> sfn.Fail:
    return sfn.Fail(t.scope, "Refused", error_path="$.Error", cause_path="$.Cause")


WORKFLOW_BUILDERS = {
    "drill": drill,
    "recovery": recovery,
    "failback": failback,
    "return_to_normal": return_to_normal,
}
