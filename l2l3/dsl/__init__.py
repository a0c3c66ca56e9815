"""The spec language: text in, :class:`~l2l3.model.types.Spec` out, and back.

Pipeline of :func:`parse`: lark's LALR parse with the
:class:`~l2l3.dsl.transform.SpecTransformer` callbacks run inline, no tree
(:mod:`l2l3.dsl.transform.inline`; syntax errors become :class:`SpecError`
with an "expected …" message) → a raw Spec → CNI profile expansion when the spec has a ``cluster`` →
:func:`validate` (every name resolves, every value makes sense). Every user
error is a :class:`SpecError` carrying all the diagnostics found.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import stat
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from l2l3.dsl.grammar_cache import cache_dir, cached_lark
from l2l3.dsl.render import render
from l2l3.dsl.resolve import diagnose, validate
from l2l3.dsl.transform import SpecTransformer, inline
from l2l3.errors import Diagnostic, SpecError, source_lines
from l2l3.model.base import quiet_gc
from l2l3.model.types import Span, Spec

__all__ = ["load", "load_with_warnings", "parse", "parse_with_warnings", "render", "validate"]

#: Inputs above this size are refused rather than parsed.
MAX_BYTES = 20 * 1024 * 1024
#: At most this many syntax errors are reported for one file.
MAX_SYNTAX_ERRORS = 20


@functools.cache
def parser() -> Lark:
    """The LALR parser of ``l2l3.lark``, built once per grammar (tables cached on disk).

    No ``propagate_positions``: :func:`_parse_raw` runs the transformer inline
    (:mod:`l2l3.dsl.transform.inline`), which keeps the positions itself.
    """
    grammar = Path(__file__).with_name("l2l3.lark").read_text(encoding="utf-8")
    return cached_lark(grammar, cache_dir(), parser="lalr")


# ---------------------------------------------------------------- public API


def parse(text: str, file: str = "<spec>", *, expand: bool = True, validate: bool = True) -> Spec:
    """Parse, expand profiles (if ``expand``) and validate a spec.

    Raises :class:`SpecError` listing every problem found. ``validate=False``
    skips name resolution (for parsing a lone query, say).
    """
    return parse_with_warnings(text, file, expand=expand, validate=validate)[0]


def parse_with_warnings(
    text: str, file: str = "<spec>", *, expand: bool = True, validate: bool = True
) -> tuple[Spec, list[Diagnostic]]:
    """Like :func:`parse`, also returning the warnings of profile expansion."""
    if not isinstance(text, str):
        raise SpecError([Diagnostic(Span(file, 1, 1), "a spec must be text")])
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError([Diagnostic(Span(file, 1, 1), "the spec is larger than 20 MB; l2l3 refuses it")])
    with quiet_gc():  # a big spec makes millions of objects and no cycles (see quiet_gc)
        return _parse_with_warnings(text, file, expand=expand, validate=validate)


def _parse_with_warnings(
    text: str, file: str, *, expand: bool, validate: bool
) -> tuple[Spec, list[Diagnostic]]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = source_lines(text)  # as lark counts them: the parser reads "\n".join(lines)
    spec, diags, hard = _parse_raw(text, file, lines)
    if hard:
        raise SpecError(diags)
    warnings: list[Diagnostic] = []
    raw = spec
    if expand and spec.cluster is not None and not diags:
        from l2l3.model.profiles import expand as expand_profiles

        spec, found_warnings = expand_profiles(spec)
        warnings = list(found_warnings)
        if spec.source != text:
            spec = _with_source(spec, text)
    if validate:
        found = diagnose(spec, lines, has_cluster=raw.cluster is not None)
        diags = diags + [d for d in found if d.severity == "error"]
        warnings += [d for d in found if d.severity != "error"]
    if diags:
        raise SpecError(diags)
    return spec, warnings


def load(path: str | Path) -> Spec:
    """Read and parse a ``.l2l3`` file; unreadable or binary files raise SpecError."""
    return load_with_warnings(path)[0]


def load_with_warnings(path: str | Path) -> tuple[Spec, list[Diagnostic]]:
    """Like :func:`load`, also returning the warnings of profile expansion.

    Only a regular file (or a symlink to one) is read. Anything else is
    refused before it is opened, so that a FIFO or a device never blocks;
    a directory goes to :func:`_load_directory`.
    """
    file = str(path)
    mode = _stat_mode(path, file)
    if stat.S_ISDIR(mode):
        return _load_directory(path)
    if not stat.S_ISREG(mode):
        raise _file_error(file, f"not a regular file ({_kind_of(mode)})")
    return parse_with_warnings(_read_text(path, file), file)


def _load_directory(path: str | Path) -> tuple[Spec, list[Diagnostic]]:
    """The one place a directory given as a spec is handled: refused, for now."""
    raise _file_error(str(path), "not a regular file (a directory); give the .l2l3 files in it")


def _file_error(file: str, message: str) -> SpecError:
    return SpecError([Diagnostic(Span(file, 1, 1), message)])


def _os_reason(e: OSError | ValueError) -> str:
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return "not a valid path"  # an embedded NUL, an unencodable character


def _stat_mode(path: str | Path, file: str) -> int:
    try:
        return os.stat(path).st_mode
    except (OSError, ValueError) as e:
        raise _file_error(file, f"cannot read the file: {_os_reason(e)}") from None


_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _read_text(path: str | Path, file: str) -> str:
    """The text of a regular file: UTF-8, no NUL, at most MAX_BYTES."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        # O_NONBLOCK: should the path have turned into a FIFO since the stat,
        # opening it returns at once, and the fstat below refuses it.
        fd = os.open(path, flags)
        with open(fd, "rb") as f:
            mode = os.fstat(fd).st_mode
            data = f.read(MAX_BYTES + 1) if stat.S_ISREG(mode) else b""
    except (OSError, ValueError) as e:
        raise _file_error(file, f"cannot read the file: {_os_reason(e)}") from None
    if not stat.S_ISREG(mode):
        raise _file_error(file, f"not a regular file ({_kind_of(mode)})")
    if len(data) > MAX_BYTES:
        raise _file_error(file, "the spec is larger than 20 MB; l2l3 refuses it")
    if b"\x00" in data:
        raise _file_error(file, "this is a binary file, not a spec (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _file_error(file, f"the file is not UTF-8 text (bad byte at offset {e.start})") from None


# ---------------------------------------------------------------- internals


def _with_source(spec: Spec, text: str) -> Spec:
    from dataclasses import replace

    return replace(spec, source=text)


def _parse_raw(text: str, file: str, lines: list[str]) -> tuple[Spec, list[Diagnostic], bool]:
    """The raw Spec, its diagnostics, and whether any of them is fatal.

    After a syntax error the offending line is blanked (with the block it
    opens) and the text parsed again, so that one run reports up to
    MAX_SYNTAX_ERRORS syntax errors; values are then checked on what parsed.
    """
    syntax: list[Diagnostic] = []
    work = list(lines)
    budget = MAX_SYNTAX_ERRORS if len(text) < 1_000_000 else 1
    spec = transformer = None
    while True:
        # A fresh transformer for every attempt: the callbacks of an attempt
        # that stops at a syntax error have run on part of the text.
        transformer = SpecTransformer(file, lines)
        try:
            spec = inline.parse(parser(), "\n".join(work) + "\n", transformer)
            break
        except UnexpectedInput as e:
            diag = _syntax_diagnostic(e, file, lines)
            if syntax and diag.span == syntax[-1].span:
                break  # no progress
            syntax.append(diag)
            if len(syntax) >= budget or not _blank_statement(work, diag.span.line):
                break
        except LarkError as e:  # pragma: no cover - lark internals
            syntax.append(Diagnostic(Span(file, 1, 1), f"cannot parse: {e}", lines[0] if lines else ""))
            break
    if spec is None or transformer is None:
        return Spec(file=file, source=text), syntax, True
    spec = _with_source(spec, text)
    diags = syntax + transformer.diagnostics
    return spec, diags, bool(syntax) or transformer.hard_errors


def _blank_statement(work: list[str], line: int) -> bool:
    """Blank 1-based ``line`` in place, with the block it opens; False if nothing left."""
    i = line - 1
    if not 0 <= i < len(work):
        return False
    code = work[i].split("#", 1)[0]
    opens, closes = code.count("{"), code.count("}")
    if opens > closes:
        depth = 0
        j = i
        while j < len(work):
            seg = work[j].split("#", 1)[0]
            depth += seg.count("{") - seg.count("}")
            work[j] = ""
            if depth <= 0:
                break
            j += 1
    elif closes > opens:
        work[i] = "}" * (closes - opens)
    else:
        if not work[i].strip():
            return False
        work[i] = ""
    return True


# ---------------------------------------------------------------- syntax errors

_WORDS = {
    "NAME": "a name",
    "PODREF": "a pod like node/pod",
    "LABEL": "a label like app=web",
    "CIDR": "a CIDR like 10.0.0.0/24",
    "HOSTPORT": "an address and port like 10.0.0.1:8080",
    "IP": "an address like 10.0.0.1",
    "INT": "a number",
    "MAC": "a MAC like 00:15:5d:aa:03:03",
    "CPORT": "a container port like 8080/tcp=http",
    "PORTRANGE": "a port range like 8000-8080",
    "NLABEL": "a selector term like tier!=db",
    "NOTKEY": "a selector term like !legacy",
    "SELKEY": "a label key like app",
    "EMPTYSEL": "`{}` (the empty selector)",
    "_SEP": "end of line",
    "$END": "end of file",
}

#: Inner terminals ordered first by kind (values), then keywords alphabetically.
_ORDER = [
    "CIDR",
    "IP",
    "HOSTPORT",
    "MAC",
    "INT",
    "PORTRANGE",
    "CPORT",
    "LABEL",
    "NLABEL",
    "NOTKEY",
    "SELKEY",
    "EMPTYSEL",
    "PODREF",
    "NAME",
]


def _describe(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    try:
        term = parser().get_terminal(name)
    except KeyError:
        return name.lower()
    return f"`{term.pattern.value}`"


def _expected_words(names: set[str] | frozenset[str]) -> list[str]:
    values = [n for n in _ORDER if n in names]
    keywords = sorted(
        (_describe(n) for n in names if n not in _WORDS and n not in _ORDER), key=lambda w: w.strip("`")
    )
    tail = [n for n in ("_SEP", "$END") if n in names]
    return [_describe(n) for n in values] + keywords + [_describe(n) for n in tail]


def _join(words: list[str]) -> str:
    if len(words) > 24:
        words = words[:23] + ["…"]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


_WORD_AT = re.compile(r"[^\s;#{}(),]+|.")


def _found(text: str) -> str:
    if text == "":
        return "end of file"
    if text.startswith(("\n", ";", "#")):
        return "end of line"
    return f"`{text}`"


def _syntax_diagnostic(e: UnexpectedInput, file: str, lines: list[str]) -> Diagnostic:
    line = getattr(e, "line", None) or 1
    col = getattr(e, "column", None) or 1
    expected: set[str] = set()
    found = ""
    if isinstance(e, UnexpectedToken):
        tok: Token = e.token
        expected = set(e.accepts or e.expected or ())
        if tok.type == "$END":
            line = len(lines) if lines and lines[-1] else max(len(lines) - 1, 1)
            col = len(lines[line - 1]) + 1 if line <= len(lines) else 1
        elif tok.type == "_SEP":
            # Point at the end of the statement, not at the comment or newline.
            found = "\n"
        else:
            found = str(tok)
    elif isinstance(e, UnexpectedCharacters):
        expected = set(e.allowed or ())
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        m = _WORD_AT.match(text, col - 1)
        found = m.group(0) if m else ""
    else:
        expected = set(getattr(e, "expected", None) or ())
    expected = {n for n in expected if not n.startswith("__IGNORE")}
    words = _expected_words(expected)
    if isinstance(e, UnexpectedToken) and e.token.type == "$END" and "RBRACE" in expected:
        message = "expected `}` to close the open block, found end of file"
    else:
        message = f"expected {_join(words)}" if words else "unexpected input"
        message += f", found {_found(found)}"
    hint = _did_you_mean(found, expected)
    if hint:
        message += f"; did you mean `{hint}`?"
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return Diagnostic(Span(file, line, col), message, text)


def _did_you_mean(found: str, expected: set[str]) -> str | None:
    if not found or not found[0].isalpha():
        return None
    keywords: list[str] = []
    for n in expected:
        if n in _WORDS:
            continue
        try:
            pattern: Any = parser().get_terminal(n).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            keywords.append(pattern.value)
    lower = found.lower()
    if lower in keywords:
        return lower
    close = difflib.get_close_matches(found, keywords, n=1, cutoff=0.75)
    return close[0] if close else None
