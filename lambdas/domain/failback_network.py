"""Whether a failback VM's network lets the DRS Failback Client work, judged from its security rules.

The client reaches its recovery instance on TCP 1500 (DRS user guide, failback troubleshooting: "Failed to
get recovery instance volumes"), over a private route (VPN, ExpressRoute/Direct Connect) when the recovery
instance's failback replication uses its private IP, else over the internet to the recovery instance's
public IP; and it reaches DRS and S3 on TCP 443 (DRS user guide, network requirements).

Azure evaluates the network security group of the NIC and then the one of its subnet for outbound traffic,
each by ascending priority, the first matching rule deciding, and traffic must pass both (Microsoft Learn,
"How network security groups filter network traffic"). Only a verdict that follows from the rules alone is
an error; a rule whose match cannot be told without Azure's service-tag ranges is a warning.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

FAILBACK_PORT = 1500
HTTPS_PORT = 443

Verdict = Literal["allowed", "denied", "unknown"]


@dataclass(frozen=True)
class Destination:
    """Where the client connects: a concrete address, or only "some public address" (DRS, S3)."""

    port: int
    address: str | None  # None: a public address not known in advance
    description: str

    @property
    def public(self) -> bool:
        return self.address is None or ipaddress.ip_address(self.address).is_global


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    reason: str


def _ports(rule: dict[str, Any]) -> list[str]:
    ranges = list(rule.get("destinationPortRanges") or [])
    single = rule.get("destinationPortRange")
    return ranges or ([single] if single else ["*"])


def _port_matches(rule: dict[str, Any], port: int) -> bool:
    for item in _ports(rule):
        item = str(item).strip()
        if item == "*":
            return True
        low, _, high = item.partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


def _prefix_match(prefix: str, destination: Destination) -> bool | None:
    """Whether one destination prefix covers the destination; None when it cannot be told."""
    value = prefix.strip()
    if value in ("*", "0.0.0.0/0", "Any"):
        return True
    if value.lower() == "internet":
        return destination.public
    if value.lower() == "virtualnetwork":
        # The VNet, peered VNets and the on-premises ranges of its gateways: private addresses here.
        return not destination.public if destination.address else False
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None  # a service tag (AzureCloud, Storage, ...) or an application security group
    if destination.address is None:
        return None
    return ipaddress.ip_address(destination.address) in network


def _rule_matches(rule: dict[str, Any], destination: Destination) -> bool | None:
    if str(rule.get("protocol", "*")).lower() not in ("*", "tcp"):
        return False
    if not _port_matches(rule, destination.port):
        return False
    prefixes = list(rule.get("destinationAddressPrefixes") or [])
    if rule.get("destinationAddressPrefix"):
        prefixes.append(rule["destinationAddressPrefix"])
    if rule.get("destinationApplicationSecurityGroups"):
        return None
    results = [_prefix_match(p, destination) for p in prefixes or ["*"]]
    if any(r is True for r in results):
        return True
    return None if any(r is None for r in results) else False


def outbound_verdict(nsg_name: str, rules: list[dict[str, Any]], destination: Destination) -> Finding:
    """The verdict of one NSG (its own rules and its default rules) on outbound TCP to a destination."""
    outbound = sorted(
        (r for r in rules if str(r.get("direction", "")).lower() == "outbound"),
        key=lambda r: int(r.get("priority", 65500)),
    )
    for rule in outbound:
        matched = _rule_matches(rule, destination)
        name = f"rule {rule.get('name', '?')} (priority {rule.get('priority')}) of {nsg_name}"
        if matched is None:
            return Finding(
                "unknown", f"{name} may apply to TCP {destination.port} to {destination.description}"
            )
        if matched:
            if str(rule.get("access", "")).lower() == "allow":
                return Finding("allowed", name)
            return Finding("denied", f"{name} denies TCP {destination.port} to {destination.description}")
    return Finding("allowed", f"no outbound rule of {nsg_name} applies")


def path_findings(nsgs: list[tuple[str, list[dict[str, Any]]]], destination: Destination) -> Finding:
    """Outbound through the NIC's NSG, then the subnet's (either may be absent): both must allow."""
    unknown: Finding | None = None
    for name, rules in nsgs:
        finding = outbound_verdict(name, rules, destination)
        if finding.verdict == "denied":
            return finding
        if finding.verdict == "unknown" and unknown is None:
            unknown = finding
    return unknown or Finding("allowed", "allowed by every network security group on the path")


def failback_destinations(
    recovery_instance: dict[str, Any], use_private_ip: bool
) -> tuple[list[Destination], list[str]]:
    """The destinations the client must reach, and the problems found on the AWS side already.

    `recovery_instance` holds the EC2 instance's `PrivateIpAddress` and `PublicIpAddress` (if any)."""
    problems: list[str] = []
    destinations = [Destination(HTTPS_PORT, None, "DRS and S3 (public endpoints)")]
    instance = recovery_instance.get("ec2InstanceID", "the recovery instance")
    if use_private_ip:
        private = recovery_instance.get("PrivateIpAddress")
        if private:
            destinations.append(
                Destination(FAILBACK_PORT, private, f"recovery instance {instance} ({private})")
            )
        else:
            problems.append(f"recovery instance {instance} has no private IP address")
    else:
        public = recovery_instance.get("PublicIpAddress")
        if public:
            destinations.append(
                Destination(FAILBACK_PORT, public, f"recovery instance {instance} ({public})")
            )
        else:
            problems.append(
                f"recovery instance {instance} has no public IP address and its failback replication does "
                "not use the private IP: the client cannot reach it on TCP 1500. Give it a public IP, or "
                "set usePrivateIP (DRS UpdateFailbackReplicationConfiguration) over a VPN or Direct Connect"
            )
    return destinations, problems


def inbound_open(security_groups: list[dict[str, Any]], port: int = FAILBACK_PORT) -> bool:
    """Whether any of the recovery instance's EC2 security groups lets TCP `port` in from an address range."""
    for group in security_groups:
        for permission in group.get("IpPermissions", []):
            protocol = str(permission.get("IpProtocol"))
            if protocol not in ("-1", "tcp", "6"):
                continue
            if protocol != "-1" and not (
                permission.get("FromPort", 0) <= port <= permission.get("ToPort", -1)
            ):
                continue
            if permission.get("IpRanges") or permission.get("Ipv6Ranges") or permission.get("PrefixListIds"):
                return True
    return False


def missing_subnet(subnet_id: str) -> str:
    """A new failback VM's subnet that does not exist: ARM would refuse the VM (InvalidResourceReference)."""
    return f"failback new_vm.subnet_id {subnet_id} does not exist: create it, or name an existing subnet"
