"""What a task answers when the workflow calls it again until it is done (statemachines/tasks.py: the poll
loops, the wave loop, the DRS job queue): PENDING, or DONE. The state machines test for DONE only.

One struct per task, each with the fields that task reports; a field left None is not in the result.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Status = Literal["PENDING", "DONE"]


class TaskProgress(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    status: Status


def done_or_pending(done: bool) -> Status:
    return "DONE" if done else "PENDING"


class WaveStart(TaskProgress, frozen=True):
    """launch_wave: DONE once every job of the wave has started (PENDING: queued for DRS job quota)."""

    wave: int
    job_ids: list[str]
    queued_servers: int
    requested_at: str


class WaveLaunch(TaskProgress, frozen=True):
    """check_wave: DONE once every server of the wave launched (or an optional one failed)."""

    launched: int
    failed: int
    pending: int
    settled: int


class Validation(TaskProgress, frozen=True):
    """validate_instances: DONE once every launched instance passes its status checks."""

    first_checked_at: str
    waiting: int | None = None
    healthy: int | None = None


class Cleanup(TaskProgress, frozen=True):
    """cleanup_drill.check_handler (drill_cleanup.check): DONE once no drill instance is left."""

    remaining: int


class FailbackState(TaskProgress, frozen=True):
    """failback.check_handler: DONE once every recovery instance is in the failback state asked for."""

    waiting: int | None = None
    instances: int | None = None


class Converging(TaskProgress, frozen=True):
    """failback.boot_clients_handler and failback.restore_handler: DONE once every VM reached its end state;
    `steps` names the next step of VMs still on the way (at most 20)."""

    steps: dict[str, str]


class Replication(TaskProgress, frozen=True):
    """restore_replication.check_handler: DONE once replication is CONTINUOUS and the recovery instances
    are terminated."""

    not_continuous: list[str] | None = None
    recovery_instances_left: int | None = None
    plan_changes: int | None = None
