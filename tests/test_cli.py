"""The command-line contract of LANGUAGE.md §5: exit codes, formats, errors."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import l2l3.api
import l2l3.dsl
import l2l3.generate
import l2l3.kernel.realize
import l2l3.kernel.snapshot
from l2l3 import cli
from l2l3.cli import main
from l2l3.errors import L2L3Error, QueryError, ReplayMismatch

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
    # bridge-ipmasq's searches fit in one solver check since the pinned source became a constant (b527fa2)
    rc, out, _ = run(capsys, "check", str(EX / "profile-flannel-vxlan.l2l3"), "--budget", "1")
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
    rc, _, err = run(capsys, "check")
    assert rc == 2 and "usage:" in err
    assert run(capsys, "--help")[0] == 0


# ------------------------------------------------------------------ internal errors are not verdicts

INTERNAL = re.compile(r"l2l3: internal error \((\w+): (.+)\); please report it with the input that caused it")


def _raiser(exc: BaseException):  # type: ignore[no-untyped-def]
    def boom(*_a: object, **_k: object) -> None:
        raise exc

    return boom


def _one_internal_error_line(err: str) -> re.Match[str]:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    m = INTERNAL.fullmatch(lines[0])
    assert m, lines[0]
    return m


@pytest.fixture
def no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("L2L3_DEBUG", raising=False)


#: Arguments that get each subcommand past argparse (into its function).
SUBCOMMANDS = {
    "check": ["check", str(EX / "l2bridge-alone.l2l3")],
    "trace": ["trace", str(EX / "l2bridge-alone.l2l3"), "--from", "win1/a", "--to", "10.244.4.4"],
    "expand": ["expand", str(EX / "profile-kindnet.l2l3")],
    "import": ["import", str(EX / "profile-kindnet.l2l3")],
    "matrix": ["matrix", str(EX / "l2bridge-alone.l2l3"), "-q"],
    "diff": ["diff", str(EX / "l2bridge-alone.l2l3"), str(EX / "l2bridge-alone.l2l3"), "-q"],
    "graph": ["graph", str(EX / "l2bridge-alone.l2l3"), "--format", "dot"],
    "completion": ["completion", "bash"],
    "generate": ["generate", "--nodes", "1", "--pods", "1"],
    "snapshot": ["snapshot", "--netns", "nothing-*"],
    "realize": ["realize", "--down", "--prefix", "l2l3zz"],
    "verify-kernel": ["verify-kernel", str(EX / "l2bridge-alone.l2l3")],
}


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    p = cli.build_parser()
    (sub,) = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_the_table_of_subcommands_is_complete() -> None:
    assert set(_subcommands()) <= set(SUBCOMMANDS)


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
@pytest.mark.parametrize(
    "exc", [RuntimeError("it broke\nover two lines"), ReplayMismatch("it broke\nover two lines")]
)
def test_an_unexpected_exception_is_an_internal_error_exit_4_in_every_subcommand(
    name: str,
    exc: Exception,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_debug: None,
) -> None:
    build = cli.build_parser

    def broken_parser(command: str | None = None) -> argparse.ArgumentParser:
        p = build(command)  # main builds the subcommand it runs
        (sub,) = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        sub.choices[name].set_defaults(func=_raiser(exc))
        return p

    monkeypatch.setattr(cli, "build_parser", broken_parser)
    rc, _, err = run(capsys, *SUBCOMMANDS[name])
    assert rc == 4
    m = _one_internal_error_line(err)
    assert m.group(1) == type(exc).__name__ and m.group(2) == "it broke over two lines"


def test_an_exception_deep_in_the_pipeline_is_an_internal_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_debug: None
) -> None:
    monkeypatch.setattr(l2l3.dsl, "render", _raiser(KeyError("cluster")))
    rc, _, err = run(capsys, "expand", str(EX / "profile-kindnet.l2l3"))
    assert rc == 4
    assert _one_internal_error_line(err).group(1) == "KeyError"


def test_a_replay_mismatch_is_an_internal_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_debug: None
) -> None:
    monkeypatch.setattr(l2l3.api, "check", _raiser(ReplayMismatch("witness does not replay")))
    rc, _, err = run(capsys, "check", str(EX / "l2bridge-alone.l2l3"))
    assert rc == 4
    assert _one_internal_error_line(err).group(1) == "ReplayMismatch"


def test_an_internal_error_without_a_message_says_where_it_arose(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_debug: None
) -> None:
    def fails(*_a: object, **_k: object) -> None:
        raise AssertionError  # as a bare `assert` in l2l3 would

    monkeypatch.setattr(l2l3.api, "check", fails)
    rc, _, err = run(capsys, "check", str(EX / "l2bridge-alone.l2l3"))
    assert rc == 4
    m = _one_internal_error_line(err)
    assert m.group(1) == "AssertionError" and m.group(2).startswith("at test_cli.py:")


def test_l2l3_debug_lets_the_exception_through(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("L2L3_DEBUG", "1")
    monkeypatch.setattr(l2l3.api, "check", _raiser(KeyError("k")))
    with pytest.raises(KeyError):
        main(["check", str(EX / "l2bridge-alone.l2l3")])
    monkeypatch.setattr(l2l3.api, "check", _raiser(ReplayMismatch("r")))
    with pytest.raises(ReplayMismatch):
        main(["check", str(EX / "l2bridge-alone.l2l3")])


@pytest.mark.parametrize("exc", [QueryError("no such thing"), L2L3Error("cannot do that")])
def test_input_errors_exit_2_with_their_message(
    exc: Exception, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_debug: None
) -> None:
    monkeypatch.setattr(l2l3.api, "check", _raiser(exc))
    rc, out, err = run(capsys, "check", str(EX / "l2bridge-alone.l2l3"))
    assert rc == 2 and err == f"l2l3: error: {exc}\n"


def test_the_kernel_and_generate_entry_points_map_errors_the_same_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_debug: None
) -> None:
    from l2l3.kernel.cli import main as kernel_main

    monkeypatch.setattr(l2l3.kernel.snapshot, "snapshot_text", _raiser(OSError(5, "I/O error")))
    assert kernel_main(["snapshot"]) == 4
    _one_internal_error_line(capsys.readouterr().err)
    monkeypatch.setattr(l2l3.generate, "spec_text", _raiser(ZeroDivisionError("division by zero")))
    assert l2l3.generate.main(["--nodes", "1", "--pods", "1"]) == 4
    assert _one_internal_error_line(capsys.readouterr().err).group(1) == "ZeroDivisionError"


class _ClosedPipe:
    def write(self, _s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_ends_quietly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_debug: None
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    rc = main(["expand", str(EX / "profile-kindnet.l2l3")])
    assert rc == 141
    assert capsys.readouterr().err == ""


def test_a_broken_pipe_that_is_not_stdout_is_an_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_debug: None
) -> None:
    monkeypatch.setattr(l2l3.api, "check", _raiser(BrokenPipeError(32, "Broken pipe")))
    with open(tmp_path / "out", "w") as real_file:  # a stdout that still works
        monkeypatch.setattr(sys, "stdout", real_file)
        rc = main(["check", str(EX / "l2bridge-alone.l2l3")])
    assert rc == 4
    assert _one_internal_error_line(capsys.readouterr().err).group(1) == "BrokenPipeError"


def test_a_closed_pipe_on_the_real_command_line_is_quiet() -> None:
    env = {k: v for k, v in os.environ.items() if k != "L2L3_DEBUG"}
    with subprocess.Popen(
        [sys.executable, "-m", "l2l3.cli", "expand", str(EX / "profile-calico-bgp.l2l3")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as p:
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()  # before the child writes: its first write fails with EPIPE
        err = p.stderr.read()
        assert p.wait(timeout=120) == 141
    assert err == b""


# ------------------------------------------------------------------ every argument is validated

TRACE = ["trace", str(EX / "l2bridge-alone.l2l3")]


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--from", "win1/a", "--to", "10.0.0.1", "--proto", "tcp", "--dport", "99999999"], "--dport"),
        (["--from", "win1/a", "--to", "10.0.0.1", "--proto", "tcp", "--dport", "-1"], "0..65535"),
        (["--from", "win1/a", "--to", "10.0.0.1", "--proto", "tcp", "--dport", "http"], "whole number"),
        (["--from", "win1/a", "--to", "10.0.0.1", "--proto", "tcp", "--dport", "9" * 5000], "0..65535"),
        (["--from", "win1/a", "--to", "10.0.0.1", "--dport", "80"], "--proto tcp or udp"),
        (["--from", "win1/a", "--to", "lin1/web"], "not an IPv4 address: 'lin1/web'"),
        (["--from", "win1/a", "--to", "999.1.1.1"], "not an IPv4 address: '999.1.1.1'"),
        (["--from", "win1/a", "--to", "10.0.0.0/24"], "not a prefix"),
        (["--from", "win1/a", "--to", "::1"], "not an IPv4 address"),
        (["--from", "win1/a", "--to", ""], "not an IPv4 address"),
        (["--from", "!!", "--to", "10.0.0.1"], "not an endpoint: '!!'"),
        (["--from", "", "--to", "10.0.0.1"], "not an endpoint"),
        (["--from", "a/b -> c/d", "--to", "10.0.0.1"], "not an endpoint"),
        (["--from", "a/b\ncheck x: no loops", "--to", "10.0.0.1"], "not an endpoint"),
        (["--from", "nope/x", "--to", "10.0.0.1"], "no pod nope/x in"),
        (["--from", "node zz", "--to", "10.0.0.1"], "no node zz in"),
        (["--from", "external zz", "--to", "10.0.0.1"], "no external zz in"),
        (["--from", "namespace default", "--to", "10.0.0.1"], "names 4 senders"),
        (["--from", "pods app=nothing", "--to", "10.0.0.1"], "names 0 senders"),
    ],
)
def test_trace_arguments_are_checked(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], no_debug: None
) -> None:
    rc, out, err = run(capsys, *TRACE, *argv)
    assert rc == 2 and out == ""
    assert says in err and "Traceback" not in err
    assert "error: argument --" in err  # argparse's form


@pytest.mark.parametrize("budget", ["0", "-3", "many", "1.5"])
def test_check_budget_must_be_positive(budget: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "check", str(EX / "l2bridge-alone.l2l3"), "--budget", budget)
    assert rc == 2 and out == "" and "argument --budget:" in err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--nodes", "0", "--pods", "1"], "argument --nodes: the node count must lie in 1..65000"),
        (["--nodes", "-1", "--pods", "1"], "argument --nodes"),
        (["--nodes", "99999999999999999999999", "--pods", "1"], "argument --nodes"),
        (["--nodes", "1", "--pods", "-1"], "argument --pods"),
        (["--nodes", "1", "--pods", "70000"], "argument --pods"),
        (["--nodes", "2000", "--pods", "2000"], "4,000,000 pods"),
        (["--nodes", "1", "--pods", "1", "--namespaces", "0"], "argument --namespaces"),
        (["--nodes", "1", "--pods", "1", "--namespaces", "5000"], "--pairs all with 5000 namespaces"),
        (["--nodes", "1", "--pods", "1", "--policies", "-2"], "argument --policies"),
        (["--nodes", "1", "--pods", "1", "--windows", "nan"], "argument --windows"),
        (["--nodes", "1", "--pods", "1", "--windows", "2"], "argument --windows"),
        (["--nodes", "1", "--pods", "1", "--seed", "-1"], "argument --seed"),
        (["--nodes", "1", "--pods", "1", "--pairs", "some"], "argument --pairs"),
        (["--nodes", "1", "--pods", "1", "--pairs", "-4"], "argument --pairs"),
        (["--nodes", "1", "--pods", "1", "--cni", "weave"], "argument --cni"),
        (["--nodes", "1", "--pods", "1", "-o", "/nonexistent/dir/x.l2l3"], "cannot write /nonexistent"),
        (["--nodes", "1", "--pods", "1", "--k8s-yaml", "/nonexistent/dir/x"], "cannot write /nonexistent"),
    ],
)
def test_generate_arguments_are_checked(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], no_debug: None
) -> None:
    rc, _, err = run(capsys, "generate", *argv)
    assert rc == 2
    assert says in err and "Traceback" not in err


def test_generate_accepts_its_documented_forms(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys, "generate", "--nodes", "2", "--pods", "0", "--cni", " flannel   vxlan", "--pairs", "1"
    )
    assert rc == 0 and "cni flannel vxlan" in out and out.count("no reach") == 1


def test_realize_down_takes_a_prefix_instead_of_a_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(l2l3.kernel.realize, "teardown", lambda prefix: asked.append(prefix) or [])
    rc, out, _ = run(capsys, "realize", "--down", "--prefix", "l2l3zz")
    assert rc == 0 and asked == ["l2l3zz"] and "nothing realized under prefix l2l3zz" in out
    rc, _, err = run(capsys, "realize", "--down")
    assert rc == 2 and "FILE" in err and asked == ["l2l3zz"]
    rc, _, err = run(capsys, "realize")
    assert rc == 2 and "FILE" in err


@pytest.mark.parametrize("prefix", ["../../etc/x", "a/b", "", "-x", "x" * 17, "a b"])
def test_kernel_prefixes_are_checked_before_anything_is_touched(
    prefix: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(l2l3.kernel.realize, "teardown", _raiser(AssertionError("touched")))
    for argv in (["realize", "--down", "--prefix", prefix], ["verify-kernel", "f.l2l3", "--prefix", prefix]):
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and "argument --prefix:" in err


def test_expand_of_a_missing_file_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run(capsys, "expand", str(tmp_path / "missing.l2l3"))
    assert rc == 2 and "cannot read the file" in err and "Traceback" not in err


def test_time_limit_answers_unknown_and_exits_3(tmp_path: Path) -> None:
    """A limit gives unknown (exit 3), never holds; a bad limit is a usage error (exit 2)."""
    spec = tmp_path / "t.l2l3"
    spec.write_text(
        "segment lan 10.0.0.0/24\nnode a linux {\n    nic eth0 ip 10.0.0.1/24 on lan\n}\n"
        "node b linux {\n    nic eth0 ip 10.0.0.2/24 on lan\n}\ncheck x: no reach node a -> node b tcp port 80\n"
    )
    from l2l3.cli import main

    assert main(["check", str(spec), "--time-limit", "0.000001"]) == 3
    assert main(["check", str(spec), "--time-limit", "60"]) == 1
    assert main(["check", str(spec), "--time-limit", "-1"]) == 2


def test_an_invalid_spec_still_gives_a_valid_sarif_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from l2l3.cli import main

    spec = tmp_path / "bad.l2l3"
    spec.write_text("segment lan 10.0.0.0/24\ncheck x: reach 10.9.9.9 -> 10.0.0.1\n")
    assert main(["check", str(spec), "--format", "sarif"]) == 2
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0" and log["runs"][0]["results"][0]["level"] == "error"
