"""Before `drctl start recovery|failback|return-to-normal`: say what will change in production, read from the
plan file, and go on only with `--yes` or when the operator types the plan's name at a terminal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lambdas.adapters.azure_compute import VmRef
from lambdas.plan import Plan, PlanError, load_plan_file, plan_files

# The workflows that change production: each needs --yes or a typed confirmation.
CONFIRMED_WORKFLOWS = ("recovery", "failback", "return_to_normal")


class NotConfirmed(Exception):
    """The operator did not confirm (or could not be asked): nothing was started."""


# Names listed per resource group before "and N more": the summary stays readable at 300 servers.
NAMES_SHOWN = 12


@dataclass(frozen=True)
class Changes:
    """What a workflow will change, in the operator's words."""

    plan: str
    workflow: str
    actions: list[str]
    deallocated_vms: list[str]  # Azure resource ids
    dns: str | None  # the record switch, or None when the workflow changes no DNS record

    def lines(self) -> list[str]:
        lines = [f"drctl start {self.workflow.replace('_', '-')} of plan {self.plan} will:"]
        lines.extend(f"  - {action}" for action in self.actions)
        if self.deallocated_vms:
            lines.append(f"  - deallocate {len(self.deallocated_vms)} Azure VM(s):")
            lines.extend(f"      {line}" for line in _vms_by_group(self.deallocated_vms))
        else:
            lines.append("  - deallocate no Azure VM")
        lines.append(f"  - switch DNS: {self.dns}" if self.dns else "  - change no DNS record")
        return lines


def changes(plan: Plan, workflow: str) -> Changes:
    servers = plan.servers()
    vms = [s.azure_vm_id for s in servers]
    if workflow == "recovery":
        waves = ", ".join(w.name for w in plan.waves)
        launch = f"fail over to AWS: launch {len(servers)} recovery instance(s), wave by wave ({waves})"
        return Changes(plan.name, workflow, [launch], vms, _dns_switch(plan, to="aws"))
    if workflow == "failback":
        copy = "copy the data back from AWS onto the original Azure VMs (each boots the failback client)"
        return Changes(plan.name, workflow, [copy], vms, _dns_switch(plan, to="azure"))
    if workflow == "return_to_normal":
        names = _names([s.name for s in servers])
        terminate = f"terminate the {len(servers)} AWS recovery instance(s) of: {names}"
        return Changes(plan.name, workflow, [terminate], [], None)
    raise ValueError(f"{workflow} needs no confirmation")


def _dns_switch(plan: Plan, to: str) -> str | None:
    traffic = plan.traffic
    if traffic is None:
        return None
    record = f"{traffic.record_name} {traffic.record_type} (zone {traffic.hosted_zone_id})"
    if to == "azure":
        return f"{record} back to Azure {traffic.azure_value}"
    aws = traffic.aws_value or f"the recovery instance IP of {traffic.aws_server}"
    return f"{record} from Azure {traffic.azure_value} to AWS {aws}"


def find_plan(name: str, file_glob: str, root: Path) -> Plan:
    """The plan named `name` among the plan files; a broken file elsewhere in the glob does not stop it."""
    broken: list[str] = []
    paths = sorted(plan_files(file_glob, root))
    for path in paths:
        try:
            plan = load_plan_file(path)
        except PlanError:
            broken.append(path.name)
            continue
        if plan.name == name:
            return plan
    found = f"{len(paths)} file(s) match" + (f", unreadable: {', '.join(broken)}" if broken else "")
    raise PlanError(
        f"no plan file for plan '{name}' in {file_glob} ({found}): drctl reads from it what will change; "
        "pass --plans GLOB, or --yes to start without the summary"
    )


def confirm(changes: Changes, stdin: TextIO, stderr: TextIO) -> None:
    """Print what will change, then ask for the plan's name. Raises NotConfirmed unless it is typed."""
    for line in changes.lines():
        print(line, file=stderr)
    if not stdin.isatty():
        raise NotConfirmed(
            "not confirmed: stdin is not a terminal; pass --yes to start (nothing was started)"
        )
    print(
        f"Type the plan name ({changes.plan}) to start, anything else to cancel: ",
        end="",
        file=stderr,
        flush=True,
    )
    answer = stdin.readline()
    if answer.strip() != changes.plan:
        raise NotConfirmed("not confirmed: nothing was started")


def _vms_by_group(vm_ids: list[str]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for vm_id in vm_ids:
        ref = VmRef.parse(vm_id)
        groups.setdefault(ref.resource_group, []).append(ref.name)
    return [f"resource group {group}: {_names(names)}" for group, names in sorted(groups.items())]


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")
