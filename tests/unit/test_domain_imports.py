"""The domain (lambdas/domain) reaches the cloud only through the ports it is handed: neither it nor any
project module it imports, at any depth, imports a cloud SDK, an adapter or a handler."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.test_import_cycles import MODULES, import_graph

SDKS = ("boto3", "botocore", "azure", "aws_lambda_powertools")
FORBIDDEN_LAYERS = ("lambdas.adapters", "lambdas.handlers")


def _third_party(path: Path) -> set[str]:
    """Top-level names of every module the file imports, at module level or in a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _reachable(start: set[str]) -> set[str]:
    graph = import_graph(MODULES, {"module", "function", "typing"})
    seen, todo = set(start), list(start)
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_domain_imports_no_sdk_adapter_or_handler() -> None:
    domain = {name for name in MODULES if name == "lambdas.domain" or name.startswith("lambdas.domain.")}
    assert "lambdas.domain.runs" in domain
    reached = _reachable(domain)
    layers = sorted(m for m in reached if m.startswith(FORBIDDEN_LAYERS))
    assert layers == [], f"the domain reaches {layers}"
    sdks = sorted(f"{m} imports {sdk}" for m in reached for sdk in _third_party(MODULES[m]) if sdk in SDKS)
    assert sdks == [], "; ".join(sdks)
