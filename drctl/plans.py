"""`drctl plan validate|show|init`: check a plan file against the live DRS and Azure inventories, print it,
or write a starter plan from the DRS source servers.

The checks and the starter plan are pure functions over what DRS and Azure report; the functions that call
AWS or Azure are together at the end of the module.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from drctl.errors import EXPIRED, REJECTED
from drctl.stack import OperatorError, Stack
from lambdas.adapters import azure_network, azure_vms
from lambdas.adapters.aws import error_code
from lambdas.adapters.azure_compute import (
    VmRef,
    azure_errors,
    build_compute_client,
    build_network_client,
    classify,
    describe_azure_error,
    missing_secret_fields,
)
from lambdas.domain.failback_network import missing_subnet
from lambdas.domain.preflight import replication_readiness
from lambdas.domain.waves import chunks
from lambdas.errors import OrchestratorError
from lambdas.plan import MAX_SERVERS_PER_JOB, Plan, composite_alarm_name
from lambdas.plan import plan_document as plan_fields

if TYPE_CHECKING:
    from azure.mgmt.compute import ComputeManagementClient

Severity = Literal["error", "warning", "ok"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "ok": 2}
CHECK_TITLES = {
    "plan": "plan file",
    "waves": "waves",
    "drs": "DRS source servers",
    "azure": "Azure source VMs",
    "failback": "failback to the Azure VMs",
    "detection": "outage detection",
}

# What `drctl plan init` writes where it cannot know the value. Every placeholder passes the plan schema
# (so the file loads) and matches PLACEHOLDER_PATTERN (so `drctl plan validate` reports it as an error).
PLACEHOLDER = "REPLACE-ME"
PLACEHOLDER_LOCATION = "replaceme"
PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_PATTERN = re.compile(rf"replace-?me|{PLACEHOLDER_SUBSCRIPTION}", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    check: str  # a key of CHECK_TITLES
    severity: Severity
    message: str
    subject: str = ""  # the server, wave or field the finding is about
    skipped: bool = False  # the check could not run: a warning, and the verdict says what was not checked

    def line(self) -> str:
        return f"{self.severity:<8} " + (f"{self.subject}: " if self.subject else "") + self.message


class CheckSkipped(Exception):
    """A check could not run; the message says why, and never carries a secret."""


# -- validate: the checks ------------------------------------------------------------------------


def placeholder_findings(plan: Plan) -> list[Finding]:
    fields = list(placeholder_fields(plan_fields(plan)))
    if not fields:
        return [Finding("plan", "ok", "no placeholders left")]
    return [
        Finding("plan", "error", "placeholder written by `drctl plan init`: set the real value", path)
        for path in fields
    ]


def placeholder_fields(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from placeholder_fields(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from placeholder_fields(item, f"{path}[{index}]")
    elif isinstance(value, str) and PLACEHOLDER_PATTERN.search(value):
        yield path


def wave_findings(plan: Plan) -> list[Finding]:
    findings = []
    for wave in plan.waves:
        count = len(wave.servers)
        if count > MAX_SERVERS_PER_JOB:
            jobs = len(chunks(wave.servers, MAX_SERVERS_PER_JOB))
            findings.append(
                Finding(
                    "waves",
                    "warning",
                    f"{count} servers exceed the DRS limit of {MAX_SERVERS_PER_JOB} servers per job: the "
                    f"wave is launched as {jobs} jobs at once; split it into waves of at most "
                    f"{MAX_SERVERS_PER_JOB} servers to keep one job per wave",
                    f"wave {wave.name}",
                )
            )
    if not findings:
        largest = max(len(w.servers) for w in plan.waves)
        findings.append(
            Finding(
                "waves",
                "ok",
                f"{count_of(len(plan.waves), 'wave')}, {count_of(len(plan.servers()), 'server')}, at most "
                f"{largest} per wave (DRS limit {MAX_SERVERS_PER_JOB} per job)",
            )
        )
    return findings


def drs_findings(plan: Plan, source_servers: list[dict[str, Any]]) -> list[Finding]:
    """Every plan server must be a DRS source server; warn when it does not replicate continuously."""
    by_id = {item["sourceServerID"]: item for item in source_servers}
    findings = []
    healthy = 0
    for server in plan.servers():
        subject = f"{server.name} ({server.source_server_id})"
        found = by_id.get(server.source_server_id)
        if found is None:
            findings.append(
                Finding(
                    "drs",
                    "error",
                    "source_server_id is not a DRS source server in this account and region: copy the id "
                    "from the DRS console (Source servers), or check --region",
                    subject,
                )
            )
            continue
        problem = _replication_problem(found, plan.preflight.max_lag_seconds)
        if problem:
            findings.append(Finding("drs", "warning", problem, subject))
        else:
            healthy += 1
    if healthy:
        findings.append(
            Finding(
                "drs",
                "ok",
                f"{count_of(healthy, 'source server')} replicating CONTINUOUS, lag within "
                f"preflight.max_lag_seconds ({plan.preflight.max_lag_seconds}s)",
            )
        )
    return findings


def _replication_problem(source_server: dict[str, Any], max_lag: int) -> str | None:
    readiness = replication_readiness(source_server, max_lag)
    detail = f"{readiness.state} ({readiness.error})" if readiness.error else readiness.state
    if readiness.verdict == "source_down":
        return (
            f"disconnected: replication is {detail}, the agent on the Azure VM does not reach DRS; a drill "
            "refuses to launch it, a recovery launches its last snapshot"
        )
    if readiness.verdict == "not_continuous":
        return f"replication is {detail}, not CONTINUOUS: drills and recoveries refuse to launch it"
    if readiness.verdict == "lagging":
        return (
            f"replication lag {readiness.lag:.0f}s exceeds preflight.max_lag_seconds ({max_lag}s): launches "
            "are refused until it catches up"
        )
    return None


def azure_findings(plan: Plan, groups: dict[str, set[str] | None]) -> list[Finding]:
    """`groups`: lower-case resource group -> lower-case VM names in it, None when the group does not exist.
    Placeholders are reported by placeholder_findings and not looked up."""
    findings = []
    found = 0
    for server in plan.servers():
        if PLACEHOLDER_PATTERN.search(server.azure_vm_id):
            continue
        ref = VmRef.parse(server.azure_vm_id)
        names = groups.get(ref.resource_group.lower())
        if names is None:
            problem = f"resource group {ref.resource_group} not found in subscription {ref.subscription_id}"
        elif ref.name.lower() not in names:
            problem = f"VM {ref.name} not found in resource group {ref.resource_group}"
        else:
            found += 1
            continue
        if plan.failback_target(server) == "new" and names is not None:
            # The plan says the VM is gone: failback creates a new one (README, "Failback to a new VM").
            findings.append(
                Finding(
                    "azure",
                    "warning",
                    f"azure_vm_id: {problem}: failback target 'new' creates a new VM",
                    server.name,
                )
            )
            continue
        findings.append(
            Finding("azure", "error", f"azure_vm_id: {problem}: set the ARM id of the source VM", server.name)
        )
    if found:
        findings.append(Finding("azure", "ok", f"{count_of(found, 'Azure VM')} found"))
    return findings


def detection_findings(plan: Plan, stack: str) -> list[Finding]:
    findings = []
    if plan.detection:
        detection = plan.detection
        findings.append(
            Finding(
                "detection",
                "ok",
                f"{count_of(len(detection.endpoints), 'endpoint')} probed by Route 53 health checks; "
                f"{composite_alarm_name(stack, plan.name)} alarms when {detection.effective_quorum} fail "
                f"(within about {detection.detection_minutes():g} min)",
            )
        )
    if plan.triggers.alarm_names:
        findings.append(
            Finding(
                "detection",
                "ok",
                f"your alarms start recovery too: {', '.join(plan.triggers.alarm_names)}",
                "triggers.alarm_names",
            )
        )
    if not findings:
        return [
            Finding(
                "detection",
                "warning",
                "no outage detection: only manual recovery (add a detection section with endpoints, "
                "or your own alarms in triggers.alarm_names)",
            )
        ]
    if not plan.triggers.automatic_failover:
        findings.append(
            Finding(
                "detection",
                "ok",
                "off: an outage alarm does not start recovery, an operator does",
                "triggers.automatic_failover",
            )
        )
    return findings


def skipped(check: str, reason: str) -> Finding:
    return Finding(check, "warning", f"check skipped: {reason}", skipped=True)


@dataclass
class Validation:
    plan: str
    file: str
    stack: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    @property
    def passed(self) -> bool:
        return self.errors == 0

    @property
    def skipped_checks(self) -> list[str]:
        return sorted({f.check for f in self.findings if f.skipped})

    def document(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "file": self.file,
            "stack": self.stack,
            "verdict": "passed" if self.passed else "failed",
            "errors": self.errors,
            "warnings": self.warnings,
            "skipped_checks": self.skipped_checks,
            "findings": [asdict(f) for f in self.findings],
        }


def format_validation(validation: Validation) -> str:
    lines = [f"plan {validation.plan} ({validation.file}) against stack {validation.stack}"]
    for check, title in CHECK_TITLES.items():
        group = [f for f in validation.findings if f.check == check]
        if group:
            lines.append(title)
            lines.extend(f"  {f.line()}" for f in sorted(group, key=lambda f: SEVERITY_ORDER[f.severity]))
    verdict = "PASSED" if validation.passed else "FAILED"
    counts = f"{count_of(validation.errors, 'error')}, {count_of(validation.warnings, 'warning')}"
    not_checked = ", ".join(CHECK_TITLES[c] for c in validation.skipped_checks)
    lines.append(f"verdict: {verdict} ({counts})" + (f"; not checked: {not_checked}" if not_checked else ""))
    return "\n".join(lines)


# -- show ----------------------------------------------------------------------------------------


def show_document(plan: Plan) -> dict[str, Any]:
    return {
        "plan": plan_fields(plan),
        "waves": [
            {
                "name": wave.name,
                "servers": len(wave.servers),
                "max_servers_per_job": MAX_SERVERS_PER_JOB,
                "jobs": len(chunks(wave.servers, MAX_SERVERS_PER_JOB)),
            }
            for wave in plan.waves
        ],
    }


def format_plan(plan: Plan) -> str:
    lines = [f"plan {plan.name}" + (f": {plan.description}" if plan.description else "")]
    lines.append(f"  targets: RTO {plan.targets.rto_minutes} min, RPO {plan.targets.rpo_minutes} min")
    lines.append(f"  approval: {_approval_text(plan)}")
    lines.append(f"  traffic switch: {_traffic_text(plan)}")
    lines.append(f"  triggers: {_triggers_text(plan)}")
    width = max(len(s.name) for s in plan.servers())
    for index, wave in enumerate(plan.waves, 1):
        count = len(wave.servers)
        jobs = len(chunks(wave.servers, MAX_SERVERS_PER_JOB))
        limit = f"{count}/{MAX_SERVERS_PER_JOB} servers per DRS job"
        if jobs > 1:
            limit = f"{count} servers: above the DRS limit of {MAX_SERVERS_PER_JOB} per job, {jobs} jobs"
        lines.append(f"wave {index} {wave.name} ({limit})")
        for server in wave.servers:
            ref = VmRef.parse(server.azure_vm_id)
            kind = "critical" if server.critical else "optional"
            lines.append(
                f"  {server.name:<{width}}  {server.source_server_id}  {kind:<8}  "
                f"azure {ref.name} (resource group {ref.resource_group})"
            )
    return "\n".join(lines)


def _approval_text(plan: Plan) -> str:
    approval = plan.approval
    if not approval.required_for_automatic:
        return "none: an alarm-started recovery proceeds at once"
    then = "proceeds" if approval.on_timeout == "proceed" else "aborts"
    minutes = approval.timeout_minutes
    return f"an alarm-started recovery waits up to {minutes} min for an operator, then {then}"


def _traffic_text(plan: Plan) -> str:
    traffic = plan.traffic
    if traffic is None:
        return "none (no DNS record is changed)"
    aws = traffic.aws_value or f"recovery instance IP of {traffic.aws_server}"
    return (
        f"{traffic.record_name} {traffic.record_type} in zone {traffic.hosted_zone_id}: "
        f"Azure {traffic.azure_value} -> AWS {aws} (TTL {traffic.ttl_seconds}s)"
    )


def _triggers_text(plan: Plan) -> str:
    triggers = plan.triggers
    alarms = plan.outage_alarm_names("<stack>")  # plan show names no stack
    automatic = "automatic failover " + ("on" if triggers.automatic_failover else "off")
    parts = [automatic + (f" (alarms: {', '.join(alarms)})" if alarms else " (no outage alarm)")]
    parts.append(f"drill schedule {triggers.drill_schedule or 'none'}")
    return ", ".join(parts)


def count_of(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# -- the calls to AWS and Azure ------------------------------------------------------------------


def list_source_servers(stack: Stack) -> list[dict[str, Any]]:
    """Every DRS source server visible to the operator's credentials in the stack's region."""
    try:
        pages = stack.client("drs").get_paginator("describe_source_servers").paginate(filters={})
        return [item for page in pages for item in page.get("items", [])]
    except ClientError as exc:
        if error_code(exc) in EXPIRED | REJECTED:
            raise  # drctl/errors.py says what to do
        raise OperatorError(
            f"cannot list DRS source servers ({error_code(exc)}): these credentials need "
            "drs:DescribeSourceServers in the stack's region (--profile, --region)"
        ) from None


def validate(stack: Stack, plan: Plan, path: Path) -> Validation:
    findings = [
        *placeholder_findings(plan),
        *wave_findings(plan),
        *drs_findings(plan, list_source_servers(stack)),
        *azure_check(stack, plan),
        *detection_findings(plan, stack.name),
    ]
    return Validation(plan.name, str(path), stack.name, findings)


def azure_check(stack: Stack, plan: Plan) -> list[Finding]:
    if PLACEHOLDER_PATTERN.search(plan.azure.subscription_id):
        return [skipped("azure", "azure.subscription_id is a placeholder")]
    groups = {
        VmRef.parse(s.azure_vm_id).resource_group
        for s in plan.servers()
        if not PLACEHOLDER_PATTERN.search(s.azure_vm_id)
    }
    try:
        secret = read_azure_secret(stack)
        inventory = azure_vm_groups(secret, plan.azure.subscription_id, groups)
    except CheckSkipped as exc:
        return [skipped("azure", str(exc)), skipped("failback", str(exc))]
    return [*azure_findings(plan, inventory), *failback_check(secret, plan, inventory)]


def failback_check(secret: dict[str, str], plan: Plan, groups: dict[str, set[str] | None]) -> list[Finding]:
    """What the failback workflow's first step checks, before a failover: the failback-client image exists,
    and every VM found can boot it (region, generation, secure boot, memory)."""
    image_id = plan.azure.failback.image_id
    if PLACEHOLDER_PATTERN.search(image_id):
        return []  # reported by placeholder_findings
    client = _compute_client(secret, plan.azure.subscription_id)
    findings = []
    with _quiet("azure.identity"):
        try:
            image = azure_vms.gallery_image(image_id, client)
            if not image.exists:
                return [
                    Finding(
                        "failback",
                        "error",
                        f"azure.failback.image_id: {image_id} does not exist: publish the failback-client "
                        "image (README, 'Failback')",
                    )
                ]
            findings += new_vm_subnet_findings(secret, plan)
            for server in plan.servers():
                ref = VmRef.parse(server.azure_vm_id)
                if ref.name.lower() not in (groups.get(ref.resource_group.lower()) or set()):
                    continue  # reported by the Azure check
                facts = azure_vms.boot_facts(server.azure_vm_id, client)
                for problem in azure_vms.boot_problems(facts, image, plan.azure.subscription_id, client):
                    findings.append(
                        Finding(
                            "failback", "error", f"cannot boot the failback client: {problem}", server.name
                        )
                    )
        except OrchestratorError as exc:
            return [skipped("failback", str(exc))]
    if not [f for f in findings if f.severity == "error"]:
        findings.append(Finding("failback", "ok", "every Azure VM found can boot the failback-client image"))
    return findings


def new_vm_subnet_findings(secret: dict[str, str], plan: Plan) -> list[Finding]:
    """Servers that fail back to a new VM: the subnet it goes into exists (ARM refuses the VM otherwise)."""
    findings = []
    client = build_network_client(secret, plan.azure.subscription_id, retries=2)
    for server in plan.servers():
        new_vm = plan.new_vm_for(server) if plan.failback_target(server) == "new" else None
        if new_vm is None or PLACEHOLDER_PATTERN.search(new_vm.subnet_id):
            continue
        if azure_network.subnet_path(new_vm.subnet_id, client) is None:
            findings.append(Finding("failback", "error", missing_subnet(new_vm.subnet_id), server.name))
    return findings


def read_azure_secret(stack: Stack) -> dict[str, str]:
    """The service principal from the stack's secret. Errors name the fields, never the values."""
    arn = stack.outputs.get("AzureCredentialSecretArn")
    if not arn:
        raise CheckSkipped(f"stack {stack.name} has no output AzureCredentialSecretArn")
    try:
        response = stack.client("secretsmanager").get_secret_value(SecretId=arn)
    except ClientError as exc:
        code = error_code(exc)
        hint = (
            "these credentials may not read it (secretsmanager:GetSecretValue, and kms:Decrypt on its key); "
            "run validate with credentials that may, or check the Azure VMs by hand"
            if "AccessDenied" in code
            else "check the stack output AzureCredentialSecretArn"
        )
        raise CheckSkipped(f"cannot read the Azure credential secret ({code}): {hint}") from None
    except BotoCoreError as exc:
        raise CheckSkipped(f"cannot reach Secrets Manager ({type(exc).__name__})") from None
    try:
        secret = json.loads(response["SecretString"])
    except (KeyError, TypeError, json.JSONDecodeError):
        secret = None
    missing = missing_secret_fields(secret)
    if missing:
        raise CheckSkipped(
            f"the Azure credential secret is missing {', '.join(missing)}: store the service principal "
            "(README, 'Azure access')"
        )
    return {str(k): str(v) for k, v in secret.items()}


def azure_vm_groups(
    secret: dict[str, str], subscription_id: str, resource_groups: Iterable[str]
) -> dict[str, set[str] | None]:
    """VM names per resource group (lower case), None for a group that does not exist: one list call per
    group instead of one call per VM."""
    from azure.core.exceptions import ResourceNotFoundError

    client = _compute_client(secret, subscription_id)
    groups: dict[str, set[str] | None] = {}
    with _quiet("azure.identity"):  # it logs each failed sign-in; the skipped finding already says why
        for group in sorted(set(resource_groups), key=str.lower):
            try:
                groups[group.lower()] = {str(vm.name).lower() for vm in client.virtual_machines.list(group)}
            except ResourceNotFoundError as exc:
                if "ResourceGroupNotFound" not in describe_azure_error(exc) + str(exc):
                    raise CheckSkipped(str(classify(exc))) from None
                groups[group.lower()] = None
            except azure_errors() as exc:
                raise CheckSkipped(str(classify(exc))) from None
    return groups


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _compute_client(secret: dict[str, str], subscription_id: str) -> ComputeManagementClient:
    """The adapter's client, from a secret read with the operator's credentials, with fewer retries: an
    operator is waiting."""
    return build_compute_client(secret, subscription_id, retries=2)
