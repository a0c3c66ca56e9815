"""The JUnit XML report, for CI dashboards (GitLab, Jenkins, …): one test case per check.

A check that holds passes; a violated one is a ``<failure>`` (its witness as
the body); an unknown one is an ``<error>``, never ``<skipped>``, which
dashboards show green. :func:`render_junit_error` gives a report for input
that did not load: one test case with an ``<error>`` holding every diagnostic.
Text is cleaned of the characters XML 1.0 cannot carry.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from l2l3.checking import CheckResult, Report, Verdict
from l2l3.errors import Diagnostic
from l2l3.model.types import Connect
from l2l3.report.text import connect_label, connect_lines, render_trace

__all__ = ["render_junit", "render_junit_error"]

#: characters XML 1.0 does not allow (in text or attributes), shown as U+FFFD
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text:
        e.text = _clean(text)
    return e


def _suite(tests: int, failures: int, errors: int) -> ET.Element:
    return ET.Element(
        "testsuite",
        {
            "name": "l2l3",
            "tests": str(tests),
            "failures": str(failures),
            "errors": str(errors),
            "skipped": "0",
        },
    )


def _xml(suite: ET.Element) -> str:
    ET.indent(suite, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _body(r: CheckResult) -> str:
    lines = [str(r.query), f"{r.status.value}: {r.explanation}"]
    if r.witness is not None and isinstance(r.query, Connect):
        lines += [f"{connect_label(r)}:", *connect_lines(r)]
    elif r.witness is not None:
        label = "witness"
        if r.status is Verdict.VIOLATED:
            label = "counterexample" if r.witness.delivered else "where its packets die"
        lines += [f"{label}:", render_trace(r.witness)]
    lines += [f"warning: {w}" for w in r.warnings]
    return "\n".join(lines) + "\n"


def _case(suite: ET.Element, r: CheckResult) -> None:
    c = r.check
    attrs = {"classname": c.span.file if c else "l2l3", "name": c.name if c else str(r.query)}
    if c is not None:
        attrs |= {"file": c.span.file, "line": str(c.span.line)}
    case = _sub(suite, "testcase", **attrs)
    if r.status is Verdict.VIOLATED:
        _sub(case, "failure", _body(r), message=r.explanation, type="violated")
    elif r.status is Verdict.UNKNOWN:
        _sub(case, "error", _body(r), message=f"unknown: {r.explanation}", type="unknown")


def render_junit(reports: list[Report]) -> str:
    """A ``<testsuite>``: violated checks are failures, unknown ones errors, holding ones pass.

    Each test case is named after its check, with the spec file as its class
    name and ``file``/``line`` attributes; the report's warnings are the
    suite's ``<system-out>``.
    """
    results = [r for rep in reports for r in rep.results]
    suite = _suite(
        len(results),
        sum(r.status is Verdict.VIOLATED for r in results),
        sum(r.status is Verdict.UNKNOWN for r in results),
    )
    for r in results:
        _case(suite, r)
    warnings = [w for rep in reports for w in rep.warnings]
    if warnings:
        _sub(suite, "system-out", "\n".join(warnings) + "\n")
    return _xml(suite)


def render_junit_error(diagnostics: Sequence[Diagnostic]) -> str:
    """A ``<testsuite>`` of one test case whose ``<error>`` lists every input error: nothing was checked."""
    suite = _suite(1, 0, 1)
    errors = [d for d in diagnostics if d.severity != "warning"] or list(diagnostics)
    first = errors[0] if errors else None
    attrs = {"classname": first.span.file if first else "l2l3", "name": "input"}
    if first is not None:
        attrs |= {"file": first.span.file, "line": str(first.span.line)}
    case = _sub(suite, "testcase", **attrs)
    n = len(errors)
    message = f"{n} input error{'s' if n != 1 else ''}: nothing was checked"
    if first is not None:
        message += f"; first: {first.span}: {first.message}"
    body = "\n".join(d.render() for d in diagnostics) + "\n" if diagnostics else "invalid input\n"
    _sub(case, "error", body, message=message, type="input-error")
    return _xml(suite)
