"""Every error l2l3 raises on purpose, under one root.

User-facing spec errors print as ``FILE:LINE:COL: error: message``, then the
source line, then a caret under the column. The CLI turns :class:`SpecError`
into exit status 2; anything else escaping is a bug in l2l3.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # an annotation only: the command line's error handling needs no model
    from l2l3.model.types import Span


class L2L3Error(Exception):
    """Root of all errors raised by l2l3 on purpose."""


class Severity(StrEnum):
    """How bad a diagnostic is; members equal their names as strings."""

    ERROR = "error"
    # the input is invalid: nothing is checked (exit 2)
    WARNING = "warning"
    # checked as written, but probably not what was meant
    NOTE = "note"
    # an assumption or something left unread, said so that nothing is silent


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a spec, at one place."""

    span: Span
    message: str
    line_text: str = ""
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        """``FILE:LINE:COL: error: message`` + the line + a caret."""
        head = f"{self.span}: {self.severity}: {self.message}"
        if not self.line_text:
            return head
        raw = printable(self.line_text.removesuffix("\n").removesuffix("\r"))
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


def source_lines(text: str) -> list[str]:
    """The lines of ``text`` as the parser counts them: the one place lines are split.

    lark counts lines at ``\\n`` only, and columns as characters since the last
    ``\\n``; so lines end at ``\\n`` here too, not at the other characters that
    :meth:`str.splitlines` takes for line ends (a lone ``\\r``, ``\\v``, ``\\f``,
    ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028``, ``\\u2029``), which stay in their
    line as one column each. The ``\\r`` of a CRLF line end is dropped. A text
    ending in ``\\n`` has an empty last line, as the parser sees it.
    """
    lines = text.split("\n")
    if "\r" in text:
        lines = [line.removesuffix("\r") for line in lines]
    return lines


@functools.lru_cache(maxsize=2)
def _lines_of(source: str) -> tuple[str, ...]:
    return tuple(source_lines(source))


def line_of(source: str, line: int) -> str:
    """The text of 1-based ``line`` in ``source``, as :func:`source_lines` splits it
    (empty when out of range)."""
    lines = _lines_of(source)
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return ""


#: Characters that might not print as one column of their own; see printable()
_MAYBE_UNPRINTABLE = re.compile(r"[^\t\x20-\x7e]")
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _shown(m: re.Match[str]) -> str:
    return "\ufffd" if unicodedata.category(m.group()) in _UNPRINTABLE_CATEGORIES else m.group()


def printable(line: str) -> str:
    """``line`` with every control, format or line/paragraph-separator character
    (other than tab) shown as U+FFFD, one for one: the excerpt of a diagnostic
    stays on one terminal line, in its order, with the caret under the column."""
    return _MAYBE_UNPRINTABLE.sub(_shown, line)
