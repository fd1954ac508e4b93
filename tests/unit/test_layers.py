"""Imports point only downward through the layers (STYLE.md), and consensus stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "pyrite"

#: lower number = lower layer; a module may import its own layer or lower ones
RANK = {
    "errors": 0, "log_categories": 0, "compiled": 0, "crypto": 1, "encoding": 2, "primitives": 3,
    "script": 4, "consensus": 5, "chain": 6, "mining": 7, "rpc": 8, "wallet": 8,
    "node": 9, "tools": 10,
}  # fmt: skip
PURE_FORBIDDEN = {"asyncio", "logging", "socket", "threading", "time", "os"}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_imports_point_downward() -> None:
    problems = []
    checked = 0
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts)
        own = _layer(module)
        if own == "__init__" or own not in RANK:
            continue
        checked += 1
        for imported in _imports(path):
            if not imported.startswith("pyrite."):
                continue
            target = _layer(imported)
            if target in RANK and RANK[target] > RANK[own]:
                problems.append(f"{module} imports {imported} (layer {target} above {own})")
    print(f"layering: {checked} modules checked")
    assert not problems, "\n".join(problems)


def test_consensus_is_pure() -> None:
    problems = []
    for path in sorted((SRC / "consensus").rglob("*.py")):
        for imported in _imports(path):
            root = imported.split(".")[0]
            if root in PURE_FORBIDDEN or imported.startswith(("pyrite.chain", "pyrite.node")):
                problems.append(f"{path.name} imports {imported}")
    assert not problems, "\n".join(problems)
