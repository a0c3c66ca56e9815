"""Where translated statements come from, and what the translation says about them.

The readers' spans (:class:`l2l3.kube.errors.Span`, lazy for big JSON) become
the spec model's :class:`~l2l3.model.types.Span` here; what the translation
skips or assumes is a :class:`~l2l3.kube.errors.Note` (``code`` ``assumed``
for assumptions, ``skipped-*``/``unread-field``/``no-effect`` for what is
left out), collected by :class:`Notes`.
"""

from __future__ import annotations

from l2l3.errors import Diagnostic, Severity, SpecError
from l2l3.kube.errors import Note
from l2l3.kube.errors import Span as KubeSpan
from l2l3.model.base import quiet_gc
from l2l3.model.types import Span

__all__ = ["Notes", "input_error", "model_span", "note_diagnostic", "quiet_gc"]


def model_span(span: KubeSpan | Span) -> Span:
    """The spec model's span for a reader's span (the same file, line, column)."""
    if isinstance(span, Span):
        return span
    return Span(span.file, span.line, span.col)


def kube_span(span: KubeSpan | Span) -> KubeSpan:
    """The readers' span for either kind of span."""
    if isinstance(span, KubeSpan):
        return span
    return KubeSpan(span.file, span.line, span.column)


def input_error(span: KubeSpan | Span, message: str) -> SpecError:
    """A :class:`SpecError` at ``span`` (the caret line is filled in by the loader)."""
    return SpecError([Diagnostic(model_span(span), message)])


def note_diagnostic(note: Note) -> Diagnostic:
    """A note as a diagnostic of severity ``note`` (``FILE:LINE:COL: note: …``)."""
    return Diagnostic(model_span(note.span), note.message, severity=Severity.NOTE)


class Notes:
    """What a translation skipped or assumed, in the order said."""

    def __init__(self) -> None:
        self.items: list[Note] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, span: KubeSpan | Span, message: str, code: str = "unread-field", count: int = 1) -> None:
        key = (str(span), message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.items.append(Note(span=kube_span(span), message=message, code=code, count=count))

    def assumed(self, span: KubeSpan | Span, message: str) -> None:
        self.add(span, message, "assumed")

    def extend(self, notes: list[Note] | tuple[Note, ...]) -> None:
        for n in notes:
            self.add(n.span, n.message, n.code, n.count)

    @property
    def assumptions(self) -> list[Note]:
        return [n for n in self.items if n.code == "assumed"]
