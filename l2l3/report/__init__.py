"""Rendering results, one module per format: text (a traceroute with headers), JSON, SARIF, JUnit XML.

:data:`RENDERERS` maps each ``l2l3 check --format`` name to its renderer, a
function of the list of :class:`~l2l3.checking.Report` to the whole output.
:mod:`l2l3.report.matrix` renders ``l2l3 matrix``.
"""

from __future__ import annotations

from collections.abc import Callable

from l2l3.checking import Report
from l2l3.report.json import render_json, result_json
from l2l3.report.junit import render_junit
from l2l3.report.sarif import render_sarif
from l2l3.report.text import render_text, render_trace

__all__ = [
    "RENDERERS",
    "render_json",
    "render_junit",
    "render_sarif",
    "render_text",
    "render_trace",
    "result_json",
]

#: ``--format`` name -> renderer
RENDERERS: dict[str, Callable[[list[Report]], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "junit": render_junit,
}
