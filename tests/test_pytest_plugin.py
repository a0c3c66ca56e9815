"""The pytest plugin (one item per check of a .l2l3 file) and the assertions of l2l3.testing.

The plugin is loaded by name in each inner run (``-p no:l2l3`` first, so a
run where the ``pytest11`` entry point is installed does not load it twice).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

import l2l3
from l2l3.testing import assert_holds, assert_isolated, assert_reach, describe_failure

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ("-p", "no:l2l3", "-p", "l2l3.pytest_plugin")

SPEC = """\
segment lan 10.0.0.0/24
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
}
node b linux {
    nic eth0 ip 10.0.0.2/24 on lan
}
check ab: reach node a -> node b via mac
check ba-blocked: no reach node b -> node a
check nowhere: reach node a -> 192.168.9.9
"""
#: the line of each check in SPEC
LINES = {"ab": 8, "ba-blocked": 9, "nowhere": 10}


@pytest.fixture
def spec() -> l2l3.Network:
    return l2l3.Network(l2l3.loads(SPEC))


# ------------------------------------------------------------------ plugin


def test_the_entry_point_names_the_plugin() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["entry-points"]["pytest11"] == {"l2l3": "l2l3.pytest_plugin"}
    test_extra = " ".join(meta["project"]["optional-dependencies"]["test"])
    assert "jsonschema" in test_extra and "junitparser" in test_extra


def test_pytest_in_a_directory_with_a_spec_collects_its_checks(pytester: pytest.Pytester) -> None:
    pytester.makefile(".l2l3", net=SPEC)
    items, _ = pytester.inline_genitems(*PLUGIN)
    assert sorted(i.nodeid for i in items) == ["net.l2l3::ab", "net.l2l3::ba-blocked", "net.l2l3::nowhere"]


def test_collection_turned_off_by_ini_and_on_again_by_the_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nl2l3_collect = false\n")
    pytester.makefile(".l2l3", net=SPEC)
    result = pytester.runpytest(*PLUGIN)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes()
    items, _ = pytester.inline_genitems(*PLUGIN, "--l2l3")
    assert len(items) == 3


def test_one_item_per_check_at_its_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".l2l3", net=SPEC)
    items, rec = pytester.inline_genitems(*PLUGIN, "--l2l3")
    assert [i.nodeid for i in items] == [f"net.l2l3::{n}" for n in LINES]
    assert [i.location for i in items] == [("net.l2l3", n - 1, f"l2l3 check {c}") for c, n in LINES.items()]


def test_failures_show_the_witness(pytester: pytest.Pytester) -> None:
    pytester.makefile(".l2l3", net=SPEC)
    result = pytester.runpytest(*PLUGIN, "--l2l3", "-rf")
    result.assert_outcomes(passed=1, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ l2l3 check ba-blocked _*",
            f"*net.l2l3:{LINES['ba-blocked']}: check ba-blocked: no reach node b -> node a",
            "  VIOLATED: b reaches a",
            "  counterexample:",
            "*=> delivered at a",
        ]
    )
    assert "where its packets die:" in out and "no route to 192.168.9.9" in out
    assert "Traceback" not in out and "pytest_plugin.py" not in out
    result.stdout.fnmatch_lines(["FAILED net.l2l3::ba-blocked*", "FAILED net.l2l3::nowhere*"])


def test_ini_options_turn_collection_on_and_choose_files(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nl2l3_collect = true\nl2l3_files = *.net specs/*.spec\n")
    pytester.makefile(".net", one=SPEC)
    pytester.makefile(".l2l3", skipped=SPEC)  # not in the globs now
    (pytester.path / "specs").mkdir()
    (pytester.path / "specs" / "two.spec").write_text(SPEC.split("check ba")[0])
    items, _ = pytester.inline_genitems(*PLUGIN)
    assert sorted(i.nodeid for i in items) == [
        "one.net::ab",
        "one.net::ba-blocked",
        "one.net::nowhere",
        "specs/two.spec::ab",
    ]


def test_unknown_fails_with_its_reason(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nl2l3_collect = true\nl2l3_budget = 1\n")
    pytester.makefile(".l2l3", net=SPEC)
    result = pytester.runpytest(*PLUGIN, "-k", "ba-blocked")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["*unknown (neither proved nor refuted*budget*"])


def test_an_invalid_spec_is_one_failing_item(pytester: pytest.Pytester) -> None:
    pytester.makefile(".l2l3", bad="segment lan 10.0.0.0/24\ncheck x: reach node a -> node b\n")
    result = pytester.runpytest(*PLUGIN, "--l2l3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*bad.l2l3: * input error*, nothing was checked",
            "*bad.l2l3:2:*: error: unknown node a*",
            "*^",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_endpoint_nothing_owns_fails_its_check_only(pytester: pytest.Pytester) -> None:
    pytester.makefile(".l2l3", net=SPEC.split("check ba")[0] + "check ghost: reach 10.9.9.9 -> node b\n")
    result = pytester.runpytest(*PLUGIN, "--l2l3")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*net.l2l3:9:1: error: check ghost: no stack and no external owns 10.9.9.9*"]
    )


def test_policy_warnings_come_with_a_failing_check(pytester: pytest.Pytester) -> None:
    text = (ROOT / "examples" / "policy-enforced.l2l3").read_text(encoding="utf-8")
    pytester.makefile(".l2l3", policy=text)
    result = pytester.runpytest(*PLUGIN, "--l2l3", "-k", "unenforced")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(
        [
            "*Captured l2l3 warnings call*",
            "policy.l2l3:29: warning: policy shop2/shop2-ingress is not enforced*",
        ]
    )


def test_the_project_suite_is_not_collected_differently() -> None:
    """The plugin on, without --l2l3, adds no item over this repository's tests and examples
    (its pyproject sets l2l3_collect = false)."""
    import subprocess

    def ids(*extra: str) -> list[str]:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "-p",
                "no:cacheprovider",
                *extra,
                "examples",
                "tests/report",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [line for line in out.splitlines() if "::" in line]

    assert ids(*PLUGIN) == ids("-p", "no:l2l3")
    assert any(i.startswith("examples/") for i in ids(*PLUGIN, "--l2l3"))


# -------------------------------------------------------------- assertions


def test_assertions_return_the_result_when_they_hold(spec: l2l3.Network) -> None:
    assert assert_holds(spec, "reach node a -> node b via mac").status is l2l3.Verdict.HOLDS
    assert assert_reach(spec, "node a", "node b", proto="tcp", port=80, via_mac=True, nat=False).pairs == 1
    assert_holds(SPEC, "no reach node a -> 192.168.9.9")  # a spec's text works too
    assert_holds(l2l3.loads(SPEC), "no loops")


def test_a_failing_assertion_is_one_screen(spec: l2l3.Network) -> None:
    with pytest.raises(AssertionError) as e:
        assert_isolated(spec, "node a", "node b", proto="icmp")
    text = str(e.value)
    assert text.startswith("isolated node a <-> node b icmp\n  VIOLATED: ")
    assert "counterexample:" in text and "=> delivered at" in text
    with pytest.raises(AssertionError) as e:
        assert_reach(spec, "node a", "192.168.9.9")
    assert "where its packets die:" in str(e.value) and "no route" in str(e.value)


def test_long_witnesses_are_cut(spec: l2l3.Network) -> None:
    r = l2l3.evaluate(spec, "no reach node b -> node a")
    full = describe_failure(r, max_lines=1000).splitlines()
    short = describe_failure(r, max_lines=8).splitlines()
    assert len(short) <= 8 < len(full)
    assert short[-1] == full[-1] and "more lines" in "\n".join(short)


def test_bad_arguments_are_not_assertion_failures(spec: l2l3.Network) -> None:
    with pytest.raises(TypeError, match="ports"):
        assert_reach(spec, "node a", "node b", ports=80)
    with pytest.raises(ValueError, match="proto"):
        assert_reach(spec, "node a", "node b", proto="sctp")
    with pytest.raises(ValueError, match="nat"):
        assert_reach(spec, "node a", "node b", nat="maybe")
    with pytest.raises(TypeError):
        assert_isolated(spec, "node a", "node b", via_mac=True)
    with pytest.raises(l2l3.QueryError):
        assert_holds(spec, "reach 10.9.9.9 -> node b")


def test_tracebacks_hide_the_helpers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=f"""
        from l2l3.testing import assert_reach
        SPEC = {SPEC!r}
        def test_reach():
            assert_reach(SPEC, "node a", "192.168.9.9", proto="tcp", port=443)
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "where its packets die:" in out and "no route to 192.168.9.9" in out
    assert "def _check" not in out and "def assert_reach" not in out
