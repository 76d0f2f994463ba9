"""AssociateFailbackClientToRecoveryInstanceForDrs: a failback client pairs with a recovery instance.

Not in the public API model: the DRS Failback Client calls it (the action is one of those the AWS
managed policy AWSElasticDisasterRecoveryFailbackInstallationPolicy grants on recovery instances). The
emulator pairs only what DRS would pair: credentials that IAM accepts for that action on that recovery
instance, an existing failover (not drill) recovery instance that is running and not already failing back,
and a target disk for every recovery-instance volume, each at least as large (DRS user guide, "Performing
a failback with the DRS Failback Client").
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from localcloud.drs import errors
from localcloud.drs.formats import arn, new_id
from localcloud.drs.machines import Authorizer
from localcloud.drs.records import RecoveryInstance
from localcloud.drs.store import Store

OPERATION = "AssociateFailbackClientToRecoveryInstanceForDrs"
ACTION = f"drs:{OPERATION}"
_CREDENTIAL = re.compile(r"Credential=(?P<key>[A-Z0-9]+)/")


def pair(
    store: Store, authorizer: Authorizer | None, headers: dict[str, str], raw: bytes, now: datetime
) -> str:
    """Pair and return the failback client id, or raise ApiError as DRS would answer."""
    try:
        body: Any = json.loads(raw or b"{}")
    except ValueError:
        raise errors.validation("Request body is not valid JSON", reason="cannotParse") from None
    if not isinstance(body, dict):
        raise errors.validation("Request body must be a JSON object", reason="cannotParse")
    instance_id = str(body.get("recoveryInstanceID") or "")
    instance = store.instances.get(instance_id)
    resource = instance.arn if instance else arn(store.region, f"recovery-instance/{instance_id}")
    authorize(authorizer, headers, ACTION, resource)
    if instance is None:
        raise errors.not_found("recovery instance", instance_id or "(none)")
    _check_pairable(instance)
    machine = str((body.get("machine") or {}).get("id") or "")
    if not machine:
        raise errors.validation("machine.id is required", [("machine.id", "required")])
    targets = _targets(instance, body.get("deviceMapping"))
    failback = instance.failback
    failback.client_id = new_id("fbc-")
    failback.client_machine = machine
    failback.targets = targets
    source = store.servers.get(instance.source_server_id)
    failback.to_original = bool(source and (source.hardware_id or "").lower() == machine.lower())
    failback.client_last_seen = now
    return failback.client_id


def authorize(authorizer: Authorizer | None, headers: dict[str, str], action: str, resource: str) -> None:
    """The SigV4 caller's credentials must be valid and allow `action` on `resource` (else ApiError)."""
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    token = headers.get("x-amz-security-token", "")
    if match is None:
        raise errors.ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
    if authorizer is None:
        raise errors.ApiError(
            "AccessDeniedException", "the emulator has no IAM to authorize DRS's own clients"
        )
    authorizer.authorize(match["key"], token, action, resource)


def _check_pairable(instance: RecoveryInstance) -> None:
    rid = instance.recovery_instance_id
    if instance.is_drill:
        raise errors.conflict(
            f"Recovery instance {rid} is a drill instance: it cannot be failed back", "RI", rid
        )
    if instance.ec2_state not in ("RUNNING", "STOPPED"):
        raise errors.conflict(f"Recovery instance {rid} is {instance.ec2_state}", "RI", rid)
    if instance.failback.state != "FAILBACK_NOT_STARTED" or instance.failback.needs_client_restart:
        raise errors.conflict(
            f"Recovery instance {rid} is in failback state {instance.failback.state}: stop failback before "
            "pairing another client",
            "RI",
            rid,
        )


def _targets(instance: RecoveryInstance, mapping: Any) -> dict[str, int]:
    """Recovery-instance device -> LUN of the local disk receiving it; every volume needs one, as large."""
    if not isinstance(mapping, list):
        raise errors.validation("deviceMapping is required", [("deviceMapping", "required")])
    by_device = {str(m.get("recoveryInstanceDevice")): m for m in mapping if isinstance(m, dict)}
    targets: dict[str, int] = {}
    problems = []
    for device, size, _volume in instance.disks:
        entry = by_device.get(device)
        if entry is None:
            problems.append((device, "no local device mapped"))
            continue
        local_bytes = entry.get("bytes")
        if not isinstance(local_bytes, int) or local_bytes < size:
            problems.append(
                (
                    device,
                    f"local device {entry.get('localDevice')} ({local_bytes} bytes) is smaller "
                    f"than the recovery instance volume ({size} bytes)",
                )
            )
            continue
        targets[device] = int(entry["lun"])
    if problems:
        raise errors.validation(
            "Invalid device mapping: " + "; ".join(f"{d}: {m}" for d, m in problems), problems
        )
    if len(set(targets.values())) != len(targets):
        raise errors.validation("Invalid device mapping: a local device is mapped twice")
    return targets
