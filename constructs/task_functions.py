"""The Lambda functions behind the workflow tasks, each with a role scoped to what it calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from dr_constructs.drs_events import WORKFLOWS_WAITING_ON_DRS
from dr_constructs.lambda_assets import ASSET_FLAVOURS, build_asset
from dr_constructs.state import OrchestratorState
from lambdas.inputs import WORKFLOWS
from lambdas.ownership import OWNER_TAG_KEY, STACK_NAME_ENV
from lambdas.plan import Plan, catalog_document
from lambdas.quotas import QUOTAS_ENV, DrsQuotas

HANDLERS = "lambdas.handlers."
DRS_READ = ["drs:DescribeSourceServers", "drs:DescribeRecoveryInstances", "drs:DescribeJobs"]


@dataclass(frozen=True)
class TaskFunction:
    handler: str
    description: str
    flavour: str = "core"
    drs_read: list[str] = field(default_factory=list)
    drs_on_source_servers: list[str] = field(default_factory=list)
    drs_on_recovery_instances: list[str] = field(default_factory=list)
    # On this account's and region's DRS jobs (job ids exist only once a launch starts them).
    drs_on_jobs: list[str] = field(default_factory=list)
    ec2_read: list[str] = field(default_factory=list)
    publishes: bool = False
    writes_reports: bool = False
    describes_executions: bool = False
    reads_azure_secret: bool = False
    # Assumes the failback-installation role to hand its short-lived credentials to the failback client.
    issues_failback_credentials: bool = False
    # Assumes the agent-installation role to hand its short-lived credentials to the agent installer.
    issues_agent_credentials: bool = False
    route53: bool = False
    tags_started_jobs: bool = False
    # Plans DRS jobs (needs the account's DRS quotas) / checks source-server ownership (needs the stack name).
    plans_jobs: bool = False
    checks_ownership: bool = False
    # Resumes the workflow's own wait at once when DRS already moved on before the wait was registered.
    resumes_waits: bool = False
    timeout_seconds: int = 60

    @property
    def key(self) -> str:
        """The handler's module under lambdas/handlers, `<module>.<function>` for a module with several
        handlers: `preflight` runs preflight.handler, `failback.check_handler` runs failback.check_handler."""
        module, function = self.handler.removeprefix(HANDLERS).rsplit(".", 1)
        return module if function == "handler" else f"{module}.{function}"


# One constant per task function, named after its key (WAITS_EVENT runs waits.event_handler): the workflows
# and the stack refer to these objects, so a misspelt task is an AttributeError at synth (and a mypy error).
WAITS_REGISTER = TaskFunction(
    "lambdas.handlers.waits.register_handler",
    "Park a task token until a DRS event",
    drs_read=DRS_READ,
    resumes_waits=True,
)

WAITS_EVENT = TaskFunction(
    "lambdas.handlers.waits.event_handler",
    "Resume waiting workflows on DRS events",
)

REPLICATION_MONITOR = TaskFunction(
    "lambdas.handlers.replication_monitor.handler",
    "Replication health of every plan; close runs whose execution ended; terminate drills' leftovers",
    # Azure: a stopped failback's credentials are cleared from its VMs' userData by the sweep.
    flavour="azure",
    reads_azure_secret=True,
    drs_read=DRS_READ,
    drs_on_recovery_instances=["drs:TerminateRecoveryInstances"],
    plans_jobs=True,
    # The sweep asks Step Functions whether each run marked RUNNING still runs, and tells on-call.
    describes_executions=True,
    publishes=True,
)

BEGIN_RUN = TaskFunction(
    "lambdas.handlers.begin_run.handler",
    "Validate input, take the plan lock",
    publishes=True,
    describes_executions=True,
)

FINISH_RUN = TaskFunction(
    "lambdas.handlers.finish_run.handler",
    "Settle lifecycle, release lock, report",
    publishes=True,
    writes_reports=True,
)

PREFLIGHT = TaskFunction(
    "lambdas.handlers.preflight.handler",
    "Replication, ownership and quota checks",
    drs_read=DRS_READ,
    plans_jobs=True,
    checks_ownership=True,
)

LAUNCH_WAVE = TaskFunction(
    "lambdas.handlers.launch_wave.handler",
    "Start DRS recovery jobs for a wave",
    drs_read=DRS_READ,
    drs_on_source_servers=[
        "drs:StartRecovery",
        "drs:CreateRecoveryInstanceForDrs",
        "drs:DescribeRecoverySnapshots",
        "drs:GetLaunchConfiguration",
        "drs:UpdateLaunchConfiguration",
    ],
    tags_started_jobs=True,
    ec2_read=["ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions"],
    plans_jobs=True,
    # Up to 300 servers' launch configurations and snapshots: see TIME_BUDGET_SECONDS in
    # lambdas/domain/wave_launch.py.
    timeout_seconds=300,
)

CHECK_WAVE = TaskFunction(
    "lambdas.handlers.check_wave.handler",
    "Read wave launch progress",
    drs_read=DRS_READ,
    drs_on_jobs=["drs:DescribeJobLogItems"],
)

VALIDATE_INSTANCES = TaskFunction(
    "lambdas.handlers.validate_instances.handler",
    "EC2 status checks",
    ec2_read=["ec2:DescribeInstanceStatus"],
)

CLEANUP_DRILL = TaskFunction(
    "lambdas.handlers.cleanup_drill.handler",
    "Terminate drill instances",
    drs_read=DRS_READ,
    drs_on_recovery_instances=["drs:TerminateRecoveryInstances"],
    ec2_read=["ec2:DescribeInstances"],
    plans_jobs=True,
)

CLEANUP_DRILL_CHECK = TaskFunction(
    "lambdas.handlers.cleanup_drill.check_handler",
    "Confirm drill termination",
    drs_read=DRS_READ,
)

FENCE_SOURCE = TaskFunction(
    "lambdas.handlers.fence_source.handler",
    "Deallocate Azure source VMs",
    flavour="azure",
    reads_azure_secret=True,
    timeout_seconds=300,
)

CONFIRM_OUTAGE = TaskFunction(
    "lambdas.handlers.confirm_outage.handler",
    "Confirm an outage alarm with Azure",
    flavour="azure",
    reads_azure_secret=True,
    timeout_seconds=120,
)

SWITCH_TRAFFIC = TaskFunction(
    "lambdas.handlers.switch_traffic.handler",
    "Switch the Route 53 record",
    drs_read=DRS_READ,
    ec2_read=["ec2:DescribeInstances"],
    route53=True,
)

REQUEST_APPROVAL = TaskFunction(
    "lambdas.handlers.request_approval.handler",
    "Ask an operator to approve",
    publishes=True,
)

FAILBACK_PREPARE = TaskFunction(
    "lambdas.handlers.failback.prepare_handler",
    "Check the Azure VMs can fail back; record their disk layout",
    flavour="azure",
    drs_read=DRS_READ,
    # The network check: the recovery instance's addresses and security groups, and whether its
    # failback replication uses the private IP.
    ec2_read=["ec2:DescribeInstances", "ec2:DescribeSecurityGroups"],
    drs_on_recovery_instances=["drs:GetFailbackReplicationConfiguration"],
    reads_azure_secret=True,
    timeout_seconds=300,
)

FAILBACK_BOOT_CLIENTS = TaskFunction(
    "lambdas.handlers.failback.boot_clients_handler",
    "Boot the DRS Failback Client on the Azure VMs",
    flavour="azure",
    drs_read=DRS_READ,
    reads_azure_secret=True,
    issues_failback_credentials=True,
    timeout_seconds=300,
)

FAILBACK_CHECK = TaskFunction(
    "lambdas.handlers.failback.check_handler",
    "Read DRS failback state; tend the failback clients",
    flavour="azure",
    drs_read=DRS_READ,
    reads_azure_secret=True,
    issues_failback_credentials=True,
    timeout_seconds=300,
)

FAILBACK_LAUNCH = TaskFunction(
    "lambdas.handlers.failback.launch_handler",
    "Start the DRS failback launch",
    drs_read=DRS_READ,
    drs_on_recovery_instances=["drs:StartFailbackLaunch", "drs:TagResource"],
)

FAILBACK_RESTORE = TaskFunction(
    "lambdas.handlers.failback.restore_handler",
    "Give the Azure VMs their own OS disks back and start them",
    flavour="azure",
    reads_azure_secret=True,
    timeout_seconds=300,
)

FAILBACK_CLEAR_CREDENTIALS = TaskFunction(
    "lambdas.handlers.failback.clear_credentials_handler",
    "Clear failback credentials from the Azure VMs after a failure",
    flavour="azure",
    reads_azure_secret=True,
    timeout_seconds=300,
)

RESTORE_REPLICATION = TaskFunction(
    "lambdas.handlers.restore_replication.handler",
    "Start STOPPED replication, stop leftover failback pairings",
    drs_read=DRS_READ,
    drs_on_source_servers=["drs:StartReplication"],
    drs_on_recovery_instances=["drs:StopFailback"],
)

REPLICATION_AGENTS_INSTALL = TaskFunction(
    "lambdas.handlers.replication_agents.install_handler",
    "Install the AWS Replication Agent on VMs failback created (Azure Run Command)",
    flavour="azure",
    reads_azure_secret=True,
    issues_agent_credentials=True,
    timeout_seconds=300,
)

RESTORE_REPLICATION_CHECK = TaskFunction(
    "lambdas.handlers.restore_replication.check_handler",
    "Wait for CONTINUOUS replication, then terminate recovery instances",
    drs_read=DRS_READ,
    drs_on_source_servers=["drs:StartReplication"],
    drs_on_recovery_instances=["drs:TerminateRecoveryInstances"],
    ec2_read=["ec2:DescribeInstances"],
    plans_jobs=True,
    # Names the stack's owner tag in the plan change for a new source server.
    checks_ownership=True,
)

# Every task function, in the order the stack creates them.
TASKS = [
    WAITS_REGISTER,
    WAITS_EVENT,
    REPLICATION_MONITOR,
    BEGIN_RUN,
    FINISH_RUN,
    PREFLIGHT,
    LAUNCH_WAVE,
    CHECK_WAVE,
    VALIDATE_INSTANCES,
    CLEANUP_DRILL,
    CLEANUP_DRILL_CHECK,
    FENCE_SOURCE,
    CONFIRM_OUTAGE,
    SWITCH_TRAFFIC,
    REQUEST_APPROVAL,
    FAILBACK_PREPARE,
    FAILBACK_BOOT_CLIENTS,
    FAILBACK_CHECK,
    FAILBACK_LAUNCH,
    FAILBACK_RESTORE,
    FAILBACK_CLEAR_CREDENTIALS,
    RESTORE_REPLICATION,
    REPLICATION_AGENTS_INSTALL,
    RESTORE_REPLICATION_CHECK,
]


class TaskFunctions(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, plans: list[Plan], state: OrchestratorState
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        catalog = catalog_document(plans)
        code = {flavour: build_asset(flavour, catalog) for flavour in ASSET_FLAVOURS}
        quotas = _quotas_from_context(self.node.try_get_context("drs_quotas"))
        # Source servers this stack may change: any in this account and region tagged for this stack (see
        # lambdas/ownership.py). Constant size, where a list of ARNs grew by ~70 characters per server.
        source_servers = OwnedSourceServers(
            arn=stack.format_arn(service="drs", resource="source-server", resource_name="*"),
            tag_key=OWNER_TAG_KEY,
            tag_value=stack.stack_name,
        )
        recovery_instance_arn = stack.format_arn(
            service="drs", resource="recovery-instance", resource_name="*"
        )
        job_arn = stack.format_arn(service="drs", resource="job", resource_name="*")
        # The executions of the four workflows' state machines, named from the stack (constructs/workflows.py)
        # so a function can read executions without a reference to the state machines, which reference the
        # functions. An execution ARN is ...:execution:<state machine name>:<execution name>.
        executions_arns = [
            stack.format_arn(
                service="states",
                resource="execution",
                resource_name=f"{stack.stack_name}-{workflow.replace('_', '-')}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for workflow in WORKFLOWS
        ]
        # The state machines whose tasks wait on DRS events, named as above (for their task tokens).
        waiting_state_machine_arns = [
            stack.format_arn(
                service="states",
                resource="stateMachine",
                resource_name=f"{stack.stack_name}-{workflow.replace('_', '-')}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for workflow in WORKFLOWS_WAITING_ON_DRS
        ]
        hosted_zones = sorted({p.traffic.hosted_zone_id for p in plans if p.traffic})
        # The Failback Client's credentials (DRS user guide: a role with this AWS managed policy, temporary
        # credentials from sts assume-role). Trusted only by the tasks that hand them to the client; a role
        # session started by a Lambda role session lasts at most one hour.
        self.failback_installation_role = self._installation_role(
            "FailbackInstallationRole",
            "DRS Failback Client pairing credentials (short-lived, written to the VM's userData)",
            "AWSElasticDisasterRecoveryFailbackInstallationPolicy",
        )
        # The AWS Replication Agent installer's credentials for a VM failback created (DRS user guide: a role
        # with this AWS managed policy, temporary credentials). Trusted only by the task that installs.
        self.agent_installation_role = self._installation_role(
            "AgentInstallationRole",
            "AWS Replication Agent installer credentials (short-lived, sent by Run Command)",
            "AWSElasticDisasterRecoveryAgentInstallationPolicy",
        )
        issuers: list[lambda_.Function] = []
        agent_issuers: list[lambda_.Function] = []

        self.functions: dict[str, lambda_.Function] = {}
        for spec in TASKS:
            log_group = logs.LogGroup(
                self,
                f"{spec.key}-logs",
                retention=logs.RetentionDays.THIRTEEN_MONTHS,
                encryption_key=state.key,
            )
            # Not AWSLambdaBasicExecutionRole, which lets a function write to every log group of the
            # account: each role writes its own function's log group only.
            role = iam.Role(
                self,
                f"{spec.key}ServiceRole",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"DR orchestrator task {spec.key}",
            )
            log_group.grant_write(role)
            function = lambda_.Function(
                self,
                spec.key,
                role=role,
                description=f"DR orchestrator: {spec.description}",
                runtime=lambda_.Runtime.PYTHON_3_13,
                architecture=lambda_.Architecture.X86_64,
                handler=spec.handler,
                code=code[spec.flavour],
                memory_size=512 if spec.flavour == "azure" else 256,
                timeout=Duration.seconds(spec.timeout_seconds),
                log_group=log_group,
                tracing=lambda_.Tracing.ACTIVE,
                environment={
                    "STATE_TABLE_NAME": state.table.table_name,
                    "POWERTOOLS_SERVICE_NAME": "dr-orchestrator",
                    "POWERTOOLS_METRICS_NAMESPACE": "DrOrchestrator",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    # Each function only learns of the resources it may use.
                    **({"NOTIFY_TOPIC_ARN": state.topic.topic_arn} if spec.publishes else {}),
                    **({"REPORT_BUCKET_NAME": state.reports.bucket_name} if spec.writes_reports else {}),
                    **(
                        {"AZURE_SECRET_ARN": state.azure_secret.secret_arn} if spec.reads_azure_secret else {}
                    ),
                    **(
                        {"FAILBACK_INSTALLATION_ROLE_ARN": self.failback_installation_role.role_arn}
                        if spec.issues_failback_credentials
                        else {}
                    ),
                    **(
                        {"AGENT_INSTALLATION_ROLE_ARN": self.agent_installation_role.role_arn}
                        if spec.issues_agent_credentials
                        else {}
                    ),
                    **({QUOTAS_ENV: quotas.to_env()} if spec.plans_jobs else {}),
                    **({STACK_NAME_ENV: stack.stack_name} if spec.checks_ownership else {}),
                },
            )
            if spec.issues_failback_credentials:
                issuers.append(function)
            if spec.issues_agent_credentials:
                agent_issuers.append(function)
            state.table.grant_read_write_data(function)
            for grant in _grants(spec, state, source_servers, recovery_instance_arn, job_arn, hosted_zones):
                grant(function)
            if spec.describes_executions:
                function.add_to_role_policy(
                    iam.PolicyStatement(actions=["states:DescribeExecution"], resources=executions_arns)
                )
            if spec.resumes_waits:
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["states:SendTaskSuccess"], resources=waiting_state_machine_arns
                    )
                )
            self.functions[spec.key] = function
        _trust_only(self.failback_installation_role, issuers)
        _trust_only(self.agent_installation_role, agent_issuers)

    def function(self, spec: TaskFunction) -> lambda_.Function:
        return self.functions[spec.key]

    def _installation_role(self, construct_id: str, description: str, managed_policy: str) -> iam.Role:
        """A role whose short-lived credentials a task hands to a DRS client on an Azure VM (trust set by
        _trust_only once the issuing functions exist)."""
        return iam.Role(
            self,
            construct_id,
            assumed_by=iam.AccountRootPrincipal(),
            description=description,
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(managed_policy)],
            max_session_duration=Duration.hours(1),
        )


def _trust_only(role: iam.Role, issuers: list[lambda_.Function]) -> None:
    """The role trusts exactly the roles of the functions that issue its credentials (replacing the
    account-root placeholder the Role construct needs at creation)."""
    trust = role.assume_role_policy
    assert trust is not None
    cfn_role = role.node.default_child
    assert isinstance(cfn_role, iam.CfnRole)
    cfn_role.assume_role_policy_document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": [fn.role.role_arn for fn in issuers if fn.role]},
            }
        ],
    }
    for fn in issuers:
        role.grant_assume_role(fn.grant_principal)


@dataclass(frozen=True)
class OwnedSourceServers:
    arn: str
    tag_key: str
    tag_value: str


def _quotas_from_context(value: object) -> DrsQuotas:
    """`-c drs_quotas='{...}'` arrives as a string, a cdk.json entry as an object."""
    try:
        return DrsQuotas.from_mapping(json.loads(value) if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"context drs_quotas: {exc}") from None


def _grants(
    spec: TaskFunction,
    state: OrchestratorState,
    source_servers: OwnedSourceServers,
    recovery_instance_arn: str,
    job_arn: str,
    hosted_zones: list[str],
) -> list[Callable[[lambda_.Function], object]]:
    grants: list[Callable[[lambda_.Function], object]] = []

    def statement(actions: list[str], resources: list[str]) -> Callable[[lambda_.Function], object]:
        return lambda fn: fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))

    # These DRS and EC2 reads list no resource type in the Service Authorization Reference
    # (DescribeJobLogItems and DescribeRecoverySnapshots do: they are granted on jobs and source servers).
    if spec.drs_read:
        grants.append(statement(sorted(spec.drs_read), ["*"]))
    if spec.ec2_read:
        grants.append(statement(sorted(spec.ec2_read), ["*"]))
    if spec.drs_on_source_servers:
        grants.append(
            lambda fn: fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=sorted(spec.drs_on_source_servers),
                    resources=[source_servers.arn],
                    conditions={
                        "StringEquals": {
                            f"aws:ResourceTag/{source_servers.tag_key}": source_servers.tag_value
                        }
                    },
                )
            )
        )
    if spec.tags_started_jobs:
        # Tags given to StartRecovery are authorized as drs:TagResource (DRS user guide, "Tagging resources
        # during creation"); drs:CreateAction limits it to the jobs being started: no existing resource can
        # be tagged. TagResource lists no resource type in the Service Authorization Reference, hence "*".
        grants.append(
            lambda fn: fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["drs:TagResource"],
                    resources=["*"],
                    conditions={"StringEquals": {"drs:CreateAction": "StartRecovery"}},
                )
            )
        )
    if spec.drs_on_recovery_instances:
        grants.append(statement(sorted(spec.drs_on_recovery_instances), [recovery_instance_arn]))
    if spec.drs_on_jobs:
        grants.append(statement(sorted(spec.drs_on_jobs), [job_arn]))
    if spec.plans_jobs:
        # The DRS quotas applied to the account (lambdas/adapters/service_quotas.py). GetServiceQuota lists no
        # resource type in the Service Authorization Reference, hence "*"; it only reads quota values.
        grants.append(statement(["servicequotas:GetServiceQuota"], ["*"]))
    if spec.publishes:
        grants.append(state.topic.grant_publish)
    if spec.writes_reports:
        grants.append(statement(["s3:PutObject"], [state.reports.arn_for_objects("reports/*")]))
        grants.append(state.key.grant_encrypt)
    if spec.reads_azure_secret:
        grants.append(state.azure_secret.grant_read)
    if spec.route53 and hosted_zones:
        grants.append(
            statement(
                ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
                [f"arn:{Aws.PARTITION}:route53:::hostedzone/{zone}" for zone in hosted_zones],
            )
        )
    return grants
