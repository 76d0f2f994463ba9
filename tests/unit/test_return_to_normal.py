"""Return to normal as a domain service: fake DRS, Run Command and STS ports and the in-memory state store,
no emulator."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.domain import return_to_normal
from lambdas.domain.measure import iso
from lambdas.domain.records import RunRecord
from lambdas.domain.return_to_normal_ports import ReturnToNormalPorts, ReturnToNormalRun
from lambdas.errors import DrsRefused, ReplicationNotRestored
from lambdas.plan import Plan, parse_plan
from tests.fakes.state_store import InMemoryStateStore

STARTED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
AT = iso(STARTED)  # what the run record holds of a moment
NEW_SERVER = "shop-app-1"  # the sample plan's server that fails back to a new VM in these tests
NEW_VM_ID = (
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/shop-app-1-failback"
)
CREDENTIALS = {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "secret-key", "SessionToken": "session-token"}


class FakeDrs:
    """Source servers by id with their replication state, failover recovery instances, jobs. `refuse` maps
    an operation to the DRS error code it answers with."""

    def __init__(self, plan: Plan, state: str = "CONTINUOUS") -> None:
        self.states = {s.source_server_id: state for s in plan.servers()}
        self.added: dict[str, tuple[str, str]] = {}  # source servers new agents registered: hostname, added
        self.instances: list[dict[str, Any]] = [
            {"sourceServerID": s.source_server_id, "recoveryInstanceID": f"ri-{s.name}"}
            for s in plan.servers()
        ]
        self.jobs: list[dict[str, Any]] = []
        self.terminations = 0
        self.refuse: dict[str, str] = {}
        self.calls: list[tuple[str, Any]] = []

    def _call(self, operation: str, arg: Any) -> None:
        self.calls.append((operation, arg))
        if operation in self.refuse:
            raise DrsRefused(operation, self.refuse[operation], "refused")

    def recovery_instances(self, source_server_ids: list[str], *, drill: bool) -> list[dict[str, Any]]:
        assert not drill
        return [copy.deepcopy(ri) for ri in self.instances if ri["sourceServerID"] in source_server_ids]

    def stop_failback(self, recovery_instance_id: str) -> None:
        self._call("stop_failback", recovery_instance_id)

    def source_servers(self, source_server_ids: list[str]) -> list[dict[str, Any]]:
        return [
            {"sourceServerID": sid, "dataReplicationInfo": {"dataReplicationState": state}}
            for sid, state in self.states.items()
            if sid in source_server_ids
        ]

    def all_source_servers(self) -> list[dict[str, Any]]:
        return [
            {
                "sourceServerID": sid,
                "sourceProperties": {"identificationHints": {"hostname": hostname}},
                "lifeCycle": {"addedToServiceDateTime": added},
            }
            for sid, (hostname, added) in self.added.items()
        ]

    def start_replication(self, source_server_id: str) -> dict[str, Any]:
        self._call("start_replication", source_server_id)
        return {"sourceServerID": source_server_id}

    def active_jobs(self) -> list[dict[str, Any]]:
        return self.jobs

    def terminate_recovery_instances(self, recovery_instance_ids: list[str]) -> list[str]:
        self._call("terminate_recovery_instances", recovery_instance_ids)
        self.terminations += 1
        by_id = {ri["recoveryInstanceID"]: ri["sourceServerID"] for ri in self.instances}
        servers = [{"sourceServerID": by_id[i]} for i in recovery_instance_ids]
        self.jobs.append({"jobID": f"job-{self.terminations}", "participatingServers": servers})
        return [f"job-{self.terminations}"]

    def endpoint_url(self) -> str:
        return "https://drs.eu-west-1.amazonaws.com"


class FakePoller:
    def __init__(self, result: Any) -> None:
        self._result = result

    def result(self, timeout: float | None = None) -> Any:
        assert timeout == return_to_normal.RUN_COMMAND_WAIT_SECONDS
        return self._result


class FakeRunCommand:
    """Every script ends with `result` (None: still running); the guest reports hostname `Guest-App`."""

    def __init__(self, result: dict[str, Any] | None) -> None:
        self.result = result
        self.scripts: list[tuple[str, list[str]]] = []

    def computer_name(self, vm_id: str) -> str | None:
        return "Guest-App"

    def run_shell_script(self, vm_id: str, script: list[str]) -> FakePoller:
        self.scripts.append((vm_id, script))
        return FakePoller(self.result)

    def rest(self, model: Any) -> dict[str, Any]:
        return dict(model)


class FakeSts:
    def __init__(self) -> None:
        self.sessions: list[tuple[str, str, int]] = []

    def role_credentials(self, role_arn: str, session_name: str, seconds: int) -> dict[str, str]:
        self.sessions.append((role_arn, session_name, seconds))
        return dict(CREDENTIALS)


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, msg: str, *, extra: dict[str, Any]) -> None:
        self.lines.append((msg, extra))


class Clock:
    def __init__(self) -> None:
        self.now = STARTED

    def __call__(self) -> datetime:
        return self.now


def make_ports(
    drs: FakeDrs,
    store: InMemoryStateStore,
    vms: FakeRunCommand | None = None,
    *,
    clock: Clock | None = None,
    sts: FakeSts | None = None,
    log: Log | None = None,
) -> ReturnToNormalPorts:
    env = {"AWS_REGION": "eu-west-1", "AGENT_INSTALLATION_ROLE_ARN": "arn:agent", "DR_STACK_NAME": "DrStack"}
    return ReturnToNormalPorts(
        drs=drs,
        vms=vms or FakeRunCommand(None),
        sts=sts or FakeSts(),
        store=store,
        log=log or Log(),
        env=env,
        clock=clock or Clock(),
    )


def new_vm_plan(document: dict[str, Any]) -> Plan:
    document = copy.deepcopy(document)
    network = "providers/Microsoft.Network/virtualNetworks/vnet/subnets/app"
    subnet = f"/subscriptions/{document['azure']['subscription_id']}/resourceGroups/rg/{network}"
    for wave in document["waves"]:
        for server in wave["servers"]:
            if server["name"] == NEW_SERVER:
                new_vm = {"location": "westeurope", "vm_size": "Standard_D2s_v5", "subnet_id": subnet}
                server["failback"] = {"target": "new", "new_vm": new_vm}
    return parse_plan(document)


def opened(plan: Plan, *, new_vm: bool = False) -> InMemoryStateStore:
    """A store holding the run record begin_run opened, and (new_vm) the VM failback made for NEW_SERVER."""
    store = InMemoryStateStore()
    store.open_run(
        RunRecord(
            sk="RUN#1",
            run_id="run-1",
            plan=plan.name,
            workflow="return_to_normal",
            execution_arn="arn:execution",
            status="RUNNING",
            started_at=iso(STARTED),
        )
    )
    if new_vm:
        failback_made = {"vmId": NEW_VM_ID, "name": f"{NEW_SERVER}-failback"}
        store.record_new_vm_once(plan.name, NEW_SERVER, failback_made, "failback-run")
    return store


def restore_section(store: InMemoryStateStore, plan: Plan) -> dict[str, Any]:
    return store.run_record(plan.name, "RUN#1").restore_section()


def run(plan: Plan) -> ReturnToNormalRun:
    return ReturnToNormalRun(plan, "run-1", "RUN#1", STARTED)


def test_restore_stops_leftover_pairings_and_starts_only_stopped_servers_of_original_vms(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = new_vm_plan(sample_plan_document)
    store, drs = opened(plan, new_vm=True), FakeDrs(plan, state="STOPPED")
    db, new = plan.servers()[:2]
    assert new.name == NEW_SERVER
    drs.instances[0]["failback"] = {"state": "FAILBACK_READY_FOR_LAUNCH"}
    drs.instances[1]["failback"] = {"state": "FAILBACK_COMPLETED"}  # nothing left to stop
    drs.states[plan.servers()[3].source_server_id] = "CONTINUOUS"
    drs.refuse["stop_failback"] = "ResourceNotFoundException"  # gone meanwhile: tolerated

    answer = return_to_normal.restore(run(plan), make_ports(drs, store))

    originals_stopped = [s.source_server_id for s in plan.servers()[:3] if s.name != NEW_SERVER]
    assert answer == {"replication_started": 2, "new_vms": 1}
    assert drs.calls == [
        ("stop_failback", f"ri-{db.name}"),
        *[("start_replication", sid) for sid in originals_stopped],
    ]
    section = restore_section(store, plan)
    assert section["replicationStarted"] == originals_stopped
    assert section["states"] == drs.states and section["newSourceServers"] == {}
    assert section["at"] == AT


def test_restore_raises_a_refusal_it_does_not_expect_and_refuses_a_new_vm_failback_never_made(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = new_vm_plan(sample_plan_document)
    drs = FakeDrs(plan, state="STOPPED")
    drs.refuse["start_replication"] = "AccessDeniedException"
    with pytest.raises(DrsRefused, match="AccessDeniedException"):
        return_to_normal.restore(run(plan), make_ports(drs, opened(plan, new_vm=True)))
    drs.refuse["start_replication"] = "ConflictException"  # already started meanwhile: tolerated
    assert (
        return_to_normal.restore(run(plan), make_ports(drs, opened(plan, new_vm=True)))["replication_started"]
        == 3
    )

    store = opened(plan)  # no new VM recorded for the server with target "new"
    with pytest.raises(
        ReplicationNotRestored, match=f"^{NEW_SERVER}: failback target is 'new' but no new VM"
    ):
        return_to_normal.restore(run(plan), make_ports(FakeDrs(plan), store))
    assert restore_section(store, plan) == {}


def test_install_agents_runs_the_installer_once_and_records_the_outcome_without_credentials(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = new_vm_plan(sample_plan_document)
    store, drs = opened(plan, new_vm=True), FakeDrs(plan)
    vms = FakeRunCommand(
        {"value": [{"code": "ProvisioningState/succeeded", "message": "ok secret-key done"}]}
    )
    sts, log = FakeSts(), Log()
    ports = make_ports(drs, store, vms, sts=sts, log=log)
    return_to_normal.restore(run(plan), ports)

    assert return_to_normal.install_agents(run(plan), ports) == {"installed": 1, "new_vms": 1}

    assert sts.sessions == [("arn:agent", "agent-run-1", 900)]
    [(vm_id, script)] = vms.scripts
    assert vm_id == NEW_VM_ID
    assert script == return_to_normal.installer_script("eu-west-1", CREDENTIALS, drs.endpoint_url())
    sid = plan.servers()[1].source_server_id
    entry = restore_section(store, plan)["newSourceServers"][sid]
    assert entry == {
        "server": NEW_SERVER,
        "vmId": NEW_VM_ID,
        "hostname": "Guest-App",
        "installRequestedAt": AT,
        "install": {"status": "succeeded", "output": "ok *** done"},
        "installedAt": AT,
    }
    assert log.lines == [("replication agent install", {"server": NEW_SERVER, "status": "succeeded"})]
    # A retried task does not install twice.
    assert return_to_normal.install_agents(run(plan), ports) == {"installed": 0, "new_vms": 1}
    assert len(vms.scripts) == 1


def test_install_agents_fails_on_a_failed_script_and_waits_on_a_running_one(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = new_vm_plan(sample_plan_document)
    sid = plan.servers()[1].source_server_id
    store = opened(plan, new_vm=True)
    failed = {"value": [{"code": "ProvisioningState/failed", "message": "x" * 400 + "bad session-token"}]}
    ports = make_ports(FakeDrs(plan), store, FakeRunCommand(failed))
    return_to_normal.restore(run(plan), ports)
    with pytest.raises(ReplicationNotRestored) as raised:
        return_to_normal.install_agents(run(plan), ports)
    assert str(raised.value) == (
        f"{NEW_SERVER}: installing the AWS Replication Agent on {NEW_VM_ID} failed: {'x' * 293}bad ***"
    )
    entry = restore_section(store, plan)["newSourceServers"][sid]
    assert entry["install"]["status"] == "failed" and "installedAt" not in entry

    still_running = make_ports(FakeDrs(plan), store, FakeRunCommand(None))
    assert return_to_normal.install_agents(run(plan), still_running) == {"installed": 0, "new_vms": 1}
    entry = restore_section(store, plan)["newSourceServers"][sid]
    assert entry["install"] == {"status": "running", "output": ""} and "installedAt" not in entry


def test_check_waits_for_continuous_restarts_stopped_servers_and_times_out(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = parse_plan(sample_plan_document)
    store, drs, clock = opened(plan), FakeDrs(plan), Clock()
    first, second = plan.servers()[:2]
    drs.states[first.source_server_id] = "RESCAN"
    drs.states[second.source_server_id] = "STOPPED"
    ports = make_ports(drs, store, clock=clock)

    answer = return_to_normal.check(run(plan), ports)

    assert (answer.status, answer.not_continuous, answer.recovery_instances_left) == (
        "PENDING",
        sorted([first.name, second.name]),
        0,  # not looked at, let alone terminated, while a server is not CONTINUOUS
    )
    assert drs.calls == [("start_replication", second.source_server_id)]
    clock.now = STARTED + timedelta(minutes=plan.timing.replication_timeout_minutes)
    assert return_to_normal.check(run(plan), ports).status == "PENDING"  # the timeout is not over yet
    clock.now += timedelta(seconds=1)
    with pytest.raises(ReplicationNotRestored) as raised:
        return_to_normal.check(run(plan), ports)
    assert str(raised.value) == (
        f"not back to CONTINUOUS within timing.replication_timeout_minutes "
        f"({plan.timing.replication_timeout_minutes}): {', '.join(sorted([first.name, second.name]))}; "
        "recovery instances left: 0 (kept until replication is CONTINUOUS)"
    )


def test_check_terminates_instances_once_all_continuous_each_once_then_is_done(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = parse_plan(sample_plan_document)
    store, drs, clock = opened(plan), FakeDrs(plan), Clock()
    ports = make_ports(drs, store, clock=clock)
    return_to_normal.restore(run(plan), ports)
    busy = drs.instances[0]
    drs.jobs.append({"jobID": "other", "participatingServers": [{"sourceServerID": busy["sourceServerID"]}]})

    answer = return_to_normal.check(run(plan), ports)
    others = [ri["recoveryInstanceID"] for ri in drs.instances[1:]]
    assert (answer.status, answer.recovery_instances_left) == ("PENDING", len(plan.servers()))
    assert drs.calls == [("terminate_recovery_instances", others)]

    # The other job ended: the next check terminates the busy server's instance, and only it (the others'
    # termination job still runs).
    drs.jobs = [job for job in drs.jobs if job["jobID"] != "other"]
    clock.now = STARTED + timedelta(minutes=5)
    return_to_normal.check(run(plan), ports)
    assert drs.calls[-1] == ("terminate_recovery_instances", [busy["recoveryInstanceID"]])
    section = restore_section(store, plan)
    assert section["continuousAt"] == AT  # the first time, kept
    assert section["terminated"] == sorted(ri["recoveryInstanceID"] for ri in drs.instances)
    assert section["jobIds"] == ["job-1", "job-2"]

    drs.instances = []
    done = return_to_normal.check(run(plan), ports)
    assert (done.status, done.plan_changes) == ("DONE", 0)
    assert restore_section(store, plan)["completedAt"] == iso(STARTED + timedelta(minutes=5))


def test_check_finds_the_new_agents_source_server_records_the_plan_change_and_forgets_the_new_vm(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = new_vm_plan(sample_plan_document)
    store, drs = opened(plan, new_vm=True), FakeDrs(plan)
    ports = make_ports(drs, store, FakeRunCommand({"value": [{"code": "ProvisioningState/succeeded"}]}))
    return_to_normal.restore(run(plan), ports)
    sid = plan.servers()[1].source_server_id
    # Registered before the install (beyond the clock tolerance), or under the plan's own id: not the one.
    drs.added = {
        "s-stale": ("guest-app", "2026-01-01T11:54:00Z"),
        plan.servers()[0].source_server_id: ("guest-app", "2026-01-01T12:01:00Z"),
    }
    answer = return_to_normal.check(run(plan), ports)
    assert (answer.status, answer.not_continuous) == ("PENDING", [NEW_SERVER])  # no agent installed yet

    return_to_normal.install_agents(run(plan), ports)
    assert return_to_normal.check(run(plan), ports).not_continuous == [NEW_SERVER]
    # Within the clock tolerance, the newest of two (an agent registered twice).
    drs.added["s-first"] = ("guest-app", "2026-01-01T11:56:00Z")
    drs.added["s-new"] = ("GUEST-APP", "2026-01-01T11:57:00Z")
    drs.states["s-new"] = "INITIAL_SYNC"
    assert return_to_normal.check(run(plan), ports).not_continuous == [NEW_SERVER]
    entry = restore_section(store, plan)["newSourceServers"][sid]
    assert entry["sourceServerId"] == "s-new" and entry["registeredAt"] == AT
    assert entry["planChange"] == {
        "plan": "shop",
        "server": NEW_SERVER,
        "set": {"source_server_id": "s-new", "azure_vm_id": NEW_VM_ID},
        "remove": ["failback.target", "failback.new_vm"],
        "tag": {"dr-orchestrator:stack": "DrStack"},
        "text": (
            f"plan shop, server {NEW_SERVER}: set source_server_id to s-new and azure_vm_id to {NEW_VM_ID}; "
            "remove its failback target 'new'; tag s-new in DRS with dr-orchestrator:stack=DrStack"
        ),
    }

    drs.states["s-new"] = "CONTINUOUS"
    drs.states[sid] = "STOPPED"  # the old source server of the deleted VM is neither waited for nor started
    drs.instances = []
    done = return_to_normal.check(run(plan), ports)
    assert (done.status, done.plan_changes) == ("DONE", 1)
    assert not [c for c in drs.calls if c[0] == "start_replication"]
    assert store.new_vm(plan.name, NEW_SERVER) is None


def test_the_plan_change_names_a_placeholder_without_a_stack_name(
    sample_plan_document: dict[str, Any],
) -> None:
    plan = parse_plan(sample_plan_document)
    change = return_to_normal.plan_change(plan, "shop-db-1", "s-9", "/vm", {})
    assert change["tag"] == {"dr-orchestrator:stack": "<stack name>"}
    assert change["text"].endswith("tag s-9 in DRS with dr-orchestrator:stack=<stack name>")
