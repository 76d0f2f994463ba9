"""Fault matrix: the run ends right, nothing is launched twice, nothing is left behind."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from localcloud.progress import find_run
from tests.integration.conftest import (
    drs_calls,
    event,
    plan_state,
    recovery_instances,
    run,
    run_record,
    running_ec2_instances,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_drs_server_errors_are_retried(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs.fail_next(3, operation="DescribeJobs")
    cloud.drs.fail_next(2, operation="DescribeSourceServers")
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert drs_calls(cloud, "DescribeJobs").count(500) == 3
    assert drs_calls(cloud, "StartRecovery").count(202) == 2


def test_lambda_retried_after_its_side_effect_does_not_launch_twice(cloud: LocalCloud, plan: Plan) -> None:
    # The first launch_wave call starts the DRS job, then its response is lost: Step Functions retries.
    cloud.bridge.inject_fault(cloud.function_name("lambdas.handlers.launch_wave.handler"), "after")
    result = run(cloud, "drill", event("drill.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    launch_calls = [i for i in cloud.bridge.invocations if i.handler.endswith("launch_wave.handler")]
    assert len(launch_calls) == 3  # wave 1 twice (the retry), wave 2 once
    assert drs_calls(cloud, "StartRecovery").count(202) == 2  # one job per wave, none twice
    assert recovery_instances(cloud, plan) == []


def test_two_starts_at_once_run_once(cloud: LocalCloud, plan: Plan) -> None:
    arns: list[str] = []
    threads = [
        threading.Thread(target=lambda: arns.append(cloud.start_workflow("drill", event("drill.json"))))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [cloud.wait(arn) for arn in arns]
    statuses = sorted((r["status"], r.get("error")) for r in results)
    assert statuses == [("FAILED", "Refused"), ("SUCCEEDED", None)]
    assert drs_calls(cloud, "StartRecovery").count(202) == 2


def test_a_stopped_drill_is_taken_over_and_cleaned_up(cloud: LocalCloud, plan: Plan) -> None:
    first = cloud.start_workflow("drill", event("drill.json"))
    wait_until(
        lambda: ((find_run(plan.name, first) or {}).get("servers", {}).get("s-0a1b2c3d4e5f60001") or {}).get(
            "launchedAt"
        ),
        message="first wave launched",
    )
    cloud.client("stepfunctions").stop_execution(
        executionArn=first, error="Operator", cause="stopped by hand"
    )
    assert plan_state(plan)["activeExecution"] == first  # the stopped run could not release it
    # A task in flight at the stop runs to its end (a launch_wave may still start a DRS job).
    wait_until(lambda: cloud.bridge.in_flight == 0, message="the stopped run's task in flight to end")
    # DRS cannot cancel the stopped run's launch jobs: preflight refuses their servers until they end.
    wait_until(
        lambda: all(
            j["status"] == "COMPLETED" for j in cloud.client("drs").describe_jobs(filters={})["items"]
        ),
        message="the stopped run's DRS jobs to end",
    )

    second = run(cloud, "drill", event("drill.json"))
    assert second["status"] == "SUCCEEDED", second.get("cause")
    assert run_record(plan, second["executionArn"])["tookOverFrom"] == first
    assert run_record(plan, first)["status"] == "ABORTED"
    assert recovery_instances(cloud, plan) == [] and running_ec2_instances(cloud) == []
    assert "activeExecution" not in plan_state(plan)


def test_azure_throttling_and_errors_are_retried_by_the_sdk(cloud: LocalCloud, plan: Plan) -> None:
    cloud.azure.throttle_next(2, retry_after_seconds=1)
    cloud.azure.fail_next(1, status=503)
    result = run(cloud, "recovery", event("recovery.json"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    fencing: dict[str, Any] = run_record(plan, result["executionArn"])["fencing"]
    assert all(entry["fenced"] for entry in fencing.values())
    assert [status for _, _, status in cloud.azure.request_log].count(429) == 2


def test_rejected_azure_credential(cloud: LocalCloud, plan: Plan) -> None:
    cloud.azure.rotate_secret()  # the stored secret no longer works
    recovery = run(cloud, "recovery", event("recovery.json"))
    assert recovery["status"] == "SUCCEEDED", recovery.get("cause")  # fencing is best effort
    fencing = run_record(plan, recovery["executionArn"])["fencing"]
    assert not any(entry["fenced"] for entry in fencing.values())
    assert all("ClientAuthenticationError" in entry["reason"] for entry in fencing.values())

    failback = run(cloud, "failback", event("failback.json"))
    assert failback["status"] == "FAILED" and failback["error"] == "AzureRequestFailed"
    assert "check the credential secret" in failback["cause"]
    assert cloud.azure.client_secret not in failback["cause"]
    assert plan_state(plan)["lifecycle"] == "FAILED_OVER"
