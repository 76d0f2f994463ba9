"""CreateSourceServerForDrs: the AWS Replication Agent's installer registers its machine with DRS.

Not in the public API model: the installer calls it (the action is one of those the AWS managed policy
AWSElasticDisasterRecoveryAgentInstallationPolicy grants). The emulator registers only what DRS would:
credentials that IAM accepts for that action. A machine registered before gets its source server back
(reinstalling the agent needs no removal first: DRS user guide, "Reinstalling the agent"); a new one gets a
new source server, which replicates from INITIATING through INITIAL_SYNC to CONTINUOUS.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from localcloud.drs import errors
from localcloud.drs.formats import arn, new_id
from localcloud.drs.machines import Authorizer
from localcloud.drs.pairing import authorize
from localcloud.drs.records import DEFAULT_LAUNCH_CONFIGURATION, GIB, SourceServer
from localcloud.drs.store import Store

OPERATION = "CreateSourceServerForDrs"
ACTION = f"drs:{OPERATION}"


def register(
    store: Store,
    authorizer: Authorizer | None,
    headers: dict[str, str],
    raw: bytes,
    now: datetime,
    snapshot_interval: float,
) -> str:
    """The source server of the installing machine (created when new), or ApiError as DRS answers."""
    try:
        body: Any = json.loads(raw or b"{}")
    except ValueError:
        raise errors.validation("Request body is not valid JSON", reason="cannotParse") from None
    if not isinstance(body, dict):
        raise errors.validation("Request body must be a JSON object", reason="cannotParse")
    authorize(authorizer, headers, ACTION, arn(store.region, "source-server/*"))
    machine = body.get("machine") or {}
    machine_id = str(machine.get("id") or "")
    if not machine_id:
        raise errors.validation("machine.id is required", [("machine.id", "required")])
    disks = body.get("disks")
    if not isinstance(disks, list) or not disks:
        raise errors.validation("disks is required", [("disks", "required")])
    for server in store.servers.values():
        if (server.hardware_id or "").lower() == machine_id.lower():
            return server.source_server_id
    sid = new_id("s-")
    store.servers[sid] = SourceServer(
        source_server_id=sid,
        region=store.region,
        hostname=str(machine.get("hostname") or machine_id.rsplit("/", 1)[-1]),
        disks_gib=[max(1, int(d.get("bytes", 0)) // GIB) for d in disks],
        hardware_id=machine_id,
        tags={},
        added=now,
        replication_state="INITIATING",
        lag_seconds=0,
        continuous_lag=3,
        state_since=now,
        next_snapshot_at=now + timedelta(seconds=snapshot_interval),
        replication_started=now,
    )
    store.launch_configurations[sid] = {
        "name": store.servers[sid].hostname,
        "ec2LaunchTemplateID": new_id("lt-"),
        **DEFAULT_LAUNCH_CONFIGURATION,
    }
    return sid
