"""Standing structure rules: the README layout matches the tree, modules stay small, z3 stays behind its wall."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "l2l3"
#: the hard limit; the aim is about 500 lines
MAX_LINES = 600


def _layout_paths() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(
        r"`([^`\s]+)`", "\n".join(r.split("|")[1] for r in table.splitlines() if r.startswith("| `"))
    )


def test_every_path_in_the_readme_layout_exists() -> None:
    paths = _layout_paths()
    assert paths, "the README has no layout table"
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"README layout names paths that do not exist: {missing}"


def test_every_subpackage_and_top_module_is_in_the_readme_layout() -> None:
    named = set(_layout_paths())
    subpackages = {f"l2l3/{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {f"l2l3/{p.name}" for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    absent = sorted((subpackages | modules) - named)
    assert not absent, f"the README layout does not mention {absent}"


def test_no_module_is_over_the_line_limit() -> None:
    big = {
        str(p.relative_to(ROOT)): n
        for p in [
            *PACKAGE.rglob("*.py"),
            *(ROOT / "tests").rglob("*.py"),
            *(ROOT / "benchmarks").rglob("*.py"),
        ]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_z3_is_imported_only_under_the_solver() -> None:
    offenders = []
    for p in PACKAGE.rglob("*.py"):
        if p.is_relative_to(PACKAGE / "solver"):
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "z3" or n.startswith("z3.") for n in names):
                offenders.append(str(p.relative_to(ROOT)))
    assert not offenders, f"z3 imported outside l2l3/solver: {offenders}"
