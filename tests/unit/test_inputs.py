from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.errors import InvalidInput
from lambdas.inputs import parse_start_request


def test_minimal_input_defaults_to_latest_snapshot() -> None:
    request = parse_start_request({"plan": "shop"})
    assert request.snapshot == "latest"
    assert request.trigger == "manual"


def test_snapshot_time_must_have_a_zone_and_be_in_the_past() -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert isinstance(parse_start_request({"plan": "shop", "snapshot": past}).snapshot_time, datetime)
    with pytest.raises(InvalidInput, match="snapshot"):
        parse_start_request({"plan": "shop", "snapshot": "2026-01-01T00:00:00"})
    with pytest.raises(InvalidInput, match="future"):
        parse_start_request({"plan": "shop", "snapshot": (datetime.now(UTC) + timedelta(days=1)).isoformat()})


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "plan"),
        ({"plan": "Shop!"}, "plan"),
        ({"plan": "shop", "extra": 1}, "extra"),
        ({"plan": "shop", "reason": "<script>alert(1)</script>"}, "reason"),
        ({"plan": "shop", "reason": "x" * 501}, "reason"),
        ({"plan": "shop", "trigger": "cron"}, "trigger"),
        ({"plan": ["shop"]}, "plan"),
    ],
)
def test_bad_input_names_the_field(document: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_start_request(document)
    assert f"{field}" in str(error.value)
    assert str(error.value).startswith("execution input:")
