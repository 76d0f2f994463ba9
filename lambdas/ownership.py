"""Which DRS source servers this stack may act on: those its operator tagged for it.

The roles that change source servers (launch, launch configuration, restart replication) are granted on
source servers carrying the tag `dr-orchestrator:stack` = <stack name>, with an `aws:ResourceTag` condition,
which DRS supports on its source-server resource type (Service Authorization Reference, "Actions, resources,
and condition keys for AWS Elastic Disaster Recovery": SourceServerResource, condition key
aws:ResourceTag/${TagKey}). Unlike a list of server ARNs, the grant has the same size for 1 or 300 servers.
No role of the stack may tag an existing source server (drs:TagResource is granted only with
drs:CreateAction = StartRecovery, to tag the jobs it starts), so the stack cannot widen its own reach.
"""

from __future__ import annotations

import os

OWNER_TAG_KEY = "dr-orchestrator:stack"
STACK_NAME_ENV = "DR_STACK_NAME"


def stack_name() -> str | None:
    """The stack this function belongs to (set on the functions that check ownership)."""
    return os.environ.get(STACK_NAME_ENV) or None


def untagged(servers: list[dict[str, object]], owner: str) -> list[str]:
    """Source server ids (of DescribeSourceServers items) not tagged for this stack."""
    missing = []
    for server in servers:
        tags = server.get("tags") or {}
        if not isinstance(tags, dict) or tags.get(OWNER_TAG_KEY) != owner:
            missing.append(str(server.get("sourceServerID")))
    return missing
