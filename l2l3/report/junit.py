"""The JUnit XML report, for CI dashboards: one test case per check."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from l2l3.checking import Report, Verdict
from l2l3.report.text import render_trace

__all__ = ["render_junit"]


def render_junit(reports: list[Report]) -> str:
    """A ``<testsuite>``: a violated check is a failure (its witness as the body), an unknown one skipped."""
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
