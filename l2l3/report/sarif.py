"""The SARIF 2.1.0 report: one result per check that does not hold."""

from __future__ import annotations

import json

from l2l3.checking import Report, Verdict

__all__ = ["render_sarif"]


def render_sarif(reports: list[Report]) -> str:
    """A SARIF log for code-scanning tools: violated checks are errors, unknown ones warnings.

    Each result points at its check's line and column; holding checks are left out.
    """
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
