"""``l2l3 check`` for a person: --witness, --check, grouped warnings, --strict, --version, colour."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from l2l3.cli import main
from l2l3.cli.style import Style
from l2l3.report.warnings import group_warnings

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"

# six pods of shop on a node that enforces no policy; three vacuous checks, one that holds
MANY = """\
segment lan 10.0.0.0/24

node fla linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge cni0 linux ip 10.244.2.1/24
    pod p1 ip 10.244.2.2/24 on cni0 namespace shop labels app=web
    pod p2 ip 10.244.2.3/24 on cni0 namespace shop labels app=web
    pod p3 ip 10.244.2.4/24 on cni0 namespace shop labels app=web
    pod p4 ip 10.244.2.5/24 on cni0 namespace shop labels app=web
    pod p5 ip 10.244.2.6/24 on cni0 namespace shop labels app=web
    pod p6 ip 10.244.2.7/24 on cni0 namespace shop labels app=web
    pod d1 ip 10.244.2.8/24 on cni0 namespace dev labels app=tool
}

policy shop-ingress namespace shop {
    select
    ingress from namespace shop
}

check v1: reach pods app=nothing -> namespace shop
check v2: reach pods app=nothing -> namespace dev
check v3: no reach pods app=none -> namespace dev
check ok: reach namespace dev -> namespace shop tcp port 80
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def many(tmp_path: Path) -> Path:
    p = tmp_path / "many.l2l3"
    p.write_text(MANY)
    return p


# ---------------------------------------------------------------- --witness


def test_by_default_only_checks_that_do_not_hold_show_a_witness(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", str(EX / "windows-cni-flannel.l2l3"))
    assert rc == 1
    blocks = re.split(r"\n(?=examples/|\S+\.l2l3:\d+: )", out)
    violated = [b for b in blocks if "  VIOLATED:" in b]
    held = [b for b in blocks if "  holds:" in b]
    assert violated and held
    assert all("counterexample:" in b and "=> delivered" in b for b in violated)
    assert not any("  witness:\n" in b or "packet:" in b for b in held)


def test_witness_all_shows_the_witness_of_a_holding_reach(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", str(EX / "l2bridge-alone.l2l3"), "--witness", "all")
    assert "  witness:\n    packet: icmp 10.244.5.4 > 10.244.6.4" in out
    _, out, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"), "--witness", "none")
    assert "VIOLATED" in out and "packet:" not in out and "counterexample" not in out


def test_witness_does_not_change_the_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", str(EX / "l2bridge-alone.l2l3"), "--format", "json", "--witness", "none")
    doc = json.loads(out)
    with_routes = next(c for c in doc["checks"] if c["name"] == "with-routes")
    assert with_routes["status"] == "holds" and with_routes["witness"]["hops"]
    assert set(doc) == {"checks", "summary", "warnings"}


# ---------------------------------------------------------------- --check


def test_check_runs_only_the_named_checks_with_globs(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"), "--check", "win-*", "--format", "json")
    doc = json.loads(out)
    assert [c["name"] for c in doc["checks"]] == ["win-shared", "win-private"]
    assert rc == (1 if doc["summary"]["violated"] else 0)
    _, out, _ = run(
        capsys, "check", str(EX / "shared-stack.l2l3"), "--check", "linux-shared", "--check", "win-private"
    )
    assert out.rstrip().endswith("2 checks: " + out.rstrip().split("2 checks: ")[-1])
    assert "linux-shared" in out and "win-private" in out and "win-shared:" not in out


def test_check_naming_nothing_is_a_usage_error_listing_the_names(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "check", str(EX / "shared-stack.l2l3"), "--check", "nope*")
    assert rc == 2 and out == ""
    assert "no check is named 'nope*'" in err and "win-shared" in err


# ---------------------------------------------------------------- grouped warnings


def test_alike_warnings_are_grouped_and_long_pod_lists_cut(
    many: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "check", str(many))
    assert rc == 0
    nothing = [line for line in out.splitlines() if "pods app=nothing selects no pod" in line]
    assert nothing == [
        f"{many}:20:17: warning: pods app=nothing selects no pod: the check quantifies over nothing"
        f" (also {many}:21:17; 2 in all)"
    ]
    policy = next(line for line in out.splitlines() if "shop/shop-ingress" in line)
    assert "not enforced on 6 pods: fla/p1, fla/p2, fla/p3, fla/p4 and 2 more (" in policy
    assert "fla/p6" not in policy


def test_machine_formats_keep_every_warning_whole(many: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", str(many), "--format", "json")
    warnings = json.loads(out)["warnings"]
    assert len(warnings) == 4
    assert any("fla/p1, fla/p2, fla/p3, fla/p4, fla/p5, fla/p6 (" in w for w in warnings)


def test_group_warnings_names_the_checks_of_a_group() -> None:
    ws = [
        f"a.l2l3:{n}: warning: check c{n}: vacuous: every one of its 2 pairs is itself" for n in range(1, 8)
    ]
    assert group_warnings(ws) == [
        "a.l2l3:1: warning: check c1: vacuous: every one of its 2 pairs is itself"
        " (also 6 more checks: c2, c3, c4, c5 and 2 more; 7 in all)"
    ]
    assert group_warnings(["no location here", "b:3: note: x"]) == ["no location here", "b:3: note: x"]


# ---------------------------------------------------------------- --strict


def test_strict_fails_vacuous_checks_and_unenforced_policies(
    many: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "check", str(many))
    assert rc == 0
    rc, out, _ = run(capsys, "check", str(many), "--strict")
    assert rc == 1
    assert f"{many}:20: strict: check v1 holds vacuously" in out
    assert f"{many}:15: strict: policy shop/shop-ingress is not enforced on 6 pod(s)" in out
    assert out.endswith("--strict: 4 finding(s) fail the run (exit 1)\n")
    rc, out, err = run(capsys, "check", str(many), "--strict", "--format", "json")
    doc = json.loads(out)
    assert rc == 1 and doc["summary"] == {"holds": 4, "violated": 0, "unknown": 0}
    assert [f["kind"] for f in doc["strict"]] == ["vacuous-check"] * 3 + ["unenforced-policy"]
    assert "strict: check v2" in err


def test_strict_passes_a_spec_with_nothing_to_find(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "check", str(EX / "l2bridge-alone.l2l3"), "--strict")
    assert rc == 0 and "strict" not in out


# ---------------------------------------------------------------- --version, colour


def test_version_prints_the_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    want = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out == f"l2l3 {want}\n"


def test_colour_only_when_asked_or_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    _, plain, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"))
    assert "\033[" not in plain  # captured output is no terminal
    _, coloured, _ = run(capsys, "check", str(EX / "shared-stack.l2l3"), "--color", "always")
    assert "  \033[31mVIOLATED\033[0m:" in coloured and "  \033[32mholds\033[0m:" in coloured
    assert re.sub(r"\033\[[0-9;]*m", "", coloured) == plain


class _Tty:
    def isatty(self) -> bool:
        return True


def test_no_color_is_honoured_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Style.for_stream(_Tty()).enabled  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Style.for_stream(_Tty()).enabled  # type: ignore[arg-type]
    assert Style.for_stream(_Tty(), "always").enabled  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: an empty value does not count
    assert Style.for_stream(_Tty()).enabled  # type: ignore[arg-type]


class _TtyBuffer:
    """A terminal-like stderr that keeps what tqdm writes."""

    def __init__(self) -> None:
        import io

        self.buf = io.StringIO()

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        return self.buf.write(s)

    def flush(self) -> None:
        pass


def test_progress_bars_show_each_phase_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tty = _TtyBuffer()
    monkeypatch.setattr("sys.stderr", tty)
    rc = main(["check", str(EX / "shared-stack.l2l3"), "--format", "json"])
    shown = tty.buf.getvalue()
    assert rc == 1
    assert "l2l3: load…" in shown and "l2l3: build…" in shown and "check:" in shown and "/3 [" in shown
    json.loads(capsys.readouterr().out)  # bars never reach stdout
    tty.buf.truncate(0)
    main(["check", str(EX / "shared-stack.l2l3"), "-q"])
    assert tty.buf.getvalue() == ""
