"""SARIF 2.1.0: valid against the official schema, with rules, code flows hop by hop and relative URIs.

``data/sarif-schema-2.1.0.json`` is the OASIS schema (sarif-2.1/schema/ of
oasis-tcs/sarif-spec, the errata01 text), kept here byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import l2l3
from l2l3 import api
from l2l3.checking import Report, Verdict
from l2l3.errors import Diagnostic, SpecError
from l2l3.model.types import Span
from l2l3.report.sarif import RULES, query_kind, render_sarif, render_sarif_error

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
KINDS = ["reach", "no-reach", "connect", "no-connect", "isolated", "nat", "netns-isolation", "no-loops"]


def valid(text: str) -> dict[str, Any]:
    """The log, after checking it against the schema (formats included)."""
    doc = json.loads(text)
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)
    return doc


@pytest.fixture(scope="module")
def reports() -> list[Report]:
    """shared-stack (two violated, hops at rule lines), policy-enforced (a warning), one unknown."""
    stack = api.check(l2l3.load(EX / "shared-stack.l2l3"))
    policy = api.check(l2l3.load(EX / "policy-enforced.l2l3"))
    assert policy.warnings and policy.count(Verdict.VIOLATED) == 1
    unknown = dataclasses.replace(stack.results[2], status=Verdict.UNKNOWN, explanation="budget spent")
    return [stack, policy, Report(stack.spec, (unknown,))]


@pytest.fixture(scope="module")
def run(reports: list[Report]) -> dict[str, Any]:
    return valid(render_sarif(reports, root=ROOT))["runs"][0]


def _uris(node: Any) -> list[dict[str, Any]]:
    """Every artifactLocation in a JSON tree."""
    if isinstance(node, dict):
        found = [node["artifactLocation"]] if "artifactLocation" in node else []
        return found + [a for v in node.values() for a in _uris(v)]
    if isinstance(node, list):
        return [a for v in node for a in _uris(v)]
    return []


def test_the_vendored_schema_is_the_official_one() -> None:
    assert SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # it does reject what is not SARIF
        valid(json.dumps({"version": "2.1.0", "runs": [{"results": []}]}))


def test_one_rule_per_query_kind_with_help(run: dict[str, Any]) -> None:
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [*KINDS, "input-error", "warning"] == list(RULES)
    for r in rules:
        for key in ("shortDescription", "fullDescription", "help"):
            assert r[key]["text"], (r["id"], key)
        assert r["name"] and r["defaultConfiguration"]["level"] in ("error", "note")
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]


def test_query_kinds() -> None:
    texts = {
        "reach a/x -> b/y tcp port 80": "reach",
        "no reach a/x -> b/y": "no-reach",
        "isolated namespace a <-> namespace b": "isolated",
        "nat a/x -> external web as 10.0.0.1": "nat",
        "netns-isolation on a": "netns-isolation",
        "no loops": "no-loops",
    }
    assert {t: query_kind(api.parse_query(t)) for t in texts} == texts


def test_results_levels_and_relative_uris(run: dict[str, Any], reports: list[Report]) -> None:
    results = run["results"]
    by_level = {lv: [r for r in results if r["level"] == lv] for lv in ("error", "warning", "note")}
    assert len(by_level["error"]) == 3 and len(by_level["warning"]) == 1
    assert len(by_level["note"]) == len(reports[1].warnings) >= 1
    assert {r["ruleId"] for r in by_level["error"]} == {"netns-isolation", "no-reach"}
    assert {r["ruleId"] for r in by_level["note"]} == {"warning"}
    locs = _uris(results)
    assert locs and all(a["uriBaseId"] == "%SRCROOT%" for a in locs)
    assert {a["uri"] for a in locs} == {"examples/shared-stack.l2l3", "examples/policy-enforced.l2l3"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"
    # each result at its check's line
    checks = [r for rep in reports for r in rep.results if r.status is not Verdict.HOLDS]
    lines = [
        r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results if r["level"] != "note"
    ]
    assert lines == [r.check.span.line for r in checks if r.check]
    assert run["properties"]["summary"] == {"holds": 4, "violated": 3, "unknown": 1}
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]


def test_the_policy_warning_is_a_note_at_the_policy_line(run: dict[str, Any]) -> None:
    notes = [r for r in run["results"] if r["level"] == "note"]
    policy = next(r for r in notes if "shop2/shop2-ingress" in r["message"]["text"])
    assert policy["message"]["text"].startswith("policy shop2/shop2-ingress is not enforced")
    assert policy["locations"][0]["physicalLocation"]["region"]["startLine"] == 29


def test_code_flow_is_the_witness_hop_by_hop(run: dict[str, Any], reports: list[Report]) -> None:
    violated = [r for r in reports[0].results if r.status is Verdict.VIOLATED]
    for res, r in zip(run["results"][:2], violated, strict=True):
        assert r.witness is not None and r.check is not None
        (flow,) = res["codeFlows"]
        (thread,) = flow["threadFlows"]
        locs = thread["locations"]
        assert len(locs) == len(r.witness.hops)
        for tfl, hop in zip(locs, r.witness.hops, strict=True):
            assert tfl["location"]["message"]["text"] == f"{hop.at}: {hop.action}"
            assert tfl["state"]["packet"]["text"] == str(hop.packet)
            line = tfl["location"]["physicalLocation"]["region"]["startLine"]
            assert line == (hop.span.line if hop.span is not None and hop.span.line else r.check.span.line)
        # the route hop points at the spec line of its pod, not at the check
        assert any(h.span is not None and h.span.line not in (0, r.check.span.line) for h in r.witness.hops)
        assert "counterexample" in flow["message"]["text"]


def test_unknown_is_a_warning(run: dict[str, Any]) -> None:
    (res,) = [r for r in run["results"] if r["level"] == "warning"]
    assert "unknown" in res["message"]["text"] and "budget spent" in res["message"]["text"]
    assert res["properties"]["status"] == "unknown"


def test_fingerprints_do_not_follow_line_numbers(reports: list[Report]) -> None:
    r = reports[0].results[0]
    assert r.check is not None
    moved = dataclasses.replace(r, check=dataclasses.replace(r.check, span=Span(r.check.span.file, 99, 1)))
    a = valid(render_sarif([reports[0]], root=ROOT))["runs"][0]["results"][0]
    b = valid(render_sarif([Report(reports[0].spec, (moved,))], root=ROOT))["runs"][0]["results"][0]
    assert a["partialFingerprints"] == b["partialFingerprints"]
    assert a["locations"] != b["locations"]


def test_root_defaults_to_the_working_directory(
    reports: list[Report], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(EX)
    run = valid(render_sarif(reports[:1]))["runs"][0]
    assert {a["uri"] for a in _uris(run["results"])} == {"shared-stack.l2l3"}
    # a file outside the root: an absolute file URI, still valid, no base id
    run = valid(render_sarif(reports[:1], root=tmp_path))["runs"][0]
    assert {a["uri"] for a in _uris(run["results"])} == {(EX / "shared-stack.l2l3").as_uri()}
    assert all("uriBaseId" not in a for a in _uris(run["results"]))


def test_nothing_to_report_is_still_a_valid_log() -> None:
    run = valid(render_sarif([]))["runs"][0]
    assert run["results"] == [] and len(run["tool"]["driver"]["rules"]) == len(RULES)
    assert run["invocations"][0]["exitCode"] == 0


def test_an_invalid_spec_gives_a_valid_log_with_the_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.l2l3"
    bad.write_text("segment lan 10.0.0.0/24\nnode a linux {\n    nic eth0 ip 10.0.0.1/24 on nowhere\n}\n")
    with pytest.raises(SpecError) as e:
        l2l3.load(bad)
    run = valid(render_sarif_error(e.value.diagnostics, root=tmp_path))["runs"][0]
    assert run["invocations"] == [{"executionSuccessful": False, "exitCode": 2}]
    assert [r["ruleId"] for r in run["results"]] == ["input-error"] * len(e.value.diagnostics)
    first, d = run["results"][0], e.value.diagnostics[0]
    assert first["level"] == "error" and first["message"]["text"] == d.message
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "bad.l2l3", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": d.span.line, "startColumn": d.span.column}


def test_error_logs_for_odd_diagnostics() -> None:
    """No diagnostics, a file that is no path, line 0, a warning, characters a URI must escape."""
    diags = [
        Diagnostic(Span("<spec>", 0, 0), "empty input"),
        Diagnostic(Span("dir with space/ä#1.l2l3", 3, 2), "odd", severity="warning"),
    ]
    run = valid(render_sarif_error(diags))["runs"][0]
    assert [r["level"] for r in run["results"]] == ["error", "note"]
    assert "region" not in run["results"][0]["locations"][0]["physicalLocation"]
    assert run["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "dir%20with%20space/%C3%A4%231.l2l3"
    )
    assert valid(render_sarif_error([]))["runs"][0]["results"] == []
