"""Plans for the benchmarks, generated from the sample plan."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "plans" / "sample-plan.json"


def sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text())
    return document


def with_fallback_poll(seconds: int) -> dict[str, Any]:
    """The sample plan whose waits check every `seconds` (the polling baseline when no event comes)."""
    document = sample()
    document["timing"]["fallback_poll_seconds"] = seconds
    document["timing"]["poll_seconds"] = seconds
    return document


def large(wave_sizes: list[int], name: str = "bench", series: int = 0) -> dict[str, Any]:
    """A generated plan with waves of the given sizes (a wave above 100 servers launches as several jobs);
    plans of different `series` have different source servers and VMs."""
    document = sample()
    template = document["waves"][0]["servers"][0]
    vm_prefix = template["azure_vm_id"].rsplit("/", 1)[0]
    document["name"] = name
    document["waves"] = [
        {
            "name": f"wave-{w}",
            "servers": [
                {
                    "name": f"srv-{w}-{i}",
                    "source_server_id": f"s-{series}{w:02d}{i:014d}",
                    "azure_vm_id": f"{vm_prefix}/{name}-{w}-{i}",
                }
                for i in range(size)
            ],
        }
        for w, size in enumerate(wave_sizes)
    ]
    document["traffic"]["aws_server"] = "srv-0-0"
    document["triggers"]["alarm_names"] = [f"{name}-azure-outage"]
    return copy.deepcopy(document)


def write(document: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{document['name']}.json"
    path.write_text(json.dumps(document, indent=1))
    return path
