"""Return to normal: replication Azure -> AWS comes back by itself, then the recovery instances go. Each
workflow step is a function of the run and its ports (lambdas/domain/return_to_normal_ports.py).

After a failback to the original source machines their replication agents run again: each source server
rescans and returns to CONTINUOUS without any call (DRS user guide: no agent reinstall after failing back to
the original source server). StartReplication is only for a server DRS reports STOPPED. The recovery
instances are terminated only once every source server is CONTINUOUS again: until then they are the only
copy of the data that is not stale.

A server that failed back to a NEW VM (azure.failback.target "new") has no agent: per the DRS user guide,
failing back to a machine other than the original source machine needs a new AWS Replication Agent, which
registers a new source server. The agent is installed through Azure Run Command (RunShellScript) with the
installer command of the user guide ("Installing the AWS Replication Agent", Linux) and short-lived
credentials of the stack's agent-installation role (AWS managed policy
AWSElasticDisasterRecoveryAgentInstallationPolicy). The credentials travel only in the Run Command request:
they are never logged nor written to the run record, and the script's output is recorded only with them
removed. The new source server must reach CONTINUOUS; it, and the plan change that makes it the server's,
go into the run record (and so the report).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from lambdas.domain.measure import iso
from lambdas.domain.return_to_normal_ports import (
    Drs,
    ReturnToNormalPorts,
    ReturnToNormalRun,
    ReturnToNormalStore,
)
from lambdas.domain.waves import busy_source_servers
from lambdas.errors import DrsRefused, ReplicationNotRestored
from lambdas.ownership import OWNER_TAG_KEY, STACK_NAME_ENV
from lambdas.plan import Plan
from lambdas.progress import Replication

AGENT_CREDENTIAL_SECONDS = 900  # the shortest role session STS issues; the installer needs minutes
RUN_COMMAND_WAIT_SECONDS = 240  # within the function's timeout; a longer install is waited for by the check
# DRS user guide, "Installing the AWS Replication Agent" (Linux): download location of the installer.
INSTALLER_URL = (
    "https://aws-elastic-disaster-recovery-{region}.s3.{region}.amazonaws.com"
    "/latest/linux/aws-replication-installer-init"
)
# Failback states that leave a pairing behind to stop (a completed failback leaves none).
_PAIRED = {
    "FAILBACK_IN_PROGRESS",
    "FAILBACK_READY_FOR_LAUNCH",
    "FAILBACK_ERROR",
    "FAILBACK_NOT_READY_FOR_LAUNCH",
}


def restore(run: ReturnToNormalRun, ports: ReturnToNormalPorts) -> dict[str, Any]:
    """Record where replication stands; stop a pairing a failback left behind; start STOPPED servers."""
    plan, drs = run.plan, ports.drs
    source_ids = [s.source_server_id for s in plan.servers()]
    for ri in drs.recovery_instances(source_ids, drill=False):
        if (ri.get("failback") or {}).get("state") in _PAIRED:
            _tolerate(
                ("ResourceNotFoundException", "ConflictException"),
                drs.stop_failback,
                ri["recoveryInstanceID"],
            )
    new_vms = new_vm_servers(plan, ports.store)
    states = _replication_states(drs, source_ids)
    # A server whose VM is gone is not restarted: its replacement gets a new agent and source server.
    restarted = _start_stopped(drs, {sid: state for sid, state in states.items() if sid not in new_vms})
    _update_record(
        run,
        ports,
        {
            "restore": {
                "at": iso(ports.clock()),
                "states": states,
                "replicationStarted": restarted,
                "newSourceServers": {},
            }
        },
    )
    return {"replication_started": len(restarted), "new_vms": len(new_vms)}


def install_agents(run: ReturnToNormalRun, ports: ReturnToNormalPorts) -> dict[str, Any]:
    """Install the AWS Replication Agent on every new VM that has none registered yet in this run."""
    plan, vms = run.plan, ports.vms
    targets = new_vm_servers(plan, ports.store)
    recorded = _restore_section(run, ports).get("newSourceServers") or {}
    installed = 0
    for sid, new_vm in targets.items():
        server = plan.server_by_source_id(sid)
        if (recorded.get(sid) or {}).get("installedAt"):
            continue  # a retried task does not install twice
        hostname = vms.computer_name(new_vm["vmId"]) or new_vm["name"]
        _update_record(
            run,
            ports,
            {
                f"restore.newSourceServers.{sid}": {
                    "server": server.name,
                    "vmId": new_vm["vmId"],
                    "hostname": hostname,
                    "installRequestedAt": iso(ports.clock()),
                }
            },
        )
        credentials = _agent_credentials(run, ports)
        script = installer_script(ports.env["AWS_REGION"], credentials, ports.drs.endpoint_url())
        poller = vms.run_shell_script(new_vm["vmId"], script)
        result = poller.result(timeout=RUN_COMMAND_WAIT_SECONDS)
        secrets = [credentials["SecretAccessKey"], credentials["SessionToken"], credentials["AccessKeyId"]]
        outcome = run_command_outcome(vms.rest(result) if result is not None else None, secrets)
        _update_record(run, ports, {f"restore.newSourceServers.{sid}.install": outcome})
        if outcome["status"] == "failed":
            raise ReplicationNotRestored(
                f"{server.name}: installing the AWS Replication Agent on {new_vm['vmId']} failed: "
                f"{outcome['output'][-300:]}"
            )
        if outcome["status"] == "succeeded":
            _update_record(run, ports, {f"restore.newSourceServers.{sid}.installedAt": iso(ports.clock())})
            installed += 1
        ports.log.info(
            "replication agent install", extra={"server": server.name, "status": outcome["status"]}
        )
    return {"installed": installed, "new_vms": len(targets)}


def check(run: ReturnToNormalRun, ports: ReturnToNormalPorts) -> Replication:
    """PENDING until every source server is CONTINUOUS and then every recovery instance is terminated."""
    plan, drs = run.plan, ports.drs
    source_ids = [s.source_server_id for s in plan.servers()]
    replacements = _replacement_source_servers(run, ports)  # plan's id -> new source server id (or None)
    watched = [sid for sid in source_ids if sid not in replacements]
    states = _replication_states(drs, watched + [r for r in replacements.values() if r])
    _start_stopped(drs, {sid: states[sid] for sid in watched if sid in states})

    def replicating(sid: str) -> bool:
        if sid in replacements:  # its replacement must be CONTINUOUS (none yet: not registered)
            replacement = replacements[sid]
            return replacement is not None and states.get(replacement) == "CONTINUOUS"
        return states.get(sid) == "CONTINUOUS"

    waiting = sorted(plan.server_by_source_id(sid).name for sid in source_ids if not replicating(sid))
    remaining = drs.recovery_instances(source_ids, drill=False) if not waiting else []
    if not waiting and remaining:
        # One job per source server at a time: an instance whose server is in a job (its termination, started
        # by an earlier check) is left to that job.
        busy = busy_source_servers(drs.active_jobs())
        ids = [ri["recoveryInstanceID"] for ri in remaining if ri["sourceServerID"] not in busy]
        if ids:
            job_ids = drs.terminate_recovery_instances(ids)
            record = _restore_section(run, ports)
            _update_record(
                run,
                ports,
                {
                    "restore.continuousAt": record.get("continuousAt") or iso(ports.clock()),
                    "restore.terminated": sorted({*record.get("terminated", []), *ids}),
                    "restore.jobIds": [*record.get("jobIds", []), *job_ids],
                },
            )
    if waiting or remaining:
        if ports.clock() - run.started_at > timedelta(minutes=plan.timing.replication_timeout_minutes):
            raise ReplicationNotRestored(
                f"not back to CONTINUOUS within timing.replication_timeout_minutes "
                f"({plan.timing.replication_timeout_minutes}): {', '.join(waiting[:20]) or 'none'}; "
                f"recovery instances left: {len(remaining)} (kept until replication is CONTINUOUS)"
            )
        return Replication(
            status="PENDING", not_continuous=waiting[:20], recovery_instances_left=len(remaining)
        )
    _update_record(run, ports, {"restore.completedAt": iso(ports.clock())})
    for sid in replacements:
        # The new VM is the server's now; the run record keeps what failback recorded of it.
        ports.store.forget_new_vm(plan.name, plan.server_by_source_id(sid).name)
    return Replication(status="DONE", plan_changes=len(replacements))


def new_vm_servers(plan: Plan, store: ReturnToNormalStore) -> dict[str, dict[str, Any]]:
    """Source server id (the plan's) -> the new VM failback created for it, for servers with target new."""
    found = {}
    for server in plan.servers():
        if plan.failback_target(server) != "new":
            continue
        new_vm = store.new_vm(plan.name, server.name)
        if new_vm is None:
            raise ReplicationNotRestored(
                f"{server.name}: failback target is 'new' but no new VM is recorded for it: run failback "
                "first (it creates the VM), then return to normal"
            )
        found[server.source_server_id] = new_vm
    return found


def installer_script(region: str, credentials: dict[str, str], endpoint: str | None) -> list[str]:
    """The RunShellScript lines: download the installer and run it unattended (--no-prompt)."""
    url = INSTALLER_URL.format(region=region)
    command = [
        "sudo",
        "./aws-replication-installer-init",
        "--region",
        region,
        "--aws-access-key-id",
        credentials["AccessKeyId"],
        "--aws-secret-access-key",
        credentials["SecretAccessKey"],
        "--aws-session-token",
        credentials["SessionToken"],
        "--no-prompt",
    ]
    if endpoint and endpoint.rstrip("/") != f"https://drs.{region}.amazonaws.com":
        command += ["--endpoint", endpoint]  # a VPC endpoint (or the local cloud's DRS)
    return [
        f"wget -O ./aws-replication-installer-init {shlex.quote(url)}",
        "chmod +x aws-replication-installer-init",
        " ".join(shlex.quote(part) for part in command),
    ]


def run_command_outcome(result: dict[str, Any] | None, secrets: list[str]) -> dict[str, str]:
    """succeeded | failed | running, with the output's tail, every credential removed."""
    if result is None:
        return {"status": "running", "output": ""}
    statuses = result.get("value") or []
    code = str((statuses[0] if statuses else {}).get("code") or "")
    message = str((statuses[0] if statuses else {}).get("message") or "")
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    status = "succeeded" if code.lower().endswith("/succeeded") else "failed"
    return {"status": status, "output": message[-1000:]}


def plan_change(
    plan: Plan, server: str, source_server_id: str, vm_id: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """What the operator changes in the plan so that the new VM and source server are the server's."""
    stack = env.get(STACK_NAME_ENV, "<stack name>")
    return {
        "plan": plan.name,
        "server": server,
        "set": {"source_server_id": source_server_id, "azure_vm_id": vm_id},
        "remove": ["failback.target", "failback.new_vm"],
        "tag": {OWNER_TAG_KEY: stack},
        "text": (
            f"plan {plan.name}, server {server}: set source_server_id to {source_server_id} and azure_vm_id "
            f"to {vm_id}; remove its failback target 'new'; tag {source_server_id} in DRS with "
            f"{OWNER_TAG_KEY}={stack}"
        ),
    }


def _replacement_source_servers(run: ReturnToNormalRun, ports: ReturnToNormalPorts) -> dict[str, str | None]:
    """For servers that failed back to a new VM: the source server its new agent registered, once DRS
    lists it (found by the guest's hostname, added after the install, not one of the plan's). Records it
    with the plan change to make."""
    plan = run.plan
    recorded = _restore_section(run, ports).get("newSourceServers") or {}
    found: dict[str, str | None] = {}
    candidates: list[dict[str, Any]] | None = None
    for sid in new_vm_servers(plan, ports.store):
        entry = recorded.get(sid) or {}
        if entry.get("sourceServerId"):
            found[sid] = str(entry["sourceServerId"])
            continue
        found[sid] = None
        if not entry.get("installRequestedAt"):
            continue
        candidates = ports.drs.all_source_servers() if candidates is None else candidates
        new_id = _registered(candidates, entry, exclude={s.source_server_id for s in plan.servers()})
        if new_id:
            found[sid] = new_id
            server = plan.server_by_source_id(sid)
            change = plan_change(plan, server.name, new_id, str(entry["vmId"]), ports.env)
            _update_record(
                run,
                ports,
                {
                    f"restore.newSourceServers.{sid}.sourceServerId": new_id,
                    f"restore.newSourceServers.{sid}.registeredAt": iso(ports.clock()),
                    f"restore.newSourceServers.{sid}.planChange": change,
                },
            )
    return found


def _registered(candidates: list[dict[str, Any]], entry: dict[str, Any], exclude: set[str]) -> str | None:
    since = _parse(str(entry["installRequestedAt"])) - timedelta(minutes=5)  # clocks of two services
    hostname = str(entry.get("hostname") or "").lower()
    matches = []
    for server in candidates:
        hints = (server.get("sourceProperties") or {}).get("identificationHints") or {}
        added = (server.get("lifeCycle") or {}).get("addedToServiceDateTime")
        if server.get("sourceServerID") in exclude or str(hints.get("hostname") or "").lower() != hostname:
            continue
        if added and _parse(str(added)) >= since:
            matches.append((str(added), str(server["sourceServerID"])))
    return max(matches)[1] if matches else None


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def _replication_states(drs: Drs, source_ids: list[str]) -> dict[str, str]:
    return {
        s["sourceServerID"]: str((s.get("dataReplicationInfo") or {}).get("dataReplicationState"))
        for s in drs.source_servers(source_ids)
    }


def _start_stopped(drs: Drs, states: dict[str, str]) -> list[str]:
    stopped = [sid for sid, state in states.items() if state == "STOPPED"]
    for sid in stopped:
        # ConflictException: replication already started meanwhile, which is the state we want.
        _tolerate(("ConflictException",), drs.start_replication, sid)
    return stopped


def _tolerate(codes: tuple[str, ...], fn: Callable[[str], object], arg: str) -> None:
    try:
        fn(arg)
    except DrsRefused as exc:
        if exc.code not in codes:
            raise


def _agent_credentials(run: ReturnToNormalRun, ports: ReturnToNormalPorts) -> dict[str, str]:
    return ports.sts.role_credentials(
        ports.env["AGENT_INSTALLATION_ROLE_ARN"], f"agent-{run.run_id}", AGENT_CREDENTIAL_SECONDS
    )


def _restore_section(run: ReturnToNormalRun, ports: ReturnToNormalPorts) -> dict[str, Any]:
    return ports.store.run_record(run.plan.name, run.run_sk).restore_section()


def _update_record(run: ReturnToNormalRun, ports: ReturnToNormalPorts, fields: dict[str, Any]) -> None:
    ports.store.update_run(run.plan.name, run.run_sk, fields)
