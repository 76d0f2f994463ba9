"""The DRS emulator driven by the unchanged boto3 `drs` client, with EC2 in a moto server.

Every response any test receives is checked against botocore's service model (see `drs` fixture).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.error import HTTPError

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from localcloud.drs import DrsEmulator, DrsTiming
from localcloud.drs.conformance import watch
from localcloud.drs.errors import ApiError
from localcloud.drs.machines import VolumeWrite

FAST = DrsTiming(
    job_pending=0.05,
    snapshot=0.05,
    conversion=0.05,
    boot=0.1,
    terminate=0.05,
    failback_sync=0.2,
    failback_launch=0.1,
    replication_resync=0.3,
    snapshot_interval=0.3,
)
NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


class FakeMachines:
    """The machines outside AWS as DRS sees them: which run a failback client or the replication agent."""

    def __init__(self) -> None:
        self.clients: set[str] = set()
        self.agents: dict[str, bool] = {}
        self.written: list[tuple[str, list[VolumeWrite]]] = []
        self.reboots: list[str] = []

    def agent_running(self, machine_id: str) -> bool | None:
        return self.agents.get(machine_id)

    def failback_client_running(self, machine_id: str) -> bool:
        return machine_id in self.clients

    def restore_volumes(self, machine_id: str, writes: list[VolumeWrite]) -> None:
        self.written.append((machine_id, writes))

    def reboot(self, machine_id: str) -> None:
        self.reboots.append(machine_id)


class FakeIam:
    """Accepts the one key it issued for the failback-installation action."""

    KEY, TOKEN = "ASIAFAILBACKCLIENT01", "session-token"

    def authorize(self, access_key_id: str, session_token: str, action: str, resource: str) -> str:
        if (access_key_id, session_token) != (self.KEY, self.TOKEN):
            raise ApiError(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if action != "drs:AssociateFailbackClientToRecoveryInstanceForDrs":
            raise ApiError("AccessDeniedException", f"not authorized to perform: {action}")
        return "arn:aws:sts::123456789012:assumed-role/failback/run"


@pytest.fixture
def machines() -> FakeMachines:
    return FakeMachines()


@pytest.fixture
def emu(moto_url: str, events: list[dict[str, Any]], machines: FakeMachines) -> Iterator[DrsEmulator]:
    emulator = DrsEmulator(
        ec2_endpoint_url=moto_url,
        region="us-east-1",
        timing=FAST,
        event_sink=events.append,
        machines=machines,
        authorizer=FakeIam(),
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def conformance() -> Iterator[list[str]]:
    problems: list[str] = []
    yield problems
    assert problems == [], "responses that do not match the drs service model"


def _client(emu: DrsEmulator, conformance: list[str], config: Config = NO_RETRIES) -> Any:
    """The unchanged boto3 client; every response it gets is checked against the service model."""
    client = boto3.client("drs", endpoint_url=emu.url, region_name="us-east-1", config=config)
    watch(client, conformance)
    return client


@pytest.fixture
def drs(emu: DrsEmulator, conformance: list[str]) -> Any:
    return _client(emu, conformance)


@pytest.fixture
def ec2(moto_url: str) -> Any:
    return boto3.client("ec2", endpoint_url=moto_url, region_name="us-east-1")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Poll until `check` returns something truthy (waiting, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def job(drs: Any, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = drs.describe_jobs(filters={"jobIDs": [job_id]})["items"][0]
    return found


def completed(drs: Any, job_id: str) -> dict[str, Any]:
    return wait_for(lambda: (j := job(drs, job_id))["status"] == "COMPLETED" and j, f"job {job_id}")


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return cast(dict[str, Any], caught.value.response)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- source servers and snapshots ----------------------------------------------------------------------


def test_describe_source_servers_pages_and_filters(emu: DrsEmulator, drs: Any) -> None:
    vm = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-"
    ids = [
        emu.seed_source_server(hostname=f"web-{n}", disks_gib=[64, 128], azure_vm_id=f"{vm}{n}")
        for n in range(5)
    ]
    fixed = emu.seed_source_server(
        hostname="db-1", tags={"app": "shop"}, source_server_id="s-0123456789abcdef0"
    )

    first = drs.describe_source_servers(filters={}, maxResults=2)
    assert len(first["items"]) == 2 and first["nextToken"]
    paged = [
        s["sourceServerID"]
        for page in drs.get_paginator("describe_source_servers").paginate(
            filters={}, PaginationConfig={"PageSize": 2}
        )
        for s in page["items"]
    ]
    assert paged == [*ids, fixed]

    [server] = drs.describe_source_servers(filters={"sourceServerIDs": [fixed]})["items"]
    assert server["arn"] == f"arn:aws:drs:us-east-1:123456789012:source-server/{fixed}"
    assert server["tags"] == {"app": "shop"}
    assert server["sourceProperties"]["identificationHints"]["hostname"] == "db-1"
    assert server["dataReplicationInfo"]["dataReplicationState"] == "CONTINUOUS"
    assert server["dataReplicationInfo"]["lagDuration"] == "PT3S"
    assert server["replicationDirection"] == "FAILOVER"
    assert "recoveryInstanceId" not in server

    [by_hw] = drs.describe_source_servers(filters={"hardwareId": f"{vm}3"})["items"]
    assert by_hw["sourceServerID"] == ids[3]
    assert [d["bytes"] for d in by_hw["sourceProperties"]["disks"]] == [64 * 2**30, 128 * 2**30]
    assert emu.source_server(ids[3])["sourceProperties"] == by_hw["sourceProperties"]


def test_recovery_snapshots_are_seeded_filtered_ordered_and_keep_coming(
    emu: DrsEmulator, drs: Any, events: list[dict[str, Any]]
) -> None:
    sid = emu.seed_source_server(hostname="web-1", disks_gib=[32, 32])
    now = datetime.now(UTC)
    seeded = {"toDateTime": iso_z(now)}  # new snapshots keep coming; look at the seeded ones only

    newest_first = drs.describe_recovery_snapshots(sourceServerID=sid, filters=seeded)["items"]
    assert len(newest_first) == 6
    taken = [datetime.fromisoformat(s["timestamp"]) for s in newest_first]
    assert taken == sorted(taken, reverse=True)
    assert all(now - timedelta(hours=1) <= t <= now for t in taken)
    assert all(s["snapshotID"].startswith("pit-") and len(s["ebsSnapshots"]) == 2 for s in newest_first)

    oldest_first = drs.describe_recovery_snapshots(sourceServerID=sid, filters=seeded, order="ASC")["items"]
    assert oldest_first == newest_first[::-1]

    window = {"fromDateTime": iso_z(taken[2]), **seeded}
    page = drs.describe_recovery_snapshots(sourceServerID=sid, filters=window, order="ASC", maxResults=2)
    assert [s["snapshotID"] for s in page["items"]] == [s["snapshotID"] for s in oldest_first[3:5]]
    rest = drs.describe_recovery_snapshots(
        sourceServerID=sid, filters=window, order="ASC", nextToken=page["nextToken"]
    )
    assert [s["snapshotID"] for s in rest["items"]] == [oldest_first[5]["snapshotID"]]

    wait_for(
        lambda: len(drs.describe_recovery_snapshots(sourceServerID=sid)["items"]) > 6, "a new PIT snapshot"
    )
    taken_events = wait_for(
        lambda: [e for e in events if e["detail-type"] == "DRS PIT Snapshot Taken"], "event"
    )
    assert taken_events[0]["detail"]["DrsSnapshotID"].startswith("pit-")
    assert taken_events[0]["resources"] == [f"arn:aws:drs:us-east-1:123456789012:source-server/{sid}"]


# -- launches ---------------------------------------------------------------------------------------


def test_drill_from_chosen_snapshot_launches_a_running_ec2_instance(
    emu: DrsEmulator, drs: Any, ec2: Any, events: list[dict[str, Any]]
) -> None:
    sid = emu.seed_source_server(hostname="web-1", disks_gib=[64, 128])
    snapshot = drs.describe_recovery_snapshots(sourceServerID=sid)["items"][1]

    started = drs.start_recovery(
        sourceServers=[{"sourceServerID": sid, "recoverySnapshotID": snapshot["snapshotID"]}],
        isDrill=True,
        tags={"run": "drill-1"},
    )
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 202
    job_id = started["job"]["jobID"]
    assert started["job"]["status"] == "PENDING" and started["job"]["initiatedBy"] == "START_DRILL"

    done = completed(drs, job_id)
    assert done["type"] == "LAUNCH" and done["tags"] == {"run": "drill-1"} and "endDateTime" in done
    [server] = done["participatingServers"]
    assert server["launchStatus"] == "LAUNCHED"
    log = [item["event"] for item in drs.describe_job_log_items(jobID=job_id)["items"]]
    assert log == ["JOB_START", "CONVERSION_START", "CONVERSION_END", "LAUNCH_START", "JOB_END"]

    [instance] = drs.describe_recovery_instances(filters={"sourceServerIDs": [sid]})["items"]
    assert instance["recoveryInstanceID"] == server["recoveryInstanceID"] != instance["ec2InstanceID"]
    assert instance["isDrill"] is True and instance["jobID"] == job_id
    assert instance["ec2InstanceState"] == "RUNNING"
    assert instance["pointInTimeSnapshotDateTime"] == snapshot["timestamp"]
    assert [d["bytes"] for d in instance["recoveryInstanceProperties"]["disks"]] == [64 * 2**30, 128 * 2**30]
    assert instance["failback"]["state"] == "FAILBACK_NOT_STARTED"

    described = ec2.describe_instances(InstanceIds=[instance["ec2InstanceID"]])["Reservations"][0][
        "Instances"
    ][0]
    assert described["State"]["Name"] == "running" and described["InstanceType"] == "t3.medium"
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert (
        tags["Name"] == "web-1"
        and tags["AWSDRS_SOURCE_SERVER_ID"] == sid
        and tags["AWSDRS_IS_DRILL"] == "true"
    )
    assert tags["AWSElasticDisasterRecoveryManaged"] == "drs.amazonaws.com"

    source = drs.describe_source_servers(filters={"sourceServerIDs": [sid]})["items"][0]
    assert "recoveryInstanceId" not in source  # drills do not set it
    assert source["lastLaunchResult"] == "SUCCEEDED"
    assert source["lifeCycle"]["lastLaunch"]["initiated"]["type"] == "DRILL"

    [result] = [e for e in events if e["detail-type"] == "DRS Source Server Launch Result"]
    assert result["source"] == "aws.drs" and result["resources"] == [source["arn"]]
    assert result["detail"] == {"state": "RECOVERY_LAUNCH_SUCCEEDED", "job-id": job_id, "is-drill": "TRUE"}


def test_recovery_takes_on_demand_snapshot_and_terminate_removes_the_instance(
    emu: DrsEmulator, drs: Any, ec2: Any, events: list[dict[str, Any]]
) -> None:
    sid = emu.seed_source_server(hostname="app-1")
    job_id = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=False)["job"]["jobID"]
    done = completed(drs, job_id)
    assert done["initiatedBy"] == "START_RECOVERY"
    log = [item["event"] for item in drs.describe_job_log_items(jobID=job_id)["items"]]
    assert log[:3] == ["JOB_START", "SNAPSHOT_START", "SNAPSHOT_END"]
    instance_id = done["participatingServers"][0]["recoveryInstanceID"]
    assert emu.source_server(sid)["recoveryInstanceId"] == instance_id
    [instance] = drs.describe_recovery_instances(filters={"recoveryInstanceIDs": [instance_id]})["items"]
    assert instance["isDrill"] is False
    ec2_id = instance["ec2InstanceID"]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [ec2_id]}])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}["AWSDRS_IS_DRILL"] == "false"
    assert [
        e["detail"]["is-drill"] for e in events if e["detail-type"] == "DRS Source Server Launch Result"
    ] == ["FALSE"]

    terminate = drs.terminate_recovery_instances(recoveryInstanceIDs=[instance_id])["job"]
    assert terminate["type"] == "TERMINATE" and terminate["initiatedBy"] == "TERMINATE_RECOVERY_INSTANCES"
    ended = completed(drs, terminate["jobID"])
    assert ended["participatingServers"][0]["launchStatus"] == "TERMINATED"
    state = ec2.describe_instances(InstanceIds=[ec2_id])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    assert drs.describe_recovery_instances(filters={"recoveryInstanceIDs": [instance_id]})["items"] == []
    assert "recoveryInstanceId" not in emu.source_server(sid)
    unknown = error_of(lambda: drs.terminate_recovery_instances(recoveryInstanceIDs=[instance_id]))
    assert unknown["Error"]["Code"] == "ValidationException"
    assert unknown["fieldList"][0]["name"] == "recoveryInstanceIDs[0]"


def test_failed_launch(emu: DrsEmulator, drs: Any, events: list[dict[str, Any]]) -> None:
    sid = emu.seed_source_server(hostname="web-1")
    emu.fail_launch(sid)
    job_id = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)["job"]["jobID"]
    done = completed(drs, job_id)
    assert done["participatingServers"][0]["launchStatus"] == "FAILED"
    assert "recoveryInstanceID" not in done["participatingServers"][0]
    log = drs.describe_job_log_items(jobID=job_id)["items"]
    [failed] = [item for item in log if item["event"] == "LAUNCH_FAILED"]
    assert failed["eventData"]["sourceServerID"] == sid and failed["eventData"]["rawError"]
    assert drs.describe_recovery_instances()["items"] == []
    assert emu.source_server(sid)["lastLaunchResult"] == "FAILED"
    [result] = [e for e in events if e["detail-type"] == "DRS Source Server Launch Result"]
    assert result["detail"]["state"] == "RECOVERY_LAUNCH_FAILED"

    emu.clear_faults()
    again = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)["job"]["jobID"]
    assert completed(drs, again)["participatingServers"][0]["launchStatus"] == "LAUNCHED"


def test_a_server_in_an_active_job_conflicts(emu: DrsEmulator, drs: Any) -> None:
    sid = emu.seed_source_server(hostname="web-1")
    emu.hang_jobs(True)
    job_id = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)["job"]["jobID"]
    wait_for(lambda: job(drs, job_id)["status"] == "STARTED", "job started")
    conflict = error_of(lambda: drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True))
    assert conflict["Error"]["Code"] == "ConflictException"
    assert conflict["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert conflict["resourceId"] == sid
    time.sleep(0.3)  # hung: still not complete
    assert job(drs, job_id)["status"] == "STARTED"
    emu.hang_jobs(False)
    completed(drs, job_id)


def test_at_most_20_jobs_run_at_once(emu: DrsEmulator, drs: Any) -> None:
    emu.hang_jobs(True)
    for n in range(20):
        sid = emu.seed_source_server(hostname=f"web-{n}")
        drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)
    extra = emu.seed_source_server(hostname="one-too-many")
    quota = error_of(lambda: drs.start_recovery(sourceServers=[{"sourceServerID": extra}], isDrill=True))
    assert quota["Error"]["Code"] == "ServiceQuotaExceededException"
    assert quota["ResponseMetadata"]["HTTPStatusCode"] == 402


def test_a_job_holds_at_most_100_servers(emu: DrsEmulator, drs: Any) -> None:
    """DRS's per-job quota (lambdas/quotas.py), below the 200 items StartRecovery's list accepts."""
    emu.hang_jobs(True)
    ids = [emu.seed_source_server(hostname=f"web-{n}") for n in range(101)]
    refused = error_of(
        lambda: drs.start_recovery(sourceServers=[{"sourceServerID": i} for i in ids], isDrill=True)
    )
    assert refused["Error"]["Code"] == "ServiceQuotaExceededException"
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert "at most 100 source servers; this request has 101" in refused["Error"]["Message"]
    job_id = drs.start_recovery(sourceServers=[{"sourceServerID": i} for i in ids[:100]], isDrill=True)
    assert len(job_id["job"]["participatingServers"]) == 100


def test_at_most_500_servers_are_in_active_jobs(emu: DrsEmulator, drs: Any) -> None:
    emu.hang_jobs(True)
    ids = [emu.seed_source_server(hostname=f"web-{n}") for n in range(501)]
    for start in range(0, 500, 100):
        drs.start_recovery(
            sourceServers=[{"sourceServerID": i} for i in ids[start : start + 100]], isDrill=True
        )
    refused = error_of(lambda: drs.start_recovery(sourceServers=[{"sourceServerID": ids[500]}], isDrill=True))
    assert refused["Error"]["Code"] == "ServiceQuotaExceededException"
    assert "more than 500 source servers in jobs that are not COMPLETED" in refused["Error"]["Message"]
    assert emu.peaks == {"jobs": 5, "servers": 500}


# -- faults and validation ----------------------------------------------------------------------------


def test_throttling_carries_retry_after_seconds(emu: DrsEmulator, drs: Any, conformance: list[str]) -> None:
    emu.throttle_next(1, retry_after_seconds=7, operation="DescribeJobs")
    drs.describe_source_servers()  # another operation is not throttled
    throttled = error_of(lambda: drs.describe_jobs())
    assert throttled["Error"]["Code"] == "ThrottlingException"
    assert throttled["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert throttled["retryAfterSeconds"] == "7"
    drs.describe_jobs()
    assert emu.request_log == [("DescribeSourceServers", 200), ("DescribeJobs", 429), ("DescribeJobs", 200)]

    retrying = _client(emu, conformance, Config(retries={"mode": "standard", "max_attempts": 3}))
    emu.throttle_next(2)
    assert retrying.describe_jobs()["items"] == []  # botocore retried twice
    assert emu.request_log[-3:] == [("DescribeJobs", 429), ("DescribeJobs", 429), ("DescribeJobs", 200)]


def test_injected_server_errors(emu: DrsEmulator, drs: Any) -> None:
    emu.fail_next(1, operation="StartRecovery")
    sid = emu.seed_source_server(hostname="web-1")
    failed = error_of(lambda: drs.start_recovery(sourceServers=[{"sourceServerID": sid}]))
    assert failed["Error"]["Code"] == "InternalServerException"
    assert failed["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert drs.describe_jobs()["items"] == []


def test_requests_are_validated_against_the_model(emu: DrsEmulator, drs: Any, conformance: list[str]) -> None:
    sid = emu.seed_source_server(hostname="web-1")
    unchecked = _client(
        emu, conformance, Config(parameter_validation=False, retries={"total_max_attempts": 1})
    )

    wrong_type = error_of(
        lambda: unchecked.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill="yes")
    )
    assert wrong_type["Error"]["Code"] == "ValidationException"
    assert wrong_type["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert wrong_type["reason"] == "fieldValidationFailed"
    assert [f["name"] for f in wrong_type["fieldList"]] == ["isDrill"]

    too_many = error_of(lambda: drs.start_recovery(sourceServers=[{"sourceServerID": sid}] * 201))
    assert [f["name"] for f in too_many["fieldList"]] == ["sourceServers"]

    bad_id = error_of(lambda: unchecked.start_recovery(sourceServers=[{"sourceServerID": "s-tooshort"}]))
    assert bad_id["fieldList"][0]["name"] == "sourceServers[0].sourceServerID"

    unknown = error_of(lambda: drs.start_recovery(sourceServers=[{"sourceServerID": "s-00000000000000000"}]))
    assert unknown["Error"]["Code"] == "ValidationException"
    assert unknown["fieldList"][0]["name"] == "sourceServers[0].sourceServerID"

    missing_pit = error_of(
        lambda: drs.start_recovery(
            sourceServers=[{"sourceServerID": sid, "recoverySnapshotID": "pit-00000000000000000"}]
        )
    )
    assert missing_pit["fieldList"][0]["name"] == "sourceServers[0].recoverySnapshotID"

    # The model's ISO8601DatetimeString pattern requires "Z"; "+00:00" (isoformat()) is refused.
    offset = error_of(
        lambda: drs.describe_recovery_snapshots(
            sourceServerID=sid, filters={"toDateTime": datetime.now(UTC).isoformat()}
        )
    )
    assert offset["fieldList"][0]["name"] == "filters.toDateTime"

    bad_token = error_of(lambda: drs.describe_jobs(nextToken="garbage"))
    assert bad_token["fieldList"][0]["name"] == "nextToken"
    assert drs.describe_jobs()["items"] == []


def test_unknown_operation_is_404(emu: DrsEmulator) -> None:
    request = urllib.request.Request(f"{emu.url}/NoSuchOperation", data=b"{}", method="POST")
    with pytest.raises(HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 404
    assert caught.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert emu.request_log == [("NoSuchOperation", 404)]


def test_endpoint_from_environment(emu: DrsEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DRS", emu.url)
    sid = emu.seed_source_server(hostname="web-1")
    items = boto3.client("drs", region_name="us-east-1").describe_source_servers()["items"]
    assert [s["sourceServerID"] for s in items] == [sid]


# -- failback and replication ---------------------------------------------------------------------------


def pair(emu: DrsEmulator, body: dict[str, Any], key: str = FakeIam.KEY) -> tuple[int, str, dict[str, Any]]:
    """A failback client's pairing call as it goes over the wire (SigV4 credential scope and token)."""
    request = urllib.request.Request(
        emu.url + "/AssociateFailbackClientToRecoveryInstanceForDrs",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261201/us-east-1/drs/aws4_request",
            "X-Amz-Security-Token": FakeIam.TOKEN,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, "", json.loads(response.read())
    except HTTPError as exc:
        return exc.code, exc.headers["x-amzn-ErrorType"], json.loads(exc.read())


def test_failback_pairs_only_what_drs_would_pair(
    emu: DrsEmulator, drs: Any, events: list[dict[str, Any]], machines: FakeMachines
) -> None:
    sid = emu.seed_source_server(hostname="web-1", disks_gib=[64, 128])
    launch = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=False)["job"]["jobID"]
    instance_id = completed(drs, launch)["participatingServers"][0]["recoveryInstanceID"]
    drill = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)["job"]["jobID"]
    drill_instance = completed(drs, drill)["participatingServers"][0]["recoveryInstanceID"]

    def failback() -> dict[str, Any]:
        found: dict[str, Any] = drs.describe_recovery_instances(
            filters={"recoveryInstanceIDs": [instance_id]}
        )["items"][0]["failback"]
        return found

    gib = 1024**3
    mapping = [
        {"recoveryInstanceDevice": "/dev/sda", "localDevice": "/dev/sdc", "lun": 1, "bytes": 64 * gib},
        {"recoveryInstanceDevice": "/dev/sdb", "localDevice": "/dev/sdb", "lun": 0, "bytes": 128 * gib},
    ]
    good = {"recoveryInstanceID": instance_id, "machine": {"id": "vm-1"}, "deviceMapping": mapping}
    time.sleep(0.3)  # no failback client yet: nothing happens, no launch
    assert failback()["state"] == "FAILBACK_NOT_STARTED"
    early = error_of(lambda: drs.start_failback_launch(recoveryInstanceIDs=[instance_id]))
    assert early["Error"]["Code"] == "ConflictException"

    assert pair(emu, good, key="ASIAUNKNOWNKEY000000")[:2] == (403, "UnrecognizedClientException")
    small = [dict(mapping[0], bytes=63 * gib), mapping[1]]
    refused = pair(emu, {**good, "deviceMapping": small})
    assert refused[:2] == (400, "ValidationException") and "smaller than" in refused[2]["message"]
    assert pair(emu, {**good, "deviceMapping": mapping[:1]})[:2] == (400, "ValidationException")
    assert pair(emu, {**good, "recoveryInstanceID": drill_instance})[:2] == (409, "ConflictException")
    assert failback()["state"] == "FAILBACK_NOT_STARTED"

    status, _, answer = pair(emu, good)
    assert status == 200 and answer["failbackClientID"] == failback()["failbackClientID"]
    assert failback()["state"] == "FAILBACK_IN_PROGRESS"
    assert pair(emu, good)[:2] == (409, "ConflictException")  # one client per recovery instance
    time.sleep(0.4)  # the client is not connected: data does not flow
    assert failback()["state"] == "FAILBACK_IN_PROGRESS"

    machines.clients.add("vm-1")
    wait_for(lambda: failback()["state"] == "FAILBACK_READY_FOR_LAUNCH", "failback ready")
    job_id = drs.start_failback_launch(recoveryInstanceIDs=[instance_id], tags={"run": "fb"})["job"]["jobID"]
    done = completed(drs, job_id)
    assert (done["type"], done["initiatedBy"], done["tags"]) == ("LAUNCH", "FAILBACK", {"run": "fb"})
    assert done["participatingServers"][0]["launchStatus"] == "LAUNCHED"
    assert failback()["state"] == "FAILBACK_COMPLETED" and failback()["failbackJobID"] == job_id
    # The volumes went onto the mapped disks (the OS volume is bootable), then the client rebooted.
    ((machine, writes),) = machines.written
    assert machine == "vm-1" and [(w.lun, w.bootable) for w in writes] == [(1, True), (0, False)]
    assert machines.reboots == ["vm-1"]

    changes = [e for e in events if e["detail-type"] == "DRS Recovery Instance Failback State Change"]
    assert [e["detail"] for e in changes] == [
        {"state": "FAILBACK_IN_PROGRESS"},
        {"state": "FAILBACK_COMPLETED"},
    ]
    assert changes[0]["resources"] == [f"arn:aws:drs:us-east-1:123456789012:recovery-instance/{instance_id}"]

    drs.stop_failback(recoveryInstanceID=instance_id)
    assert failback()["state"] == "FAILBACK_NOT_STARTED"
    missing = error_of(lambda: drs.stop_failback(recoveryInstanceID="i-00000000000000000"))
    assert missing["Error"]["Code"] == "ResourceNotFoundException"


def test_failback_launch_fails_when_the_client_is_gone(
    emu: DrsEmulator, drs: Any, machines: FakeMachines
) -> None:
    sid = emu.seed_source_server(hostname="web-1", disks_gib=[64])
    launch = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=False)["job"]["jobID"]
    instance_id = completed(drs, launch)["participatingServers"][0]["recoveryInstanceID"]
    mapping = [
        {"recoveryInstanceDevice": "/dev/sda", "localDevice": "/dev/sdb", "lun": 0, "bytes": 64 * 1024**3}
    ]
    machines.clients.add("vm-1")
    assert (
        pair(emu, {"recoveryInstanceID": instance_id, "machine": {"id": "vm-1"}, "deviceMapping": mapping})[0]
        == 200
    )

    def state() -> str:
        items = drs.describe_recovery_instances(filters={"recoveryInstanceIDs": [instance_id]})["items"]
        return str(items[0]["failback"]["state"])

    wait_for(lambda: state() == "FAILBACK_READY_FOR_LAUNCH", "failback ready")
    machines.clients.clear()
    time.sleep(2.2)  # longer than DRS waits for a client it no longer sees
    job_id = drs.start_failback_launch(recoveryInstanceIDs=[instance_id])["job"]["jobID"]
    assert completed(drs, job_id)["participatingServers"][0]["launchStatus"] == "FAILED"
    assert state() == "FAILBACK_ERROR" and machines.written == []


def test_replication_follows_the_agent_on_the_source_machine(
    emu: DrsEmulator, machines: FakeMachines
) -> None:
    sid = emu.seed_source_server(hostname="web-1", azure_vm_id="vm-web-1")
    replication = lambda: emu.source_server(sid)["dataReplicationInfo"]  # noqa: E731
    machines.agents["vm-web-1"] = False  # deallocated, or booted into the failback client
    wait_for(lambda: replication()["dataReplicationState"] == "STALLED", "stalled")
    lag = replication()["lagDuration"]
    time.sleep(1.1)
    assert replication()["lagDuration"] != lag  # lag grows while the agent is down
    machines.agents["vm-web-1"] = True  # its own OS boots again: rescan, then CONTINUOUS, no API call
    wait_for(lambda: replication()["dataReplicationState"] == "RESCAN", "rescan")
    wait_for(lambda: replication()["dataReplicationState"] == "CONTINUOUS", "continuous")


def test_replication_restarts_and_stalls(emu: DrsEmulator, drs: Any, events: list[dict[str, Any]]) -> None:
    sid = emu.seed_source_server(hostname="web-1", replication_state="STOPPED")
    assert drs.describe_recovery_snapshots(sourceServerID=sid)["items"] == []

    started = drs.start_replication(sourceServerID=sid)["sourceServer"]
    assert started["dataReplicationInfo"]["dataReplicationState"] == "INITIATING"
    assert started["replicationDirection"] == "FAILOVER"
    busy = error_of(lambda: drs.start_replication(sourceServerID=sid))
    assert busy["Error"]["Code"] == "ConflictException"
    seen = set()

    def continuous() -> bool:
        state = emu.source_server(sid)["dataReplicationInfo"]["dataReplicationState"]
        seen.add(state)
        return state == "CONTINUOUS"

    wait_for(continuous, "replication CONTINUOUS")
    assert seen <= {"INITIATING", "INITIAL_SYNC", "CONTINUOUS"}
    wait_for(lambda: drs.describe_recovery_snapshots(sourceServerID=sid)["items"], "a snapshot after resync")

    emu.set_replication(sid, state="STALLED", lag_seconds=900)
    info = drs.describe_source_servers(filters={"sourceServerIDs": [sid]})["items"][0]["dataReplicationInfo"]
    assert info["dataReplicationState"] == "STALLED" and info["lagDuration"].startswith("PT15M")
    drs.start_replication(sourceServerID=sid)

    def stall_states() -> list[str]:
        return [
            e["detail"]["state"] for e in events if e["detail-type"].endswith("Replication Stalled Change")
        ]

    wait_for(lambda: len(stall_states()) == 2, "stalled and not-stalled events")
    assert stall_states() == ["STALLED", "NOT_STALLED"]

    stopped = drs.stop_replication(sourceServerID=sid)["sourceServer"]
    assert stopped["dataReplicationInfo"]["dataReplicationState"] == "STOPPED"
    assert drs.describe_recovery_snapshots(sourceServerID=sid)["items"] == []


def test_a_failing_event_sink_does_not_stop_the_emulator(moto_url: str, conformance: list[str]) -> None:
    def broken_sink(event: dict[str, Any]) -> None:
        raise RuntimeError("sink down")

    with DrsEmulator(ec2_endpoint_url=moto_url, timing=FAST, event_sink=broken_sink) as emulator:
        drs = _client(emulator, conformance)
        sid = emulator.seed_source_server(hostname="web-1")
        job_id = drs.start_recovery(sourceServers=[{"sourceServerID": sid}], isDrill=True)["job"]["jobID"]
        assert completed(drs, job_id)["participatingServers"][0]["launchStatus"] == "LAUNCHED"


# -- launch configuration and tags ----------------------------------------------------------------------


def test_launch_configuration_and_tags(emu: DrsEmulator, drs: Any) -> None:
    sid = emu.seed_source_server(hostname="web-1", tags={"app": "shop"})
    config = drs.get_launch_configuration(sourceServerID=sid)
    assert config["sourceServerID"] == sid and config["launchDisposition"] == "STARTED"
    assert config["copyPrivateIp"] is False and config["copyTags"] is True
    updated = drs.update_launch_configuration(
        sourceServerID=sid, copyPrivateIp=True, launchDisposition="STOPPED"
    )
    assert updated["copyPrivateIp"] is True and updated["launchDisposition"] == "STOPPED"
    updated.pop("ResponseMetadata")
    assert drs.get_launch_configuration(sourceServerID=sid).items() >= updated.items()

    server_arn = emu.source_server(sid)["arn"]
    drs.tag_resource(resourceArn=server_arn, tags={"tier": "web"})
    assert drs.list_tags_for_resource(resourceArn=server_arn)["tags"] == {"app": "shop", "tier": "web"}
    drs.untag_resource(resourceArn=server_arn, tagKeys=["app"])
    assert drs.list_tags_for_resource(resourceArn=server_arn)["tags"] == {"tier": "web"}
    missing = error_of(
        lambda: drs.list_tags_for_resource(resourceArn=server_arn.replace(sid, "s-00000000000000000"))
    )
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    unknown = error_of(lambda: drs.get_launch_configuration(sourceServerID="s-00000000000000000"))
    assert unknown["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_request_log_counts_every_request(emu: DrsEmulator, drs: Any) -> None:
    emu.fail_next(1)
    error_of(lambda: drs.describe_jobs())
    drs.describe_jobs()
    assert emu.request_log == [("DescribeJobs", 500), ("DescribeJobs", 200)]
