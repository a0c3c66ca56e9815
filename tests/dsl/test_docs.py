"""Every public function, class and method of l2l3/dsl says what it does."""

from __future__ import annotations

import ast
from pathlib import Path

import l2l3.dsl


def _undocumented(path: Path) -> list[str]:
    out: list[str] = []
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.ClassDef) or node.name.startswith("_"):
            continue
        if not ast.get_docstring(node):
            out.append(f"{path.name}:{node.lineno} {node.name}")
        if isinstance(node, ast.ClassDef):
            for m in node.body:
                if isinstance(m, ast.FunctionDef) and not m.name.startswith("_") and not ast.get_docstring(m):
                    out.append(f"{path.name}:{m.lineno} {node.name}.{m.name}")
    return out


def test_public_functions_have_docstrings() -> None:
    root = Path(l2l3.dsl.__file__).parent
    missing = [line for p in sorted(root.rglob("*.py")) for line in _undocumented(p)]
    assert not missing, "\n".join(missing)
