"""The functions' AWS calls are authorized against their roles in the synthesized template, and refused as
AWS refuses them where the role lacks the action."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.adapters.aws import client
from lambdas.plan import Plan
from localcloud.cloud import LocalCloud, LocalCloudSettings
from localcloud.iam import role_policies
from localcloud.template import ACCOUNT_ID
from tests.integration.conftest import FAST_AZURE, FAST_DRS, event, recovery_instances, run, run_record

pytestmark = pytest.mark.integration

LAUNCH_WAVE = "lambdas.handlers.launch_wave.handler"


@pytest.fixture
def local(synthesized: Path, plan: Plan) -> Iterator[LocalCloud]:
    """A cloud whose refusals the test inspects (the shared fixture wants none)."""
    settings = LocalCloudSettings(
        time_scale=60, drs_timing=FAST_DRS, azure_timing=FAST_AZURE, log_level="WARNING"
    )
    with LocalCloud(synthesized, [plan], settings) as cloud:
        yield cloud


def role_of(cloud: LocalCloud, handler: str) -> str:
    configuration = cloud.client("lambda").get_function_configuration(
        FunctionName=cloud.function_name(handler)
    )
    return str(configuration["Role"])


def without_action(documents: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    stripped = copy.deepcopy(documents)
    for document in stripped:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != action]
    return stripped


def test_a_role_without_an_action_fails_the_workflow_with_access_denied(
    local: LocalCloud, plan: Plan
) -> None:
    role_name = role_of(local, LAUNCH_WAVE).rsplit("/", 1)[-1]
    policies = role_policies(local.template)
    policies[role_name] = without_action(policies[role_name], "drs:StartRecovery")
    local.bridge.set_role_policies(policies)

    result = run(local, "drill", event("drill.json"))

    assert result["status"] == "FAILED"
    function = local.function_name(LAUNCH_WAVE)
    assert local.bridge.roles.refusals == [f"{function}: drs:StartRecovery"]
    failure = run_record(plan, result["executionArn"])
    assert "AccessDeniedException" in str(failure), failure
    # Nothing was launched, and the other functions' calls (the cleanup's) went through.
    assert recovery_instances(local, plan) == []


def test_a_refusal_is_the_error_the_service_answers(local: LocalCloud) -> None:
    role = role_of(local, LAUNCH_WAVE)
    function = local.function_name(LAUNCH_WAVE)
    session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role.rsplit('/', 1)[-1]}/{function}"
    calls = [
        (
            "dynamodb",
            "AccessDeniedException",
            "dynamodb:ListTables",
            lambda: client("dynamodb").list_tables(),
        ),
        (
            "drs",
            "AccessDeniedException",
            "drs:StopFailback",
            lambda: client("drs").stop_failback(recoveryInstanceID="i-0123456789abcdef0"),
        ),
        ("sns", "AuthorizationError", "sns:ListTopics", lambda: client("sns").list_topics()),
        ("ec2", "UnauthorizedOperation", "ec2:DescribeVpcs", lambda: client("ec2").describe_vpcs()),
        ("s3", "AccessDenied", "s3:ListAllMyBuckets", lambda: client("s3").list_buckets()),
        ("sts", "AccessDenied", "sts:GetSessionToken", lambda: client("sts").get_session_token()),
    ]
    with local.bridge.roles.acting_as(role, function):
        for service, code, action, call in calls:
            with pytest.raises(ClientError) as refused:
                call()
            error = refused.value.response["Error"]
            assert error["Code"] == code, service
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            assert (
                f"User: {session} is not authorized to perform: {action} because no identity-based "
                f"policy allows the {action} action" in error["Message"]
            )
        # Modeled where the service models it, as botocore raises it.
        with pytest.raises(client("drs").exceptions.AccessDeniedException):
            client("drs").stop_failback(recoveryInstanceID="i-0123456789abcdef0")
        # What the role allows passes, and so does what IAM authorizes for everyone.
        assert client("ec2").describe_instances()["Reservations"] == []
        client("sts").get_caller_identity()
    # Outside an invocation nothing is checked.
    client("dynamodb").list_tables()
