"""Fault matrix: a DRS launch job that never completes.

The run must end at the plan's launch timeout with the outcome recorded (which wave, which servers),
the drill cleaned up, the plan's lock released, a report written, and the plan able to run again.

One real minute: check_wave compares the wall clock against `timing.launch_timeout_minutes` (measured
from the wave's launch request, `requested_at`), and the schema's minimum is 1 minute; the local
cloud's time scale only speeds Step Functions waits. To pay that minute once, the module synthesizes
its own stack with two copies of the sample plan (launch timeout 1 minute) and runs a drill of one and
a recovery of the other at the same time while the DRS emulator hangs every job (about 65 s). The
tests then assert on what that left, and on what happens when the plan is run again, first while the
DRS job still hangs, then after it ends. No test asserts a duration.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambdas.plan import Plan, load_plans
from localcloud.cloud import LocalCloud, LocalCloudSettings
from tests.integration.conftest import (
    FAST_AZURE,
    FAST_DRS,
    ROOT,
    plan_state,
    recovery_instances,
    run_record,
    running_ec2_instances,
    wait_until,
)

pytestmark = pytest.mark.integration

DRILL_PLAN = "hang-drill"
RECOVERY_PLAN = "hang-recovery"
# A hung run ends about one real minute after its wave was requested; anything far beyond is a hang.
RUN_TIMEOUT = 180.0


def _plan_documents() -> list[dict[str, Any]]:
    sample: dict[str, Any] = json.loads((ROOT / "plans" / "sample-plan.json").read_text())
    # The smallest launch timeout the schema allows; a DRS event wait falls back to checking after 60 s
    # of plan time (1 s locally), so the timeout is noticed promptly.
    sample["timing"] = {"poll_seconds": 30, "fallback_poll_seconds": 60, "launch_timeout_minutes": 1}
    drill = copy.deepcopy(sample)
    drill["name"] = DRILL_PLAN
    # The second plan needs servers of its own: one source server belongs to one plan.
    recovery = copy.deepcopy(sample)
    recovery["name"] = RECOVERY_PLAN
    for wave in recovery["waves"]:
        for server in wave["servers"]:
            server["name"] = "b-" + server["name"]
            server["source_server_id"] = server["source_server_id"].replace("s-0", "s-1", 1)
            server["azure_vm_id"] = server["azure_vm_id"].replace("/virtualMachines/", "/virtualMachines/b-")
    recovery["traffic"]["aws_server"] = "b-" + recovery["traffic"]["aws_server"]
    return [drill, recovery]


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Plan]]:
    """(synthesized template, plans by name): the app synthesized with the 1-minute plans only."""
    from localcloud.synth import synthesize

    plan_dir = tmp_path_factory.mktemp("job-timeout-plans")
    for document in _plan_documents():
        (plan_dir / f"{document['name']}.json").write_text(json.dumps(document, indent=1))
    template = synthesize(
        outdir=tmp_path_factory.mktemp("job-timeout-cdk.out"),
        stack_name="DrJobTimeout",
        plans=str(plan_dir / "*.json"),
    )
    loaded = load_plans(sorted(plan_dir.glob("*.json")))
    return template, {p.name: p for p in loaded}


@pytest.fixture(scope="module")
def cloud(plans: tuple[Path, dict[str, Plan]]) -> Iterator[LocalCloud]:
    template, by_name = plans
    settings = LocalCloudSettings(
        time_scale=60, drs_timing=FAST_DRS, azure_timing=FAST_AZURE, log_level="WARNING", print_metrics=False
    )
    with LocalCloud(template, list(by_name.values()), settings) as local:
        yield local


@pytest.fixture(scope="module")
def drill_plan(plans: tuple[Path, dict[str, Plan]]) -> Plan:
    return plans[1][DRILL_PLAN]


@pytest.fixture(scope="module")
def recovery_plan(plans: tuple[Path, dict[str, Plan]]) -> Plan:
    return plans[1][RECOVERY_PLAN]


def launch_jobs(cloud: LocalCloud) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = cloud.client("drs").describe_jobs(filters={})["items"]
    return [job for job in jobs if job["type"] == "LAUNCH"]


def stored_report(cloud: LocalCloud, record: dict[str, Any]) -> dict[str, Any]:
    stored = record["report"]
    body = cloud.client("s3").get_object(Bucket=stored["bucket"], Key=stored["json"])["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def dns_value(cloud: LocalCloud, plan: Plan) -> str:
    assert plan.traffic is not None
    records = cloud.client("route53").list_resource_record_sets(
        HostedZoneId=plan.traffic.hosted_zone_id,
        StartRecordName=plan.traffic.record_name,
        StartRecordType=plan.traffic.record_type,
        MaxItems="1",
    )["ResourceRecordSets"]
    value: str = records[0]["ResourceRecords"][0]["Value"]
    return value


@dataclass(frozen=True)
class Ended:
    """A run under the hang, and the world as it was right after it ended."""

    result: dict[str, Any]
    record: dict[str, Any]
    state: dict[str, Any]
    recovery_instances: list[dict[str, Any]]
    running_ec2: list[str]
    launch_jobs: list[dict[str, Any]]


@pytest.fixture(scope="module")
def hung(cloud: LocalCloud, drill_plan: Plan, recovery_plan: Plan) -> dict[str, Ended]:
    """A drill and a recovery started while DRS jobs never progress, each run to its end."""
    cloud.drs.hang_jobs()
    arns = {
        "drill": cloud.start_workflow("drill", {"plan": drill_plan.name, "reason": "hung job drill"}),
        "recovery": cloud.start_workflow("recovery", {"plan": recovery_plan.name, "reason": "hung job"}),
    }
    # Both run at once; waiting for one after the other costs nothing.
    results = {kind: cloud.wait(arn, RUN_TIMEOUT) for kind, arn in arns.items()}
    ended: dict[str, Ended] = {}
    for kind, plan in (("drill", drill_plan), ("recovery", recovery_plan)):
        ended[kind] = Ended(
            result=results[kind],
            record=run_record(plan, arns[kind]),
            state=plan_state(plan),
            recovery_instances=recovery_instances(cloud, plan),
            running_ec2=running_ec2_instances(cloud),
            launch_jobs=launch_jobs(cloud),
        )
    return ended


def assert_timed_out_in_first_wave(ended: Ended, plan: Plan, cloud: LocalCloud) -> None:
    """The run failed at the launch timeout, and its record and report say which wave and servers."""
    first_wave = plan.waves[0]
    names = [s.name for s in first_wave.servers]
    result, record = ended.result, ended.record
    assert result["status"] == "FAILED", result.get("cause")
    assert result["error"] == "LaunchFailed"
    expected = f"wave {first_wave.name}: not launched within timing.launch_timeout_minutes (1): "
    assert expected + ", ".join(names) in result["cause"]

    assert record["status"] == "FAILED" and record["endedAt"]
    assert record["failure"]["error"] == "LaunchFailed"
    assert record["failure"]["message"] == expected + ", ".join(names)
    # The hung wave was requested, with its DRS job recorded; none of its servers launched; no later
    # wave was requested.
    hung_job = next(j for j in ended.launch_jobs if j["tags"].get("dr-orchestrator:plan") == plan.name)
    assert list(record["waves"]) == ["w0"]
    assert record["waves"]["w0"]["name"] == first_wave.name
    assert record["waves"]["w0"]["jobIds"] == [hung_job["jobID"]]
    assert set(record["servers"]) == {s.source_server_id for s in first_wave.servers}
    for server in record["servers"].values():
        assert (
            server["launchRequestedAt"] and "launchedAt" not in server and "recoveryInstanceId" not in server
        )
    # DRS has no way to cancel a launch job: the hung job outlives the run.
    assert hung_job["status"] != "COMPLETED"

    report = stored_report(cloud, record)
    assert report["status"] == "FAILED" and report["errors"] == [record["failure"]]
    assert report["waves"][0]["job_ids"] == [hung_job["jobID"]]


def test_a_drill_whose_launch_job_never_completes_fails_at_the_launch_timeout_and_cleans_up(
    cloud: LocalCloud, drill_plan: Plan, hung: dict[str, Ended]
) -> None:
    ended = hung["drill"]
    assert_timed_out_in_first_wave(ended, drill_plan, cloud)
    # The cleanup ran, found nothing launched, and finished; nothing is running.
    cleanup = ended.record["cleanup"]
    assert cleanup["recoveryInstanceIds"] == [] and cleanup["completedAt"]
    assert ended.recovery_instances == [] and ended.running_ec2 == []
    # The lock is released and the plan is where it was.
    state = ended.state
    assert state["lifecycle"] == "NORMAL" and not state["incomplete"]
    assert "activeExecution" not in state and state["lastExecution"] == ended.result["executionArn"]
    assert state["lastDrill"]["result"] == "FAILED"
    assert state["lastDrill"]["executionArn"] == ended.result["executionArn"]


def test_a_recovery_whose_launch_job_never_completes_fails_at_the_launch_timeout(
    cloud: LocalCloud, recovery_plan: Plan, hung: dict[str, Ended]
) -> None:
    ended = hung["recovery"]
    assert_timed_out_in_first_wave(ended, recovery_plan, cloud)
    # Azure was fenced before the launch: production changed, so the plan is FAILED_OVER but flagged
    # incomplete (recovery may be run again); the lock is released; traffic was never switched.
    assert all(entry["fenced"] for entry in ended.record["fencing"].values())
    assert ended.record["lifecycleAfter"] == "FAILED_OVER"
    state = ended.state
    assert state["lifecycle"] == "FAILED_OVER" and state["incomplete"] is True
    assert "activeExecution" not in state and state["lastExecution"] == ended.result["executionArn"]
    assert ended.recovery_instances == []
    assert recovery_plan.traffic is not None
    assert dns_value(cloud, recovery_plan) == recovery_plan.traffic.azure_value


@pytest.fixture(scope="module")
def retried_while_hung(cloud: LocalCloud, drill_plan: Plan, hung: dict[str, Ended]) -> Ended:
    """Another drill of the same plan, started while the timed-out run's DRS job still hangs."""
    jobs_before = launch_jobs(cloud)
    result = cloud.run("drill", {"plan": drill_plan.name}, timeout=RUN_TIMEOUT)
    return Ended(
        result=result,
        record=run_record(drill_plan, result["executionArn"]),
        state=plan_state(drill_plan),
        recovery_instances=recovery_instances(cloud, drill_plan),
        running_ec2=running_ec2_instances(cloud),
        launch_jobs=[j for j in launch_jobs(cloud) if j not in jobs_before],
    )


def test_a_next_drill_can_start_while_the_job_still_hangs_and_fails_cleanly(
    drill_plan: Plan, retried_while_hung: Ended
) -> None:
    ended = retried_while_hung
    # The lock was free, so the drill started; preflight finds the server still in the hung job (DRS runs
    # one job per server and cannot cancel it) and the drill ends failed, having launched nothing.
    assert ended.result["status"] == "FAILED" and ended.result["error"] == "PreflightFailed"
    first_server = drill_plan.waves[0].servers[0].source_server_id
    assert "active job" in ended.result["cause"] and first_server in ended.result["cause"]
    assert ended.launch_jobs == []
    assert ended.record["status"] == "FAILED" and ended.record["report"]
    assert ended.recovery_instances == [] and ended.running_ec2 == []
    assert ended.state["lifecycle"] == "NORMAL" and "activeExecution" not in ended.state


@dataclass(frozen=True)
class HangOver:
    drill_instances: list[dict[str, Any]]
    recovery_instances: list[dict[str, Any]]


@pytest.fixture(scope="module")
def hang_over(
    cloud: LocalCloud, drill_plan: Plan, recovery_plan: Plan, retried_while_hung: Ended
) -> HangOver:
    """DRS stops hanging: the jobs of the timed-out runs finish, long after their runs ended."""
    cloud.drs.hang_jobs(False)
    wait_until(
        lambda: all(job["status"] == "COMPLETED" for job in launch_jobs(cloud)),
        timeout=30,
        message="the hung DRS jobs to complete",
    )
    return HangOver(
        drill_instances=recovery_instances(cloud, drill_plan),
        recovery_instances=recovery_instances(cloud, recovery_plan),
    )


def test_a_drill_instance_launched_after_its_drill_ended_is_swept(
    cloud: LocalCloud, drill_plan: Plan, recovery_plan: Plan, hang_over: HangOver
) -> None:
    """DRS cannot cancel a job: the timed-out drill's job launches its instance after the drill ended. The
    replication monitor's sweep (every 5 minutes when deployed) terminates it; failover instances stay."""
    left = [ri["recoveryInstanceID"] for ri in hang_over.drill_instances]
    assert left, "the late job launched no drill instance: nothing to sweep"
    cloud.refresh_replication()
    assert plan_state(drill_plan)["lastDrillSweep"]["terminated"] == sorted(left)
    wait_until(lambda: recovery_instances(cloud, drill_plan) == [], message="swept drill instances to go")
    assert {ri["recoveryInstanceID"] for ri in recovery_instances(cloud, recovery_plan)} >= {
        ri["recoveryInstanceID"] for ri in hang_over.recovery_instances
    }


def test_after_the_hang_the_plans_run_again_and_leave_nothing_behind(
    cloud: LocalCloud, drill_plan: Plan, recovery_plan: Plan, hang_over: HangOver
) -> None:
    drill = cloud.run("drill", {"plan": drill_plan.name}, timeout=RUN_TIMEOUT)
    assert drill["status"] == "SUCCEEDED", drill.get("cause")
    record = run_record(drill_plan, drill["executionArn"])
    assert set(record["servers"]) == {s.source_server_id for s in drill_plan.servers()}
    # Every drill instance of the plan is gone, including one a late job of the timed-out drill left.
    assert recovery_instances(cloud, drill_plan) == []
    state = plan_state(drill_plan)
    assert state["lifecycle"] == "NORMAL" and "activeExecution" not in state
    assert state["lastDrill"]["result"] == "SUCCEEDED"

    # The incomplete recovery may be run again, and completes the failover.
    recovery = cloud.run("recovery", {"plan": recovery_plan.name}, timeout=RUN_TIMEOUT)
    assert recovery["status"] == "SUCCEEDED", recovery.get("cause")
    state = plan_state(recovery_plan)
    assert state["lifecycle"] == "FAILED_OVER" and state["incomplete"] is False
    assert "activeExecution" not in state
    recovered = run_record(recovery_plan, recovery["executionArn"])["servers"]
    assert all(server["recoveryInstanceId"] for server in recovered.values())
    # What runs in EC2 now is the recovery plan's recovery instances, nothing of the drill plan.
    recovery_ec2 = {ri["ec2InstanceID"] for ri in recovery_instances(cloud, recovery_plan)}
    assert set(running_ec2_instances(cloud)) == recovery_ec2
