"""l2l3.report: one module per format, the names the CLI imports, and the contract shapes."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import l2l3
from l2l3 import api
from l2l3.checking import Report, Verdict
from l2l3.matrix import Cell, Matrix, PodClass
from l2l3.report import RENDERERS, render_trace
from l2l3.report.matrix import matrix_json, render_matrix_text

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["l2l3.report", "l2l3.report.text", "l2l3.report.json", "l2l3.report.sarif", "l2l3.report.junit"]


@pytest.fixture(scope="module")
def reports() -> list[Report]:
    """A spec with a holding and a violated check, plus an unknown result made by hand."""
    rep = api.check(l2l3.load(ROOT / "examples" / "shared-stack.l2l3"))
    assert {r.status for r in rep.results} == {Verdict.HOLDS, Verdict.VIOLATED}
    unknown = dataclasses.replace(
        rep.results[0], status=Verdict.UNKNOWN, explanation="budget <spent>", witness=None
    )
    return [rep, Report(rep.spec, (unknown,))]


def test_renderers_are_the_check_formats() -> None:
    from l2l3.report.json import render_json
    from l2l3.report.junit import render_junit
    from l2l3.report.sarif import render_sarif
    from l2l3.report.text import render_text
    from l2l3.report.text import render_trace as text_render_trace

    assert RENDERERS == {
        "text": render_text,
        "json": render_json,
        "sarif": render_sarif,
        "junit": render_junit,
    }
    assert render_trace is text_render_trace


@pytest.mark.parametrize("name", [*MODULES, "l2l3.report.matrix"])
def test_every_renderer_has_a_docstring(name: str) -> None:
    mod = importlib.import_module(name)
    assert mod.__doc__
    for fname in mod.__all__:
        obj = getattr(mod, fname)
        if inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{fname}"


def test_json_has_the_contract_shape(reports: list[Report]) -> None:
    doc = json.loads(RENDERERS["json"](reports))
    assert doc["summary"] == {"holds": 1, "violated": 2, "unknown": 1}
    for c in doc["checks"]:
        assert set(c) == {"file", "line", "name", "query", "status", "witness", "explanation"}
        assert c["witness"] is None or set(c["witness"]) >= {"packet", "hops"}


def test_sarif_lists_what_does_not_hold(reports: list[Report]) -> None:
    doc = json.loads(RENDERERS["sarif"](reports))
    assert doc["version"] == "2.1.0"
    levels = sorted(r["level"] for r in doc["runs"][0]["results"])
    assert levels == ["error", "error", "warning"]


def test_junit_counts_failures_and_errors(reports: list[Report]) -> None:
    """Unknown is an error, not skipped: dashboards show skipped green (tests/report/test_junit.py)."""
    suite = ET.fromstring(RENDERERS["junit"](reports))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "1")
    assert len(suite.findall("testcase/failure")) == 2 and suite.find("testcase/skipped") is None
    assert "<spent>" in suite.find("testcase/error").get("message", "")  # type: ignore[union-attr]


def test_text_ends_with_the_summary(reports: list[Report]) -> None:
    text = RENDERERS["text"](reports)
    assert text.endswith("4 checks: 1 hold, 2 violated, 1 unknown\n")
    assert "  VIOLATED: " in text and "  unknown: budget <spent>" in text


def _small_matrix(by: str) -> Matrix:
    cells = {
        ("ns0", "ns0"): Cell(pairs=2, reachable=2),
        ("ns0", "ns10"): Cell(pairs=4, reachable=1),
        ("ns10", "ns0"): Cell(pairs=4, reachable=0, unknown=2),
        ("ns10", "ns10"): Cell(pairs=2, reachable=0),
    }
    cls = [PodClass(0, "ns0", ("n0/p0", "n1/p0", "n2/p0", "n3/p0"), "namespace ns0, linux calico bgp")]
    return Matrix(
        by=by, groups=["ns0", "ns10"], cells=cells, classes=cls, evaluations=[], seconds=1.234, pods=4
    )


def test_matrix_text_layout() -> None:
    """Column names are written vertically, right-aligned; the grid is at least 4 wide."""
    assert render_matrix_text(_small_matrix("namespace")) == (
        "reachability by namespace: 1 classes of 4 pods, 0 representative queries, 1.23 s\n"
        "rows: from, columns: to.  # every pair reaches  . no pair reaches  "
        "+ some pairs reach  ? unknown  (blank: no pair)\n"
        "         n\n"
        "       n s\n"
        "       s 1\n"
        "       0 0\n"
        "ns0    # +\n"
        "ns10   ? .\n"
        "\n"
        "ns0 -> ns10: 1 of 4 pod pairs reach\n"
        "ns10 -> ns0: 0 of 4 pod pairs reach, 2 unknown\n"
    )
    by_class = render_matrix_text(_small_matrix("class"))
    assert by_class.endswith(
        "classes:\n  C0: 4 pods, namespace ns0, linux calico bgp (e.g. n0/p0, n1/p0, n2/p0, …)\n"
    )


def test_matrix_json_cells() -> None:
    doc = matrix_json(_small_matrix("namespace"))
    json.dumps(doc)
    assert doc["seconds"] == 1.234 and doc["groups"] == ["ns0", "ns10"]
    assert [(c["from"], c["to"], c["status"]) for c in doc["cells"]] == [
        ("ns0", "ns0", "all"),
        ("ns0", "ns10", "some"),
        ("ns10", "ns0", "unknown"),
        ("ns10", "ns10", "none"),
    ]
    assert doc["classes"][0] == {
        "id": "C0",
        "namespace": "ns0",
        "size": 4,
        "description": "namespace ns0, linux calico bgp",
        "representative": "n0/p0",
    }
