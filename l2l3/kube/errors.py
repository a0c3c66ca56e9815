"""Where things were written, what went wrong there, and what was left out.

:class:`Span` is a place in a file (1-based line and column, columns count
characters). Spans of values deep inside big JSON files are *lazy*: the
position is found in the text only when someone asks for it (see
:mod:`l2l3.kube.source`), so a 150,000-pod file is not scanned twice.

:class:`KubeError` is raised for input that is not valid: every problem found
is one :class:`Diagnostic` (file, line, col, message, and the source line for
the caret). :class:`Note` is what the readers say about what they skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Diagnostic", "KubeError", "Note", "Span"]


class Span:
    """Where a value was written: ``file``, 1-based ``line`` and ``col``.

    Immutable; equal spans compare and hash alike. ``column`` is an alias of
    ``col`` (the name the spec model uses).
    """

    __slots__ = ("_file", "_line", "_col", "_resolve")

    def __init__(self, file: str, line: int, col: int) -> None:
        self._file = file
        self._line = line
        self._col = col
        self._resolve: Callable[[], tuple[int, int]] | None = None

    @classmethod
    def lazy(cls, file: str, resolve: Callable[[], tuple[int, int]]) -> Span:
        """A span whose line and column ``resolve()`` computes on first use."""
        span = cls(file, 0, 0)
        span._resolve = resolve
        return span

    def _force(self) -> None:
        resolve = self._resolve
        if resolve is not None:
            self._line, self._col = resolve()
            self._resolve = None

    @property
    def file(self) -> str:
        return self._file

    @property
    def line(self) -> int:
        self._force()
        return self._line

    @property
    def col(self) -> int:
        self._force()
        return self._col

    @property
    def column(self) -> int:
        return self.col

    def _key(self) -> tuple[str, int, int]:
        self._force()
        return (self._file, self._line, self._col)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Span):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Span) -> bool:
        return self._key() < other._key()

    def __repr__(self) -> str:
        f, line, col = self._key()
        return f"Span({f!r}, {line}, {col})"

    def __str__(self) -> str:
        f, line, col = self._key()
        return f"{f}:{line}:{col}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Span, self._key())


@dataclass(frozen=True, slots=True, kw_only=True)
class Diagnostic:
    """One problem at one place: ``FILE:LINE:COL: message``.

    ``line_text`` is the source line (without its line break), for the caret;
    empty when there is none (a file that does not exist, a bad byte).
    """

    file: str
    line: int
    col: int
    message: str
    line_text: str = ""

    @property
    def span(self) -> Span:
        return Span(self.file, self.line, self.col)

    def render(self) -> str:
        """``FILE:LINE:COL: error: message``, then the line and a caret under the column."""
        head = f"{self.file}:{self.line}:{self.col}: error: {self.message}"
        if not self.line_text:
            return head
        raw = self.line_text
        col = len(raw[: max(self.col - 1, 0)].expandtabs()) + 1
        text = raw.expandtabs()
        if len(text) > 200:  # a minified JSON line: show the part around the caret
            start = max(0, col - 80)
            text = text[start : start + 160]
            col -= start
        return f"{head}\n    {text}\n    {' ' * max(col - 1, 0)}^"


class KubeError(ValueError):
    """Kubernetes objects or CNI configs that are not valid input.

    ``diagnostics`` lists every problem found (in file order); ``more`` counts
    the problems beyond the first :data:`MAX_DIAGNOSTICS`, which are not kept.
    """

    MAX_DIAGNOSTICS = 200

    def __init__(self, diagnostics: list[Diagnostic], more: int = 0) -> None:
        self.diagnostics = list(diagnostics)
        self.more = more
        lines = [f"{d.file}:{d.line}:{d.col}: {d.message}" for d in self.diagnostics]
        if more:
            lines.append(f"... and {more} more errors")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """Something the readers skipped or assumed, at the place it concerns.

    ``code`` sorts notes: ``skipped-kind`` (objects of a kind l2l3 does not
    read, counted), ``unread-field`` (a field that could matter, counted over
    every object that has it), ``skipped-pod``, ``skipped-object``,
    ``implicit-namespace``, ``not-kubernetes`` (a file or document that is no
    Kubernetes object), ``no-effect``, ``assumed``.
    ``count`` is how many objects the note stands for; ``span`` is the first.
    """

    span: Span
    message: str
    code: str
    count: int = 1

    def render(self) -> str:
        return f"{self.span}: note: {self.message}"
