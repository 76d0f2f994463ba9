"""The failback network rules: Azure NSG evaluation on the client's outbound path, and the recovery
instance's inbound TCP 1500."""

from __future__ import annotations

from typing import Any

from lambdas.domain.failback_network import (
    FAILBACK_PORT,
    Destination,
    failback_destinations,
    inbound_open,
    path_findings,
)

RECOVERY_INSTANCE = Destination(FAILBACK_PORT, "198.51.100.7", "recovery instance i-1 (198.51.100.7)")


def rule(name: str, priority: int, access: str, destination: str = "*", port: str = "*") -> dict[str, Any]:
    return {
        "name": name,
        "priority": priority,
        "direction": "Outbound",
        "access": access,
        "protocol": "*",
        "destinationAddressPrefix": destination,
        "destinationPortRange": port,
    }


def group(*permissions: dict[str, Any]) -> dict[str, Any]:
    return {"GroupId": "sg-1", "IpPermissions": list(permissions)}


def test_inbound_needs_a_tcp_rule_covering_the_port_from_an_address_range() -> None:
    from_range = {"IpRanges": [{"CidrIp": "203.0.113.0/24"}]}
    assert inbound_open([group({"IpProtocol": "tcp", "FromPort": 1500, "ToPort": 1500, **from_range})])
    assert inbound_open([group({"IpProtocol": "-1", **from_range})])
    assert inbound_open([group({"IpProtocol": "tcp", "FromPort": 1000, "ToPort": 2000, **from_range})])
    assert not inbound_open([group({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, **from_range})])
    assert not inbound_open([group({"IpProtocol": "udp", "FromPort": 1500, "ToPort": 1500, **from_range})])
    # Only from other security groups (the VPC default group's rule): the Azure VMs are not among them.
    only_groups = {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-1"}]}
    assert not inbound_open([group(only_groups)])
    assert not inbound_open([])


def test_the_first_matching_rule_by_priority_decides_and_both_nsgs_must_allow() -> None:
    nic = (
        "network security group nic",
        [rule("deny-1500", 100, "Deny", port="1500"), rule("all", 50, "Allow")],
    )
    assert path_findings([nic], RECOVERY_INSTANCE).verdict == "allowed"

    subnet = ("network security group subnet", [rule("deny-1500", 100, "Deny", port="1400-1600")])
    finding = path_findings([nic, subnet], RECOVERY_INSTANCE)
    assert finding.verdict == "denied"
    assert "rule deny-1500 (priority 100) of network security group subnet" in finding.reason


def test_a_service_tag_rule_is_a_warning_not_an_error() -> None:
    tagged = ("network security group nic", [rule("to-storage", 100, "Deny", destination="Storage")])
    assert path_findings([tagged], RECOVERY_INSTANCE).verdict == "unknown"


def test_a_recovery_instance_without_the_address_the_client_needs_is_a_problem() -> None:
    destinations, problems = failback_destinations(
        {"ec2InstanceID": "i-1", "PrivateIpAddress": "10.0.0.5"}, False
    )
    assert [d.port for d in destinations] == [443] and "no public IP address" in problems[0]
    destinations, problems = failback_destinations(
        {"ec2InstanceID": "i-1", "PrivateIpAddress": "10.0.0.5"}, True
    )
    assert problems == [] and destinations[-1].address == "10.0.0.5"
