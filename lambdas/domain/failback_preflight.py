"""The failback preflight: every VM can boot the failback client and receive its recovery instance's
volumes, the network lets the client through; then each VM's disk layout is recorded (once). Changes
nothing in Azure (lambdas/domain/failback_service.py has the steps that do)."""

from __future__ import annotations

from typing import Any

from lambdas.domain import failback as rules
from lambdas.domain import failback_network as network_rules
from lambdas.domain.failback_ports import FailbackPorts, FailbackRun, Rules
from lambdas.domain.failback_service import recorded_layout, recovery_instances_by_server, update_record
from lambdas.domain.measure import iso
from lambdas.errors import FailbackFailed
from lambdas.plan import Plan, Server


def prepare(run: FailbackRun, ports: FailbackPorts) -> dict[str, Any]:
    """Check that every VM can boot the failback client and receive its recovery instance's volumes,
    then record each VM's disk layout (once: a layout recorded by an earlier run is kept). Changes
    nothing in Azure; refuses with every problem named."""
    plan, vms = run.plan, ports.vms
    image_id = plan.azure.failback.image_id
    image = vms.gallery_image(image_id)
    if not image.exists:
        raise FailbackFailed(
            f"azure.failback.image_id: the failback-client image {image_id} does not exist: publish it with "
            "`drctl failback-image publish` (README, 'Failback')"
        )
    instances = recovery_instances_by_server(plan, ports)
    aws_sides = ports.ec2.network_facts(
        sorted(ri["ec2InstanceID"] for ri in instances.values() if ri.get("ec2InstanceID"))
    )
    problems: list[str] = []
    warnings: list[str] = []
    layouts: dict[str, rules.Layout] = {}
    servers: dict[str, Any] = {}
    for server in plan.servers():
        ri = instances.get(server.source_server_id)
        if ri is None:
            problems.append(f"{server.name}: no recovery instance to fail back from")
            continue
        if plan.failback_target(server) == "new":
            entry, layout, reasons = _prepare_new_vm(plan, ports, server, ri, image)
            vm_id = entry["vmId"]
            subnet_id = entry["newVm"]["subnetId"]
            nsgs = ports.network.subnet_path(subnet_id)
            if nsgs is None:
                reasons.append(network_rules.missing_subnet(subnet_id))
        else:
            vm_id = server.azure_vm_id
            entry, layout, reasons = _prepare_original_vm(plan, ports, server, ri, image)
            nsgs, _private_ip = ports.network.outbound_path(vms.vm_document(server.azure_vm_id))
        if nsgs is not None:
            network_problems, network_warnings = failback_network_check(
                ports, nsgs, ri, aws_sides.get(ri["ec2InstanceID"])
            )
            reasons.extend(network_problems)
            warnings.extend(f"{server.name}: {warning}" for warning in network_warnings)
        if reasons or layout is None:
            problems.extend(f"{server.name} ({vm_id}): {reason}" for reason in reasons)
            continue
        layouts[server.name] = layout
        servers[server.source_server_id] = entry
    if problems:
        raise FailbackFailed("failback preflight, nothing changed: " + "; ".join(problems))
    for entry in servers.values():
        name = entry["name"]
        # Recorded once, before anything changes: a later run restores exactly this.
        ports.store.record_layout_once(plan.name, name, layouts[name].to_document(), run.run_id)
        if entry.get("target") == "new":
            # Before the VM exists: a retried or resumed run creates the same VM, never a second one, and
            # return to normal knows which VM gets the new replication agent.
            ports.store.record_new_vm_once(plan.name, name, entry["newVm"], run.run_id)
    if warnings:
        ports.log.warning("failback network not fully checked", extra={"warnings": warnings})
    update_record(
        run,
        ports,
        {"failback": {"requestedAt": iso(ports.clock()), "servers": servers, "networkWarnings": warnings}},
    )
    return {"servers": len(servers)}


def _client_disk_id(ports: FailbackPorts, server: Server) -> str:
    vm_name = ports.vms.resource_name(server.azure_vm_id)
    return ports.vms.disk_id_in(server.azure_vm_id, rules.client_disk_name(vm_name))


def _prepare_original_vm(
    plan: Plan, ports: FailbackPorts, server: Server, ri: dict[str, Any], image: rules.GalleryImage
) -> tuple[dict[str, Any], rules.Layout | None, list[str]]:
    vms = ports.vms
    vm, _document, _generation = vms.vm_now(server.azure_vm_id)
    facts = vms.boot_facts(server.azure_vm_id)
    reasons = vms.boot_problems(facts, image, plan.azure.subscription_id)
    layout: rules.Layout | None = None
    try:
        layout = recorded_layout(plan.name, server.name, ports) or rules.layout_of(
            vm, _client_disk_id(ports, server)
        )
        rules.device_mapping(ri, layout)
    except ValueError as exc:
        reasons.append(str(exc))
    entry = {
        "name": server.name,
        "vmId": server.azure_vm_id,
        "recoveryInstanceId": ri["recoveryInstanceID"],
        "clientDiskId": _client_disk_id(ports, server),
    }
    return entry, layout, reasons


def _prepare_new_vm(
    plan: Plan, ports: FailbackPorts, server: Server, ri: dict[str, Any], image: rules.GalleryImage
) -> tuple[dict[str, Any], rules.Layout | None, list[str]]:
    """Target "new": the VM failback will create (name derived from the server, in the original VM's
    resource group), with one empty disk per recovery-instance volume, each as large."""
    vms = ports.vms
    settings = plan.new_vm_for(server)
    assert settings is not None  # the plan refuses target "new" without it
    name = rules.new_vm_name(server.name)
    vm_id = vms.vm_id_in(server.azure_vm_id, name)
    new_vm = ports.store.new_vm(plan.name, server.name)
    reasons: list[str] = []
    layout: rules.Layout | None = None
    if new_vm is None:
        try:
            sizes = rules.volume_sizes_gb(ri)
        except ValueError as exc:
            sizes = []
            reasons.append(str(exc))
        new_vm = {
            "vmId": vm_id,
            "name": name,
            "location": settings.location,
            "vmSize": settings.vm_size,
            "subnetId": settings.subnet_id,
            "osType": image.os_type or "Linux",
            "hyperVGeneration": image.hyper_v_generation,
            "originalVmId": server.azure_vm_id,
            "sourceServerId": server.source_server_id,
            "recoveryInstanceId": ri["recoveryInstanceID"],
            "disks": [
                {"id": vms.disk_id_in(vm_id, rules.new_vm_disk_name(name, i)), "sizeGb": size}
                for i, size in enumerate(sizes)
            ],
        }
    reasons += rules.boot_problems(
        # A VM created from an attached disk takes the disk's generation; failback sets no secure boot.
        vm_generation=image.hyper_v_generation,
        secure_boot=False,
        memory_mb=vms.memory_mb(plan.azure.subscription_id, settings.location, settings.vm_size),
        image_generation=image.hyper_v_generation,
        image_location=image.location,
        vm_location=settings.location,
    )
    if new_vm["disks"]:
        try:
            layout = recorded_layout(plan.name, server.name, ports) or rules.new_vm_layout(
                [d["id"] for d in new_vm["disks"]], [int(d["sizeGb"]) for d in new_vm["disks"]]
            )
            rules.device_mapping(ri, layout)
        except ValueError as exc:
            reasons.append(str(exc))
    entry = {
        "name": server.name,
        "vmId": vm_id,
        "target": "new",
        "recoveryInstanceId": ri["recoveryInstanceID"],
        "clientDiskId": vms.disk_id_in(vm_id, rules.client_disk_name(name)),
        "newVm": new_vm,
    }
    return entry, layout, reasons


def failback_network_check(
    ports: FailbackPorts,
    nsgs: list[tuple[str, Rules]],
    recovery_instance: dict[str, Any],
    aws_side: dict[str, Any] | None,
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the paths the client needs from a VM behind `nsgs`: TCP 1500 to its
    recovery instance, TCP 443 to DRS and S3 (lambdas/domain/failback_network.py has the rules)."""
    if aws_side is None:
        return [f"recovery instance {recovery_instance.get('ec2InstanceID')} not found in EC2"], []
    private = ports.drs.uses_private_ip_for_failback(recovery_instance["recoveryInstanceID"])
    destinations, problems = network_rules.failback_destinations(
        {**aws_side, "ec2InstanceID": recovery_instance.get("ec2InstanceID")}, private
    )
    warnings: list[str] = []
    for destination in destinations:
        finding = network_rules.path_findings(nsgs, destination)
        if finding.verdict == "denied":
            problems.append(finding.reason)
        elif finding.verdict == "unknown":
            warnings.append(
                f"cannot tell whether outbound TCP {destination.port} is allowed: {finding.reason}"
            )
    if not network_rules.inbound_open(aws_side.get("SecurityGroups", [])):
        warnings.append(
            f"no security group of recovery instance {recovery_instance.get('ec2InstanceID')} lets TCP "
            "1500 in from an address range: open it to the Azure VMs' outbound addresses"
        )
    return problems, warnings
