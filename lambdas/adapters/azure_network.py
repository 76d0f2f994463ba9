"""The network security groups on a VM's outbound path (its primary NIC's, then its subnet's), read
through azure-mgmt-network. Read only; errors are translated as for compute (azure_compute.classify)."""

from __future__ import annotations

from typing import Any

from lambdas.adapters.azure_compute import azure_errors, classify, network
from lambdas.adapters.azure_vms import ResourceRef, _call, rest

Rules = list[dict[str, Any]]


def _flat(rule: dict[str, Any]) -> dict[str, Any]:
    return {**(rule.get("properties") or {}), "name": rule.get("name")}


def _nsg_rules(nsg_id: str, client: Any = None) -> tuple[str, Rules]:
    ref = ResourceRef.parse(nsg_id)
    client = client or network(ref.subscription_id)
    nsg = rest(_call(client.network_security_groups.get, ref.resource_group, ref.name))
    properties = nsg.get("properties") or {}
    rules = [*(properties.get("securityRules") or []), *(properties.get("defaultSecurityRules") or [])]
    return f"network security group {ref.name}", [_flat(r) for r in rules]


def _primary(items: list[dict[str, Any]]) -> dict[str, Any]:
    return next((i for i in items if (i.get("properties") or i).get("primary")), items[0])


def outbound_path(vm_document: dict[str, Any]) -> tuple[list[tuple[str, Rules]], str | None]:
    """([(NSG description, its rules)] in Azure's outbound order, the NIC's private IP)."""
    interfaces = (vm_document.get("properties") or {}).get("networkProfile", {}).get(
        "networkInterfaces"
    ) or []
    if not interfaces:
        return [], None
    nic_ref = ResourceRef.parse(_primary(interfaces)["id"])
    client = network(nic_ref.subscription_id)
    nic = rest(_call(client.network_interfaces.get, nic_ref.resource_group, nic_ref.name))
    properties = nic.get("properties") or {}
    nsg_ids: list[str] = []
    if (properties.get("networkSecurityGroup") or {}).get("id"):
        nsg_ids.append(properties["networkSecurityGroup"]["id"])
    configuration = (_primary(properties.get("ipConfigurations") or [{}]).get("properties")) or {}
    subnet_id = (configuration.get("subnet") or {}).get("id")
    if subnet_id:
        subnet_nsg = _call(_subnet_nsg, client, subnet_id)
        if subnet_nsg:
            nsg_ids.append(subnet_nsg)
    return [_nsg_rules(i) for i in nsg_ids], configuration.get("privateIPAddress")


def subnet_path(subnet_id: str, client: Any = None) -> list[tuple[str, Rules]] | None:
    """The NSGs on the outbound path of a NIC to be created in this subnet without an NSG of its own (a VM
    failback creates); None when the subnet does not exist. client: another network client than the
    Lambda's (drctl signs in with the secret the operator read)."""
    from azure.core.exceptions import ResourceNotFoundError

    client = client or network(ResourceRef.parse(subnet_id).subscription_id)
    try:
        subnet_nsg = _subnet_nsg(client, subnet_id)
    except ResourceNotFoundError:
        return None
    except azure_errors() as exc:
        raise classify(exc) from None
    return [_nsg_rules(subnet_nsg, client)] if subnet_nsg else []


def _subnet_nsg(client: Any, subnet_id: str) -> str | None:
    """The id of the subnet's NSG, if it has one. Azure SDK errors are not translated: callers decide."""
    parts = subnet_id.strip("/").split("/")
    subnet = rest(client.subnets.get(ResourceRef.parse(subnet_id).resource_group, parts[-3], parts[-1]))
    return ((subnet.get("properties") or {}).get("networkSecurityGroup") or {}).get("id")
