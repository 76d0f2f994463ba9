"""Launching a wave (lambdas/domain/wave_launch.py) against the in-memory state store and a DRS fake: jobs
by chunk under the account's quotas, never twice for a retried call, queued while there is no room."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.domain import wave_launch
from lambdas.domain.records import RunRecord
from lambdas.domain.waves import job_tags
from lambdas.errors import DrsRefused, LaunchFailed
from lambdas.plan import Plan, parse_plan
from lambdas.quotas import DrsQuotas
from tests.fakes.runs import RUN_SK, STARTED, open_run
from tests.fakes.state_store import InMemoryStateStore

APPLICATION = 1  # the sample plan's second wave: three servers, no launch overrides


@dataclass
class FakeDrs:
    active: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # every job DRS knows, by tag
    snapshots: dict[str, str] = field(default_factory=dict)  # source server -> snapshot id
    refuse_with: str | None = None
    started: list[dict[str, Any]] = field(default_factory=list)
    configured: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def jobs_since(self, since: datetime) -> list[dict[str, Any]]:
        return self.history

    def active_jobs(self) -> list[dict[str, Any]]:
        return self.active

    def start_recovery(
        self, servers: list[dict[str, str]], is_drill: bool, tags: dict[str, str]
    ) -> dict[str, Any]:
        if self.refuse_with:
            raise DrsRefused("StartRecovery", self.refuse_with, "refused")
        job = {
            "jobID": f"drsjob-{len(self.history) + 1}",
            "tags": tags,
            "servers": servers,
            "isDrill": is_drill,
            "creationDateTime": "2026-03-01T11:05:00+00:00",
            "participatingServers": [{"sourceServerID": s["sourceServerID"]} for s in servers],
        }
        self.started.append(job)
        self.history.append(job)
        self.active.append({**job, "status": "STARTED"})
        return job

    def apply_launch_configuration(self, source_server_id: str, fields: dict[str, Any]) -> bool:
        self.configured.append((source_server_id, fields))
        return True

    def latest_snapshot(self, source_server_id: str, at_or_before: datetime | None) -> dict[str, Any] | None:
        found = self.snapshots.get(source_server_id)
        return {"snapshotID": found} if found else None


@dataclass
class Log:
    lines: list[str] = field(default_factory=list)

    def info(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None:
        self.lines.append(msg)


@dataclass
class World:
    plan: Plan
    quotas: DrsQuotas = field(default_factory=lambda: DrsQuotas(max_servers_per_job=2))
    drs: FakeDrs = field(default_factory=FakeDrs)
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    log: Log = field(default_factory=Log)
    now: datetime = datetime(2026, 3, 1, 11, 5, tzinfo=UTC)
    ticks: list[float] = field(default_factory=list)  # what the monotonic clock answers, call by call

    def __post_init__(self) -> None:
        open_run(self.store, self.plan.name, "drill", servers={}, waves={})

    @property
    def ports(self) -> wave_launch.LaunchPorts:
        return wave_launch.LaunchPorts(
            drs=self.drs,
            quotas=lambda: self.quotas,
            store=self.store,
            log=self.log,
            clock=lambda: self.now,
            monotonic=lambda: self.ticks.pop(0) if self.ticks else 0.0,
        )

    def launch(self, wave: int = APPLICATION, snapshot: str = "latest") -> Any:
        run = wave_launch.LaunchRun(self.plan, "run-1", RUN_SK, STARTED, True, snapshot)
        return wave_launch.launch_wave(run, wave, self.ports)

    def record(self) -> RunRecord:
        return self.store.run_record(self.plan.name, RUN_SK)


@pytest.fixture
def world(sample_plan_document: dict[str, Any]) -> World:
    return World(parse_plan(sample_plan_document))


def ids(world: World, wave: int = APPLICATION) -> list[str]:
    return [s.source_server_id for s in world.plan.waves[wave].servers]


def test_a_wave_starts_one_tagged_job_per_chunk_and_records_its_servers(world: World) -> None:
    result = world.launch()

    assert result.status == "DONE" and result.queued_servers == 0
    assert [[s["sourceServerID"] for s in job["servers"]] for job in world.drs.started] == [
        ids(world)[:2],
        ids(world)[2:],
    ]
    assert [job["tags"] for job in world.drs.started] == [
        job_tags(world.plan.name, "run-1", APPLICATION, chunk) for chunk in (0, 1)
    ]
    assert all(job["isDrill"] for job in world.drs.started)
    record = world.record()
    assert sorted(record.servers or {}) == sorted(ids(world))
    assert (record.waves or {})["w1"]["jobIds"] == result.job_ids == ["drsjob-1", "drsjob-2"]
    # The launch timeout runs from the last job's start as DRS reports it.
    assert result.requested_at == "2026-03-01T11:05:00.000Z"


def test_a_retried_call_starts_only_the_chunks_no_job_has_yet(world: World) -> None:
    # An earlier call started chunk 0, then its answer was lost.
    world.drs.history.append(
        {"jobID": "drsjob-earlier", "tags": job_tags(world.plan.name, "run-1", APPLICATION, 0)}
    )

    result = world.launch()

    assert [[s["sourceServerID"] for s in job["servers"]] for job in world.drs.started] == [ids(world)[2:]]
    assert result.job_ids == ["drsjob-earlier", "drsjob-2"] and result.status == "DONE"
    assert world.launch().job_ids == result.job_ids  # once more: nothing new
    assert len(world.drs.started) == 1


def test_a_wave_without_room_under_the_job_quota_is_queued_and_fails_after_the_launch_timeout(
    world: World,
) -> None:
    world.quotas = DrsQuotas(max_servers_per_job=2, max_concurrent_jobs=2)
    world.drs.active = [{"jobID": "elsewhere", "status": "STARTED", "participatingServers": []}]

    first = world.launch()
    assert first.status == "PENDING" and first.queued_servers == 1 and len(world.drs.started) == 1
    assert (world.record().waves or {})["w1"]["queuedSince"] == "2026-03-01T11:05:00.000Z"

    world.now += timedelta(minutes=world.plan.timing.launch_timeout_minutes + 1)
    with pytest.raises(LaunchFailed, match=r"timing\.launch_timeout_minutes"):
        world.launch()
    # The record keeps when the queueing began.
    assert (world.record().waves or {})["w1"]["queuedSince"] == "2026-03-01T11:05:00.000Z"


def test_drs_refusing_a_job_for_quota_queues_the_wave_and_any_other_refusal_fails_it(world: World) -> None:
    world.drs.refuse_with = "ServiceQuotaExceededException"
    result = world.launch()
    assert result.status == "PENDING" and result.queued_servers == 3 and result.job_ids == []
    assert "DRS job quota reached: wave queued" in world.log.lines

    world.drs.refuse_with = "ConflictException"
    with pytest.raises(DrsRefused, match="ConflictException"):
        world.launch()


def test_a_point_in_time_run_launches_each_server_from_its_snapshot(world: World) -> None:
    world.drs.snapshots = {server: f"pit-{server}" for server in ids(world)}
    world.launch(snapshot="2026-03-01T10:00:00Z")
    items = [item for job in world.drs.started for item in job["servers"]]
    assert items == [{"sourceServerID": s, "recoverySnapshotID": f"pit-{s}"} for s in ids(world)]


def test_a_server_without_a_snapshot_that_old_fails_the_wave_before_any_job(world: World) -> None:
    missing = world.plan.waves[APPLICATION].servers[1]
    world.drs.snapshots = {
        server: f"pit-{server}" for server in ids(world) if server != missing.source_server_id
    }
    with pytest.raises(LaunchFailed, match=f"{missing.name}: no PIT snapshot at or before"):
        world.launch(snapshot="2026-03-01T10:00:00Z")
    assert world.drs.started == []


def test_launch_overrides_are_written_before_the_job_and_the_time_budget_stops_new_jobs(world: World) -> None:
    database = world.plan.waves[0].servers[0]
    world.launch(wave=0)
    assert world.drs.configured == [(database.source_server_id, database.launch_overrides.drs_fields())]

    # The first job starts within the budget; by the second the budget is used.
    world.ticks = [0.0, 1.0, wave_launch.TIME_BUDGET_SECONDS + 1]
    result = world.launch()
    assert result.status == "PENDING" and result.queued_servers == 1
    assert [len(job["servers"]) for job in world.drs.started[1:]] == [2]
