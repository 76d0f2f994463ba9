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


def network_facts(instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per instance: PrivateIpAddress, PublicIpAddress (if any) and its security groups' inbound rules."""
    facts: dict[str, dict[str, Any]] = {}
    if not instance_ids:
        return facts
    group_ids: set[str] = set()
    for page in client("ec2").get_paginator("describe_instances").paginate(InstanceIds=instance_ids):
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                groups = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
                group_ids.update(groups)
                facts[instance["InstanceId"]] = {
                    "PrivateIpAddress": instance.get("PrivateIpAddress"),
                    "PublicIpAddress": instance.get("PublicIpAddress"),
                    "SecurityGroupIds": groups,
                }
    groups_by_id: dict[str, dict[str, Any]] = {}
    if group_ids:
        paginator = client("ec2").get_paginator("describe_security_groups")
        for page in paginator.paginate(GroupIds=sorted(group_ids)):
            for group in page.get("SecurityGroups", []):
                groups_by_id[group["GroupId"]] = group
    for fact in facts.values():
        fact["SecurityGroups"] = [groups_by_id[g] for g in fact.pop("SecurityGroupIds") if g in groups_by_id]
    return facts
