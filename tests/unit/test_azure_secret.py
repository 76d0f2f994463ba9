"""The Azure credential secret, read through Powertools parameters: a bad secret names what is missing,
never a value, and a good one is cached (one Secrets Manager call for many reads)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from lambdas.adapters import aws, azure_compute
from lambdas.errors import AzureUnavailable


@pytest.fixture
def secret_arn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        aws._clients.clear()
        azure_compute.reset_caches()
        arn = boto3.client("secretsmanager").create_secret(Name="azure", SecretString="{}")["ARN"]
        monkeypatch.setenv("AZURE_SECRET_ARN", arn)
        yield arn
        aws._clients.clear()
        azure_compute.reset_caches()


def put(arn: str, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)
    azure_compute.reset_caches()


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ('{"tenant_id": "t", "client_id": "c"}', "client_secret"),
        ("[1, 2]", "not a JSON document"),
        ("not json at all: hunter2", "not a JSON document"),
    ],
)
def test_a_bad_secret_names_what_is_missing_never_a_value(secret_arn: str, value: str, named: str) -> None:
    put(secret_arn, value)
    with pytest.raises(AzureUnavailable) as raised:
        azure_compute._secret()
    assert named in str(raised.value) and "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("secret", "missing"),
    [
        ({"tenant_id": "t", "client_id": "c", "client_secret": "s"}, []),
        ({"tenant_id": "t", "client_id": "", "client_secret": "s"}, ["client_id"]),
        ({}, ["tenant_id", "client_id", "client_secret"]),
        (["tenant_id"], [azure_compute.NOT_A_DOCUMENT]),
        ("tenant_id", [azure_compute.NOT_A_DOCUMENT]),
        (None, [azure_compute.NOT_A_DOCUMENT]),
    ],
)
def test_the_one_secret_check_names_each_missing_field(secret: object, missing: list[str]) -> None:
    assert azure_compute.missing_secret_fields(secret) == missing


def test_a_good_secret_is_read_once_and_cached(secret_arn: str) -> None:
    good = {"tenant_id": "t", "client_id": "c", "client_secret": "s3cr3t"}
    put(secret_arn, json.dumps(good))
    assert azure_compute._secret() == good
    # Changed in Secrets Manager, the cached value is still served until the cache is reset.
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="{}")
    assert azure_compute._secret() == good
    azure_compute.reset_caches()
    with pytest.raises(AzureUnavailable):
        azure_compute._secret()
