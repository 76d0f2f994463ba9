"""`drctl local up` serves the local cloud to other processes: the unchanged AWS clients reach it with
nothing but the printed environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud.cli", "local", "up"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    env: dict[str, str] = {}
    deadline = time.monotonic() + 120
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                env[name] = value
            if line.startswith("# plans:") or time.monotonic() > deadline:
                break
        yield env
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_local_up_prints_a_working_environment(
    local_up: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DRS", "REQUESTS_CA_BUNDLE", "AWS_DEFAULT_REGION"):
        assert name in local_up
    for name, value in local_up.items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session()
    servers = session.client("drs").describe_source_servers(filters={})["items"]
    assert {s["sourceServerID"] for s in servers} >= {"s-0a1b2c3d4e5f60001", "s-0a1b2c3d4e5f60004"}
    machines = session.client("stepfunctions").list_state_machines()["stateMachines"]
    assert {m["name"].rsplit("-", 1)[-1] for m in machines} >= {"drill", "recovery", "failback", "gate"}
    assert os.path.exists(local_up["REQUESTS_CA_BUNDLE"])


def test_local_up_runs_the_schedules_by_themselves(
    local_up: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replication monitor's rate(5 minutes) fires every 5 s at 60x: the plan's snapshot is renewed."""
    for name, value in local_up.items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session()
    outputs = session.client("cloudformation").describe_stacks(StackName=local_up["DRCTL_STACK"])["Stacks"][0]
    table = next(o["OutputValue"] for o in outputs["Outputs"] if o["OutputKey"] == "StateTableName")
    dynamodb = session.client("dynamodb")

    def snapshot_time() -> str:
        key = {"pk": {"S": "PLAN#shop"}, "sk": {"S": "STATE"}}
        item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        return str(item["replication"]["M"]["at"]["S"])

    first = snapshot_time()  # written by the monitor's run at start-up
    deadline = time.monotonic() + 90
    while snapshot_time() == first:
        assert time.monotonic() < deadline, "the monitor's schedule never fired"
        time.sleep(0.5)
