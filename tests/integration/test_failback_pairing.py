"""A failback client whose credentials expired before it paired gets fresh ones and a reboot.

One real minute: the check compares the wall clock with `timing.failback_pairing_minutes` (the local
cloud's time scale only speeds Step Functions waits), so this module synthesizes a plan with the smallest
pairing time the schema allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.plan import Plan, load_plans
from localcloud.cloud import LocalCloud, LocalCloudSettings
from tests.integration.conftest import FAST_AZURE, FAST_DRS, ROOT, event, recovery_instances

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    from localcloud.synth import synthesize

    document: dict[str, Any] = json.loads((ROOT / "plans" / "sample-plan.json").read_text())
    document["timing"] = {**document.get("timing", {}), "failback_pairing_minutes": 1}
    plan_dir = tmp_path_factory.mktemp("pairing-plans")
    (plan_dir / "shop.json").write_text(json.dumps(document))
    template = synthesize(
        outdir=tmp_path_factory.mktemp("pairing-cdk.out"),
        stack_name="DrPairing",
        plans=str(plan_dir / "*.json"),
    )
    return template, load_plans([plan_dir / "shop.json"])[0]


@pytest.fixture
def cloud(setup: tuple[Path, Plan]) -> Iterator[LocalCloud]:
    template, plan = setup
    settings = LocalCloudSettings(
        time_scale=60, drs_timing=FAST_DRS, azure_timing=FAST_AZURE, log_level="WARNING"
    )
    with LocalCloud(template, [plan], settings) as local:
        yield local


def test_expired_credentials_are_refreshed_and_the_client_pairs(
    cloud: LocalCloud, setup: tuple[Path, Plan]
) -> None:
    plan = setup[1]
    assert cloud.run("recovery", event("recovery.json"), timeout=180)["status"] == "SUCCEEDED"
    cloud.iam.expire_next_credentials()  # the first credentials reach DRS after their lifetime

    result = cloud.run("failback", event("failback.json"), timeout=300)

    assert result["status"] == "SUCCEEDED", result.get("cause")
    console = cloud.guests.console(plan.servers()[0].azure_vm_id)
    refused = [line for line in console if "ExpiredTokenException" in line]
    assert refused and any("paired as" in line for line in console[console.index(refused[0]) :])
    assert {i["failback"]["state"] for i in recovery_instances(cloud, plan)} == {"FAILBACK_COMPLETED"}
    assert all(cloud.azure.user_data(s.azure_vm_id) == "" for s in plan.servers())
