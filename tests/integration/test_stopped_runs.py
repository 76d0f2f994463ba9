"""A run stopped from the console (StopExecution) ends ABORTED, and the sweep cleans up after it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud, LocalCloudSettings
from localcloud.progress import find_run
from tests.integration.conftest import (
    FAST_AZURE,
    FAST_DRS,
    event,
    plan_state,
    recovery_instances,
    run_record,
    running_ec2_instances,
    wait_until,
)

pytestmark = pytest.mark.integration


def history(cloud: LocalCloud, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = cloud.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return events


def parked_in_task_token_wait(cloud: LocalCloud, execution_arn: str) -> bool:
    """Whether the execution's last event is a submitted `waitForTaskToken` task (no outcome yet)."""
    events = history(cloud, execution_arn)
    last = events[-1] if events else {}
    return last.get("type") == "TaskSubmitted" and "waitForTaskToken" in str(
        last.get("taskSubmittedEventDetails", {}).get("resource")
    )


def test_stopping_an_execution_parked_on_a_task_token_aborts_it(cloud: LocalCloud, plan: Plan) -> None:
    cloud.drs_events = "drop"  # nothing resumes the wait: it stays parked until its fallback timeout
    arn = cloud.start_workflow("drill", event("drill.json"))
    wait_until(lambda: parked_in_task_token_wait(cloud, arn), message="a task-token wait")

    cloud.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")

    described = cloud.wait(arn)
    assert described["status"] == "ABORTED"
    types = [e["type"] for e in history(cloud, arn)]
    assert types[-1] == "ExecutionAborted"
    # The wait was not run to its timeout and caught as a task failure after the stop.
    assert "TaskTimedOut" not in types and "ExecutionFailed" not in types


def test_a_stopped_execution_is_aborted_at_once_while_a_lambda_task_still_runs(
    cloud: LocalCloud, plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step Functions reports ABORTED when StopExecution answers, not when the task in flight returns."""
    entered, release = threading.Event(), threading.Event()
    original = cloud.bridge._handler

    def handler(path: str) -> Any:
        found = original(path)
        if not path.startswith("lambdas.handlers.preflight."):
            return found

        def held(event: Any, context: Any) -> Any:
            entered.set()
            release.wait(60)
            return found(event, context)

        return held

    monkeypatch.setattr(cloud.bridge, "_handler", handler)
    arn = cloud.start_workflow("drill", event("drill.json"))
    try:
        assert entered.wait(60), "the preflight task did not start"
        sfn = cloud.client("stepfunctions")
        stopped = sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
        described = sfn.describe_execution(executionArn=arn)
        assert described["status"] == "ABORTED"
        assert described["stopDate"] == stopped["stopDate"]
    finally:
        release.set()
    assert cloud.wait(arn)["status"] == "ABORTED"
    assert history(cloud, arn)[-1]["type"] == "ExecutionAborted"


@pytest.fixture
def slow_launch_cloud(synthesized: Path, plan: Plan) -> Iterator[LocalCloud]:
    """DRS conversion takes seconds: a drill can be stopped while its launch job still runs."""
    drs = dataclasses.replace(FAST_DRS, conversion=3.0)
    settings = LocalCloudSettings(time_scale=60, drs_timing=drs, azure_timing=FAST_AZURE, log_level="WARNING")
    with LocalCloud(synthesized, [plan], settings) as local:
        yield local


def monitor_rule(cloud: LocalCloud) -> str:
    return next(name for name in cloud.template.of_type("AWS::Events::Rule") if "ReplicationMonitor" in name)


def test_a_drill_stopped_while_its_drs_job_runs_is_cleaned_up_by_one_sweep(
    slow_launch_cloud: LocalCloud, plan: Plan
) -> None:
    cloud = slow_launch_cloud
    first = cloud.start_workflow("drill", event("drill.json"))

    def first_job() -> str | None:
        waves = (find_run(plan.name, first) or {}).get("waves") or {}
        return next((w["jobIds"][0] for w in waves.values() if w.get("jobIds")), None)

    job_id = wait_until(first_job, message="the first wave's DRS job")
    [job] = cloud.client("drs").describe_jobs(filters={"jobIDs": [job_id]})["items"]
    assert job["status"] != "COMPLETED"  # stopped while the job runs
    sfn = cloud.client("stepfunctions")
    sfn.stop_execution(executionArn=first, error="Operator", cause="stopped by hand")
    assert cloud.wait(first)["status"] == "ABORTED"
    # Nothing of the run could close it: the record says RUNNING and the lock is held.
    assert run_record(plan, first)["status"] == "RUNNING"
    assert plan_state(plan)["activeExecution"] == first
    # DRS cannot cancel the job: it launches the drill instance after the drill ended.
    launched = wait_until(lambda: recovery_instances(cloud, plan), message="the stopped drill's instance")
    wait_until(
        lambda: (
            cloud.client("drs").describe_jobs(filters={"jobIDs": [job_id]})["items"][0]["status"]
            == "COMPLETED"
        ),
        message="the stopped drill's DRS job to end",
    )

    fired = cloud.clock.advance_to_next("rule", monitor_rule(cloud))  # one sweep
    assert [f.name for f in fired] == [monitor_rule(cloud)]

    record = wait_until(
        lambda: (r := run_record(plan, first))["status"] == "ABORTED" and r, message="the run closed ABORTED"
    )
    assert record["closedBy"] == "sweep" and record["execution"]["status"] == "ABORTED"
    state = wait_until(lambda: (s := plan_state(plan)).get("lastDrillSweep") and s, message="the drill sweep")
    assert sorted(state["lastDrillSweep"]["terminated"]) == sorted(i["recoveryInstanceID"] for i in launched)
    assert "activeExecution" not in state and state["lifecycle"] == "NORMAL"
    wait_until(lambda: recovery_instances(cloud, plan) == [], message="the drill instances terminated")
    assert running_ec2_instances(cloud) == []

    # The lock is free: a new drill starts without taking over a stale lock.
    second = cloud.wait(cloud.start_workflow("drill", event("drill.json")))
    assert second["status"] == "SUCCEEDED", second.get("cause")
    assert run_record(plan, second["executionArn"])["tookOverFrom"] is None


def test_a_stopped_recovery_that_changed_production_is_left_failed_over_incomplete(
    cloud: LocalCloud, plan: Plan
) -> None:
    arn = cloud.start_workflow("recovery", event("recovery.json"))

    def fenced() -> bool:
        fencing = (find_run(plan.name, arn) or {}).get("fencing") or {}
        return any(entry.get("fenced") for entry in fencing.values())

    wait_until(fenced, message="a source VM fenced")
    cloud.client("stepfunctions").stop_execution(executionArn=arn)
    assert cloud.wait(arn)["status"] == "ABORTED"

    cloud.clock.advance_to_next("rule", monitor_rule(cloud))

    wait_until(lambda: run_record(plan, arn)["status"] == "ABORTED", message="the run closed ABORTED")
    state = plan_state(plan)
    assert state["lifecycle"] == "FAILED_OVER" and state["incomplete"] is True
    assert "activeExecution" not in state
    assert "TerminateRecoveryInstances" not in [op for op, _ in cloud.drs.request_log]


def test_a_failback_stopped_before_its_clients_paired_leaves_no_credential_in_user_data(
    cloud: LocalCloud, plan: Plan
) -> None:
    assert cloud.run("recovery", event("recovery.json"), timeout=180)["status"] == "SUCCEEDED"
    cloud.iam.expire_next_credentials()  # the clients cannot pair: the documents stay in userData
    arn = cloud.start_workflow("failback", event("failback.json"))
    vms = [s.azure_vm_id for s in plan.servers()]
    wait_until(lambda: all(cloud.azure.user_data(vm) for vm in vms), timeout=120, message="every document")
    cloud.client("stepfunctions").stop_execution(executionArn=arn)
    assert cloud.wait(arn)["status"] == "ABORTED"
    # The run's own "clear credentials" step never ran.
    assert all(cloud.azure.user_data(vm) for vm in vms)

    cloud.clock.advance_to_next("rule", monitor_rule(cloud))

    record = wait_until(
        lambda: (r := run_record(plan, arn))["failback"].get("credentialsCleared") and r,
        message="the sweep to clear the credentials",
    )
    assert record["status"] == "ABORTED" and record["closedBy"] == "sweep"
    assert record["failback"]["credentialsCleared"]["failed"] == []
    assert record["failback"]["credentialsCleared"]["cleared"] == len(vms)
    assert all(cloud.azure.user_data(vm) == "" for vm in vms)
    assert plan_state(plan)["lifecycle"] == "FAILED_OVER" and "activeExecution" not in plan_state(plan)
