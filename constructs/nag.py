"""cdk-nag AwsSolutions suppressions, each scoped to the exact finding, with the reason it is acceptable."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions

from dr_constructs.alarms import FailureAlarms


def _regex(pattern: str) -> dict[str, str]:
    return {"regex": f"/{pattern}/g"}


SUPPRESSIONS = [
    NagPackSuppression(
        id="AwsSolutions-IAM4",
        reason="Lambda roles use AWSLambdaBasicExecutionRole only to write their own logs.",
        applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM4",
        reason=(
            "The DRS Failback Client needs the AWS managed policy "
            "AWSElasticDisasterRecoveryFailbackInstallationPolicy (DRS user guide, failback prerequisites); "
            "the role is assumable only by the two failback tasks, for one hour."
        ),
        applies_to=[
            "Policy::arn:<AWS::Partition>:iam::aws:policy/AWSElasticDisasterRecoveryFailbackInstallationPolicy"
        ],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM4",
        reason=(
            "The AWS Replication Agent installer needs the AWS managed policy "
            "AWSElasticDisasterRecoveryAgentInstallationPolicy (DRS user guide, installation credentials); "
            "the role is assumable only by the agent-installation task, for 15 minutes per session."
        ),
        applies_to=[
            "Policy::arn:<AWS::Partition>:iam::aws:policy/AWSElasticDisasterRecoveryAgentInstallationPolicy"
        ],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason=(
            "DRS Describe*, EC2 Describe* and X-Ray trace writes support no resource-level permissions, "
            "nor does drs:TagResource, granted only for the jobs StartRecovery creates (drs:CreateAction); "
            "every other action is granted on named resources."
        ),
        applies_to=["Resource::*"],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="CDK's KMS grants on the stack's own key (data key generation and re-encryption variants).",
        applies_to=["Action::kms:ReEncrypt*", "Action::kms:GenerateDataKey*"],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="State machines invoke versions and aliases of this stack's own task functions only.",
        applies_to=[_regex(r"^Resource::<Tasks[A-Za-z0-9]+\.Arn>:\*$")],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason=(
            "DRS recovery instance ids exist only after a launch; access is limited to recovery instances "
            "of this account and region, and the handlers only act on instances of the plan's source servers."
        ),
        applies_to=[
            _regex(
                r"^Resource::arn:(<AWS::Partition>|aws[a-z-]*):drs:(<AWS::Region>|[a-z0-9-]+):"
                r"(<AWS::AccountId>|[0-9]{12}):recovery-instance/\*$"
            )
        ],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason=(
            "Source servers are granted by an aws:ResourceTag condition (dr-orchestrator:stack = the stack), "
            "which keeps the policy one size for 300 servers; a server not tagged for the stack is refused."
        ),
        applies_to=[
            _regex(
                r"^Resource::arn:(<AWS::Partition>|aws[a-z-]*):drs:(<AWS::Region>|[a-z0-9-]+):"
                r"(<AWS::AccountId>|[0-9]{12}):source-server/\*$"
            )
        ],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason=(
            "Operator role (read, stop), begin_run (stale-lock check) and the sweep (runs whose execution "
            "ended): executions of this stack's state machines only."
        ),
        applies_to=[
            _regex(
                r"^Resource::arn:(<AWS::Partition>|aws[a-z-]*):states:(<AWS::Region>|[a-z0-9-]+):"
                r"(<AWS::AccountId>|[0-9]{12}):execution:.*$"
            )
        ],
    ),
    NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="Run reports are written under reports/ with one key per run; only PutObject is granted.",
        applies_to=[_regex(r"^Resource::<StateReports[A-Za-z0-9]+\.Arn>/reports/\*$")],
    ),
    NagPackSuppression(
        id="AwsSolutions-L1",
        reason="Python 3.13 is the runtime the Lambda dependencies are built for (make lambda-deps).",
    ),
    NagPackSuppression(
        id="AwsSolutions-SMG4",
        reason=(
            "The secret is an Azure service-principal credential: it is rotated in Entra ID and then stored "
            "here (README, 'Azure access'); AWS cannot rotate it."
        ),
    ),
]


DEAD_LETTER_QUEUE = NagPackSuppression(
    id="AwsSolutions-SQS3",
    reason=(
        "The queue is itself the dead-letter queue of an EventBridge or Scheduler target (SQS3 only "
        "recognizes dead-letter queues of other queues); its depth is alarmed."
    ),
)


def apply_nag_suppressions(stack: Stack) -> None:
    NagSuppressions.add_stack_suppressions(stack, SUPPRESSIONS)
    # Only the queues FailureAlarms makes, which are all dead-letter queues; any other queue is still checked.
    for construct in stack.node.find_all():
        if isinstance(construct, FailureAlarms):
            for queue in construct.node.children:
                if isinstance(queue, sqs.Queue):
                    NagSuppressions.add_resource_suppressions(queue, [DEAD_LETTER_QUEUE])
