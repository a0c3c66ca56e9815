"""Every error l2l3 raises on purpose, under one root.

User-facing spec errors print as ``FILE:LINE:COL: error: message``, then the
source line, then a caret under the column. The CLI turns :class:`SpecError`
into exit status 2; anything else escaping is a bug in l2l3.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2l3.model.types import Span


class L2L3Error(Exception):
    """Root of all errors raised by l2l3 on purpose."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a spec, at one place."""

    span: Span
    message: str
    line_text: str = ""
    severity: str = "error"  # or "warning"

    def render(self) -> str:
        """``FILE:LINE:COL: error: message`` + the line + a caret."""
        head = f"{self.span}: {self.severity}: {self.message}"
        if not self.line_text:
            return head
        raw = self.line_text.rstrip("\n")
        # the span counts characters; place the caret where tabs put them
        col = len(raw[: max(self.span.column - 1, 0)].expandtabs()) + 1
        text = raw.expandtabs()
        if len(text) > 200:  # keep a caret meaningful on huge lines
            start = max(0, col - 80)
            text = text[start : start + 160]
            col -= start
        caret = " " * max(col - 1, 0) + "^"
        return f"{head}\n    {text}\n    {caret}"


class SpecError(L2L3Error, ValueError):
    """Raised when a spec is invalid: bad syntax, unknown names, bad values.

    Carries every diagnostic found, not only the first; fix them top to bottom.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.span.file, d.span.line, d.span.column))
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class QueryError(L2L3Error, ValueError):
    """Raised when a query given through the API or CLI is malformed."""


class ReplayMismatch(L2L3Error, AssertionError):
    """Raised when the solver's witness does not replay in the simulator.

    This is a bug in l2l3, never in the spec: please report it with the spec.
    """


def line_of(source: str, line: int) -> str:
    """The text of 1-based ``line`` in ``source`` (empty when out of range)."""
    lines = source.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return ""
