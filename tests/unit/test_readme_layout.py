"""The README's code layout table names only paths that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A backticked name is a path when it ends in "/" or in a file extension (not `drctl.plugins`, `DONE`).
PATH = re.compile(r"[\w./-]+/|[\w./-]+\.(?:py|json|toml|png|j2|md|txt|cfg|ini|yaml|yml)")


def layout_rows(readme: str) -> list[tuple[list[str], list[str]]]:
    """(paths of the first column, path-like names of the second) for each row of the layout table."""
    table = readme.split("\nCode layout:\n", 1)[1].lstrip("\n")
    rows = []
    for line in table.splitlines():
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("path", "---"):
            continue
        named, described = (
            [n for n in re.findall(r"`([^`]+)`", cell) if PATH.fullmatch(n)] for cell in cells[:2]
        )
        rows.append((named, described))
    return rows


def test_layout_rows_are_read() -> None:
    rows = layout_rows((ROOT / "README.md").read_text())
    firsts = [p for named, _ in rows for p in named]
    assert {"app.py", "cdk.json", "constructs/", "lambdas/", "drctl/", "tests/", "docs/"} <= set(firsts)
    assert all(named for named, _ in rows), "a row names no path in its first column"
    lambdas = next(described for named, described in rows if named == ["lambdas/"])
    assert {"handlers/", "domain/templates/", "plan.py", "progress.py"} <= set(lambdas)


def test_every_path_in_the_layout_table_exists() -> None:
    missing = []
    for named, described in layout_rows((ROOT / "README.md").read_text()):
        for path in named:
            if not (ROOT / path).exists():
                missing.append(path)
        # A name in the description is inside its row's folder (`handlers/` of `lambdas/`), or at the root
        # (`plans/sample-plan.json`, `pyproject.toml`).
        folders = [ROOT / p for p in named if p.endswith("/")]
        for path in described:
            if not any((base / path).exists() for base in [*folders, ROOT]):
                missing.append(f"{path} ({', '.join(named)})")
    assert missing == []
