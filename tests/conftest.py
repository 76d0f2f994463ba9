from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PLAN = ROOT / "plans" / "sample-plan.json"


@pytest.fixture
def sample_plan_document() -> dict[str, Any]:
    return json.loads(SAMPLE_PLAN.read_text())
