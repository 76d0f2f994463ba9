"""The emulated DRS operations. Requests arrive validated against the model; callers hold the lock.

Where the model lists no not-found error for an operation (StartRecovery, TerminateRecoveryInstances,
StartFailbackLaunch, DescribeRecoverySnapshots, DescribeJobLogItems), an unknown id is answered with
ValidationException naming the field: a common error every AWS API may return.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from localcloud.drs import errors
from localcloud.drs.engine import Engine
from localcloud.drs.formats import new_id, parse_iso
from localcloud.drs.records import ACTIVE_REPLICATION, Job, JobServer, RecoveryInstance, SourceServer
from localcloud.drs.store import Store

DEFAULT_PAGE_SIZE = 1000
Handler = Callable[[dict[str, Any], datetime], dict[str, Any] | None]


class DrsApi:
    def __init__(self, store: Store, engine: Engine) -> None:
        self._store = store
        self._engine = engine
        self.handlers: dict[str, Handler] = {
            "DescribeSourceServers": self.describe_source_servers,
            "DescribeRecoverySnapshots": self.describe_recovery_snapshots,
            "StartRecovery": self.start_recovery,
            "DescribeJobs": self.describe_jobs,
            "DescribeJobLogItems": self.describe_job_log_items,
            "DescribeRecoveryInstances": self.describe_recovery_instances,
            "TerminateRecoveryInstances": self.terminate_recovery_instances,
            "StartFailbackLaunch": self.start_failback_launch,
            "StopFailback": self.stop_failback,
            "GetFailbackReplicationConfiguration": self.get_failback_replication_configuration,
            "UpdateFailbackReplicationConfiguration": self.update_failback_replication_configuration,
            "StartReplication": self.start_replication,
            "StopReplication": self.stop_replication,
            "GetLaunchConfiguration": self.get_launch_configuration,
            "UpdateLaunchConfiguration": self.update_launch_configuration,
            "ListTagsForResource": self.list_tags_for_resource,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
        }

    # -- source servers and snapshots ------------------------------------------------------------

    def describe_source_servers(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        filters = params.get("filters") or {}
        wanted = set(filters.get("sourceServerIDs") or [])
        hardware_id = filters.get("hardwareId")
        servers = [
            server
            for server in self._store.servers.values()
            if (not wanted or server.source_server_id in wanted)
            and (not hardware_id or server.hardware_id == hardware_id)
        ]
        return _page([server.to_api(now) for server in servers], params)

    def describe_recovery_snapshots(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        server = self._known_server(params["sourceServerID"], "sourceServerID")
        filters = params.get("filters") or {}
        start = parse_iso(filters["fromDateTime"]) if filters.get("fromDateTime") else None
        end = parse_iso(filters["toDateTime"]) if filters.get("toDateTime") else None
        snapshots = [
            s
            for s in server.snapshots
            if (start is None or s.taken >= start) and (end is None or s.taken <= end)
        ]
        snapshots.sort(key=lambda s: s.taken, reverse=params.get("order", "DESC") == "DESC")
        return _page([s.to_api() for s in snapshots], params)

    # -- recovery jobs ------------------------------------------------------------------------------

    def start_recovery(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        requested = params["sourceServers"]
        ids = [item["sourceServerID"] for item in requested]
        job_servers = []
        for index, item in enumerate(requested):
            field = f"sourceServers[{index}]"
            server = self._known_server(item["sourceServerID"], f"{field}.sourceServerID")
            if ids.count(server.source_server_id) > 1:
                raise errors.validation(
                    "A source server may appear once per job", [(f"{field}.sourceServerID", "duplicate")]
                )
            snapshot_id = item.get("recoverySnapshotID")
            if snapshot_id and all(s.snapshot_id != snapshot_id for s in server.snapshots):
                raise errors.validation(
                    f"Recovery snapshot {snapshot_id} not found for source server {server.source_server_id}",
                    [(f"{field}.recoverySnapshotID", "not found")],
                )
            phases = ["conversion", "boot"] if snapshot_id else ["snapshot", "conversion", "boot"]
            job_servers.append(JobServer(server.source_server_id, snapshot_id=snapshot_id, phases=phases))
        self._store.check_can_start_job(ids)
        is_drill = bool(params.get("isDrill", False))
        job = self._new_job(
            "LAUNCH", "START_DRILL" if is_drill else "START_RECOVERY", job_servers, params, now
        )
        for source_server_id in ids:
            self._store.servers[source_server_id].start_launch(job.job_id, is_drill, now)
        return {"job": job.to_api()}

    def describe_jobs(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        filters = params.get("filters") or {}
        wanted = set(filters.get("jobIDs") or [])
        start = parse_iso(filters["fromDate"]) if filters.get("fromDate") else None
        end = parse_iso(filters["toDate"]) if filters.get("toDate") else None
        jobs = [
            job
            for job in self._store.jobs.values()
            if (not wanted or job.job_id in wanted)
            and (start is None or job.created >= start)
            and (end is None or job.created <= end)
        ]
        return _page([job.to_api() for job in jobs], params)

    def describe_job_log_items(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        job = self._store.jobs.get(params["jobID"])
        if job is None:
            raise errors.validation(f"Job {params['jobID']} not found", [("jobID", "not found")])
        return _page(list(job.log), params)

    # -- recovery instances and failback ------------------------------------------------------------

    def describe_recovery_instances(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        filters = params.get("filters") or {}
        wanted = set(filters.get("recoveryInstanceIDs") or [])
        servers = set(filters.get("sourceServerIDs") or [])
        instances = [
            instance
            for instance in self._store.instances.values()
            if (not wanted or instance.recovery_instance_id in wanted)
            and (not servers or instance.source_server_id in servers)
        ]
        return _page([instance.to_api(now) for instance in instances], params)

    def terminate_recovery_instances(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        instances = self._known_instances(params["recoveryInstanceIDs"])
        self._store.check_can_start_job([instance.source_server_id for instance in instances])
        job_servers = [
            JobServer(i.source_server_id, recovery_instance_id=i.recovery_instance_id, phases=["terminate"])
            for i in instances
        ]
        job = self._new_job("TERMINATE", "TERMINATE_RECOVERY_INSTANCES", job_servers, {}, now)
        return {"job": job.to_api()}

    def start_failback_launch(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        instances = self._known_instances(params["recoveryInstanceIDs"])
        for instance in instances:
            if instance.failback.state != "FAILBACK_READY_FOR_LAUNCH":
                raise errors.conflict(
                    f"Recovery instance {instance.recovery_instance_id} is in failback state "
                    f"{instance.failback.state}, not FAILBACK_READY_FOR_LAUNCH",
                    "RECOVERY_INSTANCE",
                    instance.recovery_instance_id,
                )
        self._store.check_can_start_job([instance.source_server_id for instance in instances])
        job_servers = [
            JobServer(i.source_server_id, recovery_instance_id=i.recovery_instance_id, phases=["failback"])
            for i in instances
        ]
        job = self._new_job("LAUNCH", "FAILBACK", job_servers, params, now)
        for instance in instances:
            instance.failback.job_id = job.job_id
        return {"job": job.to_api()}

    def stop_failback(self, params: dict[str, Any], now: datetime) -> None:
        instance = self._store.instance(params["recoveryInstanceID"])
        instance.failback.reset()
        instance.failback.needs_client_restart = True
        return None

    def get_failback_replication_configuration(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        instance = self._store.instance(params["recoveryInstanceID"])
        return {
            "recoveryInstanceID": instance.recovery_instance_id,
            "name": instance.failback.replication_name,
            "bandwidthThrottling": instance.failback.bandwidth_throttling,
            "usePrivateIP": instance.failback.use_private_ip,
            "internetProtocol": "IPV4",
        }

    def update_failback_replication_configuration(self, params: dict[str, Any], now: datetime) -> None:
        instance = self._store.instance(params["recoveryInstanceID"])
        if "name" in params:
            instance.failback.replication_name = str(params["name"])
        if "bandwidthThrottling" in params:
            instance.failback.bandwidth_throttling = int(params["bandwidthThrottling"])
        if "usePrivateIP" in params:
            instance.failback.use_private_ip = bool(params["usePrivateIP"])
        return None

    # -- replication --------------------------------------------------------------------------------

    def start_replication(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        server = self._store.server(params["sourceServerID"])
        if server.replication_state in ACTIVE_REPLICATION:
            raise errors.conflict(
                f"Source server is already replicating ({server.replication_state})",
                "SOURCE_SERVER",
                server.source_server_id,
            )
        self._engine.set_replication(server, "INITIATING", now)
        return {"sourceServer": server.to_api(now)}

    def stop_replication(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        server = self._store.server(params["sourceServerID"])
        self._check_idle(server.source_server_id)
        self._engine.set_replication(server, "STOPPED", now)
        server.snapshots.clear()  # DRS deletes the PIT snapshots of a stopped server
        return {"sourceServer": server.to_api(now)}

    # -- launch configuration and tags --------------------------------------------------------------

    def get_launch_configuration(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        server = self._store.server(params["sourceServerID"])
        return {
            "sourceServerID": server.source_server_id,
            **self._store.launch_configurations[server.source_server_id],
        }

    def update_launch_configuration(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        server = self._store.server(params["sourceServerID"])
        self._check_idle(server.source_server_id)
        updates = {key: value for key, value in params.items() if key != "sourceServerID"}
        self._store.launch_configurations[server.source_server_id].update(updates)
        return self.get_launch_configuration(params, now)

    def list_tags_for_resource(self, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {"tags": dict(self._store.tagged(params["resourceArn"]))}

    def tag_resource(self, params: dict[str, Any], now: datetime) -> None:
        self._store.tagged(params["resourceArn"]).update(params["tags"])

    def untag_resource(self, params: dict[str, Any], now: datetime) -> None:
        tags = self._store.tagged(params["resourceArn"])
        for key in params["tagKeys"]:
            tags.pop(key, None)

    # -- helpers ------------------------------------------------------------------------------------

    def _new_job(
        self, kind: str, initiated_by: str, servers: list[JobServer], params: dict[str, Any], now: datetime
    ) -> Job:
        job = Job(
            job_id=new_id("drsjob-"),
            region=self._store.region,
            type=kind,
            initiated_by=initiated_by,
            created=now,
            servers=servers,
            tags=dict(params.get("tags") or {}),
        )
        self._store.jobs[job.job_id] = job
        self._store.job_added()
        return job

    def _known_server(self, source_server_id: str, field: str) -> SourceServer:
        server = self._store.servers.get(source_server_id)
        if server is None:
            raise errors.validation(f"Source server {source_server_id} not found", [(field, "not found")])
        return server

    def _known_instances(self, ids: Sequence[str]) -> list[RecoveryInstance]:
        missing = [
            (f"recoveryInstanceIDs[{n}]", i) for n, i in enumerate(ids) if i not in self._store.instances
        ]
        if missing:
            raise errors.validation(
                f"Recovery instance {missing[0][1]} not found", [(field, "not found") for field, _ in missing]
            )
        return [self._store.instances[i] for i in dict.fromkeys(ids)]

    def _check_idle(self, source_server_id: str) -> None:
        if source_server_id in self._store.busy_server_ids():
            raise errors.conflict("Source server is part of an active job", "SOURCE_SERVER", source_server_id)


def _page(items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """One page of items; nextToken is an opaque offset."""
    start = _offset(params.get("nextToken"))
    size = params.get("maxResults") or DEFAULT_PAGE_SIZE
    page: dict[str, Any] = {"items": items[start : start + size]}
    if start + size < len(items):
        page["nextToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
    return page


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix == "offset" and number.isdigit():
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise errors.validation("Invalid pagination token", [("nextToken", "is not a token from this API")])
