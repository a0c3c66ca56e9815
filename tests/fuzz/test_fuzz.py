"""The fuzz campaign in the test-suite: every input ends in exit 0, 1, 2 or 3.

Each input goes through ``l2l3 check``, ``expand`` and ``trace`` in-process
(:mod:`tests.fuzz.harness`); a test fails, naming the input and showing the
traceback, when one of them raises (the CLI would exit 4), hangs, or breaks
the exit-status contract.

The CI profile is deterministic and short (well under a minute in all); the
``slow`` profile draws ten times as many fresh inputs per family. For
hundreds of thousands of inputs in parallel, with figures, use
``python -m tests.fuzz.campaign``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.harness import explain, failures, run_input
from tests.fuzz.inputs import FAMILIES, FILE_KINDS, FuzzInput

ROOT = Path(__file__).resolve().parents[2]

#: Time for one input (all three commands); beyond it the input counts as a hang. Generous:
#: a slow check is a performance finding (the campaign counts inputs over 10 s), not a test failure.
SECONDS = 60.0

#: Examples per family in the CI profile (0.02-0.2 s each: about 40 s in all on an idle machine).
CI_EXAMPLES = {"bytes": 150, "grammar": 120, "soup": 100, "mutation": 100, "adversarial": 60}

CI = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: a failure shows its whole input
    suppress_health_check=list(HealthCheck),
)


def assert_clean(inp: FuzzInput, seconds: float = SECONDS) -> None:
    bad = failures(run_input(inp, seconds=seconds, cpu=True, oracles=False))
    if bad:
        pytest.fail(explain(inp, bad), pytrace=False)


def _campaign(family: str, profile: settings) -> None:
    @profile
    @given(FAMILIES[family]())
    def one(inp: FuzzInput) -> None:
        assert_clean(inp)

    one()


@pytest.mark.parametrize("family", sorted(CI_EXAMPLES))
def test_fuzz_ci(family: str) -> None:
    _campaign(family, settings(CI, max_examples=CI_EXAMPLES[family]))


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_odd_files_are_input_errors_or_specs(kind: str) -> None:
    assert_clean(FuzzInput("file-kind", b"", kind=kind))


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(CI_EXAMPLES))
def test_fuzz_slow(family: str) -> None:
    _campaign(family, settings(CI, max_examples=10 * CI_EXAMPLES[family], derandomize=False))


# ------------------------------------------------------------------ the harness finds what it should

SPEC = b"segment lan 10.0.0.0/24\nnode a linux {\n    nic eth0 ip 10.0.0.1/24 on lan\n}\ncheck l: no loops\n"


def test_a_crash_fails_naming_the_input_and_the_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    import l2l3.api

    def broken(*_a: object, **_k: object) -> None:
        raise AssertionError("an invariant")

    monkeypatch.setattr(l2l3.api, "check", broken)
    with pytest.raises(pytest.fail.Exception) as e:
        assert_clean(FuzzInput("test", SPEC))
    msg = str(e.value)
    assert "segment lan 10.0.0.0/24" in msg  # the input
    assert "crash: AssertionError @ " in msg and "in broken" in msg and "an invariant" in msg


def test_a_hang_is_cut_short_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import l2l3.api

    monkeypatch.setattr(l2l3.api, "check", lambda *_a, **_k: time.sleep(30))
    runs = run_input(FuzzInput("test", SPEC), seconds=0.5)
    assert [p.category for r in runs for p in r.problems] == ["hang"]
    assert runs[0].command == "check" and len(runs) == 1 and runs[0].seconds < 5


def test_a_cpu_bound_hang_is_cut_short_on_the_cpu_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``cpu``, the limit counts CPU seconds: a spinning check is cut, and
    time spent asleep (a busy machine, seen from the input) does not count."""
    import time

    import l2l3.api

    def spin(*_a: object, **_k: object) -> None:
        while True:
            pass

    monkeypatch.setattr(l2l3.api, "check", spin)
    runs = run_input(FuzzInput("test", SPEC), seconds=0.3, cpu=True)
    assert [p.category for r in runs for p in r.problems] == ["hang"]
    assert "CPU" in runs[0].problems[0].detail

    monkeypatch.setattr(l2l3.api, "check", lambda *_a, **_k: time.sleep(3))
    runs = run_input(FuzzInput("test", SPEC), commands=("check",), seconds=2, cpu=True)
    assert runs[0].seconds >= 3
    assert "hang" not in [p.category for r in runs for p in r.problems]


def test_exit_2_without_a_message_breaks_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    import l2l3.cli

    monkeypatch.setattr(l2l3.cli, "cmd_expand", lambda _args: 2)
    (run,) = run_input(FuzzInput("test", SPEC), commands=("expand",))
    assert [p.key for p in run.problems] == ["expand exit 2 without a message"]


def test_the_campaign_script_prints_its_figures(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    out = tmp_path / "figures.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.campaign",
            "--n",
            "8",
            "--workers",
            "1",
            "--families",
            "soup,file-kind",
        ]
        + ["--seconds-per-input", "20", "--progress", "0", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode in (0, 1), r.stderr
    assert "inputs run: 8 of 8" in r.stdout and "inputs/s" in r.stdout
    assert (
        "exit status per command" in r.stdout and "tracebacks (exception @ innermost l2l3 frame)" in r.stdout
    )
    figures = json.loads(out.read_text())
    assert figures["inputs"] == 8 and set(figures["exits"]) == {"check", "expand", "trace"}
