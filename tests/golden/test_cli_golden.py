"""Golden outputs of ``l2l3`` commands beyond ``check FILE`` (tests/golden/cli/NAME.out).

Each case is a command line run from the repository's root; its exit status
and standard output are compared with the file. ``--update-golden`` rewrites
them (read the diff before committing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.test_examples import run_cli

GOLDEN = Path(__file__).resolve().parent / "cli"

#: golden file stem -> the command line
CASES: dict[str, list[str]] = {
    "check-witness-all": ["check", "examples/l2bridge-alone.l2l3", "--witness", "all"],
    "check-one-by-glob": ["check", "examples/shared-stack.l2l3", "--check", "linux-*"],
    "check-strict": ["check", "examples/windows-cni-flannel.l2l3", "--strict", "--witness", "none"],
    "diff-lost": [
        "diff",
        "examples/policy-enforced.l2l3",
        "tests/golden/cli/policy-enforced-everywhere.l2l3",
    ],
    "graph-with-routes": ["graph", "examples/l2bridge-alone.l2l3", "--check", "with-routes"],
    "graph-flannel-mermaid": ["graph", "examples/windows-cni-flannel.l2l3", "--format", "mermaid"],
    "trace-summary": [
        "trace",
        "examples/profile-flannel-vxlan.l2l3",
        "--from",
        "n2/tool",
        "--to",
        "203.0.113.7",
        "--summary",
    ],
    "diff-equal": ["diff", "examples/policy-enforced.l2l3", "examples/policy-enforced.l2l3"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_command_output_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    proc = run_cli(*CASES[name])
    assert "Traceback" not in proc.stderr
    text = f"exit {proc.returncode}\n{proc.stdout}"
    golden = GOLDEN / f"{name}.out"
    if request.config.getoption("--update-golden") or not golden.exists():
        golden.write_text(text)
        if not request.config.getoption("--update-golden"):
            pytest.fail(f"{golden.name} did not exist; written now, check it in")
    assert text == golden.read_text()
