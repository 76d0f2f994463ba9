"""The preflight task: run the checks of lambdas/domain/preflight.py on what DRS reports now, record the
outcome in the run record, and refuse the launch (PreflightFailed) when anything is wrong. Nothing is
launched before this passes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from lambdas.domain import preflight
from lambdas.errors import PreflightFailed
from lambdas.plan import Plan
from lambdas.quotas import DrsQuotas

SHOWN_PROBLEMS = 10  # in the error; the run record has them all
SHOWN_WARNINGS = 20


class Drs(Protocol):
    def source_servers(self, source_server_ids: list[str]) -> list[dict[str, Any]]: ...

    def active_jobs(self) -> list[dict[str, Any]]: ...


class QuotasInForce(Protocol):
    @property
    def quotas(self) -> DrsQuotas: ...

    @property
    def unread(self) -> tuple[str, ...]: ...  # quotas Service Quotas did not answer for, with the reason


class RunStore(Protocol):
    def update_run(self, plan: str, run_sk: str, fields: dict[str, Any]) -> None: ...


class Log(Protocol):
    def warning(self, msg: str, *, extra: Mapping[str, object] | None = None) -> None: ...


@dataclass(frozen=True)
class PreflightPorts:
    drs: Drs
    quotas: Callable[[], QuotasInForce]
    store: RunStore
    log: Log
    owner: str | None  # the stack whose tag a source server must carry (None: not checked)


@dataclass(frozen=True)
class PreflightRun:
    plan: Plan
    run_sk: str
    for_recovery: bool


def verify(run: PreflightRun, ports: PreflightPorts) -> dict[str, Any]:
    plan = run.plan
    servers = ports.drs.source_servers([s.source_server_id for s in plan.servers()])
    in_force = ports.quotas()
    problems, warnings = preflight.check(
        plan,
        servers,
        ports.drs.active_jobs(),
        for_recovery=run.for_recovery,
        quotas=in_force.quotas,
        owner=ports.owner,
    )
    if in_force.unread:
        warnings.append(
            "Service Quotas did not answer for DRS quota(s) "
            f"{', '.join(in_force.unread)}: planning with the stack's configured figures"
        )
    lags = {s["sourceServerID"]: preflight.replication_state(s)[1] for s in servers}
    outcome = {
        "problems": problems,
        "warnings": warnings,
        "lagSeconds": lags,
        "drsQuotas": asdict(in_force.quotas),
    }
    ports.store.update_run(plan.name, run.run_sk, {"preflight": outcome})
    if problems:
        ports.log.warning("preflight failed", extra={"problems": problems})
        more = len(problems) - SHOWN_PROBLEMS
        shown = "; ".join(problems[:SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        raise PreflightFailed(f"nothing was launched: {shown}")
    return {"servers": len(servers), "warnings": warnings[:SHOWN_WARNINGS]}
