"""The Standard state machines, defined inline from statemachines/ with the CDK chain API."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from dr_constructs.state import OrchestratorState
from dr_constructs.task_functions import TaskFunctions
from statemachines.tasks import Tasks
from statemachines.workflows import WORKFLOW_BUILDERS, approval_gate


class Workflows(Construct):
    """The four workflows, plus the approval gate the recovery runs as a child execution."""

    def __init__(
        self, scope: Construct, construct_id: str, functions: TaskFunctions, state: OrchestratorState
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = state.key
        self.approval_gate = self._machine(
            "approval_gate", approval_gate, Tasks(Construct(self, "approval_gate"), functions.functions)
        )
        self.state_machines: dict[str, sfn.StateMachine] = {
            workflow: self._machine(
                workflow, build, Tasks(Construct(self, workflow), functions.functions, self.approval_gate)
            )
            for workflow, build in WORKFLOW_BUILDERS.items()
        }

    def _machine(self, name: str, build: Callable[[Tasks], sfn.IChainable], tasks: Tasks) -> sfn.StateMachine:
        holder = tasks.scope
        log_group = logs.LogGroup(
            holder, "Logs", retention=logs.RetentionDays.THIRTEEN_MONTHS, encryption_key=self._key
        )
        return sfn.StateMachine(
            holder,
            "StateMachine",
            state_machine_name=f"{Stack.of(self).stack_name}-{name.replace('_', '-')}",
            definition_body=sfn.DefinitionBody.from_chainable(build(tasks)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.days(7),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment=f"DR orchestrator: {name.replace('_', ' ')}",
        )
