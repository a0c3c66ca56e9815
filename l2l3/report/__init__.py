"""Rendering results, one module per format: text (a traceroute with headers), JSON, SARIF, JUnit XML.

:data:`RENDERERS` maps each ``l2l3 check --format`` name to its renderer, a
function of the list of :class:`~l2l3.checking.Report` to the whole output.
:mod:`l2l3.report.matrix` renders ``l2l3 matrix``.

Each format's module is imported when its renderer is first looked up (in
:data:`RENDERERS` or as a name of this package), so ``--format text`` never
imports the XML or SARIF code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: each name this package offers -> the module that defines it
_HOME = {
    "render_json": "l2l3.report.json",
    "result_json": "l2l3.report.json",
    "render_junit": "l2l3.report.junit",
    "render_sarif": "l2l3.report.sarif",
    "render_text": "l2l3.report.text",
    "render_trace": "l2l3.report.text",
}

#: ``--format`` name -> the name of its renderer
_FORMATS = {"text": "render_text", "json": "render_json", "sarif": "render_sarif", "junit": "render_junit"}


def _resolve(name: str) -> Any:
    return getattr(importlib.import_module(_HOME[name]), name)


class _Renderers(Mapping[str, "Callable[[list[Report]], str]"]):
    """``--format`` name -> renderer; a format's module is imported when it is looked up."""

    def __getitem__(self, fmt: str) -> Callable[[list[Report]], str]:
        return _resolve(_FORMATS[fmt])  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(_FORMATS)

    def __len__(self) -> int:
        return len(_FORMATS)

    def __repr__(self) -> str:
        return f"RENDERERS({', '.join(_FORMATS)})"


#: ``--format`` name -> renderer
RENDERERS: Mapping[str, Callable[[list[Report]], str]] = _Renderers()


def __getattr__(name: str) -> Any:  # PEP 562: the renderers' names, imported on first use
    if name in _HOME:
        value = _resolve(name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
