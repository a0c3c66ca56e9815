"""The command-line contract of LANGUAGE.md §5: exit codes, formats, errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from l2l3.cli import main

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_check_exits_0_when_every_check_holds(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", str(EX / "l2bridge-vs-linux-bridge.l2l3"))
    assert rc == 0
    assert "0 violated" in out


def test_check_exits_1_when_a_check_is_violated(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"))
    assert rc == 1
    assert "VIOLATED" in out and "counterexample" in out


def test_check_exits_3_when_a_limit_is_hit_and_nothing_is_violated(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, _ = run(capsys, "check", str(EX / "bridge-ipmasq.l2l3"), "--budget", "1")
    assert rc == 3
    assert "unknown" in out and "holds: proved" not in out


def test_check_exits_2_on_a_bad_spec_with_file_line_col_and_caret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.l2l3"
    bad.write_text("segment lan 10.0.0.0/24\nnode a linux {\n    nic eth0 ip 10.0.0.300/24 on lan\n}\n")
    rc, out, err = run(capsys, "check", str(bad))
    assert rc == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"{bad}:3:")
    assert "10.0.0.300" in err and "^" in err
    assert "Traceback" not in err


def test_check_reports_errors_of_every_file_before_exiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.l2l3", tmp_path / "b.l2l3"
    a.write_text("node x linux {\n  nic eth0 ip 1.2.3.4/24 on nowhere\n}\n")
    b.write_text("check c: reach x/y ->\n")
    rc, _, err = run(capsys, "check", str(a), str(b))
    assert rc == 2
    assert f"{a}:2:" in err and f"{b}:1:" in err


def test_check_json_follows_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"), "--format", "json")
    doc = json.loads(out)
    assert rc == 1
    assert doc["summary"] == {"holds": 1, "violated": 2, "unknown": 0}
    bad = [c for c in doc["checks"] if c["status"] == "violated"]
    assert bad and bad[0]["witness"]["hops"][0]["packet"]["src"]
    assert {"at", "rule", "file", "line", "packet"} <= set(bad[0]["witness"]["hops"][1])


def test_check_sarif_and_junit_are_well_formed(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"), "--format", "sarif")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"][0]["results"]) == 2
    _, out, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"), "--format", "junit")
    suite = ET.fromstring(out)
    assert suite.get("tests") == "3" and suite.get("failures") == "2"


def test_trace_prints_the_path_with_nat_visible(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys,
        "trace",
        str(EX / "l2bridge-vs-linux-bridge.l2l3"),
        "--from",
        "win1/iis",
        "--to",
        "198.51.100.7",
        "--proto",
        "tcp",
        "--dport",
        "443",
    )
    assert rc == 0
    assert "outbound-nat cbr0: src 10.244.3.4 -> 10.127.130.38" in out
    assert "delivered at external web" in out


def test_trace_exits_1_when_the_packet_dies(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys, "trace", str(EX / "l2bridge-alone.l2l3"), "--from", "win1/a", "--to", "10.244.4.4"
    )
    assert rc == 1 and "dropped" in out


def test_trace_rejects_an_unknown_endpoint_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "trace", str(EX / "l2bridge-alone.l2l3"), "--from", "nope/x", "--to", "10.0.0.1")
    assert rc == 2 and "Traceback" not in err and err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["check"])
    assert e.value.code == 2
