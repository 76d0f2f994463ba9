"""Failback from AWS to the plan's original Azure VMs through the DRS Failback Client.

An Azure source cannot use DRS reverse replication (that is for servers that came from EC2), and Azure
cannot boot an ISO: each VM boots a disk made from the failback-client image while its own disks are
attached as the targets, pairs unattended (the boot hook reads the failback document from userData), and
after the failback launch gets its own OS disk back (lambdas/domain/failback.py has the rules).

Every task converges: it looks at what Azure and DRS report now, takes the next step of each VM without
waiting for it, and answers PENDING until every VM is where it should be. Retried, stopped or failed runs
resume from the VMs' real state and the layout recorded before the first change.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from lambdas.adapters import azure_network, azure_vms, drs, ec2, state_store, sts
from lambdas.domain import failback as rules
from lambdas.domain import failback_network as network_rules
from lambdas.domain.waves import PLAN_TAG, RUN_TAG
from lambdas.errors import FailbackFailed
from lambdas.handlers.common import RunContext, RunTask, iso, logger, now, task
from lambdas.plan import Plan, Server
from lambdas.progress import Converging, FailbackState, done_or_pending

CREDENTIAL_SECONDS = 3600  # a role session started from a role session lasts at most one hour (STS)
PAIRED_STATES = {"FAILBACK_IN_PROGRESS", "FAILBACK_READY_FOR_LAUNCH", "FAILBACK_COMPLETED", "FAILBACK_ERROR"}
# VM properties ARM computes; a PUT body leaves them out.
_READ_ONLY = ("provisioningState", "instanceView", "vmId", "timeCreated")


def recovery_instances_by_server(plan: Plan) -> dict[str, dict[str, Any]]:
    instances = drs.recovery_instances([s.source_server_id for s in plan.servers()], drill=False)
    return {ri["sourceServerID"]: ri for ri in instances}


def client_disk_id(server: Server) -> str:
    vm_name = azure_vms.ResourceRef.parse(server.azure_vm_id).name
    return azure_vms.disk_id_in(server.azure_vm_id, rules.client_disk_name(vm_name))


def recorded_layout(plan: str, server: str) -> rules.Layout | None:
    layout = state_store.store().layout(plan, server)
    return rules.Layout.from_document(layout) if layout else None


@task(RunTask)
def prepare_handler(event: RunTask) -> dict[str, Any]:
    """Check that every VM can boot the failback client and receive its recovery instance's volumes,
    then record each VM's disk layout (once: a layout recorded by an earlier run is kept). Changes
    nothing in Azure; refuses with every problem named."""
    run = event.run
    plan = run.load_plan()
    image_id = plan.azure.failback.image_id
    image = azure_vms.gallery_image(image_id)
    if not image.exists:
        raise FailbackFailed(
            f"azure.failback.image_id: the failback-client image {image_id} does not exist: publish it with "
            "`drctl failback-image publish` (README, 'Failback')"
        )
    instances = recovery_instances_by_server(plan)
    aws_sides = ec2.network_facts(
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
            entry, layout, reasons = _prepare_new_vm(plan, server, ri, image)
            vm_id = entry["vmId"]
            subnet_id = entry["newVm"]["subnetId"]
            nsgs = azure_network.subnet_path(subnet_id)
            if nsgs is None:
                reasons.append(network_rules.missing_subnet(subnet_id))
        else:
            vm_id = server.azure_vm_id
            entry, layout, reasons = _prepare_original_vm(plan, server, ri, image)
            nsgs, _private_ip = azure_network.outbound_path(azure_vms.vm_document(server.azure_vm_id))
        if nsgs is not None:
            network_problems, network_warnings = failback_network_check(
                nsgs, ri, aws_sides.get(ri["ec2InstanceID"])
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
        state_store.store().record_layout_once(plan.name, name, layouts[name].to_document(), run.run_id)
        if entry.get("target") == "new":
            # Before the VM exists: a retried or resumed run creates the same VM, never a second one, and
            # return to normal knows which VM gets the new replication agent.
            state_store.store().record_new_vm_once(plan.name, name, entry["newVm"], run.run_id)
    if warnings:
        logger.warning("failback network not fully checked", extra={"warnings": warnings})
    run.update_record(
        {"failback": {"requestedAt": iso(now()), "servers": servers, "networkWarnings": warnings}}
    )
    return {"servers": len(servers)}


def recorded_new_vm(plan: str, server: str) -> dict[str, Any] | None:
    return state_store.store().new_vm(plan, server)


def _prepare_original_vm(
    plan: Plan, server: Server, ri: dict[str, Any], image: azure_vms.GalleryImage
) -> tuple[dict[str, Any], rules.Layout | None, list[str]]:
    vm, _document, _generation = azure_vms.vm_now(server.azure_vm_id)
    facts = azure_vms.boot_facts(server.azure_vm_id)
    reasons = azure_vms.boot_problems(facts, image, plan.azure.subscription_id)
    layout: rules.Layout | None = None
    try:
        layout = recorded_layout(plan.name, server.name) or rules.layout_of(vm, client_disk_id(server))
        rules.device_mapping(ri, layout)
    except ValueError as exc:
        reasons.append(str(exc))
    entry = {
        "name": server.name,
        "vmId": server.azure_vm_id,
        "recoveryInstanceId": ri["recoveryInstanceID"],
        "clientDiskId": client_disk_id(server),
    }
    return entry, layout, reasons


def _prepare_new_vm(
    plan: Plan, server: Server, ri: dict[str, Any], image: azure_vms.GalleryImage
) -> tuple[dict[str, Any], rules.Layout | None, list[str]]:
    """Target "new": the VM failback will create (name derived from the server, in the original VM's
    resource group), with one empty disk per recovery-instance volume, each as large."""
    settings = plan.new_vm_for(server)
    assert settings is not None  # the plan refuses target "new" without it
    name = rules.new_vm_name(server.name)
    vm_id = azure_vms.vm_id_in(server.azure_vm_id, name)
    new_vm = recorded_new_vm(plan.name, server.name)
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
                {"id": azure_vms.disk_id_in(vm_id, rules.new_vm_disk_name(name, i)), "sizeGb": size}
                for i, size in enumerate(sizes)
            ],
        }
    reasons += rules.boot_problems(
        # A VM created from an attached disk takes the disk's generation; failback sets no secure boot.
        vm_generation=image.hyper_v_generation,
        secure_boot=False,
        memory_mb=azure_vms.memory_mb(plan.azure.subscription_id, settings.location, settings.vm_size),
        image_generation=image.hyper_v_generation,
        image_location=image.location,
        vm_location=settings.location,
    )
    if new_vm["disks"]:
        try:
            layout = recorded_layout(plan.name, server.name) or rules.new_vm_layout(
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
        "clientDiskId": azure_vms.disk_id_in(vm_id, rules.client_disk_name(name)),
        "newVm": new_vm,
    }
    return entry, layout, reasons


def failback_network_check(
    nsgs: list[tuple[str, azure_network.Rules]],
    recovery_instance: dict[str, Any],
    aws_side: dict[str, Any] | None,
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the paths the client needs from a VM behind `nsgs`: TCP 1500 to its
    recovery instance, TCP 443 to DRS and S3 (lambdas/domain/failback_network.py has the rules)."""
    if aws_side is None:
        return [f"recovery instance {recovery_instance.get('ec2InstanceID')} not found in EC2"], []
    private = drs.uses_private_ip_for_failback(recovery_instance["recoveryInstanceID"])
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


@task(RunTask)
def boot_clients_handler(event: RunTask) -> Converging:
    """Each VM: deallocated, client disk as OS disk, its own disks attached, failback document in userData,
    started. PENDING until every VM runs the client."""
    run = event.run
    plan = run.load_plan()
    credentials = _Credentials(run)
    instances = recovery_instances_by_server(plan)
    steps: dict[str, str] = {}
    for sid, entry in _servers(run).items():
        if entry.get("target") == "new":
            created = _converge_new_vm(run, plan, sid, entry, credentials, instances)
            if created != "exists":
                steps[entry["name"]] = created
                continue
        t = _target(plan, sid, entry)
        step = rules.next_step_to_client(t.vm, t.layout, t.disk)
        steps[t.server.name] = step
        if step == "deallocate":
            azure_vms.begin_power(t.vm_id, "deallocate")
        elif step == "create_client_disk":
            tags = {rules.CLIENT_DISK_TAG: plan.name, PLAN_TAG: plan.name, RUN_TAG: run.run_id}
            azure_vms.begin_create_disk(
                t.disk.disk_id, t.document["location"], plan.azure.failback.image_id, tags
            )
        elif step == "swap_to_client":
            body = _put_body(t.document)
            body["properties"]["storageProfile"]["osDisk"] = _os_disk(t.document, t.disk.disk_id)
            azure_vms.begin_put_vm(t.vm_id, body)
        elif step == "attach_own_os_disk":
            mapping = rules.device_mapping(instances[t.sid], t.layout)
            body = _put_body(t.document)
            own = {
                "lun": t.layout.own_os_disk_lun(),
                "createOption": "Attach",
                "managedDisk": {"id": t.layout.os_disk_id},
            }
            body["properties"]["storageProfile"]["dataDisks"].append(own)
            body["properties"]["userData"] = credentials.document(t.entry["recoveryInstanceId"], mapping)
            azure_vms.begin_put_vm(t.vm_id, body)
        elif step == "start":
            azure_vms.begin_power(t.vm_id, "start")
            run.update_record({f"failback.servers.{t.sid}.clientStartedAt": iso(now())})
    return _converged(steps)


def _converge_new_vm(
    run: RunContext,
    plan: Plan,
    sid: str,
    entry: dict[str, Any],
    credentials: _Credentials,
    instances: dict[str, dict[str, Any]],
) -> str:
    """Target "new", until the VM exists: its empty disks, the client disk, then the VM booting the client
    with the empty disks attached and the failback document in userData. "exists" once it does (found by
    its name, and its tag says this plan's failback made it)."""
    new_vm = entry["newVm"]
    vm_id = entry["vmId"]
    vm_tags = azure_vms.vm_tags(vm_id)
    disks = [azure_vms.client_disk(d["id"])[0] for d in new_vm["disks"]]
    client, _tags = azure_vms.client_disk(entry["clientDiskId"])
    try:
        step = rules.next_step_new_vm(
            vm_exists=vm_tags is not None,
            vm_ours=(vm_tags or {}).get(rules.NEW_VM_TAG) == plan.name,
            disks=disks,
            client=client,
        )
    except ValueError as exc:
        raise FailbackFailed(f"{entry['name']} ({vm_id}): {exc}") from None
    tags = {rules.NEW_VM_TAG: plan.name, PLAN_TAG: plan.name, RUN_TAG: run.run_id}
    if step == "create_disks":
        for index, (disk, state) in enumerate(zip(new_vm["disks"], disks, strict=True)):
            if state.exists:
                continue
            root = index == 0  # receives the root volume, then becomes the OS disk
            azure_vms.begin_create_empty_disk(
                disk["id"],
                new_vm["location"],
                int(disk["sizeGb"]),
                tags,
                os_type=new_vm["osType"] if root else None,
                hyper_v_generation=new_vm["hyperVGeneration"] if root else None,
            )
    elif step == "create_client_disk":
        client_tags = {**tags, rules.CLIENT_DISK_TAG: plan.name}
        azure_vms.begin_create_disk(
            entry["clientDiskId"], new_vm["location"], plan.azure.failback.image_id, client_tags
        )
    elif step == "create_vm":
        layout = _layout(plan, plan.server_by_source_id(sid))
        mapping = rules.device_mapping(instances[sid], layout)
        data_disks = [(layout.own_os_disk_lun(), layout.os_disk_id)] + [
            (d.lun, d.disk_id) for d in layout.data_disks
        ]
        azure_vms.begin_create_vm_from_disks(
            vm_id,
            location=new_vm["location"],
            vm_size=new_vm["vmSize"],
            subnet_id=new_vm["subnetId"],
            os_disk_id=entry["clientDiskId"],
            os_type=new_vm["osType"],
            data_disks=data_disks,
            user_data=credentials.document(entry["recoveryInstanceId"], mapping),
            tags=tags,
        )
        # A VM boots when it is created: the client's pairing time starts now.
        run.update_record(
            {
                f"failback.servers.{sid}.vmCreatedAt": iso(now()),
                f"failback.servers.{sid}.clientStartedAt": iso(now()),
            }
        )
        return "wait"
    return step


class ReadyInput(RunTask, frozen=True):
    want: Literal["READY_FOR_LAUNCH", "COMPLETED"]


@task(ReadyInput)
def check_handler(event: ReadyInput) -> FailbackState:
    """DRS failback state of every recovery instance. While waiting for READY_FOR_LAUNCH: userData is
    cleared on VMs whose client paired, and a client that has not paired within
    timing.failback_pairing_minutes gets fresh credentials and a reboot."""
    run = event.run
    plan = run.load_plan()
    servers = _servers(run)
    states = {
        ri["sourceServerID"]: (ri.get("failback") or {}).get("state", "UNKNOWN")
        for ri in recovery_instances_by_server(plan).values()
    }
    if event.want == "READY_FOR_LAUNCH":
        _tend_clients(run, plan, servers, states)
    wanted = f"FAILBACK_{event.want}"
    # Once launched, an instance that was READY moves on; COMPLETED also satisfies READY_FOR_LAUNCH.
    accepted = {wanted, "FAILBACK_COMPLETED"} if event.want == "READY_FOR_LAUNCH" else {wanted}
    errors = sorted(
        servers[sid]["name"] for sid, state in states.items() if state == "FAILBACK_ERROR" and sid in servers
    )
    if errors:
        raise FailbackFailed(f"DRS reports FAILBACK_ERROR for: {', '.join(errors)}")
    waiting = sorted(servers[sid]["name"] for sid in servers if states.get(sid) not in accepted)
    if waiting:
        if now() - run.started_at > timedelta(minutes=plan.timing.failback_timeout_minutes):
            raise FailbackFailed(
                f"{len(waiting)} servers not {wanted} within timing.failback_timeout_minutes "
                f"({plan.timing.failback_timeout_minutes}): {', '.join(waiting[:10])}"
            )
        return FailbackState(status="PENDING", waiting=len(waiting))
    run.update_record({f"failback.{event.want.lower()}At": iso(now())})
    return FailbackState(status="DONE", instances=len(states))


def _tend_clients(run: RunContext, plan: Plan, servers: dict[str, Any], states: dict[str, str]) -> None:
    credentials = _Credentials(run)
    instances: dict[str, dict[str, Any]] | None = None
    pairing = timedelta(minutes=plan.timing.failback_pairing_minutes)
    for sid, entry in servers.items():
        server = plan.server_by_source_id(sid)
        if states.get(sid) in PAIRED_STATES:
            if not entry.get("userDataClearedAt"):
                _clear_user_data(entry["vmId"])
                run.update_record({f"failback.servers.{sid}.userDataClearedAt": iso(now())})
            continue
        started = entry.get("clientStartedAt")
        if started and now() - _parse(started) > pairing:
            instances = instances or recovery_instances_by_server(plan)
            vm, document, _generation = azure_vms.vm_now(entry["vmId"])
            if vm.busy:
                continue
            body = _put_body(document)
            mapping = rules.device_mapping(instances[sid], _layout(plan, server))
            body["properties"]["userData"] = credentials.document(entry["recoveryInstanceId"], mapping)
            azure_vms.begin_put_vm(entry["vmId"], body).result()
            azure_vms.begin_power(entry["vmId"], "restart")
            logger.warning(
                "failback client did not pair: fresh credentials, restarted", extra={"server": server.name}
            )
            run.update_record({f"failback.servers.{sid}.clientStartedAt": iso(now())})


@task(RunTask)
def launch_handler(event: RunTask) -> dict[str, Any]:
    run = event.run
    plan = run.load_plan()
    ready = [
        ri["recoveryInstanceID"]
        for ri in recovery_instances_by_server(plan).values()
        if (ri.get("failback") or {}).get("state") == "FAILBACK_READY_FOR_LAUNCH"
    ]
    already = [
        j["jobID"] for j in drs.jobs_since(run.started_at) if (j.get("tags") or {}).get(RUN_TAG) == run.run_id
    ]
    if already or not ready:
        return {"job_id": already[0] if already else None, "launched": 0}
    job_id = drs.start_failback_launch(ready, {RUN_TAG: run.run_id, PLAN_TAG: plan.name})
    run.update_record({"failback.launchJobId": job_id, "failback.launchRequestedAt": iso(now())})
    return {"job_id": job_id, "launched": len(ready)}


@task(RunTask)
def restore_handler(event: RunTask) -> Converging:
    """Each VM: deallocated, its own OS disk and data disks exactly as recorded, userData cleared, the
    client disk deleted, started. PENDING until every VM runs its own OS again."""
    run = event.run
    plan = run.load_plan()
    steps: dict[str, str] = {}
    for t in _targets(run, plan):
        try:
            step = rules.next_step_to_original(t.vm, t.layout, t.disk)
        except ValueError as exc:
            raise FailbackFailed(f"{t.server.name}: {exc}") from None
        steps[t.server.name] = step
        if step == "deallocate":
            azure_vms.begin_power(t.vm_id, "deallocate")
        elif step in ("detach_own_os_disk", "swap_back", "clear_user_data"):
            body = _put_body(t.document)
            storage = body["properties"]["storageProfile"]
            storage["dataDisks"] = [
                {"lun": d.lun, "createOption": "Attach", "managedDisk": {"id": d.disk_id}}
                for d in t.layout.data_disks
            ]
            if step == "swap_back":
                storage["osDisk"] = _os_disk(t.document, t.layout.os_disk_id)
            body["properties"]["userData"] = ""
            azure_vms.begin_put_vm(t.vm_id, body)
        elif step == "delete_client_disk":
            # Only the disk this plan's failback made, by name and tag: never a disk with workload data.
            if t.disk_tags.get(rules.CLIENT_DISK_TAG) != plan.name:
                raise FailbackFailed(
                    f"{t.server.name}: {t.disk.disk_id} is not tagged as this plan's client disk: kept"
                )
            azure_vms.begin_delete_disk(t.disk.disk_id)
        elif step == "start":
            azure_vms.begin_power(t.vm_id, "start")
        elif step == "done":
            state_store.store().forget_layout(plan.name, t.server.name)
    result = _converged(steps)
    if result.status == "DONE":
        run.update_record({"failback.restoredAt": iso(now())})
    return result


@task(RunTask)
def clear_credentials_handler(event: RunTask) -> dict[str, Any]:
    """After a failure: no failback document (credentials) stays in any VM's userData. Best effort per VM;
    what could not be cleared is named (the credentials expire within the hour anyway)."""
    run = event.run
    outcome = clear_failback_credentials(_servers(run))
    run.update_record({"failback.credentialsCleared": outcome})
    return {"cleared": outcome["cleared"], "failed": outcome["failed"]}


def clear_failback_credentials(servers: dict[str, Any]) -> dict[str, Any]:
    """Clear the failback document from the userData of every VM of a run's failback record (also used
    by the sweep for a stopped run). Best effort per VM; what could not be cleared is named."""
    failed: list[str] = []
    cleared = 0
    for sid, entry in servers.items():
        try:
            if entry.get("target") == "new" and azure_vms.vm_tags(entry["vmId"]) is None:
                continue  # the new VM was not created: no userData anywhere
            cleared += _clear_user_data(entry["vmId"])
        except Exception as exc:  # report and go on with the other VMs
            failed.append(f"{entry.get('name', sid)}: {type(exc).__name__}")
    return {"at": iso(now()), "cleared": cleared, "failed": failed}


# -- helpers ------------------------------------------------------------------------------------------


class _Credentials:
    """Short-lived credentials of the failback-installation role, fetched once per task invocation."""

    def __init__(self, run: RunContext) -> None:
        self._run = run
        self._issued: dict[str, str] | None = None

    def document(self, recovery_instance_id: str, mapping: list[dict[str, Any]]) -> str:
        if self._issued is None:
            self._issued = sts.role_credentials(
                os.environ["FAILBACK_INSTALLATION_ROLE_ARN"],
                f"failback-{self._run.run_id}",
                CREDENTIAL_SECONDS,
            )
        return rules.user_data_document(
            region=os.environ["AWS_REGION"],
            credentials=self._issued,
            recovery_instance_id=recovery_instance_id,
            mapping=mapping,
            endpoint=drs.endpoint_url(),
        )


@dataclass(frozen=True)
class _Target:
    """One VM of the failback as Azure reports it now, with its recorded layout and its client disk."""

    sid: str
    entry: dict[str, Any]  # the run record's entry for the server
    server: Server
    vm_id: str  # the plan's VM, or the VM failback created for it (target "new")
    layout: rules.Layout
    vm: rules.VmNow
    document: dict[str, Any]  # the VM's ARM document
    disk: rules.ClientDisk
    disk_tags: dict[str, str]


def _targets(run: RunContext, plan: Plan) -> Iterator[_Target]:
    for sid, entry in _servers(run).items():
        yield _target(plan, sid, entry)


def _target(plan: Plan, sid: str, entry: dict[str, Any]) -> _Target:
    server = plan.server_by_source_id(sid)
    layout = _layout(plan, server)
    vm_id = str(entry["vmId"])
    vm, document, _generation = azure_vms.vm_now(vm_id)
    _check_not_failed(server.name, vm_id, vm)
    disk, tags = azure_vms.client_disk(entry["clientDiskId"])
    return _Target(sid, entry, server, vm_id, layout, vm, document, disk, tags)


def _servers(run: RunContext) -> dict[str, Any]:
    return run.record().failback_servers()


def _layout(plan: Plan, server: Server) -> rules.Layout:
    layout = recorded_layout(plan.name, server.name)
    if layout is None:
        raise FailbackFailed(f"{server.name}: no recorded disk layout: run failback again from the start")
    return layout


def _put_body(document: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in document["properties"].items() if k not in _READ_ONLY}
    storage = dict(properties["storageProfile"])
    storage["dataDisks"] = [
        {k: v for k, v in d.items() if k not in ("diskIOPSReadWrite", "diskMBpsReadWrite")}
        for d in storage.get("dataDisks") or []
    ]
    properties["storageProfile"] = storage
    return {"location": document["location"], "tags": document.get("tags") or {}, "properties": properties}


def _os_disk(document: dict[str, Any], disk_id: str) -> dict[str, Any]:
    """The OS disk entry naming another managed disk (the name changes with the disk, or ARM refuses)."""
    current = document["properties"]["storageProfile"]["osDisk"]
    return {
        "osType": current.get("osType", "Linux"),
        "name": disk_id.rsplit("/", 1)[-1],
        "createOption": "Attach",
        "caching": current.get("caching", "ReadWrite"),
        "managedDisk": {"id": disk_id},
        "deleteOption": "Detach",
    }


def _clear_user_data(vm_id: str) -> int:
    document = azure_vms.vm_document(vm_id, user_data=True)
    if not document["properties"].get("userData"):
        return 0
    body = _put_body(document)
    body["properties"]["userData"] = ""
    azure_vms.begin_put_vm(vm_id, body).result()
    return 1


def _check_not_failed(name: str, vm_id: str, vm: rules.VmNow) -> None:
    if vm.provisioning.lower() == "failed":
        raise FailbackFailed(
            f"{name}: Azure reports provisioning state Failed for {vm_id} (its last "
            "operation failed): see the VM's activity log, fix it, then run failback again (it resumes)"
        )


def _converged(steps: dict[str, str]) -> Converging:
    pending = {name: step for name, step in steps.items() if step != "done"}
    return Converging(status=done_or_pending(not pending), steps=dict(sorted(pending.items())[:20]))


def _parse(moment: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
