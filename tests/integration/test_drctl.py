"""drctl against the local cloud, found the way a deployed stack is found: by stack name."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from drctl.main import main
from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import ROOT, plan_state, wait_until

pytestmark = pytest.mark.integration


def drctl(cloud: LocalCloud, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args[:1], "--stack", cloud.stack_name, *args[1:]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_status_start_watch_and_report(
    cloud: LocalCloud, plan: Plan, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = drctl(cloud, capsys, "status", "--json")
    assert code == 0
    status = json.loads(out)["shop"]
    assert status["lifecycle"] == "NORMAL" and len(status["replication"]["servers"]) == 4

    code, out, _ = drctl(
        cloud, capsys, "start", "drill", "--plan", "shop", "--reason", "monthly check", "--wait"
    )
    assert code == 0, out
    assert "started drill of plan shop" in out and "run SUCCEEDED" in out and "shop-db-1: healthy" in out

    code, out, _ = drctl(cloud, capsys, "status")
    assert "plan shop: NORMAL" in out and "last drill: SUCCEEDED" in out

    code, out, _ = drctl(cloud, capsys, "report", "--plan", "shop", "--out", str(tmp_path))
    assert code == 0
    pages = sorted(p.suffix for p in tmp_path.iterdir())
    assert pages == [".html", ".json"]


def test_recovery_needs_a_confirmation(
    cloud: LocalCloud, plan: Plan, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the confirmation reads plans/*.json from here
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # a script: no terminal to ask at
    code, _, err = drctl(cloud, capsys, "start", "recovery", "--plan", "shop", "--reason", "INC-1")
    assert code == 1 and "pass --yes" in err and "shop-db-1" in err and "shop.example.com" in err
    sfn = cloud.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=cloud.state_machines["recovery"])["executions"] == []
    assert plan_state(plan).get("lifecycle", "NORMAL") == "NORMAL"

    # Global flags before the command, --yes after it.
    argv = ["--json", "--stack", cloud.stack_name, "start", "recovery", "--plan", "shop", "--yes", "--wait"]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # stdout stays one JSON document (besides the in-process Lambdas' metric lines); progress goes to stderr
    drctl_out = [line for line in captured.out.splitlines() if not line.startswith('{"_aws"')]
    result = json.loads("\n".join(drctl_out))
    started = sfn.list_executions(stateMachineArn=cloud.state_machines["recovery"])["executions"]
    assert result == {"executionArn": started[0]["executionArn"], "status": "SUCCEEDED"}
    assert "run SUCCEEDED" in captured.err and plan_state(plan)["lifecycle"] == "FAILED_OVER"


def test_approve_and_abort(cloud: LocalCloud, plan: Plan, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = drctl(cloud, capsys, "approve", "--plan", "shop")
    assert code == 2 and "no failover waiting for approval" in err
    cloud.azure.set_unreachable(True)
    cloud.put_alarm_event("dr-DrOrchestrator-shop-azure-outage", "ALARM")
    pending = wait_until(lambda: plan_state(plan).get("pendingApproval"), message="approval request")
    code, out, _ = drctl(cloud, capsys, "status")
    assert "waiting for approval" in out
    code, out, _ = drctl(cloud, capsys, "abort", "--plan", "shop", "--reason", "false alarm")
    assert code == 0 and pending["executionArn"] in out
    assert cloud.wait(pending["executionArn"])["error"] == "Rejected"


def test_clear_errors(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = drctl(cloud, capsys, "start", "drill", "--plan", "nope")
    assert code == 2 and "unknown plan 'nope'" in err and "shop" in err
    code, _, err = drctl(cloud, capsys, "start", "drill", "--plan", "shop", "--snapshot", "yesterday")
    assert code == 2 and "snapshot" in err
    code = main(["status", "--stack", "NoSuchStack"])
    assert code == 2 and "stack NoSuchStack not found" in capsys.readouterr().err
