"""Emulated Azure networking that failback reads: network interfaces, subnets, network security groups.

Each seeded VM gets a NIC in the `default` subnet of its resource group's VNet; the subnet carries the
group's NSG, which holds Azure's six default rules (Microsoft Learn, "Network security groups": default
security rules) and whatever a test adds. Documents are ARM's REST shape.
"""

from __future__ import annotations

import copy
import ipaddress
import threading
from typing import Any

from .compute import ArmError
from .model import resource_id

Json = dict[str, Any]

_NETWORK = "Microsoft.Network"
_DEFAULT_RULES: list[tuple[str, int, str, str, str, str]] = [
    # name, priority, direction, access, source, destination
    ("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
]


def _rule(nsg_id: str, kind: str, name: str, properties: Json) -> Json:
    return {
        "id": f"{nsg_id}/{kind}/{name}",
        "name": name,
        "type": f"{_NETWORK}/networkSecurityGroups/{kind}",
        "properties": {"provisioningState": "Succeeded", **properties},
    }


class Network:
    def __init__(self, subscription_id: str) -> None:
        self.subscription_id = subscription_id
        self._lock = threading.RLock()
        self._nics: dict[str, Json] = {}
        self._subnets: dict[str, Json] = {}
        self._nsgs: dict[str, Json] = {}

    # --- seeding -------------------------------------------------------------------------------

    def ensure_vm_network(self, resource_group: str, location: str, nic_id: str, vm_id: str) -> None:
        """The NIC a seeded VM references, in its group's default subnet (created with its NSG)."""
        with self._lock:
            nsg_id = self._ensure_nsg(resource_group, f"{resource_group}-nsg", location)
            vnet = resource_id(
                self.subscription_id, resource_group, f"{_NETWORK}/virtualNetworks", f"{resource_group}-vnet"
            )
            subnet_id = f"{vnet}/subnets/default"
            subnet = self._subnets.setdefault(subnet_id.lower(), _subnet(subnet_id, "10.0.0.0/24", nsg_id))
            if nic_id.lower() in self._nics:
                return
            used = len([n for n in self._nics.values() if n["_subnet"] == subnet_id.lower()])
            address = str(ipaddress.ip_network(subnet["properties"]["addressPrefix"])[4 + used])
            self._nics[nic_id.lower()] = {
                "_subnet": subnet_id.lower(),
                "id": nic_id,
                "name": nic_id.rsplit("/", 1)[-1],
                "type": f"{_NETWORK}/networkInterfaces",
                "location": location,
                "properties": {
                    "provisioningState": "Succeeded",
                    "primary": True,
                    "virtualMachine": {"id": vm_id},
                    "ipConfigurations": [
                        {
                            "id": f"{nic_id}/ipConfigurations/ipconfig1",
                            "name": "ipconfig1",
                            "properties": {
                                "primary": True,
                                "privateIPAddress": address,
                                "privateIPAllocationMethod": "Dynamic",
                                "subnet": {"id": subnet_id},
                            },
                        }
                    ],
                },
            }

    def add_subnet(self, subnet_id: str, address_prefix: str, location: str) -> str:
        """A subnet a network team created (with an NSG of its own holding Azure's default rules); returns
        the NSG's id."""
        parts = subnet_id.strip("/").split("/")
        resource_group, vnet, name = parts[3], parts[-3], parts[-1]
        with self._lock:
            nsg_id = self._ensure_nsg(resource_group, f"{vnet}-{name}-nsg", location)
            self._subnets[subnet_id.lower()] = _subnet(subnet_id, address_prefix, nsg_id)
        return nsg_id

    def subnet_exists(self, subnet_id: str) -> bool:
        with self._lock:
            return subnet_id.lower() in self._subnets

    def nsg_of_subnet(self, subnet_id: str) -> str:
        with self._lock:
            return str(self._subnets[subnet_id.lower()]["properties"]["networkSecurityGroup"]["id"])

    def _ensure_nsg(self, resource_group: str, name: str, location: str) -> str:
        nsg_id = resource_id(self.subscription_id, resource_group, f"{_NETWORK}/networkSecurityGroups", name)
        if nsg_id.lower() not in self._nsgs:
            self._nsgs[nsg_id.lower()] = {
                "id": nsg_id,
                "name": name,
                "type": f"{_NETWORK}/networkSecurityGroups",
                "location": location,
                "properties": {
                    "provisioningState": "Succeeded",
                    "securityRules": [],
                    "defaultSecurityRules": [
                        _rule(
                            nsg_id,
                            "defaultSecurityRules",
                            rule_name,
                            {
                                "priority": priority,
                                "direction": direction,
                                "access": access,
                                "protocol": "*",
                                "sourceAddressPrefix": source,
                                "sourcePortRange": "*",
                                "destinationAddressPrefix": destination,
                                "destinationPortRange": "*",
                            },
                        )
                        for rule_name, priority, direction, access, source, destination in _DEFAULT_RULES
                    ],
                },
            }
        return nsg_id

    def add_security_rule(self, nsg_id: str, name: str, properties: Json) -> None:
        """Add (or replace) a rule of an NSG, as a user would in the portal."""
        with self._lock:
            nsg = self._nsg(nsg_id)
            rules = [r for r in nsg["properties"]["securityRules"] if r["name"] != name]
            rules.append(_rule(nsg["id"], "securityRules", name, properties))
            nsg["properties"]["securityRules"] = rules

    def nsg_of_vm_subnet(self, nic_id: str) -> str:
        with self._lock:
            return self.nsg_of_subnet(self._nic(nic_id)["_subnet"])

    # --- ARM reads ----------------------------------------------------------------------------

    def get_nic(self, resource_group: str, name: str) -> Json:
        nic_id = resource_id(self.subscription_id, resource_group, f"{_NETWORK}/networkInterfaces", name)
        with self._lock:
            nic = copy.deepcopy(self._nic(nic_id))
        nic.pop("_subnet")
        return nic

    def get_subnet(self, resource_group: str, vnet: str, name: str) -> Json:
        vnet_id = resource_id(self.subscription_id, resource_group, f"{_NETWORK}/virtualNetworks", vnet)
        with self._lock:
            subnet = self._subnets.get(f"{vnet_id}/subnets/{name}".lower())
            if subnet is None:
                raise ArmError(404, "NotFound", f"Resource {vnet_id}/subnets/{name} not found.")
            return copy.deepcopy(subnet)

    def get_nsg(self, resource_group: str, name: str) -> Json:
        nsg_id = resource_id(self.subscription_id, resource_group, f"{_NETWORK}/networkSecurityGroups", name)
        with self._lock:
            return copy.deepcopy(self._nsg(nsg_id))

    def _nic(self, nic_id: str) -> Json:
        return _found(self._nics, "networkInterfaces", nic_id)

    def _nsg(self, nsg_id: str) -> Json:
        return _found(self._nsgs, "networkSecurityGroups", nsg_id)


def _subnet(subnet_id: str, address_prefix: str, nsg_id: str) -> Json:
    return {
        "id": subnet_id,
        "name": subnet_id.rsplit("/", 1)[-1],
        "type": f"{_NETWORK}/virtualNetworks/subnets",
        "properties": {
            "addressPrefix": address_prefix,
            "networkSecurityGroup": {"id": nsg_id},
            "provisioningState": "Succeeded",
        },
    }


def _found(resources: dict[str, Json], kind: str, resource_id: str) -> Json:
    """A resource by id (case-insensitive, as ARM ids are), or ARM's ResourceNotFound."""
    resource = resources.get(resource_id.lower())
    if resource is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{_NETWORK}/{kind}/{resource_id.rsplit('/', 1)[-1]}' was not found.",
        )
    return resource
