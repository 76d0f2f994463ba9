"""The README's "Which code each state runs" table against the synthesized workflows: every Lambda task state
has its row, naming the handler its function runs, and every handler and domain function the table names
exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_template import definition

pytestmark = pytest.mark.infra

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### Which code each state runs"
# The state machine's name (DrOrchestrator-<suffix>) -> the workflow the table names; the approval gate runs
# inside recovery.
WORKFLOWS = {
    "drill": "drill",
    "recovery": "recovery",
    "failback": "failback",
    "return-to-normal": "return to normal",
    "approval-gate": "recovery",
}
ALL_FOUR = ["drill", "recovery", "failback", "return to normal"]


def table_rows() -> list[list[str]]:
    section = README.read_text().split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    return [row for row in cells[1:] if not set(row[0]) <= {"-", " "}]  # past the header and its rule


def workflows_of(cell: str) -> list[str]:
    return ALL_FOUR if cell == "all four" else [w.strip() for w in cell.split(",")]


def states_of(cell: str) -> list[str]:
    """ "Finish, Finish after failure (drill: also Finish after cleanup failure)" -> the three names."""
    return [part.strip() for part in re.split(r",|\(\w+: also |\)", cell) if part.strip()]


def named(cell: str) -> list[str]:
    """The `module.function` names of a cell."""
    return [name for name in re.findall(r"`([^`]+)`", cell) if re.fullmatch(r"[a-z_]+\.[a-z_]+", name)]


def lambda_tasks(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(workflow, state, handler as module.function) of every Lambda task of every state machine."""
    resources: dict[str, Any] = template["Resources"]
    found = []
    for machine in resources.values():
        if machine["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        workflow = WORKFLOWS[machine["Properties"]["StateMachineName"].removeprefix("DrOrchestrator-")]
        for state_name, state in definition(machine)["States"].items():
            if state["Type"] != "Task":
                continue
            function = (state.get("Parameters") or {}).get("FunctionName") or state["Resource"]
            if function not in resources:  # not a Lambda task (a nested workflow's start)
                continue
            handler = resources[function]["Properties"]["Handler"].removeprefix("lambdas.handlers.")
            found.append((workflow, state_name, handler))
    return found


def test_every_lambda_task_has_its_row_naming_its_handler(template: dict[str, Any]) -> None:
    rows = table_rows()
    tasks = lambda_tasks(template)
    assert len(tasks) > 30  # the four workflows and the approval gate
    missing = [
        task
        for task in tasks
        if not any(
            task[0] in workflows_of(row[0]) and task[1] in states_of(row[1]) and task[2] in named(row[2])
            for row in rows
        )
    ]
    assert missing == []


def test_every_handler_and_domain_function_the_table_names_exists() -> None:
    absent = []
    for _, _, handlers, domain in table_rows():
        for package, cell in (("lambdas.handlers", handlers), ("lambdas.domain", domain)):
            for name in named(cell):
                module, function = name.split(".")
                if not hasattr(importlib.import_module(f"{package}.{module}"), function):
                    absent.append(f"{package}.{name}")
    assert absent == []
