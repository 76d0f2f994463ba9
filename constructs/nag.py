"""cdk-nag AwsSolutions suppressions. Each is attached to the resource that has the finding (never to the
whole stack), names the finding exactly (appliesTo for IAM4 and IAM5), and says why it is acceptable there.

The claim behind the commonest suppression, that a policy grants on "*" only actions that need it (listed
in WILDCARD_ONLY with the reason), is checked against the policy itself when the suppressions are applied:
a new grant on "*" stops synth (NagSuppressionError) until it is scoped or shown to need "*"."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import IConstruct

from dr_constructs.alarms import FailureAlarms
from dr_constructs.task_functions import TaskFunctions

# Why an action may be granted on "*". Every action a policy of the stack grants on "*" must be here.
NO_RESOURCE_TYPE = "no resource type in the Service Authorization Reference"
TRACING = "CDK's grant for active X-Ray tracing, as AWSXRayDaemonWriteAccess has them"
SFN_LOGGING = "CDK's grant for state machine logging (the Step Functions developer guide's logging policy)"
WILDCARD_ONLY: dict[str, str] = {
    "drs:DescribeSourceServers": NO_RESOURCE_TYPE,
    "drs:DescribeRecoveryInstances": NO_RESOURCE_TYPE,
    "drs:DescribeJobs": NO_RESOURCE_TYPE,
    # Tags given to StartRecovery are authorized as drs:TagResource; granted only with drs:CreateAction.
    "drs:TagResource": NO_RESOURCE_TYPE,
    "ec2:DescribeInstances": NO_RESOURCE_TYPE,
    "ec2:DescribeInstanceStatus": NO_RESOURCE_TYPE,
    "ec2:DescribeInstanceTypes": NO_RESOURCE_TYPE,
    "ec2:DescribeLaunchTemplateVersions": NO_RESOURCE_TYPE,
    "ec2:DescribeSecurityGroups": NO_RESOURCE_TYPE,
    "servicequotas:GetServiceQuota": NO_RESOURCE_TYPE,
    "xray:PutTraceSegments": TRACING,
    "xray:PutTelemetryRecords": TRACING,
    "xray:GetSamplingRules": TRACING,
    "xray:GetSamplingTargets": TRACING,
    "logs:CreateLogDelivery": SFN_LOGGING,
    "logs:GetLogDelivery": SFN_LOGGING,
    "logs:UpdateLogDelivery": SFN_LOGGING,
    "logs:DeleteLogDelivery": SFN_LOGGING,
    "logs:ListLogDeliveries": SFN_LOGGING,
    "logs:PutResourcePolicy": SFN_LOGGING,
    "logs:DescribeResourcePolicies": SFN_LOGGING,
    "logs:DescribeLogGroups": SFN_LOGGING,
}

_PARTITION = r"(<AWS::Partition>|aws[a-z-]*)"
_REGION_ACCOUNT = r"(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12})"


@dataclass(frozen=True)
class ScopedWildcard:
    """An IAM5 finding on a resource ARN with a wildcard, suppressed wherever a policy grants on it."""

    pattern: str
    reason: str

    def applies_to(self) -> dict[str, str]:
        return {"regex": f"/{self.pattern}/g"}


SCOPED_WILDCARDS = [
    ScopedWildcard(
        r"^Resource::<Tasks[A-Za-z0-9]+\.Arn>:\*$",
        "The state machine invokes versions and aliases of this stack's own task functions only.",
    ),
    ScopedWildcard(
        rf"^Resource::arn:{_PARTITION}:drs:{_REGION_ACCOUNT}:recovery-instance/\*$",
        "DRS recovery instance ids exist only after a launch; access is limited to recovery instances of "
        "this account and region, and the handlers only act on instances of the plan's source servers.",
    ),
    ScopedWildcard(
        rf"^Resource::arn:{_PARTITION}:drs:{_REGION_ACCOUNT}:source-server/\*$",
        "Source servers are granted by an aws:ResourceTag condition (dr-orchestrator:stack = the stack), "
        "which keeps the policy one size for 300 servers; a server not tagged for the stack is refused.",
    ),
    ScopedWildcard(
        rf"^Resource::arn:{_PARTITION}:drs:{_REGION_ACCOUNT}:job/\*$",
        "DRS job ids exist only once a launch starts them; only drs:DescribeJobLogItems is granted, on the "
        "jobs of this account and region.",
    ),
    ScopedWildcard(
        rf"^Resource::arn:{_PARTITION}:states:{_REGION_ACCOUNT}:execution:.*$",
        "Executions of this stack's own state machines only (an execution ARN exists once it starts).",
    ),
    ScopedWildcard(
        r"^Resource::<StateReports[A-Za-z0-9]+\.Arn>/reports/\*$",
        "Run reports live under reports/ with one key per run; the grant is for that prefix only.",
    ),
]

# CDK's grants on the stack's key (table read/write, topic publish, report writes) add these.
KMS_WILDCARD_ACTIONS = ("kms:ReEncrypt*", "kms:GenerateDataKey*")

# Why the managed policy is the right one (IAM4), by policy name.
MANAGED_POLICY_REASONS = {
    "AWSElasticDisasterRecoveryFailbackInstallationPolicy": (
        "The policy the DRS user guide prescribes for the credentials given to the Failback Client "
        "(failback: temporary credentials of a role with this policy); AWS maintains it as the client "
        "changes. The role is assumable only by the two failback tasks, for one hour."
    ),
    "AWSElasticDisasterRecoveryAgentInstallationPolicy": (
        "The policy the DRS user guide prescribes for the credentials given to the AWS Replication Agent "
        "installer; AWS maintains it as the installer changes. The role is assumable only by the "
        "agent-installation task, for 15 minutes per session."
    ),
}

# AwsSolutions-L1 wants the newest runtime the pinned aws-cdk-lib offers (Runtime.PYTHON_3_14 in 2.275).
LAMBDA_RUNTIME_REASON = (
    "Python 3.13 on purpose: the bundled dependencies include compiled extensions (msgspec, MarkupSafe, "
    "the Azure SDK's) built as cp313 wheels by `make lambda-deps` (LAMBDA_PY in the Makefile); the runtime "
    "and that build move together, which tests/infra checks."
)

SECRET_ROTATION = NagPackSuppression(
    id="AwsSolutions-SMG4",
    reason=(
        "The secret is an Azure service-principal credential: it is rotated in Entra ID and then stored "
        "here (README, 'Azure access'); AWS cannot rotate it."
    ),
)

DEAD_LETTER_QUEUE = NagPackSuppression(
    id="AwsSolutions-SQS3",
    reason=(
        "The queue is itself the dead-letter queue of an EventBridge or Scheduler target (SQS3 only "
        "recognizes dead-letter queues of other queues); its depth is alarmed."
    ),
)


class NagSuppressionError(ValueError):
    pass


def apply_nag_suppressions(stack: Stack) -> None:
    for construct in stack.node.find_all():
        if isinstance(construct, iam.Policy):
            _policy(stack, construct)
        elif isinstance(construct, lambda_.Function):
            _add(construct, NagPackSuppression(id="AwsSolutions-L1", reason=LAMBDA_RUNTIME_REASON))
        elif isinstance(construct, TaskFunctions):
            for role in (construct.failback_installation_role, construct.agent_installation_role):
                _managed_policies(stack, role)
        elif isinstance(construct, secretsmanager.Secret):
            _add(construct, SECRET_ROTATION)
        elif isinstance(construct, FailureAlarms):
            # Only the queues FailureAlarms makes, which are all dead-letter queues; other queues are checked.
            for queue in construct.node.children:
                if isinstance(queue, sqs.Queue):
                    _add(queue, DEAD_LETTER_QUEUE)


def _add(construct: IConstruct, suppression: NagPackSuppression) -> None:
    NagSuppressions.add_resource_suppressions(construct, [suppression])


def _managed_policies(stack: Stack, role: iam.Role) -> None:
    cfn = role.node.default_child
    assert isinstance(cfn, iam.CfnRole)
    for arn in stack.resolve(cfn.managed_policy_arns) or []:
        name = _nag_string(arn).rsplit("/", 1)[-1]
        _add(
            role,
            NagPackSuppression(
                id="AwsSolutions-IAM4",
                reason=MANAGED_POLICY_REASONS[name],
                applies_to=[_nag_string(arn).join(["Policy::", ""])],
            ),
        )


def _policy(stack: Stack, policy: iam.Policy) -> None:
    statements = stack.resolve(policy.document.to_json()).get("Statement", [])
    on_everything = sorted(
        {a for s in statements if "*" in _listed(s.get("Resource")) for a in _listed(s.get("Action"))}
    )
    unlisted = [a for a in on_everything if a not in WILDCARD_ONLY]
    if unlisted:
        raise NagSuppressionError(
            f'{policy.node.path} grants {", ".join(unlisted)} on every resource ("*"): grant it on named '
            "resources, or, if the Service Authorization Reference lists no resource type for it, add it to "
            "WILDCARD_ONLY in constructs/nag.py"
        )
    untied_tagging = [
        s
        for s in statements
        if "*" in _listed(s.get("Resource"))
        and "drs:TagResource" in _listed(s.get("Action"))
        and "drs:CreateAction" not in s.get("Condition", {}).get("StringEquals", {})
    ]
    if untied_tagging:
        raise NagSuppressionError(
            f"{policy.node.path} grants drs:TagResource on every resource without a drs:CreateAction "
            "condition: it could tag existing resources"
        )
    if on_everything:
        _add(
            policy,
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason=_everything_reason(on_everything),
                applies_to=["Resource::*"],
            ),
        )
    actions = {a for s in statements for a in _listed(s.get("Action"))}
    kms = [a for a in KMS_WILDCARD_ACTIONS if a in actions]
    if kms:
        _add(
            policy,
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason=(
                    "CDK's grants on the stack's own key (data key generation and re-encryption variants), "
                    "on that key's ARN only."
                ),
                applies_to=[f"Action::{a}" for a in kms],
            ),
        )
    resources = {
        f"Resource::{_nag_string(r)}" for s in statements for r in _listed(s.get("Resource")) if r != "*"
    }
    for wildcard in SCOPED_WILDCARDS:
        if any(re.match(wildcard.pattern, r) for r in resources):
            _add(
                policy,
                NagPackSuppression(
                    id="AwsSolutions-IAM5", reason=wildcard.reason, applies_to=[wildcard.applies_to()]
                ),
            )


def _everything_reason(actions: list[str]) -> str:
    groups: dict[str, list[str]] = {}
    for action in actions:
        groups.setdefault(WILDCARD_ONLY[action], []).append(action)
    listed = "; ".join(f"{why}: {', '.join(names)}" for why, names in groups.items())
    tagging = (
        " drs:TagResource only with drs:CreateAction StartRecovery." if "drs:TagResource" in actions else ""
    )
    return f'On "*" only actions that need it. {listed}. Other actions are on named resources.{tagging}'


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _nag_string(value: Any) -> str:
    """A resolved value written as cdk-nag writes it in a finding: Ref as <Name>, GetAtt as <Name.Attr>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_nag_string(p) for p in parts)
    return json.dumps(value, separators=(",", ":"))
