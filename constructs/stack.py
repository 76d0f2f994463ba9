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
from dr_constructs.task_functions import TaskFunctions
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
        DrsEvents(self, "DrsEvents", functions.functions["drs_event"], workflows.state_machines, alarms)
        Monitoring(self, "Monitoring", plans, functions.functions["replication_monitor"], alarms)
        for name, machine in {**workflows.state_machines, "approval_gate": workflows.approval_gate}.items():
            alarms.workflow_failures(name, machine)

        # Starting a failover or failback, and answering an approval, is for this role only.
        operator = iam.Role(
            self,
            "OperatorRole",
            assumed_by=iam.AccountRootPrincipal(),
            description="On-call operators: start/stop DR workflows, approve or abort a failover",
        )
        for machine in workflows.state_machines.values():
            machine.grant_start_execution(operator)
            machine.grant_read(operator)
            machine.grant_execution(operator, "states:StopExecution")
        # Approval tokens belong to the gate machine: answering them is granted to this role alone.
        workflows.approval_gate.grant_read(operator)
        workflows.approval_gate.grant_task_response(operator)
        state.table.grant_read_data(operator)
        # drctl plan validate|init read the DRS inventory (Describe* has no resource-level permissions).
        operator.add_to_policy(iam.PolicyStatement(actions=["drs:DescribeSourceServers"], resources=["*"]))

        CfnOutput(self, "StateTableName", value=state.table.table_name)
        CfnOutput(self, "Plans", value=",".join(p.name for p in plans), description="plans of this stack")
        CfnOutput(self, "NotificationTopicArn", value=state.topic.topic_arn)
        CfnOutput(self, "ReportBucketName", value=state.reports.bucket_name)
        CfnOutput(self, "AzureCredentialSecretArn", value=state.azure_secret.secret_arn)
        CfnOutput(self, "OperatorRoleArn", value=operator.role_arn)
        CfnOutput(self, "ApprovalGateStateMachineArn", value=workflows.approval_gate.state_machine_arn)
        for workflow, machine in workflows.state_machines.items():
            CfnOutput(self, f"{workflow.replace('_', '')}StateMachineArn", value=machine.state_machine_arn)
