"""The stack: state, task functions, workflows, triggers, and the operator role."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from dr_constructs.alarms import FailureAlarms
from dr_constructs.detection import OutageDetection
from dr_constructs.drs_events import DrsEvents
from dr_constructs.monitoring import Monitoring
from dr_constructs.state import OrchestratorState
from dr_constructs.task_functions import REPLICATION_MONITOR, WAITS_EVENT, TaskFunctions
from dr_constructs.triggers import Triggers
from dr_constructs.workflows import Workflows
from lambdas.plan import Plan


class DrOrchestratorStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, plans: list[Plan], **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        state = OrchestratorState(self, "State")
        alarms = FailureAlarms(self, "Alarms", state.topic)
        # First: a region that cannot see the detection metrics stops synth before anything is built.
        OutageDetection(self, "Detection", plans, alarms)
        functions = TaskFunctions(self, "Tasks", plans, state)
        workflows = Workflows(self, "Workflows", functions, state)
        Triggers(self, "Triggers", plans, workflows.state_machines, alarms)
        DrsEvents(self, "DrsEvents", functions.function(WAITS_EVENT), workflows.state_machines, alarms)
        Monitoring(self, "Monitoring", plans, functions.function(REPLICATION_MONITOR), alarms)
        for name, machine in {**workflows.state_machines, "approval_gate": workflows.approval_gate}.items():
            alarms.workflow_failures(name, machine)

        operator = self._operator_role(state, workflows)

        self._outputs(state, workflows, plans, operator)

    def _operator_role(self, state: OrchestratorState, workflows: Workflows) -> iam.Role:
        """What drctl calls (drctl/aws_calls.py, checked against drctl's source and this role by
        tests/infra/test_operator_role.py). Starting a failover or failback, and answering an approval, is for
        this role only."""
        operator = iam.Role(
            self,
            "OperatorRole",
            assumed_by=iam.AccountRootPrincipal(),
            description="On-call operators: drctl (start/stop DR workflows, approve/abort, status, reports)",
        )
        # drctl finds the stack's outputs: this stack only.
        operator.add_to_policy(
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[self.stack_id])
        )
        # Not grant_read: it adds states:DescribeStateMachine and activity reads on every resource ("*").
        for machine in [*workflows.state_machines.values(), workflows.approval_gate]:
            machine.grant(operator, "states:DescribeStateMachine", "states:ListExecutions")
            machine.grant_execution(
                operator, "states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"
            )
        for machine in workflows.state_machines.values():
            machine.grant_start_execution(operator)
        # Approval tokens belong to the gate machine: answering them is granted to this role alone.
        workflows.approval_gate.grant_task_response(operator)
        state.table.grant_read_data(operator)
        # drctl report: the run reports only (the key's kms:Decrypt comes with the table's read grant).
        operator.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[state.reports.arn_for_objects("reports/*")]
            )
        )
        # drctl plan validate checks the plan's VMs in Azure with the orchestrator's service principal.
        state.azure_secret.grant_read(operator)
        # drctl plan validate|init read the DRS inventory (Describe* has no resource-level permissions).
        operator.add_to_policy(iam.PolicyStatement(actions=["drs:DescribeSourceServers"], resources=["*"]))
        return operator

    def _outputs(
        self, state: OrchestratorState, workflows: Workflows, plans: list[Plan], operator: iam.Role
    ) -> None:
        CfnOutput(self, "StateTableName", value=state.table.table_name)
        CfnOutput(self, "Plans", value=",".join(p.name for p in plans), description="plans of this stack")
        CfnOutput(self, "NotificationTopicArn", value=state.topic.topic_arn)
        CfnOutput(self, "ReportBucketName", value=state.reports.bucket_name)
        CfnOutput(self, "AzureCredentialSecretArn", value=state.azure_secret.secret_arn)
        CfnOutput(self, "OperatorRoleArn", value=operator.role_arn)
        CfnOutput(self, "ApprovalGateStateMachineArn", value=workflows.approval_gate.state_machine_arn)
        for workflow, machine in workflows.state_machines.items():
            CfnOutput(self, f"{workflow.replace('_', '')}StateMachineArn", value=machine.state_machine_arn)
