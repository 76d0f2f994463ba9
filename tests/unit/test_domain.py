from __future__ import annotations

from typing import Any

import pytest

from lambdas.domain import lifecycle, preflight, waves
from lambdas.domain.measure import measurements
from lambdas.domain.records import PlanState, RunRecord
from lambdas.ownership import OWNER_TAG_KEY
from lambdas.plan import Plan, parse_plan
from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas


@pytest.fixture
def plan(sample_plan_document: dict[str, Any]) -> Plan:
    return parse_plan(sample_plan_document)


def source(server_id: str, state: str = "CONTINUOUS", lag: str = "PT2S") -> dict[str, Any]:
    return {
        "sourceServerID": server_id,
        "dataReplicationInfo": {"dataReplicationState": state, "lagDuration": lag},
    }


def test_chunks_split_at_the_drs_job_quota_of_100_servers() -> None:
    assert [len(c) for c in waves.chunks(list(range(100)))] == [100]
    assert [len(c) for c in waves.chunks(list(range(101)))] == [100, 1]
    assert [len(c) for c in waves.chunks(list(range(500)))] == [100] * 5
    assert [len(c) for c in waves.chunks(list(range(450)), 150)] == [150, 150, 150]


def active(servers: int, status: str = "STARTED") -> dict[str, Any]:
    return {"status": status, "participatingServers": [{"sourceServerID": f"s-{n}"} for n in range(servers)]}


def test_a_wave_of_500_starts_what_fits_under_the_quotas_in_order() -> None:
    pending = [(index, 100) for index in range(5)]
    # An empty account: 5 jobs of 100 are exactly the 500 servers DRS allows in active jobs.
    assert waves.startable(pending, waves.capacity([], DEFAULT_QUOTAS)) == [0, 1, 2, 3, 4]
    # Another plan runs 150 servers in 2 jobs: 3 jobs fit (450 servers in active jobs), the rest waits.
    room = waves.capacity([active(100), active(50), active(7, "COMPLETED")], DEFAULT_QUOTAS)
    assert room == waves.Capacity(jobs=18, servers=350)
    assert waves.startable(pending, room) == [0, 1, 2]
    # 19 jobs of one server each: one job fits, whatever its size.
    assert waves.startable(pending, waves.capacity([active(1)] * 19, DEFAULT_QUOTAS)) == [0]


def test_a_chunk_that_does_not_fit_holds_back_the_chunks_after_it() -> None:
    room = waves.Capacity(jobs=5, servers=60)
    assert waves.startable([(0, 100), (1, 1)], room) == []
    assert waves.startable([(0, 50), (1, 100), (2, 1)], room) == [0]


def test_quotas_are_checked_when_configured() -> None:
    assert DrsQuotas.from_mapping({"max_servers_per_job": 150}).max_servers_per_job == 150
    for bad, field in (
        ({"max_servers_per_job": 201}, "StartRecovery accepts"),
        ({"max_servers_per_job": 0}, "at least 1"),
        ({"max_jobs": 3}, "unknown field(s) max_jobs"),
        ({"max_servers_per_job": 100, "max_servers_in_active_jobs": 50}, "must not exceed"),
    ):
        with pytest.raises(ValueError, match=field.replace("(", r"\(").replace(")", r"\)")):
            DrsQuotas.from_mapping(bad)


def test_wave_progress_critical_and_optional_failures(plan: Plan) -> None:
    wave = plan.waves[1]
    job: dict[str, Any] = {
        "status": "COMPLETED",
        "participatingServers": [
            {
                "sourceServerID": "s-0a1b2c3d4e5f60002",
                "launchStatus": "LAUNCHED",
                "recoveryInstanceID": "i-1",
            },
            {
                "sourceServerID": "s-0a1b2c3d4e5f60003",
                "launchStatus": "LAUNCHED",
                "recoveryInstanceID": "i-2",
            },
            {"sourceServerID": "s-0a1b2c3d4e5f60004", "launchStatus": "FAILED"},
        ],
    }
    progress = waves.wave_progress(wave, [job])
    assert progress.status == "COMPLETED"  # the failed server is optional
    assert progress.failed == ["s-0a1b2c3d4e5f60004"]
    job["participatingServers"][0]["launchStatus"] = "FAILED"
    assert waves.wave_progress(wave, [job]).status == "FAILED"


def test_wave_in_progress_until_job_completes(plan: Plan) -> None:
    job = {
        "status": "STARTED",
        "participatingServers": [{"sourceServerID": "s-0a1b2c3d4e5f60001", "launchStatus": "IN_PROGRESS"}],
    }
    assert waves.wave_progress(plan.waves[0], [job]).status == "IN_PROGRESS"
    assert waves.wave_progress(plan.waves[0], []).status == "IN_PROGRESS"


def test_jobs_already_started_found_by_run_and_wave_tags() -> None:
    tags = waves.job_tags("shop", "run-1", 1, 0)
    jobs = [{"jobID": "a", "tags": tags}, {"jobID": "b", "tags": waves.job_tags("shop", "run-2", 1, 0)}]
    assert waves.jobs_already_started(jobs, "run-1", 1) == {0: jobs[0]}
    assert waves.jobs_already_started(jobs, "run-1", 0) == {}


def test_lag_parsing() -> None:
    assert preflight.lag_seconds("PT1M5S") == 65
    assert preflight.lag_seconds("P1DT1H") == 90_000
    assert preflight.lag_seconds(None) is None


def test_preflight_problems(plan: Plan) -> None:
    servers = [source(s.source_server_id) for s in plan.servers()]
    assert preflight.check(plan, servers, active_jobs=[], for_recovery=False) == ([], [])
    servers[0] = source(servers[0]["sourceServerID"], lag="PT10M")
    servers[1] = source(servers[1]["sourceServerID"], state="INITIAL_SYNC")
    problems, warnings = preflight.check(
        plan, servers[:-1], active_jobs=[{"jobID": f"drsjob-{n}"} for n in range(20)], for_recovery=False
    )
    text = " ".join(problems)
    assert "lag 600s exceeds" in text and "INITIAL_SYNC" in text
    assert "not a DRS source server" in text
    # A full job quota is not a refusal: the waves queue until DRS has room.
    assert "quota" not in text and "waves wait for room under the quotas of 20 jobs" in " ".join(warnings)


def test_preflight_refuses_servers_not_tagged_for_this_stack(plan: Plan) -> None:
    servers = [
        {**source(s.source_server_id), "tags": {OWNER_TAG_KEY: "DrOrchestrator"}} for s in plan.servers()
    ]
    assert preflight.check(plan, servers, [], for_recovery=False, owner="DrOrchestrator") == ([], [])
    servers[0]["tags"] = {OWNER_TAG_KEY: "OtherStack"}
    servers[1]["tags"] = {}
    problems, _ = preflight.check(plan, servers, [], for_recovery=False, owner="DrOrchestrator")
    first, second = plan.servers()[:2]
    assert problems == [
        f"{s.name} ({s.source_server_id}): not tagged {OWNER_TAG_KEY}=DrOrchestrator; tag the source server "
        "in DRS so this stack may launch it"
        for s in (first, second)
    ]


def test_recovery_accepts_unreachable_source_with_a_warning(plan: Plan) -> None:
    servers = [source(s.source_server_id, state="DISCONNECTED", lag="PT5M") for s in plan.servers()]
    problems, warnings = preflight.check(plan, servers, active_jobs=[], for_recovery=True)
    assert problems == [] and len(warnings) == 4
    problems, _ = preflight.check(plan, servers, active_jobs=[], for_recovery=False)
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        ({}, {"drill", "recovery"}),  # a plan that never ran is NORMAL
        ({"lifecycle": "NORMAL"}, {"drill", "recovery"}),
        ({"lifecycle": "FAILED_OVER"}, {"failback"}),
        ({"lifecycle": "FAILED_OVER", "incomplete": True}, {"failback", "recovery"}),
        ({"lifecycle": "FAILED_BACK", "incomplete": True}, {"return_to_normal"}),
    ],
)
def test_each_workflow_may_start_only_from_its_lifecycle_states(
    state: dict[str, Any], allowed: set[str]
) -> None:
    plan_state = PlanState.from_document(state)
    assert {w for w in lifecycle.TRANSITIONS if lifecycle.may_start(w, plan_state)} == allowed


@pytest.mark.parametrize(
    ("workflow", "succeeded", "changed", "expected"),
    [
        ("drill", False, True, ("NORMAL", False)),
        ("recovery", True, True, ("FAILED_OVER", False)),
        ("recovery", False, False, ("NORMAL", False)),
        ("recovery", False, True, ("FAILED_OVER", True)),
        ("failback", False, True, ("FAILED_OVER", False)),
        ("return_to_normal", True, True, ("NORMAL", False)),
    ],
)
def test_lifecycle_after(workflow: str, succeeded: bool, changed: bool, expected: tuple[str, bool]) -> None:
    assert lifecycle.lifecycle_after(workflow, succeeded, changed) == expected


def test_refusal_reason_names_the_running_execution() -> None:
    reason = lifecycle.refusal_reason(
        "drill",
        "shop",
        PlanState.from_document({"activeExecution": "arn:x", "activeWorkflow": "recovery"}),
        "arn:y",
    )
    assert "arn:x" in reason and "recovery" in reason
    reason = lifecycle.refusal_reason(
        "drill", "shop", PlanState.from_document({"lifecycle": "FAILED_OVER"}), "arn:y"
    )
    assert "FAILED_OVER" in reason and "failback" in reason


def test_measurements() -> None:
    record = {
        "startedAt": "2026-11-25T10:00:00Z",
        "servers": {
            "a": {"snapshotAt": "2026-11-25T09:59:00+00:00", "healthyAt": "2026-11-25T10:12:00Z"},
            "b": {"snapshotAt": "2026-11-25T09:58:30+00:00", "healthyAt": "2026-11-25T10:10:00Z"},
        },
    }
    measured = measurements(record, rto_target_minutes=15, rpo_target_minutes=1)
    assert measured["rto_seconds"] == 720 and measured["rpo_seconds"] == 90
    assert measured["rto_met"] is True and measured["rpo_met"] is False


def test_azure_circuit_stops_calling_after_repeated_no_answer() -> None:
    from azure.core.exceptions import ServiceRequestError

    from lambdas.adapters.azure_compute import AzureCircuit, described
    from lambdas.errors import AzureUnavailable

    calls: list[str] = []

    def unreachable(name: str) -> None:
        calls.append(name)
        cause = ServiceRequestError("connection refused")
        raise described(cause) from cause

    circuit = AzureCircuit(threshold=2)
    for name in ("a", "b"):
        with pytest.raises(AzureUnavailable, match=r"^ServiceRequestError$"):
            circuit.call(unreachable, name)
    with pytest.raises(AzureUnavailable, match="not tried"):
        circuit.call(unreachable, "c")
    assert calls == ["a", "b"]


def test_azure_circuit_counts_only_what_azure_caused() -> None:
    from lambdas.adapters.azure_compute import AzureCircuit
    from lambdas.errors import AzureUnavailable

    calls: list[str] = []

    def without_secret(name: str) -> None:
        calls.append(name)
        raise AzureUnavailable("Azure credential secret is missing client_secret")

    circuit = AzureCircuit(threshold=2)
    for name in ("a", "b", "c"):
        with pytest.raises(AzureUnavailable, match="missing client_secret"):
            circuit.call(without_secret, name)
    assert calls == ["a", "b", "c"]


def test_azure_errors_are_raised_described() -> None:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    from lambdas.adapters.azure_compute import Operation, describe_azure_error, described
    from lambdas.errors import AzureRequestFailed, AzureUnavailable

    rejected = ClientAuthenticationError("AADSTS7000215: Invalid client secret provided")
    assert isinstance(described(rejected), AzureRequestFailed)
    assert str(described(rejected)) == describe_azure_error(rejected)
    assert isinstance(described(ServiceRequestError("connection refused")), AzureUnavailable)
    assert isinstance(described(HttpResponseError("bad gateway")), AzureUnavailable)

    class FailingPoller:
        def result(self, timeout: float | None = None) -> None:
            raise rejected

        def done(self) -> bool:
            return False

    with pytest.raises(AzureRequestFailed, match=r"^ClientAuthenticationError") as raised:
        Operation(FailingPoller()).result(timeout=1.0)
    assert raised.value.__cause__ is rejected
    assert Operation(FailingPoller()).done() is False


def test_source_power_raises_described_errors_and_stops_after_no_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    from lambdas.adapters import azure_compute
    from lambdas.errors import AzureRequestFailed, AzureUnavailable

    class Vms:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def instance_view(self, group: str, name: str) -> None:
            self.calls.append(name)
            raise ServiceRequestError("connection refused")

        def begin_deallocate(self, group: str, name: str) -> None:
            self.calls.append(name)
            raise ClientAuthenticationError("AADSTS7000215: Invalid client secret provided")

    vms = Vms()
    monkeypatch.setattr(
        azure_compute, "compute", lambda subscription_id: type("C", (), {"virtual_machines": vms})
    )
    vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{}"
    power = azure_compute.SourcePower()
    with pytest.raises(AzureRequestFailed, match=r"^ClientAuthenticationError"):
        power.begin_deallocate(vm.format("a"))
    for name in ("b", "c"):
        with pytest.raises(AzureUnavailable, match=r"^ServiceRequestError$"):
            power.power_state(vm.format(name))
    with pytest.raises(AzureUnavailable, match="not tried"):
        power.begin_deallocate(vm.format("d"))
    assert vms.calls == ["a", "b", "c"]


def test_the_drill_sweep_takes_only_instances_of_ended_runs_of_the_plan() -> None:
    from lambdas.domain.sweep import orphaned_drill_instances
    from lambdas.domain.waves import job_tags

    jobs: list[dict[str, Any]] = [
        {"jobID": "drsjob-ended", "tags": job_tags("shop", "run-ended", 0, 0)},
        {"jobID": "drsjob-running", "tags": job_tags("shop", "run-running", 0, 0)},
        {"jobID": "drsjob-other-plan", "tags": job_tags("billing", "run-ended", 0, 0)},
        {"jobID": "drsjob-console", "tags": {}},
    ]
    instances = [{"recoveryInstanceID": f"i-{job['jobID'][7:]}", "jobID": job["jobID"]} for job in jobs]
    runs = [
        RunRecord(
            sk=f"RUN#2026-01-01T00:00:00.000Z#{run_id}",
            run_id=run_id,
            plan="shop",
            workflow="drill",
            execution_arn=f"arn:aws:states:us-east-1:1:execution:dr-drill:{run_id}",
            status=status,
            started_at="2026-01-01T00:00:00.000Z",
        )
        for run_id, status in (("run-ended", "FAILED"), ("run-running", "RUNNING"))
    ]
    assert orphaned_drill_instances("shop", instances, jobs, runs) == ["i-ended"]


def test_preflight_refuses_a_server_still_in_an_active_drs_job(plan: Plan) -> None:
    servers = [source(s.source_server_id) for s in plan.servers()]
    busy = plan.servers()[0]
    running = [{"jobID": "drsjob-late", "participatingServers": [{"sourceServerID": busy.source_server_id}]}]
    problems, _ = preflight.check(plan, servers, active_jobs=running, for_recovery=False)
    assert problems == [
        f"{busy.name} ({busy.source_server_id}): still in an active job of DRS (drsjob-late), "
        "which DRS cannot cancel: start again when it has ended"
    ]


def test_replication_readiness_is_one_verdict_for_the_lambdas_and_drctl() -> None:
    from lambdas.domain.preflight import replication_readiness

    def server(state: str, lag: str = "PT5S", error: str | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {"dataReplicationState": state, "lagDuration": lag}
        if error:
            info["dataReplicationError"] = {"error": error}
        return {"dataReplicationInfo": info}

    assert replication_readiness(server("CONTINUOUS"), 60).verdict == "ready"
    assert replication_readiness(server("CONTINUOUS", "PT2M"), 60).verdict == "lagging"
    stalled = replication_readiness(server("STALLED", error="AGENT_NOT_SEEN"), 60)
    assert (stalled.verdict, stalled.error) == ("source_down", "AGENT_NOT_SEEN")
    assert replication_readiness(server("INITIAL_SYNC"), 60).verdict == "not_continuous"
    assert replication_readiness({}, 60).state == "UNKNOWN"
