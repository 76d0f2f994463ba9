"""Integration tests: the synthesized stack running on the embedded local cloud."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.adapters import state_store
from lambdas.plan import Plan, load_plans
from localcloud.azure import AzureTiming
from localcloud.cloud import LocalCloud, LocalCloudSettings
from localcloud.drs import DrsTiming
from localcloud.progress import find_run

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

# DRS steps ~20x faster than the demo: a wave launches in about a second.
FAST_DRS = DrsTiming(
    job_pending=0.1,
    snapshot=0.1,
    conversion=0.3,
    boot=0.3,
    terminate=0.2,
    failback_sync=0.4,
    failback_launch=0.4,
    replication_resync=0.4,
    snapshot_interval=1.0,
)
FAST_AZURE = AzureTiming(operation=0.1, create=0.2, poll=0.05)


def event(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return document


@pytest.fixture
def plan() -> Plan:
    return load_plans([ROOT / "plans" / "sample-plan.json"])[0]


@pytest.fixture
def cloud(synthesized: Path, plan: Plan) -> Iterator[LocalCloud]:
    settings = LocalCloudSettings(
        time_scale=60, drs_timing=FAST_DRS, azure_timing=FAST_AZURE, log_level="WARNING"
    )
    with LocalCloud(synthesized, [plan], settings) as local:
        yield local
        # A handler may handle a refusal and carry on (a fallback, a logged warning): deployed, its role
        # would lack the action all the same.
        assert local.bridge.roles.refusals == [], "calls the functions' roles do not allow"


def run(cloud: LocalCloud, workflow: str, document: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    return cloud.run(workflow, document, timeout=timeout)


def run_record(plan: Plan, execution_arn: str) -> dict[str, Any]:
    record = find_run(plan.name, execution_arn)
    assert record is not None, f"no run record for {execution_arn}"
    return record


def plan_state(plan: Plan) -> dict[str, Any]:
    """The plan's state item as stored."""
    return state_store.plan_state(plan.name).to_document()


def recovery_instances(cloud: LocalCloud, plan: Plan) -> list[dict[str, Any]]:
    ids = [s.source_server_id for s in plan.servers()]
    items: list[dict[str, Any]] = cloud.client("drs").describe_recovery_instances(
        filters={"sourceServerIDs": ids}
    )["items"]
    return items


def running_ec2_instances(cloud: LocalCloud) -> list[str]:
    reservations = cloud.client("ec2").describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]
    return [i["InstanceId"] for r in reservations for i in r["Instances"]]


def wait_until(condition: Callable[[], Any], timeout: float = 60, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.1)


def drs_calls(cloud: LocalCloud, operation: str) -> list[int]:
    return [status for op, status in cloud.drs.request_log if op == operation]


class Inbox:
    """An SQS queue subscribed to every SNS topic of the stack: what the on-call engineer would receive."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._sqs = cloud.client("sqs")
        self._url = self._sqs.create_queue(QueueName="test-inbox")["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns = cloud.client("sns")
        for topic in sns.list_topics()["Topics"]:
            sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=queue_arn)
        self.messages: list[dict[str, Any]] = []

    def receive(self) -> list[dict[str, Any]]:
        """Every notification so far, as {"Subject", "Message"} (Message parsed from JSON)."""
        while batch := self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                envelope = json.loads(message["Body"])
                self.messages.append(
                    {"Subject": envelope.get("Subject"), "Message": json.loads(envelope["Message"])}
                )
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return self.messages

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.receive()]


@pytest.fixture
def inbox(cloud: LocalCloud) -> Inbox:
    return Inbox(cloud)
