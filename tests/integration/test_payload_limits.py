"""Run-time limits the local cloud applies as AWS does (lambdas/quotas.py has the figures and sources)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from lambdas import quotas
from localcloud.cloud import LocalCloud
from localcloud.template import ACCOUNT_ID


def test_start_execution_names_an_unnamed_execution_and_refuses_input_above_256_kib(
    cloud: LocalCloud,
) -> None:
    sfn = cloud.client("stepfunctions")
    machine = cloud.state_machines["drill"]
    started = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"plan": "nope"}))
    name = sfn.describe_execution(executionArn=started["executionArn"])["name"]
    assert name and started["executionArn"].endswith(f":{name}")
    cloud.wait(started["executionArn"])
    too_large = json.dumps({"plan": "shop", "reason": "x" * quotas.SFN_PAYLOAD_BYTES})
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine, input=too_large)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 262144" in refused.value.response["Error"]["Message"]


def test_a_state_result_above_256_kib_fails_with_states_data_limit_exceeded(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")
    definition = {
        "StartAt": "Big",
        "States": {"Big": {"Type": "Pass", "Result": {"blob": "x" * quotas.SFN_PAYLOAD_BYTES}, "End": True}},
    }
    arn = sfn.create_state_machine(
        name="too-big", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/x"
    )["stateMachineArn"]
    result = cloud.wait(sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert result["status"] == "FAILED" and result["error"] == "States.DataLimitExceeded"


def test_eventbridge_refuses_entries_above_256_kb(cloud: LocalCloud) -> None:
    entry = {"Source": "local.test", "DetailType": "big", "Detail": json.dumps({"x": "y" * 262_144})}
    with pytest.raises(ClientError) as refused:
        cloud.client("events").put_events(Entries=[entry])
    assert "Total size of the entries in the request is over the limit" in str(refused.value)


def test_lambda_refuses_a_synchronous_request_above_6_mb(cloud: LocalCloud) -> None:
    function = cloud.function_name("lambdas.handlers.begin_run.handler")
    answer = cloud.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps({"x": "y" * quotas.LAMBDA_SYNC_PAYLOAD_BYTES}).encode()
    )
    body = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") and body["errorType"] == "RequestTooLargeException"
