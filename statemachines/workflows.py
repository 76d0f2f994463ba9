"""The four DR workflows as Step Functions definitions (see README, 'Workflows')."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn

from dr_constructs import task_functions as fn
from statemachines.tasks import DONE, RUN, Tasks


def drill(t: Tasks) -> sfn.IChainable:
    """Preflight, launch drill instances wave by wave, validate, ALWAYS terminate them, report."""
    finish_ok, finish_failed = t.finish()
    after_cleanup = sfn.Choice(t.scope, "Drill failed?")
    after_cleanup.when(sfn.Condition.is_present("$.error"), finish_failed).otherwise(finish_ok)

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
    cleanup.next(t.poll_until_done("Cleanup", check_cleanup, "$.cleanup", after_cleanup))

    validate = t.validate_loop(then=cleanup, on_error=cleanup)
    waves = t.wave_loop(after=validate, on_error=cleanup)
    preflight = t.catch(t.run_task("Preflight", fn.PREFLIGHT, "$.preflight"), finish_failed)
    return t.begin("drill", _refused(t)).next(preflight).next(waves)


def recovery(t: Tasks) -> sfn.IChainable:
    """Preflight, approval (automatic starts), fence Azure, launch waves, validate, switch traffic."""
    finish_ok, finish_failed = t.finish()
    switch = t.catch(
        t.run_task("Switch traffic to AWS", fn.SWITCH_TRAFFIC, "$.traffic", to="aws"), finish_failed
    )
    switch.next(finish_ok)
    validate = t.validate_loop(then=switch, on_error=finish_failed)
    waves = t.wave_loop(after=validate, on_error=finish_failed)
    fence = t.catch(t.run_task("Fence Azure source", fn.FENCE_SOURCE, "$.fencing"), finish_failed)
    fence.next(waves)

    # The approval wait runs in a machine of its own (approval_gate below), whose task tokens only the
    # operator role may answer.
    approval = t.run_approval_gate()
    not_approved = sfn.Pass(t.scope, "Not approved", input_path="$.approval.detail", result_path="$.error")
    not_approved.next(finish_failed)
    on_timeout = sfn.Choice(t.scope, "Proceed without approval?")
    on_timeout.when(sfn.Condition.string_equals(f"{RUN}.approval_on_timeout", "proceed"), fence).otherwise(
        not_approved
    )
    answer = sfn.Choice(t.scope, "Approved?")
    answer.when(sfn.Condition.string_equals("$.approval.decision", "approved"), fence).when(
        sfn.Condition.string_equals("$.approval.decision", "timed_out"), on_timeout
    ).otherwise(not_approved)
    approval.add_catch(finish_failed, errors=["States.ALL"], result_path="$.error")
    approval.next(answer)

    needs_approval = sfn.Choice(t.scope, "Approval needed?")
    approval_required = sfn.Condition.boolean_equals(f"{RUN}.approval_required", True)
    needs_approval.when(approval_required, approval).otherwise(fence)
    # An alarm is confirmed with Azure itself before anything changes.
    confirm = t.catch(
        t.run_task("Confirm outage with Azure", fn.CONFIRM_OUTAGE, "$.confirmation"), finish_failed
    )
    confirm.next(needs_approval)
    automatic = sfn.Choice(t.scope, "Started by an alarm?")
    automatic.when(sfn.Condition.string_equals(f"{RUN}.trigger", "alarm"), confirm).otherwise(needs_approval)
    preflight = t.catch(t.run_task("Preflight", fn.PREFLIGHT, "$.preflight"), finish_failed)
    return t.begin("recovery", _refused(t)).next(preflight).next(automatic)


def failback(t: Tasks) -> sfn.IChainable:
    """To the original Azure VMs: check and record their layout, boot the failback client on each (own
    disks attached), wait READY_FOR_LAUNCH, launch failback, wait COMPLETED, restore each VM's own OS disk,
    switch traffic back. Any failure first clears the failback credentials from the VMs' userData."""
    finish_ok, finish_failed = t.finish()
    clear = t.run_task("Clear failback credentials", fn.FAILBACK_CLEAR_CREDENTIALS, "$.cleared")
    clear.add_catch(finish_failed, errors=["States.ALL"], result_path="$.clearError")
    clear.next(finish_failed)

    switch = t.catch(t.run_task("Switch traffic to Azure", fn.SWITCH_TRAFFIC, "$.traffic", to="azure"), clear)
    switch.next(finish_ok)
    restore = t.catch(t.run_task("Restore original disks", fn.FAILBACK_RESTORE, "$.restore"), clear)
    check_done = t.catch(
        t.run_task("Check failback completed", fn.FAILBACK_CHECK, "$.failback", want="COMPLETED"),
        clear,
    )
    launch = t.catch(t.run_task("Start failback launch", fn.FAILBACK_LAUNCH, "$.launch"), clear)
    # DRS announces FAILBACK_COMPLETED with an event: wait on it (with a fallback check).
    wait_done = t.await_drs_event("Wait for failback events", "failback", check_done, clear)
    completed = sfn.Choice(t.scope, "Failback completed?")
    check_done.next(
        completed.when(
            sfn.Condition.string_equals("$.failback.status", DONE),
            t.poll_until_done("Restore", restore, "$.restore", switch),
        ).otherwise(wait_done)
    )
    launch.next(check_done)
    # DRS sends no event for FAILBACK_READY_FOR_LAUNCH: poll.
    check_ready = t.catch(
        t.run_task("Check ready for launch", fn.FAILBACK_CHECK, "$.failback", want="READY_FOR_LAUNCH"),
        clear,
    )
    boot = t.catch(t.run_task("Boot failback clients", fn.FAILBACK_BOOT_CLIENTS, "$.boot"), clear)
    prepare = t.catch(
        t.run_task("Check and record VM layouts", fn.FAILBACK_PREPARE, "$.prepare"), finish_failed
    )
    prepare.next(t.poll_until_done("Failback clients", boot, "$.boot", t.poll_until_done(
        "Failback replication", check_ready, "$.failback", launch
    )))  # fmt: skip
    return t.begin("failback", _refused(t)).next(prepare)


def return_to_normal(t: Tasks) -> sfn.IChainable:
    """Stop failback, restart replication Azure -> AWS (a new agent on a VM failback created), wait
    CONTINUOUS, terminate recovery instances."""
    finish_ok, finish_failed = t.finish()
    check = t.catch(
        t.run_task("Check replication", fn.RESTORE_REPLICATION_CHECK, "$.replication"), finish_failed
    )
    restore = t.catch(t.run_task("Restore replication", fn.RESTORE_REPLICATION, "$.restore"), finish_failed)
    # Servers that failed back to a new VM get a new replication agent (nothing to do for the others).
    install = t.catch(
        t.run_task("Install replication agents", fn.REPLICATION_AGENTS_INSTALL, "$.agents"),
        finish_failed,
    )
    restore.next(install)
    install.next(t.poll_until_done("Replication", check, "$.replication", finish_ok))
    return t.begin("return_to_normal", _refused(t)).next(restore)


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
