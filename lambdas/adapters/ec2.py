"""EC2 reads used to validate recovered instances."""

from __future__ import annotations

from typing import Any

from lambdas.adapters.aws import client


def instance_health(instance_ids: list[str]) -> dict[str, dict[str, str]]:
    """Per instance: state, system and instance status-check results ('ok' when both checks pass)."""
    health: dict[str, dict[str, str]] = {}
    for start in range(0, len(instance_ids), 100):
        ids = instance_ids[start : start + 100]
        paginator = client("ec2").get_paginator("describe_instance_status")
        for page in paginator.paginate(InstanceIds=ids, IncludeAllInstances=True):
            for status in page.get("InstanceStatuses", []):
                health[status["InstanceId"]] = {
                    "state": status.get("InstanceState", {}).get("Name", "unknown"),
                    "system": status.get("SystemStatus", {}).get("Status", "unknown"),
                    "instance": status.get("InstanceStatus", {}).get("Status", "unknown"),
                }
    return health


def private_ips(instance_ids: list[str]) -> dict[str, str]:
    ips: dict[str, str] = {}
    if not instance_ids:
        return ips
    paginator = client("ec2").get_paginator("describe_instances")
    for page in paginator.paginate(InstanceIds=instance_ids):
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                ip: Any = instance.get("PrivateIpAddress")
                if ip:
                    ips[instance["InstanceId"]] = str(ip)
    return ips
