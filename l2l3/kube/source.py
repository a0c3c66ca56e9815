"""Files as text, and values in them with the place each was written.

The readers work on plain values (``dict``, ``list``, ``str``, ``int`` …)
and a :class:`Loc` that tells where the value at a *path* below the object
(``("spec", "containers", 0, "ports", 1, "containerPort")``) was written:

- YAML goes through ruamel.yaml's round-trip loader, whose maps and
  sequences carry line and column marks (:class:`YamlLoc`).
- JSON goes through the stdlib's C scanner, one List item at a time, and
  finds positions lazily (:mod:`l2l3.kube.jsontext`).
"""

from __future__ import annotations

import codecs
import mmap
import os
import re
import warnings
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.parser import Parser
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scanner import Scanner

from l2l3.kube.errors import Diagnostic, KubeError, Span

__all__ = ["Loc", "Path", "YamlLoc", "file_stamp", "line_around", "read_text", "yaml_documents"]

Path = tuple[Any, ...]

#: Deeper flow collections (``[[[…`` or ``{{{…``) are refused before parsing.
MAX_FLOW_DEPTH = 64
_DEEP_FLOW = re.compile(r"[\[{](?:[ \t\r\n]*[\[{]){" + str(MAX_FLOW_DEPTH) + "}")

#: Files above this size are decoded from a memory map.
MAP_BYTES = 32 << 20


def read_text(path: str) -> str:
    """The file's text: UTF-8 with or without BOM, or UTF-16/UTF-32 with BOM."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size > MAP_BYTES:
                # decode straight from the page cache: no second copy in memory
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    return _decode(path, mm)
            data = fh.read()
    except OSError as e:
        raise KubeError(
            [Diagnostic(file=path, line=1, col=1, message=f"cannot read: {e.strerror or e}")]
        ) from None
    return _decode(path, data)


def _decode(path: str, data: Any) -> str:
    head = bytes(data[:4])
    try:
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            text = str(data, "utf-32")
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = str(data, "utf-16")
        else:
            text = str(data, "utf-8")
    except UnicodeDecodeError as e:
        before = bytes(data[: e.start])
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        msg = f"not text in UTF-8 (or UTF-16/UTF-32 with a byte-order mark): byte 0x{data[e.start]:02x}"
        raise KubeError([Diagnostic(file=path, line=line, col=col, message=msg)]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def file_stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def line_around(text: str, off: int) -> str:
    """The line of ``text`` that holds offset ``off``, without its line break."""
    start = text.rfind("\n", 0, off) + 1
    end = text.find("\n", off)
    if end < 0:
        end = len(text)
    return text[start:end].rstrip("\r")


class Loc:
    """Where the values of one object were written (an abstract base)."""

    __slots__ = ("file",)
    file: str

    def span(self, path: Path = ()) -> Span:
        """The place of the value at ``path`` (the deepest part of it that exists)."""
        raise NotImplementedError

    def key_span(self, path: Path) -> Span:
        """The place of the key ``path[-1]`` in its mapping."""
        raise NotImplementedError

    def diag(self, path: Path, message: str, *, key: bool = False) -> Diagnostic:
        """A diagnostic at the value at ``path`` (at its key with ``key``)."""
        raise NotImplementedError

    def child(self, path: Path) -> Loc:
        """The Loc of the object at ``path`` (an item of a List)."""
        raise NotImplementedError


# --------------------------------------------------------------------- YAML


class Lines:
    """A text's lines, split on first use."""

    __slots__ = ("text", "_lines")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None

    def line(self, n: int) -> str:
        if self._lines is None:
            self._lines = self.text.split("\n")
        if 1 <= n <= len(self._lines):
            return self._lines[n - 1].rstrip("\r")
        return ""

    def document_line(self, index: int) -> int:
        """The 1-based line where YAML document ``index`` starts (for roots without marks)."""
        lines = self.text.split("\n")
        starts = [0]
        started = False  # the first document has begun (content or its own `---`)
        for i, raw in enumerate(lines):
            if raw.startswith("---"):
                if started:
                    starts.append(i)
                else:
                    starts[0] = i
                started = True
            elif raw.strip() and not raw.lstrip().startswith(("#", "%")):
                started = True
        if index >= len(starts):
            return 1
        first = starts[index]
        for j in range(first, len(lines)):
            s = lines[j].strip()
            if j == first and s.startswith("---"):
                s = s[3:].strip()
            if s and not s.startswith("#"):
                return j + 1
        return first + 1


class YamlLoc(Loc):
    """Positions from ruamel.yaml's marks (0-based there, 1-based here)."""

    __slots__ = ("node", "lines", "base")

    def __init__(self, file: str, node: Any, lines: Lines, base: tuple[int, int] = (0, 0)) -> None:
        self.file = file
        self.node = node
        self.lines = lines
        lc = getattr(node, "lc", None)
        self.base = (lc.line, lc.col) if lc is not None and lc.line is not None else base

    def _pos(self, path: Path, key: bool) -> tuple[int, int]:
        node = self.node
        pos = self.base
        last = len(path) - 1
        for i, k in enumerate(path):
            try:
                if isinstance(node, CommentedMap):
                    kpos = node.lc.key(k)
                    child = node[k]
                    if (key and i == last) or child is None:
                        return (kpos[0], kpos[1])
                    vpos = node.lc.value(k)
                elif isinstance(node, CommentedSeq):
                    vpos = node.lc.item(k)
                    child = node[k]
                else:
                    break
            except (KeyError, IndexError, TypeError, AttributeError):
                break
            if vpos is None or vpos[0] is None:
                break
            pos = (vpos[0], vpos[1])
            node = child
        return pos

    def span(self, path: Path = ()) -> Span:
        line, col = self._pos(path, False)
        return Span(self.file, line + 1, col + 1)

    def key_span(self, path: Path) -> Span:
        line, col = self._pos(path, True)
        return Span(self.file, line + 1, col + 1)

    def diag(self, path: Path, message: str, *, key: bool = False) -> Diagnostic:
        line, col = self._pos(path, key)
        return Diagnostic(
            file=self.file, line=line + 1, col=col + 1, message=message, line_text=self.lines.line(line + 1)
        )

    def child(self, path: Path) -> YamlLoc:
        node = self.node
        for k in path:
            node = node[k]
        return YamlLoc(self.file, node, self.lines, self._pos(path, False))


def _yaml_problem(e: Exception) -> tuple[str, Any]:
    problem = getattr(e, "problem", None)
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    context = getattr(e, "context", None)
    if problem:
        msg = f"not valid YAML: {problem}"
        if context:
            msg += f" ({context})"
    elif isinstance(e, RecursionError):
        msg = "not readable YAML: nested too deeply"
    else:
        msg = f"not valid YAML: {str(e).strip() or type(e).__name__}"
    return msg, mark


class _Yaml11Resolver(VersionedResolver):
    """Kubernetes reads YAML as YAML 1.1 (go-yaml v2 under sigs.k8s.io/yaml):
    ``yes``/``on`` are booleans, ``0755`` is octal; in every document."""

    @property
    def processing_version(self) -> Any:
        return (1, 1)


def yaml_documents(text: str, file: str) -> Iterator[tuple[Any, YamlLoc]]:
    """Each YAML document of ``text`` with its Loc; a syntax error raises :class:`KubeError`."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Resolver = _Yaml11Resolver
    # The round-trip constructor gives maps and sequences their line marks;
    # the plain scanner and parser skip gathering comments (a third faster).
    yaml.Scanner = Scanner
    yaml.Parser = Parser
    lines = Lines(text)
    deep = _DEEP_FLOW.search(text)
    if deep is not None:  # ruamel's scanner takes time quadratic in flow depth: refuse early
        line = text.count("\n", 0, deep.start()) + 1
        col = deep.start() - text.rfind("\n", 0, deep.start())
        msg = f"not readable YAML: more than {MAX_FLOW_DEPTH} [ or {{ open at once"
        raise KubeError([Diagnostic(file=file, line=line, col=col, message=msg, line_text=lines.line(line))])
    documents = yaml.load_all(text)
    index = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                doc = next(documents)
        except StopIteration:
            return
        except Exception as e:  # ruamel raises more than YAMLError on odd input (e.g. `!!int x`)
            msg, mark = _yaml_problem(e)
            line = mark.line + 1 if mark is not None else lines.document_line(index)
            col = mark.column + 1 if mark is not None else 1
            if not lines.line(line).strip():  # at the end of the text: show its last line
                back = text.rstrip()
                line = back.count("\n") + 1
                col = len(back) - back.rfind("\n")
            raise KubeError(
                [Diagnostic(file=file, line=line, col=col, message=msg, line_text=lines.line(line))]
            ) from None
        base = (0, 0)
        if getattr(doc, "lc", None) is None:
            base = (lines.document_line(index) - 1, 0)
        yield doc, YamlLoc(file, doc, lines, base)
        index += 1
