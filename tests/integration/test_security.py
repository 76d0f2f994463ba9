"""Secrets stay out of logs, reports and execution histories."""

from __future__ import annotations

import json
import logging

import pytest

from lambdas.plan import Plan
from localcloud.cloud import LocalCloud
from tests.integration.conftest import event, run, run_record

pytestmark = pytest.mark.integration


def test_the_azure_secret_never_appears_in_logs_reports_or_history(
    cloud: LocalCloud, plan: Plan, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Everything at the deployed level (INFO), the orchestrator's own logger at DEBUG. (botocore's DEBUG
    # output echoes response bodies of any AWS call: never enable it where secrets are read.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="dr-orchestrator")
    secret = cloud.azure.client_secret
    cloud.azure.rotate_secret()  # failing sign-ins log the most
    assert run(cloud, "recovery", event("recovery.json"))["status"] == "SUCCEEDED"
    failback = run(cloud, "failback", event("failback.json"))
    assert failback["status"] == "FAILED"

    captured = capfd.readouterr()
    assert captured.out and secret not in captured.out and secret not in captured.err
    assert secret not in caplog.text
    record = run_record(plan, failback["executionArn"])
    assert secret not in json.dumps(record, default=str)
    history = cloud.client("stepfunctions").get_execution_history(executionArn=failback["executionArn"])
    assert secret not in json.dumps(history, default=str)
