"""Rendering results: text (a traceroute with headers), JSON, SARIF, JUnit XML."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from l2l3.api import Report
from l2l3.checking import CheckResult, Verdict
from l2l3.model.packet import Hop, Packet, Trace

_MARK = {Verdict.HOLDS: "holds", Verdict.VIOLATED: "VIOLATED", Verdict.UNKNOWN: "unknown"}


def _diff(before: Packet | None, after: Packet) -> str:
    """The header fields a hop changed, as ``field a -> b``."""
    if before is None:
        return ""
    parts = []
    for name in ("src", "dst", "dport", "smac", "dmac"):
        a, b = getattr(before, name), getattr(after, name)
        if a != b and a is not None:
            parts.append(f"{name} {a} -> {b}")
    if (before.outer is None) != (after.outer is None):
        parts.append("encapsulated" if after.outer else "decapsulated")
    return ", ".join(parts)


def render_trace(t: Trace, indent: str = "    ") -> str:
    lines = [f"{indent}packet: {t.packet}"]
    prev: Packet | None = None
    for n, h in enumerate(t.hops, 1):
        lines.append(f"{indent}{n:>2}  {_hop_line(h)}")
        changed = _diff(prev, h.packet)
        lines.append(f"{indent}      {h.packet}" + (f"   [{changed}]" if changed else ""))
        prev = h.packet
    fate = t.disposition.value + (f" at {t.delivered_to}" if t.delivered_to else "")
    if t.reason:
        fate += f" ({t.reason})"
    lines.append(f"{indent}=> {fate}")
    return "\n".join(lines)


def _hop_line(h: Hop) -> str:
    where = f"  [{h.span.file}:{h.span.line}]" if h.span is not None and h.span.line else ""
    return f"{h.at:<22} {h.action}{where}"


def render_text(reports: list[Report]) -> str:
    out: list[str] = []
    for rep in reports:
        for w in rep.warnings:
            out.append(w)
        for r in rep.results:
            out.append(_result_text(r))
    total = [r for rep in reports for r in rep.results]
    h = sum(r.status is Verdict.HOLDS for r in total)
    v = sum(r.status is Verdict.VIOLATED for r in total)
    u = sum(r.status is Verdict.UNKNOWN for r in total)
    out.append(f"{len(total)} checks: {h} hold, {v} violated, {u} unknown")
    return "\n".join(out) + "\n"


def _result_text(r: CheckResult) -> str:
    c = r.check
    head = f"{c.span.file}:{c.span.line}: {c.name}: " if c is not None else ""
    lines = [f"{head}{r.query}", f"  {_MARK[r.status]}: {r.explanation}"]
    if r.witness is not None:
        label = "witness" if r.witness.delivered or r.status is Verdict.VIOLATED else "where it dies"
        if r.status is Verdict.VIOLATED and not r.witness.delivered:
            label = "where its packets die"
        elif r.status is Verdict.VIOLATED:
            label = "counterexample"
        lines.append(f"  {label}:")
        lines.append(render_trace(r.witness))
    return "\n".join(lines)


def result_json(r: CheckResult) -> dict[str, Any]:
    c = r.check
    return {
        "file": c.span.file if c else None,
        "line": c.span.line if c else None,
        "name": c.name if c else None,
        "query": str(r.query),
        "status": r.status.value,
        "witness": r.witness.to_json() if r.witness is not None else None,
        "explanation": r.explanation,
    }


def render_json(reports: list[Report]) -> str:
    checks = [result_json(r) for rep in reports for r in rep.results]
    summary = {v.value: sum(c["status"] == v.value for c in checks) for v in Verdict}
    doc = {
        "checks": checks,
        "summary": summary,
        "warnings": [w for rep in reports for w in rep.warnings],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_sarif(reports: list[Report]) -> str:
    results = []
    for rep in reports:
        for r in rep.results:
            if r.status is Verdict.HOLDS:
                continue
            c = r.check
            results.append(
                {
                    "ruleId": "l2l3/" + r.status.value,
                    "level": "error" if r.status is Verdict.VIOLATED else "warning",
                    "message": {"text": f"{c.name if c else ''}: {r.query}: {r.explanation}"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": c.span.file if c else ""},
                                "region": {
                                    "startLine": c.span.line if c else 1,
                                    "startColumn": c.span.column if c else 1,
                                },
                            }
                        }
                    ],
                }
            )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "l2l3", "rules": []}}, "results": results}],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_junit(reports: list[Report]) -> str:
    cases = []
    total = fails = skipped = 0
    for rep in reports:
        for r in rep.results:
            total += 1
            c = r.check
            name = quoteattr(c.name if c else str(r.query))
            cls = quoteattr(c.span.file if c else "l2l3")
            body = ""
            if r.status is Verdict.VIOLATED:
                fails += 1
                detail = render_trace(r.witness) if r.witness else ""
                body = f"<failure message={quoteattr(r.explanation)}>{escape(detail)}</failure>"
            elif r.status is Verdict.UNKNOWN:
                skipped += 1
                body = f"<skipped message={quoteattr(r.explanation)}/>"
            cases.append(f"  <testcase classname={cls} name={name}>{body}</testcase>")
    head = f'<testsuite name="l2l3" tests="{total}" failures="{fails}" skipped="{skipped}">'
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + head + "\n" + "\n".join(cases) + "\n</testsuite>\n"


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif, "junit": render_junit}
