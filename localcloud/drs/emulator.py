"""DrsEmulator: a stateful AWS Elastic Disaster Recovery on loopback, for the unchanged boto3 client.

    emu = DrsEmulator(ec2_endpoint_url="http://127.0.0.1:5000", timing=DrsTiming(boot=0.5))
    emu.start()
    sid = emu.seed_source_server(hostname="web-1", disks_gib=[64])
    boto3.client("drs", endpoint_url=emu.url).start_recovery(sourceServers=[{"sourceServerID": sid}])

One lock guards all state. A ticker thread advances time every 50 ms, makes EC2 calls and failback
probes without the lock, and delivers events to the sink after releasing it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lambdas.quotas import DEFAULT_QUOTAS, DrsQuotas
from localcloud.drs import agents, errors, protocol
from localcloud.drs.api import DrsApi
from localcloud.drs.ec2 import Ec2, Launched
from localcloud.drs.engine import Engine, Work
from localcloud.drs.faults import Faults
from localcloud.drs.formats import new_id, utcnow
from localcloud.drs.machines import Authorizer, Machines
from localcloud.drs.pairing import pair
from localcloud.drs.records import DEFAULT_LAUNCH_CONFIGURATION, SourceServer
from localcloud.drs.server import DrsHttpServer
from localcloud.drs.shapes import service_model
from localcloud.drs.store import Store
from localcloud.drs.timing import DrsTiming

log = logging.getLogger(__name__)
TICK_SECONDS = 0.05
EventSink = Callable[[dict[str, Any]], None]


class DrsEmulator:
    def __init__(
        self,
        ec2_endpoint_url: str | None = None,
        region: str = "us-east-1",
        timing: DrsTiming | None = None,
        event_sink: EventSink | None = None,
        machines: Machines | None = None,
        authorizer: Authorizer | None = None,
        quotas: DrsQuotas | None = None,
    ) -> None:
        """`ec2_endpoint_url=None` uses boto3's default endpoint (moto's in-process `mock_aws`); `quotas`
        are the account's DRS job quotas (default: DRS's, see lambdas/quotas.py)."""
        self.region = region
        self.timing = timing or DrsTiming()
        self._event_sink = event_sink
        self._machines = machines
        self._authorizer = authorizer
        self._lock = threading.RLock()
        self._store = Store(region, quotas=quotas or DEFAULT_QUOTAS)
        self._faults = Faults()
        self._engine = Engine(self._store, self._faults, self.timing)
        self._api = DrsApi(self._store, self._engine)
        self._ec2 = Ec2(ec2_endpoint_url, region)
        self._request_log: list[tuple[str, int]] = []
        self._server: DrsHttpServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> DrsEmulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = DrsHttpServer(
            _Backend(self._lock, self._faults, self._api, self._request_log, self._pair, self._register_agent)
        )
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="drs-http", daemon=True),
            threading.Thread(target=self._run_ticker, name="drs-ticker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> DrsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("DrsEmulator is not started")
        return self._server.url

    # -- seeding and inspection --------------------------------------------------------------------

    def seed_source_server(
        self,
        hostname: str,
        disks_gib: list[int] | None = None,
        azure_vm_id: str | None = None,
        replication_state: str = "CONTINUOUS",
        lag_seconds: float = 3,
        tags: dict[str, str] | None = None,
        source_server_id: str | None = None,
    ) -> str:
        """Add a replicating source server with six PIT snapshots from the past hour; returns its id."""
        sid = source_server_id or new_id("s-")
        if not re.fullmatch(r"s-[0-9a-zA-Z]{17}", sid):
            raise ValueError(f"source_server_id {sid!r} does not match s-[0-9a-zA-Z]{{17}}")
        _check_replication_state(replication_state)
        now = utcnow()
        with self._lock:
            if sid in self._store.servers:
                raise ValueError(f"source server {sid} already exists")
            server = SourceServer(
                source_server_id=sid,
                region=self.region,
                hostname=hostname,
                disks_gib=list(disks_gib or [64]),
                hardware_id=azure_vm_id,
                tags=dict(tags or {}),
                added=now - timedelta(days=1),
                replication_state=replication_state,
                lag_seconds=lag_seconds,
                continuous_lag=lag_seconds,
                state_since=now,
                next_snapshot_at=now + timedelta(seconds=self.timing.snapshot_interval),
            )
            if replication_state != "STOPPED":
                self._store.seed_history(server, now)
            self._store.servers[sid] = server
            self._store.launch_configurations[sid] = {
                "name": hostname,
                "ec2LaunchTemplateID": new_id("lt-"),
                **DEFAULT_LAUNCH_CONFIGURATION,
            }
        return sid

    def source_server(self, source_server_id: str) -> dict[str, Any]:
        """The server as DescribeSourceServers shows it."""
        with self._lock:
            return self._store.servers[source_server_id].to_api(utcnow())

    @property
    def request_log(self) -> list[tuple[str, int]]:
        """(operation, HTTP status) of every request served, oldest first."""
        with self._lock:
            return list(self._request_log)

    @property
    def peaks(self) -> dict[str, int]:
        """The most jobs and source servers that were ever in jobs not COMPLETED at the same time."""
        with self._lock:
            return {"jobs": self._store.peak_active_jobs, "servers": self._store.peak_active_servers}

    # -- faults ------------------------------------------------------------------------------------

    def throttle_next(self, count: int, retry_after_seconds: int = 1, operation: str | None = None) -> None:
        """The next `count` matching requests get 429 ThrottlingException with Retry-After."""
        with self._lock:
            self._faults.throttle_next(count, retry_after_seconds, operation)

    def fail_next(self, count: int, operation: str | None = None) -> None:
        """The next `count` matching requests get 500 InternalServerException."""
        with self._lock:
            self._faults.fail_next(count, operation)

    def fail_launch(self, source_server_id: str) -> None:
        """Launches of this server fail (launchStatus FAILED) until clear_faults()."""
        with self._lock:
            self._faults.failing_launches.add(source_server_id)

    def hang_jobs(self, enabled: bool = True) -> None:
        """While enabled, started jobs never progress or complete."""
        with self._lock:
            self._faults.hang_jobs = enabled

    def set_replication(self, source_server_id: str, state: str, lag_seconds: float | None = None) -> None:
        """Force a replication state (e.g. STALLED, DISCONNECTED); lag grows while replication is stuck."""
        _check_replication_state(state)
        with self._lock:
            self._engine.set_replication(self._store.servers[source_server_id], state, utcnow(), lag_seconds)

    def fail_failback(self, recovery_instance_id: str) -> None:
        """DRS reports FAILBACK_ERROR for this recovery instance (the client lost its replication)."""
        with self._lock:
            instance = self._store.instances[recovery_instance_id]
            self._engine.set_failback(instance, "FAILBACK_ERROR", utcnow())

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- failback clients ---------------------------------------------------------------------------

    def _pair(self, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        """A failback client's pairing request (see pairing.py); runs under the lock."""
        now = utcnow()
        client_id = pair(self._store, self._authorizer, headers, raw, now)
        instance = next(i for i in self._store.instances.values() if i.failback.client_id == client_id)
        self._engine.paired(instance, now)
        return {"failbackClientID": client_id}

    def _register_agent(self, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        """An agent installer's registration (see agents.py); runs under the lock."""
        sid = agents.register(
            self._store, self._authorizer, headers, raw, utcnow(), self.timing.snapshot_interval
        )
        return {"sourceServerID": sid}

    # -- the ticker --------------------------------------------------------------------------------

    def _run_ticker(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            try:
                self._tick()
            except Exception:
                log.exception("DRS emulator tick failed")

    def _tick(self) -> None:
        with self._lock:
            work = self._engine.advance(utcnow())
        launched, terminated, probed, agents = self._do_io(work)
        with self._lock:
            now = utcnow()
            for request, result in launched:
                self._engine.launched(request, result, now)
            for termination, error in terminated:
                self._engine.terminated(termination, error, now)
            self._engine.probed(probed, now)
            self._engine.agents_probed(agents, now)
            outbox, self._store.outbox = self._store.outbox, []
        for event in outbox:
            self._deliver(event)

    def _do_io(self, work: Work) -> tuple[list[Any], list[Any], dict[str, bool], dict[str, bool | None]]:
        """EC2 calls and what the machines outside AWS do, made without the lock."""
        launched: list[tuple[Any, Launched | Exception]] = []
        for request in work.launches:
            try:
                launched.append((request, self._ec2.launch(request.disks_gib, request.tags)))
            except Exception as exc:
                launched.append((request, exc))
        terminated: list[tuple[Any, Exception | None]] = []
        for termination in work.terminations:
            try:
                self._ec2.terminate(termination.ec2_instance_id)
                terminated.append((termination, None))
            except Exception as exc:
                terminated.append((termination, exc))
        machines = self._machines
        if machines is None:
            return launched, terminated, {}, {}
        for restore in work.restores:
            self._quietly(machines.restore_volumes, restore.machine, restore.writes)
            self._quietly(machines.reboot, restore.machine)
        probed = {
            rid: bool(self._quietly(machines.failback_client_running, machine))
            for rid, machine in work.probes.items()
        }
        agents = {
            sid: self._quietly(machines.agent_running, machine) for sid, machine in work.agent_probes.items()
        }
        return launched, terminated, probed, agents

    @staticmethod
    def _quietly(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            log.exception("machine call %s failed", getattr(fn, "__name__", fn))
            return None

    def _deliver(self, event: dict[str, Any]) -> None:
        if self._event_sink is None:
            return
        try:
            self._event_sink(event)
        except Exception:
            log.exception("DRS event sink failed on %s", event.get("detail-type"))


@dataclass
class _Backend(protocol.Backend):
    """What the protocol layer needs: injected faults, the operations, the request log."""

    lock: threading.RLock
    faults: Faults
    api: DrsApi
    request_log: list[tuple[str, int]]
    pair: Callable[[dict[str, str], bytes], dict[str, Any]]
    register_agent: Callable[[dict[str, str], bytes], dict[str, Any]]

    def private(self, operation: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        """The failback client's and the agent installer's own operations (not in the public API model)."""
        handlers = {
            "AssociateFailbackClientToRecoveryInstanceForDrs": self.pair,
            agents.OPERATION: self.register_agent,
        }
        handler = handlers.get(operation)
        if handler is None:
            raise errors.ApiError("UnknownOperationException", f"Unknown operation {operation}")
        with self.lock:
            return handler(headers, raw)

    def injected_error(self, operation: str) -> errors.ApiError | None:
        with self.lock:
            return self.faults.request_error(operation)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        handler = self.api.handlers.get(operation)
        if handler is None:
            raise errors.ApiError("UnknownOperationException", f"{operation} is not emulated")
        with self.lock:
            return handler(params, utcnow())

    def record(self, operation: str, status: int) -> None:
        with self.lock:
            self.request_log.append((operation, status))


def _check_replication_state(state: str) -> None:
    allowed = service_model().shape_for("DataReplicationState").metadata["enum"]
    if state not in allowed:
        raise ValueError(f"replication state {state!r} is not one of {', '.join(allowed)}")
