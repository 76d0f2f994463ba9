"""All emulator state in one place. Callers hold the emulator lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas
from localcloud.drs import errors
from localcloud.drs.formats import new_id
from localcloud.drs.records import Job, RecoveryInstance, Snapshot, SourceServer

MAX_SNAPSHOTS_KEPT = 1000  # per server; the oldest are pruned as DRS prunes by retention


@dataclass
class Store:
    region: str
    servers: dict[str, SourceServer] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    instances: dict[str, RecoveryInstance] = field(default_factory=dict)
    launch_configurations: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)  # events for the sink, sent by the ticker
    # DRS's job quotas (lambdas/quotas.py cites them); an account with raised quotas is emulated by others.
    quotas: DrsQuotas = DEFAULT_QUOTAS
    # The most jobs and source servers ever active at once: what a test or the bench asserts on.
    peak_active_jobs: int = 0
    peak_active_servers: int = 0

    def server(self, source_server_id: str) -> SourceServer:
        try:
            return self.servers[source_server_id]
        except KeyError:
            raise errors.not_found("SOURCE_SERVER", source_server_id) from None

    def job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise errors.not_found("JOB", job_id) from None

    def instance(self, recovery_instance_id: str) -> RecoveryInstance:
        try:
            return self.instances[recovery_instance_id]
        except KeyError:
            raise errors.not_found("RECOVERY_INSTANCE", recovery_instance_id) from None

    def active_jobs(self) -> list[Job]:
        return [job for job in self.jobs.values() if job.status != "COMPLETED"]

    def busy_server_ids(self) -> set[str]:
        """Source servers taking part in a job that has not completed (one job per server at a time)."""
        return {server.source_server_id for job in self.active_jobs() for server in job.servers}

    def check_can_start_job(self, source_server_ids: list[str]) -> None:
        """DRS's refusals of a new job: a server already in a job (ConflictException), and the job quotas
        (ServiceQuotaExceededException, HTTP 402 in botocore's drs model)."""
        busy = sorted(self.busy_server_ids() & set(source_server_ids))
        if busy:
            raise errors.conflict(
                f"Source server {busy[0]} is already part of an active job", "SOURCE_SERVER", busy[0]
            )
        quotas = self.quotas
        if len(source_server_ids) > quotas.max_servers_per_job:
            raise errors.quota_exceeded(
                f"A job may contain at most {quotas.max_servers_per_job} source servers; "
                f"this request has {len(source_server_ids)}",
                "source-servers-per-job",
            )
        active = self.active_jobs()
        if len(active) >= quotas.max_concurrent_jobs:
            raise errors.quota_exceeded(
                f"Cannot have more than {quotas.max_concurrent_jobs} jobs that are not COMPLETED",
                "concurrent-jobs",
            )
        in_jobs = sum(len(job.servers) for job in active)
        if in_jobs + len(source_server_ids) > quotas.max_servers_in_active_jobs:
            raise errors.quota_exceeded(
                f"Cannot have more than {quotas.max_servers_in_active_jobs} source servers in jobs that are "
                f"not COMPLETED: {in_jobs} are, and this job adds {len(source_server_ids)}",
                "source-servers-in-active-jobs",
            )

    def job_added(self) -> None:
        active = self.active_jobs()
        self.peak_active_jobs = max(self.peak_active_jobs, len(active))
        self.peak_active_servers = max(self.peak_active_servers, sum(len(job.servers) for job in active))

    def tagged(self, resource_arn: str) -> dict[str, str]:
        """The live tag map of the resource an ARN names."""
        resources: list[Any] = [*self.servers.values(), *self.jobs.values(), *self.instances.values()]
        for resource in resources:
            if resource.arn == resource_arn:
                tags: dict[str, str] = resource.tags
                return tags
        raise errors.not_found("RESOURCE", resource_arn)

    def take_snapshot(self, server: SourceServer, expected: datetime, taken: datetime) -> Snapshot:
        snapshot = Snapshot(
            snapshot_id=new_id("pit-"),
            source_server_id=server.source_server_id,
            expected=expected,
            taken=taken,
            ebs_snapshot_ids=[new_id("snap-") for _ in server.disks_gib],
        )
        server.snapshots.append(snapshot)
        del server.snapshots[:-MAX_SNAPSHOTS_KEPT]
        return snapshot

    def seed_history(self, server: SourceServer, now: datetime, count: int = 6) -> None:
        """PIT snapshots taken over the past hour, on whole minutes as DRS schedules them."""
        for age in range(count - 1, -1, -1):
            expected = (now - timedelta(minutes=5 + 9 * age)).replace(second=0, microsecond=0)
            self.take_snapshot(server, expected, expected + timedelta(seconds=7, microseconds=123456))
