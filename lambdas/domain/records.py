"""What the state table holds, typed: a plan's state and one record per run.

Attribute names are those stored (camelCase), so typed records read and write the same items as before.
A field that is absent stays UNSET (and is written back absent), which keeps "never set" apart from a
stored null. Attributes a record does not name are kept in `extra` and come back in `to_document()`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import msgspec
from msgspec import UNSET, UnsetType


class _Record(msgspec.Struct, kw_only=True, rename="camel"):
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    _stored: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        known = cls._stored_names()
        record = msgspec.convert({k: v for k, v in document.items() if k in known}, cls)
        record.extra = {k: v for k, v in document.items() if k not in known}
        return record

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = msgspec.to_builtins(self)
        document.pop("extra", None)
        return {**self.extra, **document}

    @classmethod
    def _stored_names(cls) -> frozenset[str]:
        if not cls._stored:
            info = msgspec.structs.fields(cls)
            cls._stored = frozenset(f.encode_name for f in info if f.name != "extra")
        return cls._stored


class PlanState(_Record, kw_only=True):
    """PLAN#<plan> / STATE: lifecycle, lock, and what `drctl status` shows."""

    lifecycle: str | UnsetType = UNSET  # UNSET: never run, i.e. NORMAL
    incomplete: bool | UnsetType = UNSET
    active_execution: str | UnsetType = UNSET
    active_workflow: str | UnsetType = UNSET
    locked_at: str | UnsetType = UNSET
    last_execution: str | UnsetType = UNSET
    updated_at: str | UnsetType = UNSET
    pending_approval: dict[str, Any] | UnsetType = UNSET
    last_drill: dict[str, Any] | UnsetType = UNSET
    last_refusal: dict[str, Any] | UnsetType = UNSET
    last_automatic_failover: str | UnsetType = UNSET
    last_drill_sweep: dict[str, Any] | UnsetType = UNSET
    replication: dict[str, Any] | UnsetType = UNSET


class ServerRecord(_Record, kw_only=True):
    """servers.<source server id> of a run record: one server's launch and health timeline."""

    name: str | UnsetType = UNSET
    wave: int | UnsetType = UNSET
    launch_requested_at: str | UnsetType = UNSET
    recovery_instance_id: str | UnsetType | None = UNSET
    ec2_instance_id: str | UnsetType | None = UNSET
    snapshot_at: str | UnsetType | None = UNSET
    launched_at: str | UnsetType = UNSET
    launch_failed: bool | UnsetType = UNSET
    launch_failed_at: str | UnsetType = UNSET
    healthy_at: str | UnsetType = UNSET


class RunRecord(_Record, kw_only=True):
    """PLAN#<plan> / RUN#<startedAt>#<runId>: one execution's timeline, opened by begin_run."""

    sk: str
    run_id: str
    plan: str
    workflow: str
    execution_arn: str
    status: str
    started_at: str
    trigger: dict[str, Any] | UnsetType = UNSET
    snapshot: str | UnsetType = UNSET
    took_over_from: str | UnsetType | None = UNSET
    servers: dict[str, ServerRecord] | UnsetType = UNSET
    waves: dict[str, dict[str, Any]] | UnsetType = UNSET
    errors: list[Any] | UnsetType = UNSET
    preflight: dict[str, Any] | UnsetType = UNSET
    approval: dict[str, Any] | UnsetType = UNSET
    confirmation: dict[str, Any] | UnsetType = UNSET
    fencing: dict[str, dict[str, Any]] | UnsetType = UNSET
    traffic: dict[str, Any] | UnsetType = UNSET
    cleanup: dict[str, Any] | UnsetType = UNSET
    failback: dict[str, Any] | UnsetType = UNSET
    restore: dict[str, Any] | UnsetType = UNSET
    ended_at: str | UnsetType = UNSET
    lifecycle_after: str | UnsetType = UNSET
    measurements: dict[str, Any] | UnsetType = UNSET
    failure: dict[str, Any] | UnsetType = UNSET
    report: dict[str, Any] | UnsetType = UNSET
    taken_over_by: str | UnsetType = UNSET
    execution: dict[str, Any] | UnsetType = UNSET  # what the sweep saw of an execution it closed
    closed_by: str | UnsetType = UNSET

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        # Each server's own unknown attributes are kept too: servers are converted one by one.
        servers = document.get("servers")
        record = super().from_document({k: v for k, v in document.items() if k != "servers"})
        if isinstance(servers, dict):
            record.servers = {sid: ServerRecord.from_document(s) for sid, s in servers.items()}
        elif "servers" in document:
            record.extra["servers"] = servers
        return record

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        if self.servers is not UNSET:
            document["servers"] = {sid: s.to_document() for sid, s in self.servers.items()}
        return document

    def failback_servers(self) -> dict[str, Any]:
        """failback.servers: the VMs a failback run prepared, by source server id."""
        servers: dict[str, Any] = (self.failback or {}).get("servers") or {}
        return servers

    def restore_section(self) -> dict[str, Any]:
        return self.restore or {}


class Waiter(_Record, kw_only=True):
    """WAIT#<resource id> / <executionArn>: a task token parked until a DRS event names the resource."""

    execution_arn: str
    task_token: str
    kind: str | UnsetType = UNSET
    since: str | UnsetType = UNSET
    ttl: int | UnsetType = UNSET
