"""The JSON report of ``l2l3 check --format json`` (LANGUAGE.md §5)."""

from __future__ import annotations

import json
from typing import Any

from l2l3.checking import CheckResult, Report, Verdict
from l2l3.model.types import Connect

__all__ = ["render_json", "result_json"]


def result_json(r: CheckResult) -> dict[str, Any]:
    """One check as ``{"file", "line", "name", "query", "status", "witness", "explanation"}``.

    ``witness`` is None or the trace's JSON (its packet and hops); for a
    ``connect`` it is the request's, with ``"answer": {"packet", "hops", …}``
    inside it (None when no answer was sent). The location fields are None
    for a query asked without a ``check``.
    """
    c = r.check
    witness = r.witness.to_json() if r.witness is not None else None
    if witness is not None and isinstance(r.query, Connect):
        witness["answer"] = r.answer.to_json() if r.answer is not None else None
    return {
        "file": c.span.file if c else None,
        "line": c.span.line if c else None,
        "name": c.name if c else None,
        "query": str(r.query),
        "status": r.status.value,
        "witness": witness,
        "explanation": r.explanation,
    }


def render_json(reports: list[Report]) -> str:
    """``{"checks": […], "summary": {"holds", "violated", "unknown"}, "warnings": […]}``, indented."""
    checks = [result_json(r) for rep in reports for r in rep.results]
    summary = {v.value: sum(c["status"] == v.value for c in checks) for v in Verdict}
    doc = {
        "checks": checks,
        "summary": summary,
        "warnings": [w for rep in reports for w in rep.warnings],
    }
    return json.dumps(doc, indent=2) + "\n"
