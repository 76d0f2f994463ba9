"""The emulator's state records and their API shapes (members as in the botocore `drs` model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from localcloud.drs.formats import arn, iso, iso_duration

GIB = 1024**3
RAM_BYTES = 8 * GIB
CPUS = [{"cores": 2, "modelName": "Intel(R) Xeon(R) Platinum 8272CL CPU @ 2.60GHz"}]
OS_NAME = "Ubuntu 22.04.4 LTS"
INSTANCE_TYPE = "t3.medium"
AGENT_VERSION = "4.7.0"
# Replication states in which the agent streams data; snapshots are taken only while CONTINUOUS.
ACTIVE_REPLICATION = {"INITIATING", "INITIAL_SYNC", "BACKLOG", "CREATING_SNAPSHOT", "CONTINUOUS", "RESCAN"}
LAGGING_REPLICATION = {"STALLED", "DISCONNECTED", "PAUSED", "BACKLOG"}


def device_name(index: int) -> str:
    return f"/dev/sd{chr(ord('a') + index)}"


@dataclass
class Snapshot:
    snapshot_id: str
    source_server_id: str
    expected: datetime
    taken: datetime
    ebs_snapshot_ids: list[str]

    def to_api(self) -> dict[str, Any]:
        return {
            "snapshotID": self.snapshot_id,
            "sourceServerID": self.source_server_id,
            "expectedTimestamp": iso(self.expected),
            "timestamp": iso(self.taken),
            "ebsSnapshots": list(self.ebs_snapshot_ids),
        }


@dataclass
class LastLaunch:
    job_id: str
    is_drill: bool
    initiated: datetime
    status: str = "PENDING"  # LaunchStatus

    def to_api(self) -> dict[str, Any]:
        return {
            "initiated": {
                "apiCallDateTime": iso(self.initiated),
                "jobID": self.job_id,
                "type": "DRILL" if self.is_drill else "RECOVERY",
            },
            "status": self.status,
        }


@dataclass
class SourceServer:
    source_server_id: str
    region: str
    hostname: str
    disks_gib: list[int]
    hardware_id: str | None  # the seeded Azure VM id; the hardwareId filter matches it
    tags: dict[str, str]
    added: datetime
    replication_state: str
    lag_seconds: float
    continuous_lag: float  # the lag replication settles at once CONTINUOUS again
    state_since: datetime
    next_snapshot_at: datetime
    snapshots: list[Snapshot] = field(default_factory=list)
    recovery_instance_id: str | None = None
    agent_stopped: bool = False  # replication stalled because the agent's machine stopped running it
    last_launch: LastLaunch | None = None
    last_launch_result: str = "NOT_STARTED"
    replication_started: datetime | None = None

    @property
    def arn(self) -> str:
        return arn(self.region, f"source-server/{self.source_server_id}")

    def disk_bytes(self) -> list[tuple[str, int]]:
        return [(device_name(i), gib * GIB) for i, gib in enumerate(self.disks_gib)]

    def lag(self, now: datetime) -> float:
        """Lag stays put while replicating and grows while replication is stuck."""
        if self.replication_state in LAGGING_REPLICATION:
            return self.lag_seconds + (now - self.state_since).total_seconds()
        return self.lag_seconds

    def start_launch(self, job_id: str, is_drill: bool, now: datetime) -> None:
        self.last_launch = LastLaunch(job_id, is_drill, now)
        self.last_launch_result = "PENDING"

    def set_replication(self, state: str, now: datetime, lag_seconds: float | None = None) -> None:
        if state != self.replication_state:
            self.state_since = now
        self.replication_state = state
        if lag_seconds is not None:
            self.lag_seconds = lag_seconds

    def to_api(self, now: datetime) -> dict[str, Any]:
        item: dict[str, Any] = {
            "sourceServerID": self.source_server_id,
            "arn": self.arn,
            "tags": dict(self.tags),
            "lastLaunchResult": self.last_launch_result,
            "dataReplicationInfo": self._replication_api(now),
            "lifeCycle": self._life_cycle_api(now),
            "sourceProperties": self._properties_api(),
            "replicationDirection": "FAILOVER",
            "agentVersion": AGENT_VERSION,
        }
        if self.recovery_instance_id:
            item["recoveryInstanceId"] = self.recovery_instance_id
        return item

    def _replication_api(self, now: datetime) -> dict[str, Any]:
        state = self.replication_state
        synced = 1.0
        if state in ("STOPPED", "INITIATING"):
            synced = 0.0
        elif state == "INITIAL_SYNC":
            synced = 0.5
        info: dict[str, Any] = {
            "dataReplicationState": state,
            "replicatedDisks": [
                {
                    "deviceName": name,
                    "totalStorageBytes": size,
                    "replicatedStorageBytes": int(size * synced),
                    "rescannedStorageBytes": 0,
                    "backloggedStorageBytes": 0,
                }
                for name, size in self.disk_bytes()
            ],
            "stagingAvailabilityZone": f"{self.region}a",
        }
        if state not in ("STOPPED", "INITIATING", "INITIAL_SYNC"):
            info["lagDuration"] = iso_duration(self.lag(now))
        if self.replication_started and state in ("INITIATING", "INITIAL_SYNC"):
            info["dataReplicationInitiation"] = {"startDateTime": iso(self.replication_started)}
        if state == "STALLED":
            info["dataReplicationError"] = {"error": "AGENT_NOT_SEEN", "rawError": "Agent not seen"}
        return info

    def _life_cycle_api(self, now: datetime) -> dict[str, Any]:
        connected = self.replication_state not in ("DISCONNECTED", "STALLED", "STOPPED")
        first_byte = self.added + timedelta(minutes=5)
        cycle: dict[str, Any] = {
            "addedToServiceDateTime": iso(self.added),
            "firstByteDateTime": iso(first_byte),
            "elapsedReplicationDuration": iso_duration((now - first_byte).total_seconds()),
            "lastSeenByServiceDateTime": iso(now if connected else self.state_since),
        }
        if self.last_launch:
            cycle["lastLaunch"] = self.last_launch.to_api()
        return cycle

    def _properties_api(self) -> dict[str, Any]:
        return {
            "lastUpdatedDateTime": iso(self.added),
            "recommendedInstanceType": INSTANCE_TYPE,
            "identificationHints": {
                "hostname": self.hostname,
                "fqdn": f"{self.hostname}.internal.cloudapp.net",
            },
            "disks": [{"deviceName": name, "bytes": size} for name, size in self.disk_bytes()],
            "cpus": CPUS,
            "ramBytes": RAM_BYTES,
            "os": {"fullString": OS_NAME},
            "supportsNitroInstances": True,
            "architecture": "x86_64",
        }


@dataclass
class Failback:
    state: str = "FAILBACK_NOT_STARTED"
    since: datetime | None = None
    client_id: str | None = None
    client_last_seen: datetime | None = None
    initiated: datetime | None = None
    job_id: str | None = None
    # After StopFailback the client must disappear and come back before it pairs again.
    needs_client_restart: bool = False
    client_machine: str | None = None  # the machine the paired client runs on
    targets: dict[str, int] = field(default_factory=dict)  # recovery-instance device -> local disk LUN
    # Failback replication configuration (Get/UpdateFailbackReplicationConfiguration); kept across runs.
    replication_name: str = ""
    bandwidth_throttling: int = 0
    use_private_ip: bool = False
    to_original: bool = True  # the client runs on the source server's own machine

    def reset(self) -> None:
        self.state = "FAILBACK_NOT_STARTED"
        self.since = self.client_id = self.initiated = self.job_id = self.client_machine = None
        self.targets = {}

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {"state": self.state}
        if self.client_id:
            item["failbackClientID"] = self.client_id
            item["failbackToOriginalServer"] = self.to_original
        if self.client_last_seen:
            item["failbackClientLastSeenByServiceDateTime"] = iso(self.client_last_seen)
        if self.initiated:
            item["failbackInitiationTime"] = iso(self.initiated)
            item["firstByteDateTime"] = iso(self.initiated)
        if self.job_id:
            item["failbackJobID"] = self.job_id
            item["failbackLaunchType"] = "RECOVERY"
        return item


@dataclass
class RecoveryInstance:
    recovery_instance_id: str
    region: str
    ec2_instance_id: str
    source_server_id: str
    hostname: str
    job_id: str
    is_drill: bool
    snapshot_time: datetime
    disks: list[tuple[str, int, str | None]]  # (device, bytes, EBS volume id)
    launched: datetime
    ec2_state: str = "PENDING"
    tags: dict[str, str] = field(default_factory=dict)
    failback: Failback = field(default_factory=Failback)

    @property
    def arn(self) -> str:
        return arn(self.region, f"recovery-instance/{self.recovery_instance_id}")

    def to_api(self, now: datetime) -> dict[str, Any]:
        return {
            "ec2InstanceID": self.ec2_instance_id,
            "ec2InstanceState": self.ec2_state,
            "jobID": self.job_id,
            "recoveryInstanceID": self.recovery_instance_id,
            "sourceServerID": self.source_server_id,
            "arn": self.arn,
            "tags": dict(self.tags),
            "failback": self.failback.to_api(),
            "dataReplicationInfo": self._failback_replication_api(),
            "recoveryInstanceProperties": {
                "lastUpdatedDateTime": iso(self.launched),
                "identificationHints": {"hostname": self.hostname, "awsInstanceID": self.ec2_instance_id},
                "disks": [_disk_api(name, size, volume) for name, size, volume in self.disks],
                "cpus": CPUS,
                "ramBytes": RAM_BYTES,
                "os": {"fullString": OS_NAME},
            },
            "pointInTimeSnapshotDateTime": iso(self.snapshot_time),
            "isDrill": self.is_drill,
            "originEnvironment": "ON_PREMISES",
            "agentVersion": AGENT_VERSION,
        }

    def _failback_replication_api(self) -> dict[str, Any]:
        """Replication from the recovery instance to the failback client."""
        state = {
            "FAILBACK_IN_PROGRESS": "INITIAL_SYNC",
            "FAILBACK_READY_FOR_LAUNCH": "CONTINUOUS",
            "FAILBACK_COMPLETED": "STOPPED",
        }.get(self.failback.state, "NOT_STARTED")
        return {"dataReplicationState": state}


def _disk_api(name: str, size: int, volume_id: str | None) -> dict[str, Any]:
    disk: dict[str, Any] = {"internalDeviceName": name, "bytes": size}
    if volume_id:
        disk["ebsVolumeID"] = volume_id
    return disk


@dataclass
class JobServer:
    source_server_id: str
    recovery_instance_id: str | None = None
    launch_status: str = "PENDING"
    snapshot_id: str | None = None
    phases: list[str] = field(default_factory=list)  # still to run, current first
    phase_ends: datetime | None = None
    awaiting_io: bool = False  # an EC2 call is under way; the phase cannot end before it returns
    error: str | None = None

    @property
    def done(self) -> bool:
        return not self.phases

    def to_api(self) -> dict[str, Any]:
        item = {"sourceServerID": self.source_server_id, "launchStatus": self.launch_status}
        if self.recovery_instance_id:
            item["recoveryInstanceID"] = self.recovery_instance_id
        return item


@dataclass
class Job:
    job_id: str
    region: str
    type: str  # LAUNCH | TERMINATE
    initiated_by: str  # START_RECOVERY | START_DRILL | FAILBACK | TERMINATE_RECOVERY_INSTANCES
    created: datetime
    servers: list[JobServer]
    tags: dict[str, str]
    status: str = "PENDING"
    ended: datetime | None = None
    log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return arn(self.region, f"job/{self.job_id}")

    @property
    def is_drill(self) -> bool:
        return self.initiated_by == "START_DRILL"

    def add_log(self, now: datetime, event: str, source_server_id: str | None = None, **data: str) -> None:
        event_data = {"sourceServerID": source_server_id, **data} if source_server_id else dict(data)
        item: dict[str, Any] = {"logDateTime": iso(now), "event": event}
        if event_data:
            item["eventData"] = event_data
        self.log.append(item)

    def to_api(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "jobID": self.job_id,
            "arn": self.arn,
            "type": self.type,
            "initiatedBy": self.initiated_by,
            "creationDateTime": iso(self.created),
            "status": self.status,
            "participatingServers": [server.to_api() for server in self.servers],
            "tags": dict(self.tags),
        }
        if self.ended:
            item["endDateTime"] = iso(self.ended)
        return item


DEFAULT_LAUNCH_CONFIGURATION: dict[str, Any] = {
    "launchDisposition": "STARTED",
    "targetInstanceTypeRightSizingMethod": "BASIC",
    "copyPrivateIp": False,
    "copyTags": True,
    "licensing": {"osByol": True},
    "postLaunchEnabled": False,
}
