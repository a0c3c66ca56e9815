"""Golden tests: the real CLI over every example, compared with examples/NAME.out.

Run ``pytest tests/golden --update-golden`` to rewrite the .out files after a
deliberate change, and read the diff before committing it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.l2l3"))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "l2l3.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_output_matches_golden(example: Path, request: pytest.FixtureRequest) -> None:
    rel = example.relative_to(ROOT)
    proc = run_cli("check", str(rel))
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    text = f"exit {proc.returncode}\n{proc.stdout}"
    golden = example.with_suffix(".out")
    if request.config.getoption("--update-golden") or not golden.exists():
        golden.write_text(text)
        if not request.config.getoption("--update-golden"):
            pytest.fail(f"{golden.name} did not exist; written now, check it in")
    assert text == golden.read_text()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_json_has_the_contract_shape(example: Path) -> None:
    proc = run_cli("check", str(example.relative_to(ROOT)), "--format", "json")
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"checks", "summary"}
    assert set(doc["summary"]) == {"holds", "violated", "unknown"}
    for c in doc["checks"]:
        assert set(c) >= {"file", "line", "name", "query", "status", "witness", "explanation"}
        assert c["status"] in ("holds", "violated", "unknown")
        if c["witness"] is not None:
            assert set(c["witness"]) >= {"packet", "hops"}
            for h in c["witness"]["hops"]:
                assert set(h) >= {"at", "rule", "file", "line", "packet"}
    expected_exit = 1 if doc["summary"]["violated"] else (3 if doc["summary"]["unknown"] else 0)
    assert proc.returncode == expected_exit


def test_every_example_states_what_each_check_demonstrates() -> None:
    for ex in EXAMPLES:
        lines = ex.read_text().splitlines()
        for n, line in enumerate(lines):
            if line.startswith("check "):
                k = n - 1
                while k >= 0 and lines[k].startswith("check "):
                    k -= 1  # a run of checks shares the comment above it
                above = lines[k].strip() if k >= 0 else ""
                assert above.startswith("#"), f"{ex.name}:{n + 1}: check without a comment above it"


def test_output_does_not_depend_on_the_hash_seed() -> None:
    import os

    outs = set()
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-m", "l2l3.cli", "check", "examples/docker-l2bridge-outboundnat.l2l3"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=300,
        )
        outs.add(proc.stdout)
    assert len(outs) == 1
