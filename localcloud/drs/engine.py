"""What happens as time passes: jobs step through their phases, replication settles, PIT snapshots
are taken and failback clients pair with recovery instances.

`advance` runs under the emulator lock and never does I/O: it returns the EC2 calls and failback
probes to make. The ticker makes them without the lock and hands the results back through
`launched`, `terminated` and `probed`, again under the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from localcloud.drs import events
from localcloud.drs.ec2 import Launched
from localcloud.drs.faults import Faults
from localcloud.drs.formats import new_id
from localcloud.drs.machines import VolumeWrite
from localcloud.drs.records import Job, JobServer, RecoveryInstance, SourceServer
from localcloud.drs.store import Store
from localcloud.drs.timing import DrsTiming

PROBE_INTERVAL = timedelta(seconds=0.2)
AGENT_PROBE_INTERVAL = timedelta(seconds=0.5)
# A failback client not seen for this long is not connected (the launch needs it).
CLIENT_SEEN_WITHIN = timedelta(seconds=2)
# Replication states in which the agent sends data: they stall when the agent stops.
_AGENT_SENDING = {"INITIATING", "INITIAL_SYNC", "BACKLOG", "CREATING_SNAPSHOT", "CONTINUOUS", "RESCAN"}
DRS_MANAGED_TAG = ("AWSElasticDisasterRecoveryManaged", "drs.amazonaws.com")


@dataclass(frozen=True)
class LaunchRequest:
    job_id: str
    source_server_id: str
    disks_gib: list[int]
    tags: dict[str, str]


@dataclass(frozen=True)
class TerminateRequest:
    job_id: str
    recovery_instance_id: str
    ec2_instance_id: str


@dataclass(frozen=True)
class RestoreRequest:
    """The failback launch writes the recovery instance's volumes onto the client machine, which reboots."""

    machine: str
    writes: list[VolumeWrite]


@dataclass
class Work:
    launches: list[LaunchRequest] = field(default_factory=list)
    terminations: list[TerminateRequest] = field(default_factory=list)
    probes: dict[str, str] = field(default_factory=dict)  # recovery instance id -> client machine
    agent_probes: dict[str, str] = field(default_factory=dict)  # source server id -> its machine
    restores: list[RestoreRequest] = field(default_factory=list)


class Engine:
    def __init__(self, store: Store, faults: Faults, timing: DrsTiming) -> None:
        self._store = store
        self._faults = faults
        self._timing = timing
        self._last_probe: dict[str, datetime] = {}
        self._last_agent_probe: datetime | None = None

    # -- transitions the API shares ----------------------------------------------------------------

    def set_replication(
        self, server: SourceServer, state: str, now: datetime, lag_seconds: float | None = None
    ) -> None:
        was_stalled = server.replication_state == "STALLED"
        if state in ("INITIATING", "CONTINUOUS") and server.replication_state != state:
            server.next_snapshot_at = now + timedelta(seconds=self._timing.snapshot_interval)
        if state == "INITIATING":
            server.replication_started = now
        server.set_replication(state, now, lag_seconds)
        if was_stalled != (state == "STALLED"):
            self._emit(events.replication_stalled(self._store.region, now, server.arn, not was_stalled))

    def set_failback(self, instance: RecoveryInstance, state: str, now: datetime) -> None:
        instance.failback.state = state
        instance.failback.since = now
        event = events.failback_state(self._store.region, now, instance.arn, state)
        if event:
            self._emit(event)

    # -- the tick --------------------------------------------------------------------------------

    def advance(self, now: datetime) -> Work:
        work = Work()
        for server in self._store.servers.values():
            self._advance_replication(server, now)
        for job in self._store.active_jobs():
            self._advance_job(job, now, work)
        work.probes = self._probes_due(now)
        if self._last_agent_probe is None or now - self._last_agent_probe >= AGENT_PROBE_INTERVAL:
            self._last_agent_probe = now
            work.agent_probes = {
                s.source_server_id: s.hardware_id for s in self._store.servers.values() if s.hardware_id
            }
        return work

    def paired(self, instance: RecoveryInstance, now: datetime) -> None:
        instance.failback.initiated = now
        self.set_failback(instance, "FAILBACK_IN_PROGRESS", now)

    def agents_probed(self, results: dict[str, bool | None], now: datetime) -> None:
        """The replication agent stops with its machine's OS (deallocated, or booted into the failback
        client): replication stalls and lag grows. When the machine's own OS boots again the agent
        rescans and returns to CONTINUOUS by itself (DRS user guide: no reinstall after failing back to
        the original source server)."""
        for sid, running in results.items():
            server = self._store.servers.get(sid)
            if server is None or running is None:
                continue
            if not running and server.replication_state in _AGENT_SENDING:
                server.agent_stopped = True
                self.set_replication(server, "STALLED", now, server.lag(now))
            elif running and server.agent_stopped and server.replication_state == "STALLED":
                server.agent_stopped = False
                self.set_replication(server, "RESCAN", now)

    def launched(self, request: LaunchRequest, result: Launched | Exception, now: datetime) -> None:
        job = self._store.jobs.get(request.job_id)
        server = self._store.servers.get(request.source_server_id)
        job_server = _job_server(job, request.source_server_id) if job else None
        if job is None or job_server is None or server is None:
            return
        job_server.awaiting_io = False
        if isinstance(result, Exception):
            job_server.error = f"EC2 launch failed: {result}"
            return
        snapshot_time = next(
            (s.taken for s in server.snapshots if s.snapshot_id == job_server.snapshot_id), now
        )
        instance = RecoveryInstance(
            recovery_instance_id=new_id("i-"),
            region=self._store.region,
            ec2_instance_id=result.instance_id,
            source_server_id=server.source_server_id,
            hostname=server.hostname,
            job_id=job.job_id,
            is_drill=job.is_drill,
            snapshot_time=snapshot_time,
            disks=[
                (name, size, volume)
                for (name, size), volume in zip(
                    server.disk_bytes(), result.volume_ids + [None] * len(server.disks_gib), strict=False
                )
            ],
            launched=now,
        )
        self._store.instances[instance.recovery_instance_id] = instance
        job_server.recovery_instance_id = instance.recovery_instance_id

    def terminated(self, request: TerminateRequest, error: Exception | None, now: datetime) -> None:
        job = self._store.jobs.get(request.job_id)
        job_server = _job_server(job, request.recovery_instance_id, by_instance=True) if job else None
        if job is None or job_server is None:
            return
        job_server.awaiting_io = False
        if error is not None:
            job.add_log(now, "CLEANUP_FAIL", job_server.source_server_id, rawError=str(error))
            job_server.launch_status = "FAILED"
        else:
            self._store.instances.pop(request.recovery_instance_id, None)
            self._last_probe.pop(request.recovery_instance_id, None)
            server = self._store.servers.get(job_server.source_server_id)
            if server and server.recovery_instance_id == request.recovery_instance_id:
                server.recovery_instance_id = None
            job.add_log(now, "CLEANUP_END", job_server.source_server_id)
            job_server.launch_status = "TERMINATED"
        job_server.phases.clear()

    def probed(self, results: dict[str, bool], now: datetime) -> None:
        """Paired failback clients seen connected (True) or not: while connected, data flows until the
        instance is ready for launch."""
        for instance_id, client_up in results.items():
            instance = self._store.instances.get(instance_id)
            if instance is None:
                continue
            failback = instance.failback
            if not client_up:
                if failback.needs_client_restart:
                    failback.needs_client_restart = False
                continue
            failback.client_last_seen = now
            if (
                failback.state == "FAILBACK_IN_PROGRESS"
                and failback.since
                and (now - failback.since).total_seconds() >= self._timing.failback_sync
            ):
                self.set_failback(instance, "FAILBACK_READY_FOR_LAUNCH", now)

    # -- internals ---------------------------------------------------------------------------------

    def _emit(self, event: dict[str, object]) -> None:
        self._store.outbox.append(event)

    def _phase_seconds(self, phase: str) -> float:
        timing = self._timing
        return {
            "snapshot": timing.snapshot,
            "conversion": timing.conversion,
            "boot": timing.boot,
            "terminate": timing.terminate,
            "failback": timing.failback_launch,
        }[phase]

    def _advance_replication(self, server: SourceServer, now: datetime) -> None:
        elapsed = (now - server.state_since).total_seconds()
        half_resync = self._timing.replication_resync / 2
        if server.replication_state == "INITIATING" and elapsed >= half_resync:
            self.set_replication(server, "INITIAL_SYNC", now)
        elif (server.replication_state == "INITIAL_SYNC" and elapsed >= half_resync) or (
            server.replication_state == "RESCAN" and elapsed >= self._timing.replication_resync
        ):
            self.set_replication(server, "CONTINUOUS", now, server.continuous_lag)
        elif server.replication_state == "CONTINUOUS" and now >= server.next_snapshot_at:
            snapshot = self._store.take_snapshot(server, server.next_snapshot_at, now)
            self._emit(events.snapshot_taken(self._store.region, now, server.arn, snapshot))
            interval = timedelta(seconds=self._timing.snapshot_interval)
            server.next_snapshot_at = max(server.next_snapshot_at + interval, now)

    def _advance_job(self, job: Job, now: datetime, work: Work) -> None:
        if job.status == "PENDING":
            if (now - job.created).total_seconds() < self._timing.job_pending:
                return
            job.status = "STARTED"
            job.add_log(now, "JOB_START")
            for job_server in job.servers:
                self._start_phase(job, job_server, now, work)
        if self._faults.hang_jobs:
            return
        for job_server in job.servers:
            while (
                job_server.phases
                and not job_server.awaiting_io
                and job_server.phase_ends is not None
                and now >= job_server.phase_ends
            ):
                self._finish_phase(job, job_server, now, work)
        if all(job_server.done for job_server in job.servers):
            job.add_log(now, "JOB_END")
            job.status = "COMPLETED"
            job.ended = now

    def _start_phase(self, job: Job, job_server: JobServer, now: datetime, work: Work) -> None:
        phase = job_server.phases[0]
        job_server.phase_ends = now + timedelta(seconds=self._phase_seconds(phase))
        sid = job_server.source_server_id
        if phase == "snapshot":
            job.add_log(now, "SNAPSHOT_START", sid)
        elif phase == "conversion":
            job.add_log(now, "CONVERSION_START", sid, conversionServerID=new_id("i-"))
        elif phase == "boot":
            job.add_log(now, "LAUNCH_START", sid)
            job_server.launch_status = "IN_PROGRESS"
            self._request_launch(job, job_server, work)
        elif phase == "terminate":
            job.add_log(now, "CLEANUP_START", sid)
            instance = self._store.instances.get(job_server.recovery_instance_id or "")
            if instance:
                instance.ec2_state = "SHUTTING-DOWN"
        elif phase == "failback":
            job.add_log(now, "LAUNCH_START", sid)
            job_server.launch_status = "IN_PROGRESS"

    def _finish_phase(self, job: Job, job_server: JobServer, now: datetime, work: Work) -> None:
        phase = job_server.phases[0]
        sid = job_server.source_server_id
        if phase == "terminate":
            self._request_termination(job, job_server, now, work)
            return  # `terminated` ends the phase when EC2 answers
        if phase == "snapshot":
            server = self._store.servers[sid]
            snapshot = self._store.take_snapshot(server, now, now)
            job_server.snapshot_id = snapshot.snapshot_id
            job.add_log(now, "SNAPSHOT_END", sid)
            self._emit(events.snapshot_taken(self._store.region, now, server.arn, snapshot))
        elif phase == "conversion":
            job.add_log(now, "CONVERSION_END", sid)
        elif phase == "boot":
            self._finish_launch(job, job_server, now)
        elif phase == "failback":
            self._finish_failback(job, job_server, now, work)
        job_server.phases.pop(0)
        if job_server.phases:
            self._start_phase(job, job_server, now, work)

    def _request_launch(self, job: Job, job_server: JobServer, work: Work) -> None:
        server = self._store.servers[job_server.source_server_id]
        if server.source_server_id in self._faults.failing_launches:
            job_server.error = "Failed to launch recovery instance (injected fault)"
            return
        tags = {
            "Name": server.hostname,
            DRS_MANAGED_TAG[0]: DRS_MANAGED_TAG[1],
            "AWSDRS_SOURCE_SERVER_ID": server.source_server_id,
            "AWSDRS_IS_DRILL": "true" if job.is_drill else "false",
        }
        if self._store.launch_configurations[server.source_server_id].get("copyTags"):
            tags = {**server.tags, **tags}
        work.launches.append(LaunchRequest(job.job_id, server.source_server_id, server.disks_gib, tags))
        job_server.awaiting_io = True

    def _request_termination(self, job: Job, job_server: JobServer, now: datetime, work: Work) -> None:
        instance = self._store.instances.get(job_server.recovery_instance_id or "")
        if instance is None:  # already gone: nothing to terminate
            job_server.launch_status = "TERMINATED"
            job.add_log(now, "CLEANUP_END", job_server.source_server_id)
            job_server.phases.clear()
            return
        work.terminations.append(
            TerminateRequest(job.job_id, instance.recovery_instance_id, instance.ec2_instance_id)
        )
        job_server.awaiting_io = True

    def _finish_launch(self, job: Job, job_server: JobServer, now: datetime) -> None:
        server = self._store.servers[job_server.source_server_id]
        instance = self._store.instances.get(job_server.recovery_instance_id or "")
        ok = job_server.error is None and instance is not None
        if ok and instance is not None:
            instance.ec2_state = "RUNNING"
            job_server.launch_status = "LAUNCHED"
            if not job.is_drill:
                server.recovery_instance_id = instance.recovery_instance_id
        else:
            job_server.launch_status = "FAILED"
            job.add_log(now, "LAUNCH_FAILED", server.source_server_id, rawError=job_server.error or "unknown")
        if server.last_launch and server.last_launch.job_id == job.job_id:
            server.last_launch.status = job_server.launch_status
            server.last_launch_result = "SUCCEEDED" if ok else "FAILED"
        self._emit(events.launch_result(self._store.region, now, server.arn, job.job_id, job.is_drill, ok))

    def _finish_failback(self, job: Job, job_server: JobServer, now: datetime, work: Work) -> None:
        instance = self._store.instances.get(job_server.recovery_instance_id or "")
        failback = instance.failback if instance else None
        connected = bool(
            failback and failback.client_last_seen and now - failback.client_last_seen <= CLIENT_SEEN_WITHIN
        )
        if instance is None or failback is None or failback.state != "FAILBACK_READY_FOR_LAUNCH":
            job_server.launch_status = "FAILED"
            job.add_log(now, "LAUNCH_FAILED", job_server.source_server_id, rawError="Failback was stopped")
            return
        if not connected or not failback.client_machine:
            job_server.launch_status = "FAILED"
            job.add_log(
                now, "LAUNCH_FAILED", job_server.source_server_id, rawError="Failback client is not connected"
            )
            self.set_failback(instance, "FAILBACK_ERROR", now)
            return
        job_server.launch_status = "LAUNCHED"
        root = instance.disks[0][0] if instance.disks else None
        writes = [
            VolumeWrite(
                lun=lun,
                content=f"{instance.source_server_id}:{device}:from {instance.recovery_instance_id}",
                bootable=device == root,
            )
            for device, lun in failback.targets.items()
        ]
        work.restores.append(RestoreRequest(failback.client_machine, writes))
        self.set_failback(instance, "FAILBACK_COMPLETED", now)

    def _probes_due(self, now: datetime) -> dict[str, str]:
        due = {}
        for instance in self._store.instances.values():
            failback = instance.failback
            if not failback.client_machine or failback.state in (
                "FAILBACK_COMPLETED",
                "FAILBACK_NOT_STARTED",
            ):
                continue
            last = self._last_probe.get(instance.recovery_instance_id)
            if last is None or now - last >= PROBE_INTERVAL:
                self._last_probe[instance.recovery_instance_id] = now
                due[instance.recovery_instance_id] = failback.client_machine
        return due


def _job_server(job: Job, key: str, by_instance: bool = False) -> JobServer | None:
    for job_server in job.servers:
        if (job_server.recovery_instance_id if by_instance else job_server.source_server_id) == key:
            return job_server
    return None
