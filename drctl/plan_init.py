"""`drctl plan init`: a starter plan from the DRS source servers, with placeholders where only the operator
knows the value (each one loads, and `drctl plan validate` reports it)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drctl.plans import (
    PLACEHOLDER,
    PLACEHOLDER_LOCATION,
    PLACEHOLDER_SUBSCRIPTION,
    count_of,
    placeholder_fields,
)
from drctl.stack import OperatorError
from lambdas.domain.waves import chunks
from lambdas.plan import (
    MAX_REPLICATING_SERVERS,
    MAX_SERVERS_PER_JOB,
    Approval,
    AzureVmId,
    PlanError,
    SafeName,
    Targets,
    Triggers,
    describe_validation_error,
    parse_plan,
)
from lambdas.validation import ValidationError, parse, to_document

MAX_WAVES = 20  # Plan.waves max_length


@dataclass(frozen=True)
class StarterServer:
    name: str
    source_server_id: str
    azure_vm_id: str
    azure_from_tag: bool


@dataclass
class StarterPlan:
    document: dict[str, Any]
    servers: list[StarterServer]
    notes: list[str]

    def placeholders(self) -> list[str]:
        return list(placeholder_fields(self.document))

    def summary(self, path: Path) -> dict[str, Any]:
        return {
            "written": str(path),
            "servers": [asdict(s) for s in self.servers],
            "placeholders": self.placeholders(),
            "notes": self.notes,
        }


def check_plan_name(name: str) -> None:
    try:
        parse(SafeName, name)
    except ValidationError:
        raise OperatorError(
            f"--name {name!r}: use 1 to 40 lower-case letters, digits or '-', starting with a letter or digit"
        ) from None


def check_wave_size(size: int) -> None:
    if not 1 <= size <= MAX_SERVERS_PER_JOB:
        raise OperatorError(
            f"--wave-size {size}: use 1 to {MAX_SERVERS_PER_JOB} (the DRS limit of servers per job)"
        )


def starter_plan(name: str, source_servers: list[dict[str, Any]], wave_size: int) -> StarterPlan:
    """A plan that loads, from the DRS source servers: waves of `wave_size` in name order, Azure VM ids
    from a tag where the server has one, placeholders elsewhere."""
    check_plan_name(name)
    check_wave_size(wave_size)
    candidates = [s for s in source_servers if _protectable(s)]
    if not candidates:
        raise OperatorError(
            "no replicating DRS source servers are visible to these credentials in this region: install the "
            "DRS replication agent on the Azure VMs first, or check --profile and --region"
        )
    if len(candidates) > MAX_REPLICATING_SERVERS:
        raise OperatorError(
            f"{len(candidates)} source servers exceed the {MAX_REPLICATING_SERVERS} servers a plan can hold "
            "(the DRS replicating-server quota): write the plans by hand"
        )
    waves = math.ceil(len(candidates) / wave_size)
    if waves > MAX_WAVES:
        raise OperatorError(
            f"{len(candidates)} servers in waves of {wave_size} make {waves} waves, a plan holds at most "
            f"{MAX_WAVES}: pass a larger --wave-size"
        )
    tagged = {s["sourceServerID"]: _tagged_vm_id(s) for s in candidates}
    subscription, notes = _subscription(tagged)
    servers = _starter_servers(candidates, tagged, subscription)
    document = _starter_document(name, servers, subscription, wave_size)
    try:
        parse_plan(document)  # never write a file that `load_plan_file` refuses
    except ValidationError as exc:
        raise PlanError(f"the starter plan does not validate: {describe_validation_error(exc)}") from None
    return StarterPlan(document, servers, notes)


def _protectable(source_server: dict[str, Any]) -> bool:
    # Archived servers are gone from DRS, and FAILBACK servers are AWS instances replicating back to Azure.
    return not source_server.get("isArchived") and source_server.get("replicationDirection") != "FAILBACK"


def _tagged_vm_id(source_server: dict[str, Any]) -> str | None:
    """The Azure VM id from a tag named like azure_vm_id (AzureVmId, azure-vm-id, ...), when it is valid."""
    for key, value in (source_server.get("tags") or {}).items():
        if re.sub(r"[^a-z]", "", key.lower()) == "azurevmid":
            try:
                return parse(AzureVmId, value.strip())
            except ValidationError:
                return None
    return None


def _subscription(tagged: dict[str, str | None]) -> tuple[str, list[str]]:
    """The plan's subscription: the one most tagged VM ids are in (a plan covers one subscription)."""
    counts = Counter(vm_id.split("/")[2].lower() for vm_id in tagged.values() if vm_id)
    if not counts:
        return PLACEHOLDER_SUBSCRIPTION, []
    subscription = counts.most_common(1)[0][0]
    others = sorted(set(counts) - {subscription})
    notes = [
        f"tagged Azure VMs in subscription {other} got placeholders: a plan covers one subscription "
        f"({subscription}); put those servers in a plan of their own"
        for other in others
    ]
    return subscription, notes


def _starter_servers(
    candidates: list[dict[str, Any]], tagged: dict[str, str | None], subscription: str
) -> list[StarterServer]:
    servers = []
    used: set[str] = set()
    for item in sorted(candidates, key=lambda s: (_server_name(s), s["sourceServerID"])):
        name = _unique_name(_server_name(item), used)
        source_server_id = item["sourceServerID"]
        tag = tagged[source_server_id]
        if tag is not None and tag.split("/")[2].lower() == subscription:
            servers.append(StarterServer(name, source_server_id, tag, azure_from_tag=True))
            continue
        placeholder = (
            f"/subscriptions/{subscription}/resourceGroups/{PLACEHOLDER}"
            f"/providers/Microsoft.Compute/virtualMachines/{name}"
        )
        servers.append(StarterServer(name, source_server_id, placeholder, azure_from_tag=False))
    return servers


def _server_name(source_server: dict[str, Any]) -> str:
    tags = source_server.get("tags") or {}
    hints = (source_server.get("sourceProperties") or {}).get("identificationHints") or {}
    hostname = str(hints.get("hostname") or "").split(".")[0]
    for raw in (str(tags.get("Name") or ""), hostname):
        name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[:40].rstrip("-")
        if name:
            return name
    return str(source_server["sourceServerID"]).lower()  # s- and 17 letters or digits: a safe name


def _unique_name(name: str, used: set[str]) -> str:
    candidate, number = name, 2
    while candidate in used:
        suffix = f"-{number}"
        candidate, number = name[: 40 - len(suffix)].rstrip("-") + suffix, number + 1
    used.add(candidate)
    return candidate


def _starter_document(
    name: str, servers: list[StarterServer], subscription: str, wave_size: int
) -> dict[str, Any]:
    waves = [
        {
            "name": f"wave-{index}",
            "servers": [
                {"name": s.name, "source_server_id": s.source_server_id, "azure_vm_id": s.azure_vm_id}
                for s in chunk
            ],
        }
        for index, chunk in enumerate(chunks(servers, wave_size), 1)
    ]
    base = f"/subscriptions/{subscription}/resourceGroups/{PLACEHOLDER}/providers"
    # No traffic or detection section: a placeholder DNS zone or endpoint could be mistaken for a real one.
    return {
        "name": name,
        "description": (
            f"Starter plan written by drctl plan init from {count_of(len(servers), 'DRS source server')}: "
            "replace every placeholder, review the waves, then add detection and traffic"
        ),
        "waves": waves,
        "targets": to_document(Targets()),
        "approval": to_document(Approval()),
        "triggers": to_document(Triggers()),
        "azure": {
            "subscription_id": subscription,
            "failback": {
                "image_id": (
                    f"{base}/Microsoft.Compute/galleries/{PLACEHOLDER_LOCATION}/images/drs-failback-client"
                    "/versions/1.0.0"
                ),
            },
        },
    }


def format_starter(starter: StarterPlan, path: Path) -> str:
    waves = starter.document["waves"]
    lines = [f"wrote {path}: {count_of(len(starter.servers), 'server')} in {count_of(len(waves), 'wave')}"]
    width = max(len(s.name) for s in starter.servers)
    for server in starter.servers:
        azure = server.azure_vm_id if server.azure_from_tag else f"{PLACEHOLDER} (no Azure VM id tag)"
        lines.append(f"  {server.name:<{width}}  {server.source_server_id}  azure {azure}")
    lines.extend(f"note: {note}" for note in starter.notes)
    lines.append(
        f"next: replace the {count_of(len(starter.placeholders()), 'placeholder')} ({PLACEHOLDER}), review "
        f"waves, critical servers, targets and approval, add detection and traffic, then run "
        f"`drctl plan validate {path}` and move the file to plans/"
    )
    return "\n".join(lines)


def write_plan(path: Path, document: dict[str, Any], force: bool) -> None:
    text = json.dumps(document, indent=2) + "\n"
    try:
        with path.open("w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise OperatorError(f"{path} exists: choose another --out, or pass --force to overwrite it") from None
    except OSError as exc:
        raise OperatorError(f"cannot write {path}: {exc.strerror}") from None
