"""JSON text: values decoded by the stdlib's C scanner, positions found lazily.

The items of a ``List`` are decoded one at a time (:func:`json_events`), so
a ``kubectl get pods -A -o json`` of 150,000 pods never becomes one tree;
each item's offset, line and column are known, and a position below it is
found when a span is used, by walking the text from the item's offset
(:class:`JsonLoc`). A big file's text is let go once read (:meth:`JsonDoc.release`)
and read again only if a lazy span needs it (and the file did not change).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import partial
from typing import Any

from l2l3.kube.errors import Diagnostic, KubeError, Span
from l2l3.kube.source import Loc, Path, file_stamp, line_around, read_text

__all__ = ["EmbeddedJsonDoc", "JsonDoc", "JsonLoc", "json_events", "walk"]

#: Files above this size drop their text after reading (lazy spans re-read it).
KEEP_TEXT_BYTES = 8 << 20

_WS = re.compile(r"[ \t\n\r]*")
_scan_once: Any = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009  (the C scanner; untyped)
scanstring: Any = getattr(json.decoder, "scanstring")  # noqa: B009


def _ws(text: str, i: int) -> int:
    """The offset of the first non-blank character at or after ``i``."""
    m = _WS.match(text, i)
    return m.end() if m is not None else i


def _find_key(text: str, off: int, key: str) -> tuple[int, int] | None:
    """(key offset, value offset) of the last ``key`` in the object at ``off``."""
    found = None
    i = _ws(text, off + 1)
    while text[i] == '"':
        k_off = i
        k, i = scanstring(text, i + 1)
        i = _ws(text, i)
        if text[i] != ":":
            break
        i = _ws(text, i + 1)
        if k == key:
            found = (k_off, i)
        _, i = _scan_once(text, i)
        i = _ws(text, i)
        if text[i] != ",":
            break
        i = _ws(text, i + 1)
    return found


def _find_index(text: str, off: int, index: int) -> int | None:
    i = _ws(text, off + 1)
    n = 0
    while text[i] != "]":
        if n == index:
            return i
        _, i = _scan_once(text, i)
        i = _ws(text, i)
        if text[i] != ",":
            break
        i = _ws(text, i + 1)
        n += 1
    return None


def walk(text: str, off: int, path: Path, key: bool = False) -> int:
    """The offset of the value at ``path`` below the value at ``off`` (the deepest found)."""
    last = len(path) - 1
    for depth, k in enumerate(path):
        try:
            c = text[off]
            if c == "{" and isinstance(k, str):
                kv = _find_key(text, off, k)
                if kv is None:
                    return off
                if key and depth == last:
                    return kv[0]
                off = kv[1]
            elif c == "[" and isinstance(k, int) and not isinstance(k, bool):
                idx = _find_index(text, off, k)
                if idx is None:
                    return off
                off = idx
            else:
                return off
        except (IndexError, ValueError, StopIteration, RecursionError):
            return off
    return off


class JsonDoc:
    """One JSON text: finds offsets for lazy spans, and maps them to file positions."""

    __slots__ = ("file", "_text", "_stamp", "_gone")

    def __init__(self, file: str, text: str, reloadable: bool = False) -> None:
        self.file = file
        self._text: str | None = text
        self._stamp = file_stamp(file) if reloadable else None
        self._gone = False

    def release(self) -> None:
        """Let go of a big text once read; :meth:`text` reads it again when needed."""
        if self._text is not None and self._stamp is not None and len(self._text) > KEEP_TEXT_BYTES:
            self._text = None

    def text(self) -> str | None:
        if self._text is None and not self._gone:
            if self._stamp is not None and file_stamp(self.file) == self._stamp:
                try:
                    self._text = read_text(self.file)
                except KubeError:
                    self._gone = True
            else:
                self._gone = True  # changed or removed since: spans stay at their object
        return self._text

    def place(self, line: int, col: int) -> tuple[int, int]:
        """The file position of a position in this text (an identity here)."""
        return line, col

    def line_text(self, text: str, off: int, line: int) -> str:
        return line_around(text, off)

    def locate(self, base: tuple[int, int, int], path: Path, key: bool) -> tuple[int, int, int]:
        """(line, col, offset) in this text of ``path`` below the value at ``base`` (off, line, col)."""
        off, line, col = base
        text = self.text()
        if text is None or not path:
            return line, col, off
        t = walk(text, off, path, key)
        if t == off:
            return line, col, off
        return line + text.count("\n", off, t), t - text.rfind("\n", 0, t), t

    def position(self, base: tuple[int, int, int], path: Path, key: bool) -> tuple[int, int]:
        line, col, _ = self.locate(base, path, key)
        return self.place(line, col)


class EmbeddedJsonDoc(JsonDoc):
    """JSON held in a string of another file (a ConfigMap's ``net-conf.json``).

    A YAML literal block (``|``) keeps the JSON's lines: line ``k`` of the JSON
    is line ``first_line + k - 1`` of the file, shifted right by ``indent``.
    Any other string style maps every position to the string's own place.
    """

    __slots__ = ("first_line", "indent", "at", "outer_line")

    def __init__(
        self,
        file: str,
        text: str,
        *,
        first_line: int = 0,
        indent: int = 0,
        at: tuple[int, int] = (1, 1),
        outer_line: Any = None,
    ) -> None:
        super().__init__(file, text)
        self.first_line = first_line  # 0: not a literal block
        self.indent = indent
        self.at = at
        self.outer_line = outer_line  # callable: file line -> its text

    def release(self) -> None:
        pass

    def place(self, line: int, col: int) -> tuple[int, int]:
        if self.first_line:
            return self.first_line + line - 1, self.indent + col
        return self.at

    def line_text(self, text: str, off: int, line: int) -> str:
        if self.outer_line is not None:
            return str(self.outer_line(line))
        return ""


class JsonLoc(Loc):
    """Positions in a JSON text below an object whose offset, line and column are known."""

    __slots__ = ("doc", "base", "prefix")

    def __init__(self, doc: JsonDoc, off: int, line: int, col: int, prefix: Path = ()) -> None:
        self.file = doc.file
        self.doc = doc
        self.base = (off, line, col)
        self.prefix = prefix

    def span(self, path: Path = ()) -> Span:
        full = self.prefix + path
        if not full:
            line, col = self.doc.place(self.base[1], self.base[2])
            return Span(self.file, line, col)
        return Span.lazy(self.file, partial(self.doc.position, self.base, full, False))

    def key_span(self, path: Path) -> Span:
        return Span.lazy(self.file, partial(self.doc.position, self.base, self.prefix + path, True))

    def diag(self, path: Path, message: str, *, key: bool = False) -> Diagnostic:
        line, col, off = self.doc.locate(self.base, self.prefix + path, key)
        fline, fcol = self.doc.place(line, col)
        text = self.doc.text()
        line_text = self.doc.line_text(text, off, fline) if text is not None else ""
        return Diagnostic(file=self.file, line=fline, col=fcol, message=message, line_text=line_text)

    def child(self, path: Path) -> JsonLoc:
        return JsonLoc(self.doc, self.base[0], self.base[1], self.base[2], self.prefix + path)


def json_error(doc: JsonDoc, text: str, e: Exception, off: int | None = None) -> KubeError:
    """A :class:`KubeError` for a JSON syntax error (or a too-deep nesting at ``off``)."""
    if isinstance(e, json.JSONDecodeError):
        pos, msg = e.pos, f"not valid JSON: {e.msg}"
    else:
        pos, msg = (off or 0), "not readable JSON: nested too deeply"
    if pos >= len(text.rstrip()):  # at the end of the text: show its last line
        pos = len(text.rstrip())
    line = text.count("\n", 0, pos) + 1
    col = pos - text.rfind("\n", 0, pos)
    fline, fcol = doc.place(line, col)
    return KubeError(
        [
            Diagnostic(
                file=doc.file, line=fline, col=fcol, message=msg, line_text=doc.line_text(text, pos, fline)
            )
        ]
    )


def _value(text: str, i: int) -> tuple[Any, int]:
    try:
        return _scan_once(text, i)
    except StopIteration as e:
        at = e.value if isinstance(e.value, int) else i
        raise json.JSONDecodeError("Expecting value", text, at) from None


def _expect(text: str, i: int, chars: str, what: str) -> int:
    if i >= len(text) or text[i] not in chars:
        raise json.JSONDecodeError(f"Expecting {what}", text, i)
    return i


def json_events(
    doc: JsonDoc, text: str, fields: dict[str, Any] | None = None
) -> Iterator[tuple[str, Any, JsonLoc]]:
    """The values of a JSON text, as events.

    A root object is read key by key; when a key ``items`` holds an array,
    each element comes as ``("item", value, loc)`` as soon as it is decoded,
    and the root's other keys come last as ``("root", dict, loc)`` (where
    ``dict["items"]`` is the number of items; ``fields``, when given, fills
    with those keys as they are read, so that a consumer of an item knows
    the ``kind`` written before the items). Any other root comes whole as
    ``("whole", value, loc)``; an empty text as nothing. A syntax error
    raises :class:`KubeError`.
    """
    i = _ws(text, 0)
    if i == len(text):
        return
    try:
        if text[i] != "{":
            value, end = _value(text, i)
            if _ws(text, end) != len(text):
                raise json.JSONDecodeError("Extra data", text, _ws(text, end))
            yield "whole", value, JsonLoc(doc, i, text.count("\n", 0, i) + 1, i - text.rfind("\n", 0, i))
            return
        root_off, root_line, root_col = i, text.count("\n", 0, i) + 1, i - text.rfind("\n", 0, i)
        root_loc = JsonLoc(doc, root_off, root_line, root_col)
        if fields is None:
            fields = {}
        streamed = False
        i = _ws(text, i + 1)
        if text[i : i + 1] != "}":
            while True:
                _expect(text, i, '"', "property name enclosed in double quotes")
                key, i = scanstring(text, i + 1)
                i = _expect(text, _ws(text, i), ":", "':' delimiter")
                i = _ws(text, i + 1)
                if key == "items" and text[i : i + 1] == "[":
                    streamed = True
                    count = 0
                    last_off, last_line = root_off, root_line
                    i = _ws(text, i + 1)
                    if text[i : i + 1] != "]":
                        while True:
                            off = i
                            try:
                                item, i = _value(text, i)
                            except RecursionError as e:
                                raise json_error(doc, text, e, off) from None
                            last_line += text.count("\n", last_off, off)
                            last_off = off
                            loc = JsonLoc(doc, off, last_line, off - text.rfind("\n", 0, off))
                            yield "item", item, loc
                            count += 1
                            i = _expect(text, _ws(text, i), ",]", "',' delimiter")
                            if text[i] == "]":
                                break
                            i = _ws(text, i + 1)
                    fields[key] = count
                    i += 1
                else:
                    value, i = _value(text, i)
                    fields[key] = value
                i = _expect(text, _ws(text, i), ",}", "',' delimiter")
                if text[i] == "}":
                    break
                i = _ws(text, i + 1)
        end = _ws(text, i + 1)
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
        if streamed:
            yield "root", fields, root_loc
        else:
            yield "whole", fields, root_loc
    except json.JSONDecodeError as e:
        raise json_error(doc, text, e) from None
    except RecursionError as e:
        raise json_error(doc, text, e, i) from None
