"""IAM actions of botocore operations and the action-level evaluation the local cloud applies to them."""

from __future__ import annotations

from typing import Any

from localcloud.lambda_iam import evaluate, iam_action


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_actions_are_named_as_iam_names_them() -> None:
    assert iam_action("dynamodb", "PutItem") == "dynamodb:PutItem"
    assert iam_action("monitoring", "PutMetricData") == "cloudwatch:PutMetricData"
    assert iam_action("lambda", "Invoke") == "lambda:InvokeFunction"
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3", "HeadObject") == "s3:GetObject"


def test_an_allow_matching_the_action_allows_it_whatever_its_resource() -> None:
    documents = [policy({"Effect": "Allow", "Action": ["drs:Describe*"], "Resource": "arn:aws:drs:::x/*"})]
    assert evaluate(documents, "drs:DescribeJobs") == "allow"
    assert (
        evaluate(
            [policy({"Effect": "Allow", "Action": "DRS:DESCRIBE*", "Resource": "*"})], "drs:DescribeJobs"
        )
        == "allow"
    )
    assert evaluate(documents, "drs:StartRecovery") == "implicit"
    assert evaluate([], "drs:DescribeJobs") == "implicit"


def test_an_unconditional_deny_on_every_resource_wins() -> None:
    allow = {"Effect": "Allow", "Action": "sns:*", "Resource": "*"}
    assert (
        evaluate([policy(allow, {"Effect": "Deny", "Action": "sns:Publish", "Resource": "*"})], "sns:Publish")
        == "deny"
    )
    # A scoped or conditional Deny depends on what is not evaluated: the Allow decides.
    scoped = {"Effect": "Deny", "Action": "sns:Publish", "Resource": "arn:aws:sns:::other"}
    conditional = {"Effect": "Deny", "Action": "sns:Publish", "Resource": "*", "Condition": {"Bool": {}}}
    assert evaluate([policy(allow, scoped, conditional)], "sns:Publish") == "allow"


def test_what_iam_authorizes_for_everyone_needs_no_statement() -> None:
    assert evaluate([], "sts:GetCallerIdentity") == "allow"
