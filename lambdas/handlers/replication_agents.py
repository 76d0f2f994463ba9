"""Return to normal for servers that failed back to a NEW VM (azure.failback.target "new").

The DRS agent is not on such a VM: per the DRS user guide, failing back to a machine other than the
original source machine needs a new AWS Replication Agent, which registers a new source server. The agent is
installed through Azure Run Command (RunShellScript) with the installer command of the user guide
("Installing the AWS Replication Agent", Linux) and short-lived credentials of the stack's agent-installation
role (AWS managed policy AWSElasticDisasterRecoveryAgentInstallationPolicy). The credentials travel only in
the Run Command request: they are never logged nor written to the run record, and the script's output is
recorded only with them removed.

The new source server id, and the plan change that makes it the server's, go into the run record (and so the
report); restore_replication.check_handler waits for it to reach CONTINUOUS.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from lambdas.adapters import azure_vms, drs, state_store, sts
from lambdas.errors import ReplicationNotRestored
from lambdas.handlers.common import RunContext, RunTask, iso, logger, now, task
from lambdas.plan import Plan

AGENT_CREDENTIAL_SECONDS = 900  # the shortest role session STS issues; the installer needs minutes
RUN_COMMAND_WAIT_SECONDS = 240  # within the function's timeout; a longer install is waited for by the check
# DRS user guide, "Installing the AWS Replication Agent" (Linux): download location of the installer.
INSTALLER_URL = (
    "https://aws-elastic-disaster-recovery-{region}.s3.{region}.amazonaws.com"
    "/latest/linux/aws-replication-installer-init"
)


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


def new_vm_servers(plan: Plan) -> dict[str, dict[str, Any]]:
    """Source server id (the plan's) -> the new VM failback created for it, for servers with target new."""
    found = {}
    for server in plan.servers():
        if plan.failback_target(server) != "new":
            continue
        new_vm = state_store.store().new_vm(plan.name, server.name)
        if new_vm is None:
            raise ReplicationNotRestored(
                f"{server.name}: failback target is 'new' but no new VM is recorded for it: run failback "
                "first (it creates the VM), then return to normal"
            )
        found[server.source_server_id] = new_vm
    return found


@task(RunTask)
def install_handler(event: RunTask) -> dict[str, Any]:
    """Install the AWS Replication Agent on every new VM that has none registered yet in this run."""
    run = event.run
    plan = run.load_plan()
    targets = new_vm_servers(plan)
    recorded = run.record().restore_section().get("newSourceServers") or {}
    installed = 0
    for sid, new_vm in targets.items():
        server = plan.server_by_source_id(sid)
        if (recorded.get(sid) or {}).get("installedAt"):
            continue  # a retried task does not install twice
        hostname = azure_vms.computer_name(new_vm["vmId"]) or new_vm["name"]
        run.update_record(
            {
                f"restore.newSourceServers.{sid}": {
                    "server": server.name,
                    "vmId": new_vm["vmId"],
                    "hostname": hostname,
                    "installRequestedAt": iso(now()),
                }
            }
        )
        credentials = _agent_credentials(run)
        script = installer_script(os.environ["AWS_REGION"], credentials, drs.endpoint_url())
        poller = azure_vms.run_shell_script(new_vm["vmId"], script)
        result = poller.result(timeout=RUN_COMMAND_WAIT_SECONDS)
        secrets = [credentials["SecretAccessKey"], credentials["SessionToken"], credentials["AccessKeyId"]]
        outcome = run_command_outcome(azure_vms.rest(result) if result is not None else None, secrets)
        run.update_record({f"restore.newSourceServers.{sid}.install": outcome})
        if outcome["status"] == "failed":
            raise ReplicationNotRestored(
                f"{server.name}: installing the AWS Replication Agent on {new_vm['vmId']} failed: "
                f"{outcome['output'][-300:]}"
            )
        if outcome["status"] == "succeeded":
            run.update_record({f"restore.newSourceServers.{sid}.installedAt": iso(now())})
            installed += 1
        logger.info("replication agent install", extra={"server": server.name, "status": outcome["status"]})
    return {"installed": installed, "new_vms": len(targets)}


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


def _agent_credentials(run: RunContext) -> dict[str, str]:
    return sts.role_credentials(
        os.environ["AGENT_INSTALLATION_ROLE_ARN"], f"agent-{run.run_id}", AGENT_CREDENTIAL_SECONDS
    )
