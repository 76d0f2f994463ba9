"""Failback from AWS to the plan's Azure VMs through the DRS Failback Client: the workflow's steps after the
preflight (lambdas/domain/failback_preflight.py), each a function of the run and its ports
(lambdas/domain/failback_ports.py).

An Azure source cannot use DRS reverse replication (that is for servers that came from EC2), and Azure
cannot boot an ISO: each VM boots a disk made from the failback-client image while its own disks are
attached as the targets, pairs unattended (the boot hook reads the failback document from userData), and
after the failback launch gets its own OS disk back (lambdas/domain/failback.py has the rules).

Every step converges: it looks at what Azure and DRS report now, takes the next step of each VM without
waiting for it, and answers PENDING until every VM is where it should be. Retried, stopped or failed runs
resume from the VMs' real state and the layout recorded before the first change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from lambdas.domain import failback as rules
from lambdas.domain.failback_ports import AzureVms, FailbackPorts, FailbackRun
from lambdas.domain.measure import iso
from lambdas.domain.waves import PLAN_TAG, RUN_TAG
from lambdas.errors import FailbackFailed
from lambdas.plan import Plan, Server
from lambdas.progress import Converging, FailbackState, done_or_pending

CREDENTIAL_SECONDS = 3600  # a role session started from a role session lasts at most one hour (STS)
PAIRED_STATES = {"FAILBACK_IN_PROGRESS", "FAILBACK_READY_FOR_LAUNCH", "FAILBACK_COMPLETED", "FAILBACK_ERROR"}
# VM properties ARM computes; a PUT body leaves them out.
_READ_ONLY = ("provisioningState", "instanceView", "vmId", "timeCreated")


def boot_clients(run: FailbackRun, ports: FailbackPorts) -> Converging:
    """Each VM: deallocated, client disk as OS disk, its own disks attached, failback document in userData,
    started. PENDING until every VM runs the client."""
    plan = run.plan
    vms = ports.vms
    credentials = _Credentials(run, ports)
    instances = recovery_instances_by_server(plan, ports)
    steps: dict[str, str] = {}
    for sid, entry in _servers(run, ports).items():
        if entry.get("target") == "new":
            created = _converge_new_vm(run, ports, sid, entry, credentials, instances)
            if created != "exists":
                steps[entry["name"]] = created
                continue
        t = _target(plan, ports, sid, entry)
        step = rules.next_step_to_client(t.vm, t.layout, t.disk)
        steps[t.server.name] = step
        if step == "deallocate":
            vms.begin_power(t.vm_id, "deallocate")
        elif step == "create_client_disk":
            tags = {rules.CLIENT_DISK_TAG: plan.name, PLAN_TAG: plan.name, RUN_TAG: run.run_id}
            vms.begin_create_disk(t.disk.disk_id, t.document["location"], plan.azure.failback.image_id, tags)
        elif step == "swap_to_client":
            body = _put_body(t.document)
            body["properties"]["storageProfile"]["osDisk"] = _os_disk(t.document, t.disk.disk_id)
            vms.begin_put_vm(t.vm_id, body)
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
            vms.begin_put_vm(t.vm_id, body)
        elif step == "start":
            vms.begin_power(t.vm_id, "start")
            update_record(run, ports, {f"failback.servers.{t.sid}.clientStartedAt": iso(ports.clock())})
    return _converged(steps)


def _converge_new_vm(
    run: FailbackRun,
    ports: FailbackPorts,
    sid: str,
    entry: dict[str, Any],
    credentials: _Credentials,
    instances: dict[str, dict[str, Any]],
) -> str:
    """Target "new", until the VM exists: its empty disks, the client disk, then the VM booting the client
    with the empty disks attached and the failback document in userData. "exists" once it does (found by
    its name, and its tag says this plan's failback made it)."""
    plan, vms = run.plan, ports.vms
    new_vm = entry["newVm"]
    vm_id = entry["vmId"]
    vm_tags = vms.vm_tags(vm_id)
    disks = [vms.client_disk(d["id"])[0] for d in new_vm["disks"]]
    client, _tags = vms.client_disk(entry["clientDiskId"])
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
            vms.begin_create_empty_disk(
                disk["id"],
                new_vm["location"],
                int(disk["sizeGb"]),
                tags,
                os_type=new_vm["osType"] if root else None,
                hyper_v_generation=new_vm["hyperVGeneration"] if root else None,
            )
    elif step == "create_client_disk":
        client_tags = {**tags, rules.CLIENT_DISK_TAG: plan.name}
        vms.begin_create_disk(
            entry["clientDiskId"], new_vm["location"], plan.azure.failback.image_id, client_tags
        )
    elif step == "create_vm":
        layout = _layout(plan, ports, plan.server_by_source_id(sid))
        mapping = rules.device_mapping(instances[sid], layout)
        data_disks = [(layout.own_os_disk_lun(), layout.os_disk_id)] + [
            (d.lun, d.disk_id) for d in layout.data_disks
        ]
        vms.begin_create_vm_from_disks(
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
        update_record(
            run,
            ports,
            {
                f"failback.servers.{sid}.vmCreatedAt": iso(ports.clock()),
                f"failback.servers.{sid}.clientStartedAt": iso(ports.clock()),
            },
        )
        return "wait"
    return step


def check(
    run: FailbackRun, ports: FailbackPorts, want: Literal["READY_FOR_LAUNCH", "COMPLETED"]
) -> FailbackState:
    """DRS failback state of every recovery instance. While waiting for READY_FOR_LAUNCH: userData is
    cleared on VMs whose client paired, and a client that has not paired within
    timing.failback_pairing_minutes gets fresh credentials and a reboot."""
    plan = run.plan
    servers = _servers(run, ports)
    states = {
        ri["sourceServerID"]: (ri.get("failback") or {}).get("state", "UNKNOWN")
        for ri in recovery_instances_by_server(plan, ports).values()
    }
    if want == "READY_FOR_LAUNCH":
        _tend_clients(run, ports, servers, states)
    wanted = f"FAILBACK_{want}"
    # Once launched, an instance that was READY moves on; COMPLETED also satisfies READY_FOR_LAUNCH.
    accepted = {wanted, "FAILBACK_COMPLETED"} if want == "READY_FOR_LAUNCH" else {wanted}
    errors = sorted(
        servers[sid]["name"] for sid, state in states.items() if state == "FAILBACK_ERROR" and sid in servers
    )
    if errors:
        raise FailbackFailed(f"DRS reports FAILBACK_ERROR for: {', '.join(errors)}")
    waiting = sorted(servers[sid]["name"] for sid in servers if states.get(sid) not in accepted)
    if waiting:
        if ports.clock() - run.started_at > timedelta(minutes=plan.timing.failback_timeout_minutes):
            raise FailbackFailed(
                f"{len(waiting)} servers not {wanted} within timing.failback_timeout_minutes "
                f"({plan.timing.failback_timeout_minutes}): {', '.join(waiting[:10])}"
            )
        return FailbackState(status="PENDING", waiting=len(waiting))
    update_record(run, ports, {f"failback.{want.lower()}At": iso(ports.clock())})
    return FailbackState(status="DONE", instances=len(states))


def _tend_clients(
    run: FailbackRun, ports: FailbackPorts, servers: dict[str, Any], states: dict[str, str]
) -> None:
    plan, vms = run.plan, ports.vms
    credentials = _Credentials(run, ports)
    instances: dict[str, dict[str, Any]] | None = None
    pairing = timedelta(minutes=plan.timing.failback_pairing_minutes)
    for sid, entry in servers.items():
        server = plan.server_by_source_id(sid)
        if states.get(sid) in PAIRED_STATES:
            if not entry.get("userDataClearedAt"):
                _clear_user_data(vms, entry["vmId"])
                update_record(run, ports, {f"failback.servers.{sid}.userDataClearedAt": iso(ports.clock())})
            continue
        started = entry.get("clientStartedAt")
        if started and ports.clock() - _parse(started) > pairing:
            instances = instances or recovery_instances_by_server(plan, ports)
            vm, document, _generation = vms.vm_now(entry["vmId"])
            if vm.busy:
                continue
            body = _put_body(document)
            mapping = rules.device_mapping(instances[sid], _layout(plan, ports, server))
            body["properties"]["userData"] = credentials.document(entry["recoveryInstanceId"], mapping)
            vms.begin_put_vm(entry["vmId"], body).result()
            vms.begin_power(entry["vmId"], "restart")
            ports.log.warning(
                "failback client did not pair: fresh credentials, restarted", extra={"server": server.name}
            )
            update_record(run, ports, {f"failback.servers.{sid}.clientStartedAt": iso(ports.clock())})


def launch(run: FailbackRun, ports: FailbackPorts) -> dict[str, Any]:
    """The DRS failback launch of every recovery instance ready for it, once per run."""
    plan = run.plan
    ready = [
        ri["recoveryInstanceID"]
        for ri in recovery_instances_by_server(plan, ports).values()
        if (ri.get("failback") or {}).get("state") == "FAILBACK_READY_FOR_LAUNCH"
    ]
    already = [
        j["jobID"]
        for j in ports.drs.jobs_since(run.started_at)
        if (j.get("tags") or {}).get(RUN_TAG) == run.run_id
    ]
    if already or not ready:
        return {"job_id": already[0] if already else None, "launched": 0}
    job_id = ports.drs.start_failback_launch(ready, {RUN_TAG: run.run_id, PLAN_TAG: plan.name})
    update_record(
        run, ports, {"failback.launchJobId": job_id, "failback.launchRequestedAt": iso(ports.clock())}
    )
    return {"job_id": job_id, "launched": len(ready)}


def restore(run: FailbackRun, ports: FailbackPorts) -> Converging:
    """Each VM: deallocated, its own OS disk and data disks exactly as recorded, userData cleared, the
    client disk deleted, started. PENDING until every VM runs its own OS again."""
    plan, vms = run.plan, ports.vms
    steps: dict[str, str] = {}
    for t in _targets(run, ports):
        try:
            step = rules.next_step_to_original(t.vm, t.layout, t.disk)
        except ValueError as exc:
            raise FailbackFailed(f"{t.server.name}: {exc}") from None
        steps[t.server.name] = step
        if step == "deallocate":
            vms.begin_power(t.vm_id, "deallocate")
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
            vms.begin_put_vm(t.vm_id, body)
        elif step == "delete_client_disk":
            # Only the disk this plan's failback made, by name and tag: never a disk with workload data.
            if t.disk_tags.get(rules.CLIENT_DISK_TAG) != plan.name:
                raise FailbackFailed(
                    f"{t.server.name}: {t.disk.disk_id} is not tagged as this plan's client disk: kept"
                )
            vms.begin_delete_disk(t.disk.disk_id)
        elif step == "start":
            vms.begin_power(t.vm_id, "start")
        elif step == "done":
            ports.store.forget_layout(plan.name, t.server.name)
    result = _converged(steps)
    if result.status == "DONE":
        update_record(run, ports, {"failback.restoredAt": iso(ports.clock())})
    return result


def clear_credentials(run: FailbackRun, ports: FailbackPorts) -> dict[str, Any]:
    """After a failure: no failback document (credentials) stays in any VM's userData, and the run record
    says what was cleared."""
    outcome = clear_failback_credentials(_servers(run, ports), ports.vms, ports.clock)
    update_record(run, ports, {"failback.credentialsCleared": outcome})
    return outcome


def clear_failback_credentials(
    servers: dict[str, Any], vms: AzureVms, clock: Callable[[], datetime]
) -> dict[str, Any]:
    """Clear the failback document from the userData of every VM of a run's failback record (also used
    by the sweep for a stopped run). Best effort per VM; what could not be cleared is named (the
    credentials expire within the hour anyway)."""
    failed: list[str] = []
    cleared = 0
    for sid, entry in servers.items():
        try:
            if entry.get("target") == "new" and vms.vm_tags(entry["vmId"]) is None:
                continue  # the new VM was not created: no userData anywhere
            cleared += _clear_user_data(vms, entry["vmId"])
        except Exception as exc:  # report and go on with the other VMs
            failed.append(f"{entry.get('name', sid)}: {type(exc).__name__}")
    return {"at": iso(clock()), "cleared": cleared, "failed": failed}


# -- shared with the preflight ------------------------------------------------------------------------


def recovery_instances_by_server(plan: Plan, ports: FailbackPorts) -> dict[str, dict[str, Any]]:
    instances = ports.drs.recovery_instances([s.source_server_id for s in plan.servers()], drill=False)
    return {ri["sourceServerID"]: ri for ri in instances}


def recorded_layout(plan: str, server: str, ports: FailbackPorts) -> rules.Layout | None:
    layout = ports.store.layout(plan, server)
    return rules.Layout.from_document(layout) if layout else None


def update_record(run: FailbackRun, ports: FailbackPorts, fields: dict[str, Any]) -> None:
    ports.store.update_run(run.plan.name, run.run_sk, fields)


# -- helpers ------------------------------------------------------------------------------------------


class _Credentials:
    """Short-lived credentials of the failback-installation role, fetched once per task invocation."""

    def __init__(self, run: FailbackRun, ports: FailbackPorts) -> None:
        self._run = run
        self._ports = ports
        self._issued: dict[str, str] | None = None

    def document(self, recovery_instance_id: str, mapping: list[dict[str, Any]]) -> str:
        env = self._ports.env
        if self._issued is None:
            self._issued = self._ports.sts.role_credentials(
                env["FAILBACK_INSTALLATION_ROLE_ARN"], f"failback-{self._run.run_id}", CREDENTIAL_SECONDS
            )
        return rules.user_data_document(
            region=env["AWS_REGION"],
            credentials=self._issued,
            recovery_instance_id=recovery_instance_id,
            mapping=mapping,
            endpoint=self._ports.drs.endpoint_url(),
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


def _targets(run: FailbackRun, ports: FailbackPorts) -> Iterator[_Target]:
    for sid, entry in _servers(run, ports).items():
        yield _target(run.plan, ports, sid, entry)


def _target(plan: Plan, ports: FailbackPorts, sid: str, entry: dict[str, Any]) -> _Target:
    server = plan.server_by_source_id(sid)
    layout = _layout(plan, ports, server)
    vm_id = str(entry["vmId"])
    vm, document, _generation = ports.vms.vm_now(vm_id)
    _check_not_failed(server.name, vm_id, vm)
    disk, tags = ports.vms.client_disk(entry["clientDiskId"])
    return _Target(sid, entry, server, vm_id, layout, vm, document, disk, tags)


def _servers(run: FailbackRun, ports: FailbackPorts) -> dict[str, Any]:
    return ports.store.run_record(run.plan.name, run.run_sk).failback_servers()


def _layout(plan: Plan, ports: FailbackPorts, server: Server) -> rules.Layout:
    layout = recorded_layout(plan.name, server.name, ports)
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


def _clear_user_data(vms: AzureVms, vm_id: str) -> int:
    document = vms.vm_document(vm_id, user_data=True)
    if not document["properties"].get("userData"):
        return 0
    body = _put_body(document)
    body["properties"]["userData"] = ""
    vms.begin_put_vm(vm_id, body).result()
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


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
