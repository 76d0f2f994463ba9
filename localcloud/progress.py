"""Follow a running execution through its run record and print what happens, wave by wave and server by
server, as an on-call engineer would want to see it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lambdas.adapters import state_store

SERVER_EVENTS = [
    ("launchRequestedAt", "launch requested"),
    ("launchedAt", "launched"),
    ("launchFailed", "LAUNCH FAILED"),
    ("healthyAt", "healthy (status checks passed)"),
]


def find_run(plan: str, execution_arn: str) -> dict[str, Any] | None:
    for run in state_store.query_runs(plan, limit=50):
        if run.get("executionArn") == execution_arn:
            return run
    return None


class ProgressPrinter:
    def __init__(self, plan: str, workflow: str, emit: Callable[[str], None] = print) -> None:
        self.plan = plan
        self.workflow = workflow
        self.emit = emit
        self.seen: set[str] = set()
        self.started = time.monotonic()

    def _say(self, key: str, text: str) -> None:
        if key not in self.seen:
            self.seen.add(key)
            self.emit(f"  [{time.monotonic() - self.started:6.1f}s] {self.workflow:<16} {text}")

    def update(self, run: dict[str, Any]) -> None:
        preflight = run.get("preflight") or {}
        if preflight:
            problems = preflight.get("problems") or []
            self._say(
                "preflight", "preflight " + ("FAILED: " + "; ".join(problems) if problems else "passed")
            )
        if run.get("approval"):
            self._say("approval", "waiting for operator approval")
        for sid, entry in sorted((run.get("fencing") or {}).items()):
            state = "fenced (deallocated)" if entry.get("fenced") else f"NOT fenced: {entry.get('reason')}"
            self._say(f"fence/{sid}", f"azure source {entry.get('name', sid)}: {state}")
        for wave_key, wave in sorted((run.get("waves") or {}).items()):
            self._say(
                f"wave/{wave_key}",
                f"wave {wave.get('name')}: {len(wave.get('jobIds', []))} DRS job(s) started",
            )
        for sid, server in sorted(
            (run.get("servers") or {}).items(), key=lambda kv: (kv[1].get("wave", 0), kv[0])
        ):
            for field, label in SERVER_EVENTS:
                if server.get(field):
                    extra = (
                        f" ({server['recoveryInstanceId']})"
                        if field == "launchedAt" and server.get("recoveryInstanceId")
                        else ""
                    )
                    self._say(f"{sid}/{field}", f"  {server.get('name', sid)}: {label}{extra}")
        if run.get("traffic"):
            traffic = run["traffic"]
            self._say(
                f"traffic/{traffic.get('to')}",
                f"DNS {traffic.get('record')} -> {traffic.get('value')} ({traffic.get('to')})",
            )
        cleanup = run.get("cleanup") or {}
        if cleanup.get("requestedAt"):
            self._say(
                "cleanup", f"terminating {len(cleanup.get('recoveryInstanceIds', []))} drill instance(s)"
            )
        if cleanup.get("completedAt"):
            self._say("cleanup-done", "drill instances terminated")
        failback = run.get("failback") or {}
        if failback.get("servers"):
            self._say("fb-create", f"created {len(failback['servers'])} failback-client VM(s) in Azure")
        if failback.get("ready_for_launchAt"):
            self._say("fb-ready", "failback replication READY_FOR_LAUNCH")
        if failback.get("launchJobId"):
            self._say("fb-launch", "failback launch started")
        if failback.get("completedAt"):
            self._say("fb-done", "failback COMPLETED")
        if failback.get("azureStartedAt"):
            self._say("fb-started", "Azure VMs started")
        restore = run.get("restore") or {}
        if restore.get("at"):
            self._say(
                "restore",
                f"replication restarted for {len(restore.get('replicationRestarted', []))} server(s), "
                f"terminating {len(restore.get('terminated', []))} recovery instance(s)",
            )
        if restore.get("completedAt"):
            self._say("restore-done", "replication CONTINUOUS again")
        if run.get("status") in ("SUCCEEDED", "FAILED"):
            failure = run.get("failure") or {}
            detail = f": {failure.get('error')}: {failure.get('message')}" if failure else ""
            self._say("status", f"run {run['status']}{detail}")
