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
    """An account whose DRS runs one job at a time; the stack still plans with DRS's default quotas, so
    DRS itself refuses the extra job, as it does when another plan takes the room first."""
    settings = LocalCloudSettings(
        time_scale=60,
        drs_timing=FAST_DRS,
        azure_timing=FAST_AZURE,
        log_level="WARNING",
        drs_quotas=DrsQuotas(max_concurrent_jobs=1),
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
