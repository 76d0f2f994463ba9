"""A wave waits for room under the account's DRS job quotas, which other plans and the console share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdas.plan import Plan
from lambdas.quotas import DrsQuotas
from localcloud.cloud import LocalCloud, LocalCloudSettings
from tests.integration.conftest import FAST_AZURE, FAST_DRS, drs_calls, event, run_record, wait_until


@pytest.fixture
def one_job_account(synthesized: Path, plan: Plan) -> Iterator[LocalCloud]:
    """An account whose DRS runs one job at a time and where Service Quotas does not answer: the stack plans
    with its configured (default) quotas, so DRS itself refuses the extra job, as it does when another plan
    takes the room first."""
    settings = LocalCloudSettings(
        time_scale=60,
        drs_timing=FAST_DRS,
        azure_timing=FAST_AZURE,
        log_level="WARNING",
        drs_quotas=DrsQuotas(max_concurrent_jobs=1),
        drs_quotas_published=False,
    )
    with LocalCloud(synthesized, [plan], settings) as local:
        yield local


def test_a_wave_refused_for_quota_is_queued_and_launched_when_room_comes(
    one_job_account: LocalCloud, plan: Plan
) -> None:
    cloud = one_job_account
    other = cloud.drs.seed_source_server(hostname="console-launch")
    cloud.drs.hang_jobs(True)
    cloud.client("drs").start_recovery(sourceServers=[{"sourceServerID": other}], isDrill=True)
    execution = cloud.start_workflow("drill", event("drill.json"))
    wait_until(lambda: 402 in drs_calls(cloud, "StartRecovery"), message="a launch refused for quota")
    cloud.drs.hang_jobs(False)
    result = cloud.wait(execution, timeout=180)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert cloud.drs.peaks["jobs"] == 1
    # Each wave launched once, after the refusals.
    assert drs_calls(cloud, "StartRecovery").count(202) == 1 + len(plan.waves)
    waves = run_record(plan, execution)["waves"]
    assert all(w["queuedServers"] == 0 and len(w["jobIds"]) == 1 for w in waves.values())


@pytest.fixture
def two_per_job_account(synthesized: Path, plan: Plan) -> Iterator[LocalCloud]:
    """An account whose DRS takes two servers per job and says so in Service Quotas; the stack is
    configured with DRS's published default of 100."""
    settings = LocalCloudSettings(
        time_scale=60,
        drs_timing=FAST_DRS,
        azure_timing=FAST_AZURE,
        log_level="WARNING",
        drs_quotas=DrsQuotas(max_servers_per_job=2),
    )
    with LocalCloud(synthesized, [plan], settings) as local:
        yield local


def test_jobs_are_planned_with_the_quotas_service_quotas_applies_to_the_account(
    two_per_job_account: LocalCloud, plan: Plan
) -> None:
    cloud = two_per_job_account
    largest = max(range(len(plan.waves)), key=lambda index: len(plan.waves[index].servers))
    assert len(plan.waves[largest].servers) > 2, "the sample plan needs a wave of more than two servers"
    execution = cloud.start_workflow("drill", event("drill.json"))
    result = cloud.wait(execution, timeout=180)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    # No job was refused: every one was planned within the account's two servers per job.
    assert 402 not in drs_calls(cloud, "StartRecovery")
    record = run_record(plan, execution)
    assert record["preflight"]["drsQuotas"]["max_servers_per_job"] == 2
    expected_jobs = -(-len(plan.waves[largest].servers) // 2)
    assert len(record["waves"][f"w{largest}"]["jobIds"]) == expected_jobs
    assert not any("Service Quotas did not answer" in w for w in record["preflight"]["warnings"])


def test_preflight_says_when_service_quotas_does_not_answer(one_job_account: LocalCloud, plan: Plan) -> None:
    execution = one_job_account.start_workflow("drill", event("drill.json"))
    result = one_job_account.wait(execution, timeout=180)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    warnings = run_record(plan, execution)["preflight"]["warnings"]
    assert any("Service Quotas did not answer" in w and "L-B827C881" in w for w in warnings)
