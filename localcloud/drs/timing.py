"""How long the emulated DRS takes for each step, in real seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DrsTiming:
    job_pending: float = 1.0  # a job waits PENDING before it is STARTED
    snapshot: float = 2.0  # on-demand snapshot when no recoverySnapshotID is given
    conversion: float = 5.0
    boot: float = 5.0  # LAUNCH_START until launchStatus LAUNCHED
    terminate: float = 2.0
    failback_sync: float = 5.0  # FAILBACK_IN_PROGRESS until FAILBACK_READY_FOR_LAUNCH
    failback_launch: float = 5.0
    replication_resync: float = 5.0  # StartReplication until CONTINUOUS
    snapshot_interval: float = 10.0  # PIT snapshots while CONTINUOUS
