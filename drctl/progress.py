"""Follow a running execution through its run record and print what happens, wave by wave and server by
server, as an on-call engineer would want to see it (drctl watch, start --wait, and the local demo)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SERVER_EVENTS = [
    ("launchRequestedAt", "launch requested"),
    ("launchedAt", "launched"),
    ("launchFailed", "LAUNCH FAILED"),
    ("healthyAt", "healthy (status checks passed)"),
]

# A wave with more servers than this shows progress bars instead of a line per server and step.
PER_SERVER_LINES_UP_TO = 20


def progress_bar(done: int, total: int, width: int = 20) -> str:
    filled = done * width // total if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"


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
        waves: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        for sid, server in sorted((run.get("servers") or {}).items()):
            waves.setdefault(int(server.get("wave", 0)), []).append((sid, server))
        for wave, members in sorted(waves.items()):
            self._wave_progress(wave, members)
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
        servers = failback.get("servers") or {}
        if servers:
            self._say("fb-layout", f"{len(servers)} Azure VM(s) checked, disk layouts recorded")
        booted = [s for s in servers.values() if s.get("clientStartedAt")]
        if servers and len(booted) == len(servers):
            self._say("fb-boot", "failback client booted on every VM (own disks attached as targets)")
        paired = [s for s in servers.values() if s.get("userDataClearedAt")]
        if servers and len(paired) == len(servers):
            self._say("fb-paired", "every client paired; failback credentials cleared from userData")
        for sid, entry in sorted(servers.items()):
            if entry.get("vmCreatedAt"):
                self._say(f"fb-new/{sid}", f"{entry.get('name', sid)}: new VM {entry['vmId']} created")
        if failback.get("ready_for_launchAt"):
            self._say("fb-ready", "failback replication READY_FOR_LAUNCH")
        if failback.get("launchJobId"):
            self._say("fb-launch", "failback launch started")
        if failback.get("completedAt"):
            self._say("fb-done", "failback COMPLETED")
        if failback.get("restoredAt"):
            self._say("fb-restored", "original OS disks back, client disks deleted, Azure VMs running")
        restore = run.get("restore") or {}
        if restore.get("at"):
            started = len(restore.get("replicationStarted", []))
            self._say("restore", f"waiting for replication to return by itself (started {started} STOPPED)")
        for sid, entry in sorted((restore.get("newSourceServers") or {}).items()):
            name = entry.get("server", sid)
            if entry.get("installedAt"):
                self._say(f"agent/{sid}", f"{name}: AWS Replication Agent installed on {entry.get('vmId')}")
            change = entry.get("planChange") or {}
            if change.get("text"):
                self._say(f"agent-new/{sid}", f"{name}: new source server {entry.get('sourceServerId')}")
                self._say(f"plan-change/{sid}", f"PLAN CHANGE TO MAKE: {change['text']}")
        if restore.get("continuousAt"):
            terminated = len(restore.get("terminated", []))
            self._say("restore-ok", f"replication CONTINUOUS; terminating {terminated} recovery instance(s)")
        if restore.get("completedAt"):
            self._say("restore-done", "recovery instances terminated: back to normal")
        if run.get("status") in ("SUCCEEDED", "FAILED"):
            failure = run.get("failure") or {}
            detail = f": {failure.get('error')}: {failure.get('message')}" if failure else ""
            self._say("status", f"run {run['status']}{detail}")

    def _wave_progress(self, wave: int, members: list[tuple[str, dict[str, Any]]]) -> None:
        quiet = len(members) > PER_SERVER_LINES_UP_TO
        for sid, server in members:
            for field, label in SERVER_EVENTS:
                if server.get(field) and (not quiet or field == "launchFailed"):
                    extra = (
                        f" ({server['recoveryInstanceId']})"
                        if field == "launchedAt" and server.get("recoveryInstanceId")
                        else ""
                    )
                    self._say(f"{sid}/{field}", f"  {server.get('name', sid)}: {label}{extra}")
        if not quiet:
            return
        total = len(members)
        for field, label in (("launchedAt", "launched"), ("healthyAt", "healthy")):
            done = sum(1 for _, server in members if server.get(field))
            if done:
                # One line per tenth of the wave, and one at the end.
                self._say(
                    f"wave{wave}/{field}/{done * 10 // total}",
                    f"  wave {wave + 1}: {progress_bar(done, total)} {done}/{total} {label}",
                )
