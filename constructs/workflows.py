"""The four Standard state machines, defined inline from statemachines/ with the CDK chain API."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from dr_constructs.state import OrchestratorState
from dr_constructs.task_functions import TaskFunctions
from statemachines.tasks import Tasks
from statemachines.workflows import WORKFLOW_BUILDERS


class Workflows(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, functions: TaskFunctions, state: OrchestratorState
    ) -> None:
        super().__init__(scope, construct_id)
        self.state_machines: dict[str, sfn.StateMachine] = {}
        for workflow, build in WORKFLOW_BUILDERS.items():
            holder = Construct(self, workflow)
            definition = build(Tasks(holder, functions.functions))
            log_group = logs.LogGroup(
                holder, "Logs", retention=logs.RetentionDays.THIRTEEN_MONTHS, encryption_key=state.key
            )
            self.state_machines[workflow] = sfn.StateMachine(
                holder,
                "StateMachine",
                state_machine_name=f"{Stack.of(self).stack_name}-{workflow.replace('_', '-')}",
                definition_body=sfn.DefinitionBody.from_chainable(definition),
                state_machine_type=sfn.StateMachineType.STANDARD,
                timeout=Duration.days(7),
                tracing_enabled=True,
                logs=sfn.LogOptions(
                    destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
                ),
                comment=f"DR orchestrator: {workflow.replace('_', ' ')}",
            )
