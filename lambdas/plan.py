"""The recovery plan: configuration that describes one protected application.

A plan is validated twice: at synth (a bad plan fails `cdk synth` with the field named) and when a
Lambda loads the plan catalog that synth bundled into its code asset.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from msgspec import Meta, field

from lambdas.quotas import DEFAULT_QUOTAS
from lambdas.validation import (
    StrictModel,
    ValidationError,
    describe_validation_error,
    parse,
    pattern,
    to_document,
)

# DRS quotas that shape a plan: the figures and their sources are in lambdas/quotas.py.
MAX_SERVERS_PER_JOB = DEFAULT_QUOTAS.max_servers_per_job
MAX_CONCURRENT_JOBS = DEFAULT_QUOTAS.max_concurrent_jobs
MAX_REPLICATING_SERVERS = DEFAULT_QUOTAS.max_replicating_servers

PLAN_CATALOG_FILE = "plan_catalog.json"

SafeName = Annotated[str, pattern(r"^[a-z0-9][a-z0-9-]{0,39}\Z")]
SourceServerId = Annotated[str, pattern(r"^s-[0-9a-zA-Z]{17}\Z")]
AzureVmId = Annotated[
    str,
    pattern(
        r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[A-Za-z0-9_.()-]{1,90}"
        r"/providers/Microsoft\.Compute/virtualMachines/[A-Za-z0-9_.-]{1,64}\Z"
    ),
]
GalleryImageVersionId = Annotated[
    str,
    pattern(
        r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[A-Za-z0-9_.()-]{1,90}/providers/Microsoft\.Compute"
        r"/galleries/[A-Za-z0-9_.]{1,80}/images/[A-Za-z0-9_.-]{1,80}/versions/[0-9]+\.[0-9]+\.[0-9]+\Z"
    ),
]
SubnetId = Annotated[
    str,
    pattern(
        r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[A-Za-z0-9_.()-]{1,90}/providers/Microsoft\.Network"
        r"/virtualNetworks/[A-Za-z0-9_.-]{2,64}/subnets/[A-Za-z0-9_.-]{1,80}\Z"
    ),
]
AzureLocation = Annotated[str, pattern(r"^[a-z][a-z0-9]{1,39}\Z")]
AzureVmSize = Annotated[str, pattern(r"^[A-Za-z][A-Za-z0-9_]{1,63}\Z")]
FailbackTarget = Literal["original", "new"]
HostedZoneId = Annotated[str, pattern(r"^Z[0-9A-Z]{1,32}\Z")]
DnsName = Annotated[
    str, pattern(r"^([a-zA-Z0-9_]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}\.?\Z", max_length=253)
]
AlarmName = Annotated[str, pattern(r"^[A-Za-z0-9_ .:/#+=@-]{1,255}\Z")]
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CRON_FIELD = r"[0-9A-Za-z*?,/#-]+"
# Printable text without control characters or markup: it is shown in terminals, reports and e-mails.
FreeText = Annotated[str, pattern(r"^[^\x00-\x1f\x7f<>`$\\]*\Z", max_length=500)]
CronExpression = Annotated[str, pattern(rf"^cron\(({_CRON_FIELD} ){{5}}{_CRON_FIELD}\)\Z", max_length=128)]
DnsValue = Annotated[str, pattern(r"^[A-Za-z0-9.:-]+\Z", min_length=1, max_length=255)]


class LaunchOverrides(StrictModel, frozen=True):
    """Applied to the server's DRS launch configuration before each launch. (The instance type itself lives
    in the server's EC2 launch template, which DRS manages: set right_sizing NONE to keep your choice.)"""

    copy_private_ip: bool | None = None
    copy_tags: bool | None = None
    right_sizing: Literal["NONE", "BASIC", "IN_AWS"] | None = None

    def drs_fields(self) -> dict[str, Any]:
        fields = {
            "copyPrivateIp": self.copy_private_ip,
            "copyTags": self.copy_tags,
            "targetInstanceTypeRightSizingMethod": self.right_sizing,
        }
        return {k: v for k, v in fields.items() if v is not None}


class NewVm(StrictModel, frozen=True):
    """Where failback creates a new VM for a server whose original VM is gone (target "new"). The VM goes
    into the original VM's resource group, named from the server (lambdas.domain.failback.new_vm_name)."""

    location: AzureLocation
    vm_size: AzureVmSize
    # The subnet of the new VM's network interface (ARM creates the NIC with the VM).
    subnet_id: SubnetId


class ServerFailback(StrictModel, frozen=True):
    """A server's own failback settings; unset fields take the plan's azure.failback values."""

    target: FailbackTarget | None = None
    new_vm: NewVm | None = None


class Server(StrictModel, frozen=True):
    name: SafeName
    source_server_id: SourceServerId
    azure_vm_id: AzureVmId
    # A critical server that fails to launch fails its wave; an optional one does not.
    critical: bool = True
    launch_overrides: LaunchOverrides = field(default_factory=LaunchOverrides)
    failback: ServerFailback = field(default_factory=ServerFailback)


class Wave(StrictModel, frozen=True):
    name: SafeName
    servers: Annotated[list[Server], Meta(min_length=1, max_length=MAX_REPLICATING_SERVERS)]


class Targets(StrictModel, frozen=True):
    rto_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 30
    rpo_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 15


class PreflightSettings(StrictModel, frozen=True):
    max_lag_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 300


class Timing(StrictModel, frozen=True):
    """Waits of the workflows. Local runs use seconds where production uses minutes."""

    poll_seconds: Annotated[int, Meta(ge=1, le=600)] = 30
    # Waits for a DRS launch or failback are resumed by DRS events; delivery is best effort, so a wait
    # also checks by itself after this long.
    fallback_poll_seconds: Annotated[int, Meta(ge=10, le=3600)] = 300
    launch_timeout_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 60
    validation_timeout_minutes: Annotated[int, Meta(ge=1, le=24 * 60)] = 15
    failback_timeout_minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60)] = 24 * 60
    # A failback client that has not paired by then gets fresh credentials and a reboot.
    failback_pairing_minutes: Annotated[int, Meta(ge=1, le=55)] = 20
    replication_timeout_minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60)] = 24 * 60


class Approval(StrictModel, frozen=True):
    required_for_automatic: bool = True
    timeout_minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60)] = 30
    on_timeout: Literal["proceed", "abort"] = "abort"


class Traffic(StrictModel, frozen=True):
    """The DNS record that sends users to Azure in normal operation and to AWS after failover."""

    hosted_zone_id: HostedZoneId
    record_name: DnsName
    azure_value: DnsValue
    record_type: Literal["A", "CNAME"] = "A"
    ttl_seconds: Annotated[int, Meta(ge=0, le=86_400)] = 60
    aws_value: DnsValue | None = None
    # Send traffic to this server's recovery instance IP instead of aws_value.
    aws_server: SafeName | None = None

    def __post_init__(self) -> None:
        if (self.aws_value is None) == (self.aws_server is None):
            raise ValueError("traffic: set exactly one of traffic.aws_value or traffic.aws_server")
        if self.aws_server is not None and self.record_type != "A":
            raise ValueError("traffic.aws_server gives an IP address: use record_type A")


class Endpoint(StrictModel, frozen=True):
    """An Azure endpoint probed by a Route 53 health check."""

    name: SafeName
    protocol: Literal["HTTPS", "HTTP", "TCP"] = "HTTPS"
    fqdn: DnsName | None = None
    ip_address: Annotated[str, pattern(rf"^({_OCTET}\.){{3}}{_OCTET}\Z")] | None = None
    port: Annotated[int, Meta(ge=1, le=65535)] | None = None
    path: Annotated[str, pattern(r"^/[A-Za-z0-9_./?=&%-]{0,254}\Z")] | None = None
    search_string: Annotated[str, pattern(r"^[^\x00-\x1f]*\Z", min_length=1, max_length=255)] | None = None

    def __post_init__(self) -> None:
        where = f"detection.endpoints '{self.name}'"
        if (self.fqdn is None) == (self.ip_address is None):
            raise ValueError(f"{where}: set exactly one of fqdn or ip_address")
        if self.protocol == "TCP" and (self.path or self.search_string):
            raise ValueError(f"{where}: a TCP check has no path or search_string")
        if self.protocol == "TCP" and self.port is None:
            raise ValueError(f"{where}: a TCP check needs a port")


class Detection(StrictModel, frozen=True):
    """How the stack decides that Azure is down. Defaults detect an outage in about
    request_interval * failure_threshold + alarm_periods minutes (30 s * 3 + 3 min = 4.5 min)."""

    endpoints: Annotated[list[Endpoint], Meta(min_length=1, max_length=6)]
    request_interval_seconds: Literal[10, 30] = 30
    failure_threshold: Annotated[int, Meta(ge=1, le=10)] = 3
    # 1-minute periods evaluated per endpoint alarm.
    alarm_periods: Annotated[int, Meta(ge=1, le=30)] = 3
    datapoints_to_alarm: Annotated[int, Meta(ge=1, le=30)] = 3
    # Endpoints that must fail; default: a majority.
    quorum: Annotated[int, Meta(ge=1, le=6)] | None = None
    # Also require DRS replication of the plan to be stalled or disconnected.
    require_replication_signal: bool = False

    def __post_init__(self) -> None:
        if self.datapoints_to_alarm > self.alarm_periods:
            raise ValueError("detection.datapoints_to_alarm cannot exceed detection.alarm_periods")
        if self.quorum is not None and self.quorum > len(self.endpoints):
            raise ValueError(f"detection.quorum {self.quorum} exceeds the {len(self.endpoints)} endpoints")
        _unique("detection.endpoints[].name", (e.name for e in self.endpoints))

    @property
    def effective_quorum(self) -> int:
        return self.quorum or len(self.endpoints) // 2 + 1

    def detection_minutes(self) -> float:
        """Worst-case minutes from outage to ALARM with these settings."""
        health_check = self.request_interval_seconds * self.failure_threshold / 60
        return health_check + self.alarm_periods


class Triggers(StrictModel, frozen=True):
    alarm_names: Annotated[list[AlarmName], Meta(max_length=5)] = field(default_factory=list)
    automatic_failover: bool = False
    # A flapping alarm (ALARM, OK, ALARM) must not start a second failover right after the first.
    min_minutes_between_automatic: Annotated[int, Meta(ge=1, le=7 * 24 * 60)] = 60
    # EventBridge cron, UTC: cron(min hour day-of-month month day-of-week year).
    drill_schedule: CronExpression | None = "cron(0 3 1 * ? *)"


class AzureFailback(StrictModel, frozen=True):
    """Failback to the plan's original Azure VMs: each boots the DRS Failback Client from a disk made of
    this image while its own disks receive the data (README, "Failback")."""

    # A Compute Gallery image version: a managed disk can be created from a gallery or platform image
    # only, not from a managed image (Microsoft Learn, DiskCreateOption.FromImage).
    image_id: GalleryImageVersionId
    # "original": fail back onto the plan's own VMs. "new": a new VM per server (for an original VM that is
    # gone): full sync, and return to normal installs a new replication agent (a new source server).
    target: FailbackTarget = "original"
    # Where new VMs go, for servers with target "new" that set no failback.new_vm of their own.
    new_vm: NewVm | None = None


class Azure(StrictModel, frozen=True):
    subscription_id: Annotated[str, pattern(r"^[0-9a-fA-F-]{36}\Z")]
    failback: AzureFailback


class Plan(StrictModel, frozen=True):
    name: SafeName
    waves: Annotated[list[Wave], Meta(min_length=1, max_length=20)]
    azure: Azure
    description: FreeText = ""
    targets: Targets = field(default_factory=Targets)
    preflight: PreflightSettings = field(default_factory=PreflightSettings)
    timing: Timing = field(default_factory=Timing)
    approval: Approval = field(default_factory=Approval)
    traffic: Traffic | None = None
    triggers: Triggers = field(default_factory=Triggers)
    detection: Detection | None = None

    def __post_init__(self) -> None:
        servers = self.servers()
        if len(servers) > MAX_REPLICATING_SERVERS:
            raise ValueError(
                f"waves: {len(servers)} servers exceed the DRS quota of {MAX_REPLICATING_SERVERS}"
            )
        _unique("waves[].name", (w.name for w in self.waves))
        _unique("waves[].servers[].name", (s.name for s in servers))
        _unique("waves[].servers[].source_server_id", (s.source_server_id for s in servers))
        _unique("waves[].servers[].azure_vm_id", (s.azure_vm_id.lower() for s in servers))
        for server in servers:
            subscription = server.azure_vm_id.split("/")[2]
            if subscription.lower() != self.azure.subscription_id.lower():
                raise ValueError(
                    f"server {server.name}: azure_vm_id is in subscription {subscription}, "
                    f"the plan's azure.subscription_id is {self.azure.subscription_id}"
                )
        for server in servers:
            self._check_failback_target(server)
        if self.triggers.automatic_failover and not (self.triggers.alarm_names or self.detection):
            raise ValueError(
                "triggers.automatic_failover needs a detection section or a name in triggers.alarm_names"
            )
        if (
            self.traffic
            and self.traffic.aws_server
            and self.traffic.aws_server not in {s.name for s in servers}
        ):
            raise ValueError(f"traffic.aws_server '{self.traffic.aws_server}' is not a server of this plan")

    def _check_failback_target(self, server: Server) -> None:
        if self.failback_target(server) != "new":
            return
        new_vm = self.new_vm_for(server)
        if new_vm is None:
            raise ValueError(
                f"server {server.name}: failback target is 'new' but no new VM is described: set "
                "waves[].servers[].failback.new_vm (or azure.failback.new_vm) with location, vm_size and "
                "subnet_id"
            )
        subscription = new_vm.subnet_id.split("/")[2]
        if subscription.lower() != self.azure.subscription_id.lower():
            raise ValueError(
                f"server {server.name}: failback new_vm.subnet_id is in subscription {subscription}, "
                f"the plan's azure.subscription_id is {self.azure.subscription_id}"
            )

    def failback_target(self, server: Server) -> FailbackTarget:
        """Where this server fails back: its own setting, else the plan's (default "original")."""
        return server.failback.target or self.azure.failback.target

    def new_vm_for(self, server: Server) -> NewVm | None:
        return server.failback.new_vm or self.azure.failback.new_vm

    def outage_alarm_names(self, stack: str) -> list[str]:
        """Alarms whose ALARM starts recovery in `stack`: the plan's composite alarm, and any alarms it
        brings."""
        own = [composite_alarm_name(stack, self.name)] if self.detection else []
        return own + list(self.triggers.alarm_names)

    def servers(self) -> list[Server]:
        return [server for wave in self.waves for server in wave.servers]

    def server_by_source_id(self, source_server_id: str) -> Server:
        for server in self.servers():
            if server.source_server_id == source_server_id:
                return server
        raise KeyError(source_server_id)


def _unique(field_name: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field_name}: '{value}' appears more than once")
        seen.add(value)


def composite_alarm_name(stack: str, plan: str) -> str:
    """Alarm names are unique per account and region: two stacks may hold plans of one name."""
    return f"dr-{stack}-{plan}-azure-outage"


class PlanError(ValueError):
    """A plan file or catalog that cannot be used; the message names the file and the field."""


def parse_plan(document: object) -> Plan:
    """The plan in `document`; raises ValidationError naming the field."""
    return parse(Plan, document)


def plan_document(plan: Plan) -> dict[str, Any]:
    document: dict[str, Any] = to_document(plan)
    return document


def load_plan_file(path: Path) -> Plan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the plan as UTF-8 JSON ({exc})") from None
    except RecursionError:
        raise PlanError(f"{path}: the JSON is nested too deeply to be a plan") from None
    try:
        return parse_plan(document)
    except ValidationError as exc:
        raise PlanError(f"{path}: {describe_validation_error(exc)}") from exc


def plan_files(file_glob: str, root: Path) -> list[Path]:
    """Plan files matching a glob, relative to the project root or absolute."""
    return [root / match for match in glob.glob(file_glob, root_dir=root)]


def load_plans(paths: Iterable[Path]) -> list[Plan]:
    """Load and cross-check the plans one stack deploys."""
    plans = [load_plan_file(p) for p in sorted(paths)]
    if not plans:
        raise PlanError("no plan files found: add one to plans/ (see plans/sample-plan.json)")
    try:
        _unique("plan name", (p.name for p in plans))
        # One source server belongs to one plan: a drill cleanup of one plan must never touch another's.
        _unique("source_server_id across plans", (s.source_server_id for p in plans for s in p.servers()))
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    # The replicating-server quota is per account: the plans of one stack share it.
    total = sum(len(p.servers()) for p in plans)
    if total > MAX_REPLICATING_SERVERS:
        raise PlanError(
            f"the plans hold {total} servers together, above the DRS quota of {MAX_REPLICATING_SERVERS} "
            "replicating servers per account: deploy the rest from another staging account's stack"
        )
    return plans


def catalog_document(plans: Iterable[Plan]) -> str:
    return json.dumps({p.name: plan_document(p) for p in plans}, indent=1, sort_keys=True)


@lru_cache(maxsize=1)
def _catalog(path: str) -> dict[str, Plan]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: parse_plan(doc) for name, doc in raw.items()}


def catalog_path() -> Path:
    # Synth writes the catalog next to the handler code; LAMBDA_TASK_ROOT is where Lambda unpacks it.
    return Path(os.environ.get("LAMBDA_TASK_ROOT", ".")) / PLAN_CATALOG_FILE


def plan_catalog() -> dict[str, Plan]:
    return _catalog(str(catalog_path()))
