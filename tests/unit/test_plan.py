from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lambdas.plan import MAX_REPLICATING_SERVERS, PlanError, load_plan_file, load_plans, parse_plan


def write(tmp_path: Path, document: dict[str, Any], name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_sample_plan_is_valid(sample_plan_document: dict[str, Any]) -> None:
    plan = parse_plan(sample_plan_document)
    assert [w.name for w in plan.waves] == ["database", "application"]
    assert len(plan.servers()) == 4
    assert plan.server_by_source_id("s-0a1b2c3d4e5f60004").critical is False


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["waves"][0]["servers"][0].update(source_server_id="srv-1"), "source_server_id"),
        (lambda d: d["waves"][0]["servers"][0].update(colour="blue"), "colour"),
        (lambda d: d["targets"].update(rto_minutes=0), "rto_minutes"),
        (lambda d: d["traffic"].update(aws_server="nope"), "traffic.aws_server"),
        (lambda d: d["traffic"].update(aws_value="1.2.3.4"), "exactly one"),
        (lambda d: d["triggers"].update(drill_schedule="every month"), "drill_schedule"),
        (lambda d: d.pop("detection") and d["triggers"].update(alarm_names=[]), "alarm_names"),
        (lambda d: d["detection"].update(quorum=4), "quorum 4 exceeds"),
        (lambda d: d["detection"]["endpoints"][2].update(port=None), "TCP check needs a port"),
        (lambda d: d["detection"].update(datapoints_to_alarm=5), "datapoints_to_alarm"),
        (
            lambda d: d["waves"][1]["servers"].append(copy.deepcopy(d["waves"][0]["servers"][0])),
            "more than once",
        ),
        (
            lambda d: d["waves"][0]["servers"][0].update(
                azure_vm_id=d["waves"][0]["servers"][0]["azure_vm_id"].replace("3f2b6c1e", "00000000")
            ),
            "subscription",
        ),
    ],
)
def test_invalid_plan_names_the_field(
    tmp_path: Path, sample_plan_document: dict[str, Any], mutate: Any, field: str
) -> None:
    mutate(sample_plan_document)
    with pytest.raises(PlanError) as error:
        load_plan_file(write(tmp_path, sample_plan_document))
    assert field in str(error.value)
    assert "plan.json" in str(error.value)


def test_plan_over_replication_quota_is_refused(sample_plan_document: dict[str, Any]) -> None:
    template = sample_plan_document["waves"][0]["servers"][0]
    servers = []
    for index in range(MAX_REPLICATING_SERVERS + 1):
        server = dict(
            template,
            name=f"s{index}",
            source_server_id=f"s-{index:017d}",
            azure_vm_id=template["azure_vm_id"].rsplit("/", 1)[0] + f"/vm{index}",
        )
        servers.append(server)
    sample_plan_document["waves"] = [
        {"name": "all", "servers": servers[:300]},
        {"name": "more", "servers": servers[300:]},
    ]
    with pytest.raises(ValueError, match="exceed the DRS quota"):
        parse_plan(sample_plan_document)


def test_source_server_in_two_plans_is_refused(tmp_path: Path, sample_plan_document: dict[str, Any]) -> None:
    other = copy.deepcopy(sample_plan_document)
    other["name"] = "other"
    with pytest.raises(PlanError, match="across plans"):
        load_plans([write(tmp_path, sample_plan_document, "a.json"), write(tmp_path, other, "b.json")])


def test_unreadable_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(PlanError, match=r"broken\.json: cannot read"):
        load_plan_file(path)
