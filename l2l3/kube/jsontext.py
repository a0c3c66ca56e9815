"""JSON text: values decoded by the stdlib's C scanner, positions found lazily.

The items of a ``List`` are decoded one at a time (:func:`json_events`), so
a ``kubectl get pods -A -o json`` of 150,000 pods never becomes one tree;
each item's offset, line and column are known, and a position below it is
found when a span is used, by walking the text from the item's offset
(:class:`JsonLoc`). A big file's text is let go once read (:meth:`JsonDoc.release`)
and read again only if a lazy span needs it (and the file did not change).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from functools import partial
from typing import Any

from l2l3.kube.errors import Diagnostic, KubeError, Span
from l2l3.kube.source import Loc, Path, file_stamp, line_around, read_text

__all__ = ["EmbeddedJsonDoc", "JsonDoc", "JsonLoc", "Window", "json_chunks", "json_events", "walk"]

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


class Window:
    """The part of a JSON text held in memory: ``buf`` is ``text[base : base + len(buf)]``.

    A big file is read in chunks (``chunks`` yields decoded text): :meth:`more`
    appends the next one, :meth:`drop` forgets what was read. ``line`` is the
    line number of ``buf[0]``, ``col0`` how many characters of its line come
    before it.
    """

    __slots__ = ("buf", "base", "line", "col0", "_chunks")

    def __init__(self, text: str = "", chunks: Iterator[str] | None = None) -> None:
        self.buf = text
        self.base = 0
        self.line = 1
        self.col0 = 0
        self._chunks = chunks

    @property
    def chunked(self) -> bool:
        return self._chunks is not None

    def more(self) -> bool:
        """Append the next chunk; False at the end of the text."""
        if self._chunks is not None:
            for chunk in self._chunks:
                if chunk:
                    self.buf += chunk
                    return True
            self._chunks = None
        return False

    def drop(self, i: int, line: int | None = None) -> None:
        """Forget ``buf[:i]`` (``line``: the line of ``buf[i]``, when the caller knows it)."""
        buf = self.buf
        nl = buf.rfind("\n", 0, i)
        if nl >= 0:
            self.line = buf.count("\n", 0, i) + self.line if line is None else line
            self.col0 = i - nl - 1
        else:
            self.col0 += i
        self.base += i
        self.buf = buf[i:]

    def col(self, i: int) -> int:
        """The 1-based column of ``buf[i]``."""
        nl = self.buf.rfind("\n", 0, i)
        return i - nl if nl >= 0 else self.col0 + i + 1

    def where(self, i: int) -> tuple[int, int]:
        """(line, col) of ``buf[i]``."""
        return self.line + self.buf.count("\n", 0, i), self.col(i)


class JsonDoc:
    """One JSON text: finds offsets for lazy spans, and maps them to file positions.

    While the text is read, positions come from its :class:`Window`; later
    from the whole text, kept (small files) or read again (big ones).
    """

    __slots__ = ("file", "_text", "_stamp", "_gone", "window")

    def __init__(self, file: str, text: str | None, reloadable: bool = False) -> None:
        self.file = file
        self._text = text
        self._stamp = file_stamp(file) if reloadable else None
        self._gone = False
        self.window: Window | None = None

    def release(self) -> None:
        """Let go of a big text once read; :meth:`text` reads it again when needed."""
        self.window = None
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

    def locate(
        self, base: tuple[int, int, int], path: Path, key: bool, want_text: bool = False
    ) -> tuple[int, int, str]:
        """File (line, col) of ``path`` below the value at ``base`` (offset, line, col), and
        with ``want_text`` the line's text."""
        off, line, col = base
        w = self.window
        if w is not None and off >= w.base:
            text, shift = w.buf, w.base
        else:
            w = None
            text, shift = self.text(), 0  # type: ignore[assignment]
            if text is None:
                fline, fcol = self.place(line, col)
                return fline, fcol, ""
        local = off - shift
        t = walk(text, local, path, key) if path else local
        if t != local:
            line += text.count("\n", local, t)
            nl = text.rfind("\n", 0, t)
            col = t - nl if nl >= 0 or w is None else w.col0 + t + 1
        fline, fcol = self.place(line, col)
        return fline, fcol, self.line_text(text, t, fline) if want_text else ""

    def position(self, base: tuple[int, int, int], path: Path, key: bool) -> tuple[int, int]:
        line, col, _ = self.locate(base, path, key)
        return line, col


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
        line, col, text = self.doc.locate(self.base, self.prefix + path, key, want_text=True)
        return Diagnostic(file=self.file, line=line, col=col, message=message, line_text=text)

    def child(self, path: Path) -> JsonLoc:
        return JsonLoc(self.doc, self.base[0], self.base[1], self.base[2], self.prefix + path)


def json_error(doc: JsonDoc, w: Window, e: Exception, at: int | None = None) -> KubeError:
    """A :class:`KubeError` for a JSON syntax error (or a too-deep nesting at ``at``)."""
    if isinstance(e, json.JSONDecodeError):
        pos, msg = e.pos, f"not valid JSON: {e.msg}"
    else:
        pos, msg = (at or 0), "not readable JSON: nested too deeply"
    end = len(w.buf.rstrip())
    if pos >= end:  # at the end of the text: show its last line
        pos = end
    line, col = w.where(pos)
    fline, fcol = doc.place(line, col)
    return KubeError(
        [
            Diagnostic(
                file=doc.file, line=fline, col=fcol, message=msg, line_text=doc.line_text(w.buf, pos, fline)
            )
        ]
    )


def _value(text: str, i: int) -> tuple[Any, int]:
    try:
        return _scan_once(text, i)
    except StopIteration as e:
        at = e.value if isinstance(e.value, int) else i
        raise json.JSONDecodeError("Expecting value", text, at) from None


class _Reader:
    """Reads a JSON text through a :class:`Window`, asking for more text when a value runs off its end."""

    __slots__ = ("w",)

    def __init__(self, w: Window) -> None:
        self.w = w

    def ws(self, i: int) -> int:
        w = self.w
        while True:
            j = _ws(w.buf, i)
            if j < len(w.buf) or not w.more():
                return j

    def peek(self, i: int) -> str:
        w = self.w
        while i >= len(w.buf) and w.more():
            pass
        return w.buf[i : i + 1]

    def expect(self, i: int, chars: str, what: str) -> int:
        i = self.ws(i)
        c = self.peek(i)
        if not c or c not in chars:
            raise json.JSONDecodeError(f"Expecting {what}", self.w.buf, i)
        return i

    def value(self, i: int) -> tuple[Any, int]:
        w = self.w
        while True:
            try:
                return _value(w.buf, i)
            except json.JSONDecodeError:
                if not w.more():  # the value may go on in the next chunk
                    raise

    def string(self, i: int) -> tuple[str, int]:
        w = self.w
        while True:
            try:
                return scanstring(w.buf, i)  # type: ignore[no-any-return]
            except json.JSONDecodeError:
                if not w.more():
                    raise


#: A chunked window forgets what it has read once this much has piled up.
DROP_CHARS = 4 << 20


def json_events(
    doc: JsonDoc, source: str | Window, fields: dict[str, Any] | None = None
) -> Iterator[tuple[str, Any, JsonLoc]]:
    """The values of a JSON text (a string, or a :class:`Window` on a big file), as events.

    A root object is read key by key; when a key ``items`` holds an array,
    each element comes as ``("item", value, loc)`` as soon as it is decoded,
    and the root's other keys come last as ``("root", dict, loc)`` (where
    ``dict["items"]`` is the number of items; ``fields``, when given, fills
    with those keys as they are read, so that a consumer of an item knows
    the ``kind`` written before the items). Any other root comes whole as
    ``("whole", value, loc)``; an empty text as nothing. A syntax error
    raises :class:`KubeError`.
    """
    w = source if isinstance(source, Window) else Window(source)
    doc.window = w
    rd = _Reader(w)
    i = 0
    try:
        i = rd.ws(0)
        if i >= len(w.buf):
            return
        if w.buf[i] != "{":
            start = i
            value, i = rd.value(i)
            end = rd.ws(i)
            if end < len(w.buf):
                raise json.JSONDecodeError("Extra data", w.buf, end)
            yield "whole", value, JsonLoc(doc, w.base + start, *w.where(start))
            return
        root_loc = JsonLoc(doc, w.base + i, *w.where(i))
        if fields is None:
            fields = {}
        streamed = False
        i = rd.ws(i + 1)
        if rd.peek(i) != "}":
            while True:
                if rd.peek(i) != '"':
                    raise json.JSONDecodeError("Expecting property name enclosed in double quotes", w.buf, i)
                key, i = rd.string(i + 1)
                i = rd.expect(i, ":", "':' delimiter")
                i = rd.ws(i + 1)
                if key == "items" and rd.peek(i) == "[":
                    streamed = True
                    count = 0
                    last_off, last_line = i, w.where(i)[0]
                    i = rd.ws(i + 1)
                    if rd.peek(i) != "]":
                        while True:
                            off = i
                            item, i = rd.value(off)
                            last_line += w.buf.count("\n", last_off, off)
                            last_off = off
                            yield "item", item, JsonLoc(doc, w.base + off, last_line, w.col(off))
                            count += 1
                            i = rd.expect(i, ",]", "',' delimiter")
                            if w.buf[i] == "]":
                                break
                            i = rd.ws(i + 1)
                            if w.chunked and i > DROP_CHARS:
                                last_line += w.buf.count("\n", last_off, i)
                                w.drop(i, last_line)
                                i = last_off = 0
                    fields[key] = count
                    i += 1
                else:
                    value, i = rd.value(i)
                    fields[key] = value
                i = rd.expect(i, ",}", "',' delimiter")
                if w.buf[i] == "}":
                    break
                i = rd.ws(i + 1)
        end = rd.ws(i + 1)
        if end < len(w.buf):
            raise json.JSONDecodeError("Extra data", w.buf, end)
        yield ("root" if streamed else "whole"), fields, root_loc
    except json.JSONDecodeError as e:
        raise json_error(doc, w, e) from None
    except RecursionError as e:
        raise json_error(doc, w, e, i) from None


#: Files above this size are read in chunks of this size, never whole.
CHUNK_BYTES = 16 << 20


def json_chunks(path: str, size: int = CHUNK_BYTES) -> Iterator[str]:
    """A file's text in decoded chunks (UTF-8 with or without BOM, UTF-16/32 with BOM).

    Raises ``UnicodeDecodeError`` on a bad byte (the caller reads the file
    whole then, for an error at its line and column) and ``OSError``.
    """
    with open(path, "rb") as fh:
        data = fh.read(4)
        if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            encoding = "utf-32"
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8-sig"
        decoder = codecs.getincrementaldecoder(encoding)()
        while True:
            chunk = fh.read(size)
            text = decoder.decode(data + chunk, final=not chunk)
            data = b""
            if text:
                yield text
            if not chunk:
                return
