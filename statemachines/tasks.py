"""Building blocks shared by the four workflows: Lambda tasks with explicit retry, poll loops, the
begin/finish frame around every workflow.

A loop is returned as a chain whose way out is its DONE branch: in
`task.next(t.poll_until_done(...)).next(after)` the loop leaves for `after`, so a workflow reads in the order
it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jsii
from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from dr_constructs import task_functions as fn
from dr_constructs.task_functions import TaskFunction

# Errors worth retrying: our own TransientError (throttling past what the Lambda waited out, 5xx),
# and the Lambda service's own transient failures.
TRANSIENT_ERRORS = [
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]
AZURE_ERRORS = ["AzureUnavailable"]
# Starting a child execution: the Step Functions API's own transient failures.
STEP_FUNCTIONS_TRANSIENT_ERRORS = ["StepFunctions.SdkClientException", "StepFunctions.ThrottlingException"]

RUN = "$.run"
# What a task answers when it is called again until done (lambdas/progress.py).
DONE = "DONE"


@jsii.implements(sfn.INextable)
class Exit:
    """A chain's end that is a branch, not a state: chaining the next state adds the branch to it."""

    def __init__(self, connect: Callable[[sfn.IChainable], object]) -> None:
        self._connect = connect

    def next(self, state: sfn.IChainable) -> sfn.Chain:
        self._connect(state)
        return sfn.Chain.start(state)


def _retry_transient(task: sfn.TaskStateBase, errors: list[str]) -> None:
    """Backoff with full jitter: many executions retrying the same throttled API spread out."""
    task.add_retry(
        errors=errors,
        interval=Duration.seconds(2),
        backoff_rate=2,
        max_attempts=6,
        max_delay=Duration.seconds(60),
        jitter_strategy=sfn.JitterType.FULL,
    )


class Tasks:
    """Creates the states of one workflow; state ids are unique within it. A task names the function it
    runs by its TaskFunction (dr_constructs/task_functions.py); `functions` holds them by key."""

    def __init__(
        self,
        scope: Construct,
        functions: Mapping[str, lambda_.IFunction],
        approval_gate: sfn.IStateMachine | None = None,
    ) -> None:
        self.scope = scope
        self.functions = functions
        self.approval_gate = approval_gate

    def invoke(
        self,
        state_id: str,
        function: TaskFunction,
        payload: dict[str, Any],
        result_path: str | None,
        *,
        wait_for_token: bool = False,
        timeout_path: str | None = None,
    ) -> tasks.LambdaInvoke:
        # The plain function-ARN resource returns the handler's result as the task output; a task-token
        # wait needs the lambda:invoke.waitForTaskToken integration.
        mode: dict[str, Any] = (
            {"integration_pattern": sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN}
            if wait_for_token
            else {"payload_response_only": True}
        )
        task = tasks.LambdaInvoke(
            self.scope,
            state_id,
            lambda_function=self.functions[function.key],
            payload=sfn.TaskInput.from_object(payload),
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.at(timeout_path) if timeout_path else None,
            result_path=result_path if result_path is not None else sfn.JsonPath.DISCARD,
            **mode,
        )
        _retry_transient(task, TRANSIENT_ERRORS)
        task.add_retry(
            errors=AZURE_ERRORS,
            interval=Duration.seconds(5),
            backoff_rate=2,
            max_attempts=3,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task

    def run_approval_gate(self) -> tasks.StepFunctionsStartExecution:
        """Run the approval gate machine as a child execution and wait for its decision (.sync:2)."""
        if self.approval_gate is None:
            raise ValueError("this workflow needs the approval gate state machine")
        task = tasks.StepFunctionsStartExecution(
            self.scope,
            "Wait for approval",
            state_machine=self.approval_gate,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            input=sfn.TaskInput.from_object({"run": sfn.JsonPath.object_at(RUN)}),
            # Named after the parent execution: a retried start finds the same child, never a second one.
            name=sfn.JsonPath.hash(sfn.JsonPath.string_at("$$.Execution.Id"), "SHA-256"),
            associate_with_parent=True,
            result_selector={
                "decision": sfn.JsonPath.string_at("$.Output.decision"),
                "detail": sfn.JsonPath.object_at("$.Output.detail"),
            },
            result_path="$.approval",
        )
        _retry_transient(task, STEP_FUNCTIONS_TRANSIENT_ERRORS)
        return task

    def run_task(
        self, state_id: str, function: TaskFunction, result_path: str | None, **extra: Any
    ) -> tasks.LambdaInvoke:
        return self.invoke(state_id, function, {"run": sfn.JsonPath.object_at(RUN), **extra}, result_path)

    def poll_until_done(self, prefix: str, check: tasks.LambdaInvoke, result_path: str) -> sfn.Chain:
        """Wait -> check -> (status DONE ? the state chained next : wait again).

        The wait comes from the run context (the plan's timing.poll_seconds)."""
        wait = sfn.Wait(self.scope, f"{prefix} wait", time=sfn.WaitTime.seconds_path(f"{RUN}.poll_seconds"))
        done = sfn.Choice(self.scope, f"{prefix} done?")
        wait.next(check).next(done)
        return sfn.Chain.custom(wait, [self.exit_when_done(done, result_path, otherwise=wait)], done)

    def until_done(self, choice: sfn.Choice, result_path: str, otherwise: sfn.IChainable) -> sfn.Chain:
        """The choice after a task: its status DONE ? the state chained next : `otherwise`."""
        return sfn.Chain.custom(choice, [self.exit_when_done(choice, result_path, otherwise)], choice)

    @staticmethod
    def exit_when_done(choice: sfn.Choice, result_path: str, otherwise: sfn.IChainable) -> Exit:
        done = sfn.Condition.string_equals(f"{result_path}.status", DONE)
        return Exit(lambda then: choice.when(done, then).otherwise(otherwise))

    def begin(self, workflow: str, fail_refused: sfn.Fail) -> tasks.LambdaInvoke:
        begin = self.invoke(
            "Begin",
            fn.BEGIN_RUN,
            {
                "workflow": workflow,
                "input": sfn.JsonPath.object_at("$$.Execution.Input"),
                "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
                "execution_name": sfn.JsonPath.string_at("$$.Execution.Name"),
                "started_at": sfn.JsonPath.string_at("$$.Execution.StartTime"),
            },
            RUN,
        )
        # The error replaces the state's input: an execution input that is not an object (an array, a
        # string) has no field to put it in, and the run is refused anyway.
        begin.add_catch(fail_refused, errors=["States.ALL"], result_path="$")
        return begin

    def finish(self) -> tuple[sfn.IChainable, sfn.IChainable]:
        """(finish after success, finish after failure); the failure path ends in a Fail state that
        carries the original error."""
        succeeded = self.finish_task("Finish", outcome="succeeded").next(sfn.Succeed(self.scope, "Succeeded"))
        failed_end = sfn.Fail(self.scope, "Failed", error_path="$.error.Error", cause_path="$.error.Cause")
        failed = self.finish_task(
            "Finish after failure", outcome="failed", error=sfn.JsonPath.object_at("$.error")
        ).next(failed_end)
        return succeeded, failed

    def finish_task(self, state_id: str, **payload: Any) -> tasks.LambdaInvoke:
        """finish_run, whose own failure (after retries) still ends the execution visibly: the plan's lock
        then stays taken until an operator looks (drctl status shows it)."""
        if not hasattr(self, "_unrecorded"):
            self._unrecorded = sfn.Fail(
                self.scope, "Result not recorded", error="FinishFailed", cause_path="$.finishError.Cause"
            )
        task = self.run_task(state_id, fn.FINISH_RUN, "$.summary", **payload)
        task.add_catch(self._unrecorded, errors=["States.ALL"], result_path="$.finishError")
        return task

    def catch(self, state: tasks.LambdaInvoke, handler: sfn.IChainable) -> tasks.LambdaInvoke:
        state.add_catch(handler, errors=["States.ALL"], result_path="$.error")
        return state

    def await_drs_event(
        self, state_id: str, kind: str, then: sfn.IChainable, on_error: sfn.IChainable, **extra: Any
    ) -> tasks.LambdaInvoke:
        """Park the task token until a DRS event resumes it, or check anyway after the fallback timeout."""
        wait = self.invoke(
            state_id,
            fn.WAITS_REGISTER,
            {
                "run": sfn.JsonPath.object_at(RUN),
                "task_token": sfn.JsonPath.task_token,
                "kind": kind,
                **extra,
            },
            None,
            wait_for_token=True,
            timeout_path=f"{RUN}.fallback_poll_seconds",
        )
        wait.add_catch(then, errors=["States.Timeout"], result_path=sfn.JsonPath.DISCARD)
        wait.add_catch(on_error, errors=["States.ALL"], result_path="$.error")
        wait.next(then)
        return wait

    def wave_loop(self, on_error: sfn.IChainable) -> sfn.Chain:
        """Launch the plan's waves in order; each wave waits (on DRS launch events) until all its servers
        launched. After the last wave: the state chained next."""
        first_wave = sfn.Pass(
            self.scope, "First wave", result=sfn.Result.from_object({"wave": 0}), result_path="$.cursor"
        )
        launch = self.catch(
            self.run_task(
                "Launch wave", fn.LAUNCH_WAVE, "$.launch", wave=sfn.JsonPath.number_at("$.cursor.wave")
            ),
            on_error,
        )
        # A wave waits for room under the account's DRS job quotas: launch_wave answers PENDING until all its
        # jobs have started, and is called again after the plan's poll interval.
        queued = sfn.Choice(self.scope, "Wave queued?")
        queue_wait = sfn.Wait(
            self.scope, "Wait for DRS job quota", time=sfn.WaitTime.seconds_path(f"{RUN}.poll_seconds")
        )
        queue_wait.next(launch)
        check = self.catch(
            self.run_task(
                "Check wave",
                fn.CHECK_WAVE,
                "$.progress",
                wave=sfn.JsonPath.number_at("$.cursor.wave"),
                job_ids=sfn.JsonPath.list_at("$.launch.job_ids"),
                requested_at=sfn.JsonPath.string_at("$.launch.requested_at"),
            ),
            on_error,
        )
        launched = sfn.Choice(self.scope, "Wave launched?")
        wait = self.await_drs_event(
            "Wait for launch events",
            "wave",
            check,
            on_error,
            wave=sfn.JsonPath.number_at("$.cursor.wave"),
            job_ids=sfn.JsonPath.list_at("$.launch.job_ids"),
            settled=sfn.JsonPath.number_at("$.progress.settled"),
        )
        next_wave = sfn.Pass(
            self.scope,
            "Next wave",
            parameters={"wave": sfn.JsonPath.math_add(sfn.JsonPath.number_at("$.cursor.wave"), 1)},
            result_path="$.cursor",
        )
        more = sfn.Choice(self.scope, "More waves?")
        more_waves = sfn.Condition.number_less_than_json_path("$.cursor.wave", f"{RUN}.wave_count")

        (
            first_wave.next(launch)
            .next(self.until_done(queued, "$.launch", otherwise=queue_wait))
            .next(check)
            .next(self.until_done(launched, "$.progress", otherwise=wait))
            .next(next_wave)
            .next(more.when(more_waves, launch))
        )
        return sfn.Chain.custom(first_wave, [Exit(more.otherwise)], more)

    def validate_loop(self, on_error: sfn.IChainable) -> sfn.Chain:
        """Validate once; until every instance passes, again every poll interval. Then the state chained
        next."""
        first = self.catch(
            self.run_task("Validate instances", fn.VALIDATE_INSTANCES, "$.validation"), on_error
        )
        again = self.catch(
            self.run_task(
                "Validate instances again",
                fn.VALIDATE_INSTANCES,
                "$.validation",
                first_checked_at=sfn.JsonPath.string_at("$.validation.first_checked_at"),
            ),
            on_error,
        )
        passed = sfn.Choice(self.scope, "Validation passed?")
        poll = self.poll_until_done("Validation", again, "$.validation")
        first.next(passed)
        exits = [self.exit_when_done(passed, "$.validation", otherwise=poll), *poll.end_states]
        return sfn.Chain.custom(first, exits, passed)
