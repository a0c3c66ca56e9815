"""JUnit XML read back by junitparser, as CI dashboards read it: unknown is an error, never skipped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

import l2l3
from l2l3 import api
from l2l3.checking import Report, Verdict
from l2l3.errors import Diagnostic, SpecError
from l2l3.model.types import Span
from l2l3.report.junit import render_junit, render_junit_error

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


def read(text: str, tmp_path: Path) -> TestSuite:
    """The suite as junitparser reads the file a CI job would upload."""
    f = tmp_path / "report.xml"
    f.write_text(text, encoding="utf-8")
    xml = JUnitXml.fromfile(str(f))
    if isinstance(xml, TestSuite):  # junitparser < 4 gives the root suite itself
        return xml
    (suite,) = list(xml)  # later ones wrap it in <testsuites>
    assert isinstance(suite, TestSuite) and suite.name == "l2l3"
    return suite


@pytest.fixture(scope="module")
def reports() -> list[Report]:
    """policy-enforced (3 hold, 1 violated, a warning) and an unknown made by hand."""
    rep = api.check(l2l3.load(EX / "policy-enforced.l2l3"))
    unknown = dataclasses.replace(
        rep.results[0], status=Verdict.UNKNOWN, explanation="budget <spent> & \x00\x1b odd", witness=None
    )
    return [rep, Report(rep.spec, (unknown,))]


def test_verdicts_are_pass_failure_and_error(reports: list[Report], tmp_path: Path) -> None:
    suite = read(render_junit(reports), tmp_path)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 1, 0)
    cases = list(suite)
    names = [c.name for c in cases]
    assert names == [r.check.name for rep in reports for r in rep.results if r.check]
    outcome = {c.name + str(i): [type(x) for x in c.result] for i, c in enumerate(cases)}
    assert list(outcome.values()) == [[], [], [], [Failure], [Error]]
    assert sum(c.is_passed for c in cases) == 3
    assert not any(isinstance(x, Skipped) for c in cases for x in c.result)


def test_a_failure_carries_the_witness_and_its_place(reports: list[Report], tmp_path: Path) -> None:
    suite = read(render_junit(reports), tmp_path)
    (case,) = [c for c in suite if c.result and isinstance(c.result[0], Failure)]
    violated = next(r for r in reports[0].results if r.status is Verdict.VIOLATED)
    assert violated.check is not None and violated.witness is not None
    failure = case.result[0]
    assert failure.message == violated.explanation and failure.type == "violated"
    assert "counterexample:" in (failure.text or "")
    assert all(h.action in (failure.text or "") for h in violated.witness.hops)
    assert case.classname == violated.check.span.file
    assert case._elem.get("file") == violated.check.span.file
    assert case._elem.get("line") == str(violated.check.span.line)
    out = suite._elem.find("system-out")  # junitparser reads a suite's output only on its cases
    assert out is not None and "shop2/shop2-ingress" in (out.text or "")


def test_unknown_text_is_kept_and_cleaned(reports: list[Report], tmp_path: Path) -> None:
    suite = read(render_junit(reports), tmp_path)
    error = list(suite)[-1].result[0]
    assert isinstance(error, Error) and error.type == "unknown"
    assert error.message == "unknown: budget <spent> & \ufffd\ufffd odd"


def test_an_invalid_spec_is_one_error_case(tmp_path: Path) -> None:
    bad = tmp_path / "bad.l2l3"
    bad.write_text("segment lan 10.0.0.0/24\nnode a linux {\n    nic eth0 ip 10.0.0.1/24 on nowhere\n}\n")
    with pytest.raises(SpecError) as e:
        l2l3.load(bad)
    diags = e.value.diagnostics
    suite = read(render_junit_error(diags), tmp_path)
    assert (suite.tests, suite.failures, suite.errors) == (1, 0, 1)
    (case,) = list(suite)
    (error,) = case.result
    assert isinstance(error, Error) and error.type == "input-error"
    assert (error.message or "").startswith(f"{len(diags)} input error")
    assert diags[0].message in (error.message or "")
    assert diags[0].render() in (error.text or "")
    assert case.classname == str(bad) and case._elem.get("line") == str(diags[0].span.line)


def test_error_report_without_diagnostics_or_with_odd_text(tmp_path: Path) -> None:
    suite = read(render_junit_error([]), tmp_path)
    assert suite.errors == 1 and list(suite)[0].result[0].text == "invalid input\n"
    odd = [Diagnostic(Span("x\x01.l2l3", 1, 1), "bad \x7f\x0c byte", "\x0c\x0b line")]
    suite = read(render_junit_error(odd), tmp_path)
    assert "bad" in (list(suite)[0].result[0].message or "")


def test_no_checks_is_an_empty_suite(tmp_path: Path) -> None:
    suite = read(render_junit([]), tmp_path)
    assert (suite.tests, suite.failures, suite.errors) == (0, 0, 0)
