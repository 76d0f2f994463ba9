"""STS: short-lived credentials of the roles whose credentials a task hands to software on an Azure VM (the
DRS Failback Client, the AWS Replication Agent installer). They go into userData or a Run Command request
and never into a log or a record."""

from __future__ import annotations

from lambdas.adapters.aws import client


def role_credentials(role_arn: str, session_name: str, seconds: int) -> dict[str, str]:
    """AccessKeyId, SecretAccessKey, SessionToken and Expiration of a session of the role."""
    response = client("sts").assume_role(
        RoleArn=role_arn, RoleSessionName=session_name[:64], DurationSeconds=seconds
    )
    return {key: str(value) for key, value in response["Credentials"].items()}
