"""The recovery plan: configuration that describes one protected application.

A plan is validated twice: at synth (a bad plan fails `cdk synth` with the field named) and when a
Lambda loads the plan catalog that synth bundled into its code asset.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# DRS quotas that shape a plan (https://docs.aws.amazon.com/drs/latest/userguide/ limits page).
MAX_SERVERS_PER_JOB = 200
MAX_CONCURRENT_JOBS = 20
MAX_REPLICATING_SERVERS = 300

PLAN_CATALOG_FILE = "plan_catalog.json"

SafeName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
SourceServerId = Annotated[str, Field(pattern=r"^s-[0-9a-zA-Z]{17}$")]
AzureVmId = Annotated[
    str,
    Field(
        pattern=r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[A-Za-z0-9_.()-]{1,90}"
        r"/providers/Microsoft\.Compute/virtualMachines/[A-Za-z0-9_.-]{1,64}$"
    ),
]
AzureResourceId = Annotated[
    str, Field(pattern=r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[A-Za-z0-9_./()-]{1,400}$")
]
HostedZoneId = Annotated[str, Field(pattern=r"^Z[0-9A-Z]{1,32}$")]
DnsName = Annotated[
    str, Field(pattern=r"^([a-zA-Z0-9_]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}\.?$")
]
AlarmName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_ .:/#+=@-]{1,255}$")]


class StrictModel(BaseModel):
    """Unknown fields are errors: a typo in a plan must not silently drop a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LaunchOverrides(StrictModel):
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


class Server(StrictModel):
    name: SafeName
    source_server_id: SourceServerId
    azure_vm_id: AzureVmId
    critical: bool = Field(
        default=True,
        description="A critical server that fails to launch fails its wave; an optional one does not.",
    )
    launch_overrides: LaunchOverrides = LaunchOverrides()


class Wave(StrictModel):
    name: SafeName
    servers: list[Server] = Field(min_length=1, max_length=MAX_REPLICATING_SERVERS)


class Targets(StrictModel):
    rto_minutes: int = Field(default=30, ge=1, le=24 * 60)
    rpo_minutes: int = Field(default=15, ge=1, le=24 * 60)


class PreflightSettings(StrictModel):
    max_lag_seconds: int = Field(default=300, ge=1, le=86_400)


class Timing(StrictModel):
    """Waits of the workflows. Local runs use seconds where production uses minutes."""

    poll_seconds: int = Field(default=30, ge=1, le=600)
    # Waits for a DRS launch or failback are resumed by DRS events; delivery is best effort, so a wait
    # also checks by itself after this long.
    fallback_poll_seconds: int = Field(default=300, ge=10, le=3600)
    launch_timeout_minutes: int = Field(default=60, ge=1, le=24 * 60)
    validation_timeout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    failback_timeout_minutes: int = Field(default=24 * 60, ge=1, le=7 * 24 * 60)
    replication_timeout_minutes: int = Field(default=24 * 60, ge=1, le=7 * 24 * 60)


class Approval(StrictModel):
    required_for_automatic: bool = True
    timeout_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    on_timeout: Literal["proceed", "abort"] = "abort"


class Traffic(StrictModel):
    """The DNS record that sends users to Azure in normal operation and to AWS after failover."""

    hosted_zone_id: HostedZoneId
    record_name: DnsName
    record_type: Literal["A", "CNAME"] = "A"
    ttl_seconds: int = Field(default=60, ge=0, le=86_400)
    azure_value: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:-]+$")
    aws_value: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:-]+$")
    aws_server: SafeName | None = Field(
        default=None, description="Send traffic to this server's recovery instance IP instead of aws_value."
    )

    @model_validator(mode="after")
    def _one_aws_target(self) -> Traffic:
        if (self.aws_value is None) == (self.aws_server is None):
            raise ValueError("set exactly one of traffic.aws_value or traffic.aws_server")
        if self.aws_server is not None and self.record_type != "A":
            raise ValueError("traffic.aws_server gives an IP address: use record_type A")
        return self


class Endpoint(StrictModel):
    """An Azure endpoint probed by a Route 53 health check."""

    name: SafeName
    protocol: Literal["HTTPS", "HTTP", "TCP"] = "HTTPS"
    fqdn: DnsName | None = None
    ip_address: Annotated[str, Field(pattern=r"^(\d{1,3}\.){3}\d{1,3}$")] | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./?=&%-]{0,254}$")] | None = None
    search_string: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f]*$")] | None = (
        None
    )

    @model_validator(mode="after")
    def _target(self) -> Endpoint:
        if (self.fqdn is None) == (self.ip_address is None):
            raise ValueError("set exactly one of fqdn or ip_address")
        if self.protocol == "TCP" and (self.path or self.search_string):
            raise ValueError("a TCP check has no path or search_string")
        if self.protocol == "TCP" and self.port is None:
            raise ValueError("a TCP check needs a port")
        return self


class Detection(StrictModel):
    """How the stack decides that Azure is down. Defaults detect an outage in about
    request_interval * failure_threshold + alarm_periods minutes (30 s * 3 + 3 min = 4.5 min)."""

    endpoints: list[Endpoint] = Field(min_length=1, max_length=6)
    request_interval_seconds: Literal[10, 30] = 30
    failure_threshold: int = Field(default=3, ge=1, le=10)
    alarm_periods: int = Field(
        default=3, ge=1, le=30, description="1-minute periods evaluated per endpoint alarm"
    )
    datapoints_to_alarm: int = Field(default=3, ge=1, le=30)
    quorum: int | None = Field(
        default=None, ge=1, le=6, description="endpoints that must fail; default: a majority"
    )
    require_replication_signal: bool = Field(
        default=False, description="also require DRS replication of the plan to be stalled or disconnected"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Detection:
        if self.datapoints_to_alarm > self.alarm_periods:
            raise ValueError("datapoints_to_alarm cannot exceed alarm_periods")
        if self.quorum is not None and self.quorum > len(self.endpoints):
            raise ValueError(f"quorum {self.quorum} exceeds the {len(self.endpoints)} endpoints")
        _unique("detection.endpoints[].name", (e.name for e in self.endpoints))
        return self

    @property
    def effective_quorum(self) -> int:
        return self.quorum or len(self.endpoints) // 2 + 1

    def detection_minutes(self) -> float:
        """Worst-case minutes from outage to ALARM with these settings."""
        health_check = self.request_interval_seconds * self.failure_threshold / 60
        return health_check + self.alarm_periods


class Triggers(StrictModel):
    alarm_names: list[AlarmName] = Field(default_factory=list, max_length=5)
    automatic_failover: bool = False
    # A flapping alarm (ALARM, OK, ALARM) must not start a second failover right after the first.
    min_minutes_between_automatic: int = Field(default=60, ge=1, le=7 * 24 * 60)
    drill_schedule: str | None = Field(default="cron(0 3 1 * ? *)", description="EventBridge cron, UTC")

    @field_validator("drill_schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"cron\(([^ ()]+ ){5}[^ ()]+\)", value):
            raise ValueError("must look like cron(min hour day-of-month month day-of-week year)")
        return value


class AzureFailback(StrictModel):
    """Where failback-client VMs are created when data flows back from AWS to Azure."""

    resource_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.()-]{1,90}$")]
    location: Annotated[str, Field(pattern=r"^[a-z0-9]{2,40}$")]
    image_id: AzureResourceId
    subnet_id: AzureResourceId
    vm_size: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{2,64}$")] = "Standard_D4s_v5"


class Azure(StrictModel):
    subscription_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]
    failback: AzureFailback


class Plan(StrictModel):
    name: SafeName
    description: str = Field(default="", max_length=500)
    waves: list[Wave] = Field(min_length=1, max_length=20)
    targets: Targets = Targets()
    preflight: PreflightSettings = PreflightSettings()
    timing: Timing = Timing()
    approval: Approval = Approval()
    traffic: Traffic | None = None
    triggers: Triggers = Triggers()
    detection: Detection | None = None
    azure: Azure

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
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
        return self

    def outage_alarm_names(self) -> list[str]:
        """Alarms whose ALARM starts recovery: the plan's composite alarm, and any alarms it brings."""
        own = [composite_alarm_name(self.name)] if self.detection else []
        return own + list(self.triggers.alarm_names)

    def servers(self) -> list[Server]:
        return [server for wave in self.waves for server in wave.servers]

    def server_by_source_id(self, source_server_id: str) -> Server:
        for server in self.servers():
            if server.source_server_id == source_server_id:
                return server
        raise KeyError(source_server_id)


def _unique(field: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: '{value}' appears more than once")
        seen.add(value)


def composite_alarm_name(plan: str) -> str:
    return f"dr-{plan}-azure-outage"


class PlanError(ValueError):
    """A plan file or catalog that cannot be used; the message names the file and the field."""


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"]) or "(document)"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def load_plan_file(path: Path) -> Plan:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the plan as JSON ({exc})") from exc
    try:
        return Plan.model_validate(document)
    except ValidationError as exc:
        raise PlanError(f"{path}: {describe_validation_error(exc)}") from exc


def plan_files(pattern: str, root: Path) -> list[Path]:
    """Plan files matching a glob, relative to the project root or absolute."""
    return [root / match for match in glob.glob(pattern, root_dir=root)]


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
    return plans


def catalog_document(plans: Iterable[Plan]) -> str:
    return json.dumps({p.name: p.model_dump(mode="json") for p in plans}, indent=1, sort_keys=True)


@lru_cache(maxsize=1)
def _catalog(path: str) -> dict[str, Plan]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: Plan.model_validate(doc) for name, doc in raw.items()}


def catalog_path() -> Path:
    # Synth writes the catalog next to the handler code; LAMBDA_TASK_ROOT is where Lambda unpacks it.
    return Path(os.environ.get("LAMBDA_TASK_ROOT", ".")) / PLAN_CATALOG_FILE


def plan_catalog() -> dict[str, Plan]:
    return _catalog(str(catalog_path()))
