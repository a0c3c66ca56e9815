"""Reading typed fields out of one object, with errors at the offending value.

:class:`R` reads one object (its values and its :class:`~l2l3.kube.source.Loc`):
``r.str(m, "name", path)`` returns the string or None when the field is
absent (or null, which Kubernetes reads as absent), and raises
:class:`Invalid` (one diagnostic, at the value) when it has the wrong type.
:class:`Sink` gathers the notes of one file: fields that could matter but
are not read are counted per kind and field, not repeated per object.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any, NoReturn

from ruamel.yaml.scalarbool import ScalarBoolean

from l2l3.kube.errors import Diagnostic, Note, Span
from l2l3.kube.frozen import FrozenMap
from l2l3.kube.source import Loc, Path

__all__ = ["Invalid", "R", "Sink", "dotted", "found"]

PROTOCOLS = ("TCP", "UDP", "SCTP")


class Invalid(Exception):
    """One bad value in one object (the loader records it and goes on)."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


def dotted(path: Path, generic: bool = False) -> str:
    """``spec.containers[0].ports`` (``[]`` for every index with ``generic``)."""
    out = ""
    for k in path:
        if isinstance(k, int) and not isinstance(k, bool):
            out += "[]" if generic else f"[{k}]"
        else:
            out += f".{k}" if out else str(k)
    return out


def found(v: Any) -> str:
    """How a value reads in a message: ``the string 'x'``, ``a list`` …"""
    if v is None:
        return "null"
    if isinstance(v, bool | ScalarBoolean):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"the number {int(v)}"
    if isinstance(v, float):
        return f"the number {float(v)!r}"
    if isinstance(v, str):
        s = str(v)
        return f"the string {s[:40] + '…' if len(s) > 40 else s!r}"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, date):
        return "a timestamp"
    if hasattr(v, "tag") and hasattr(v, "value"):
        return "a tagged value"
    return f"a {type(v).__name__}"


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool | ScalarBoolean)


# ------------------------------------------------------------------ syntax

_NAME = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_NAME_RE = re.compile(_NAME)
_LABEL_RE = re.compile(_LABEL)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN)
_IANA_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


@lru_cache(maxsize=8192)
def label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix or len(prefix) > 253 or not _SUBDOMAIN_RE.fullmatch(prefix):
            return (
                f"label key {key!r}: its prefix must be a DNS subdomain (lower case, at most 253 characters)"
            )
    if not name or len(name) > 63 or not _NAME_RE.fullmatch(name):
        return (
            f"label key {key!r}: expected at most 63 letters, digits, '-', '_' or '.', "
            "beginning and ending with a letter or digit (after an optional 'prefix/')"
        )
    return None


@lru_cache(maxsize=8192)
def label_value_problem(value: str) -> str | None:
    if value and (len(value) > 63 or not _NAME_RE.fullmatch(value)):
        return (
            f"label value {value!r}: expected at most 63 letters, digits, '-', '_' or '.', "
            "beginning and ending with a letter or digit (or empty)"
        )
    return None


@lru_cache(maxsize=4096)
def iana_port_name_problem(name: str) -> str | None:
    """A container port name, or a named port of a policy or targetPort (IANA_SVC_NAME)."""
    if (
        len(name) > 15
        or not _IANA_RE.fullmatch(name)
        or "--" in name
        or not any("a" <= c <= "z" for c in name)
    ):
        return (
            f"port name {name!r}: expected at most 15 lower-case letters, digits and '-', with at least "
            "one letter (a port number is written without quotes)"
        )
    return None


def dns_label_problem(name: str, what: str) -> str | None:
    if len(name) > 63 or not _LABEL_RE.fullmatch(name):
        return f"{what} {name!r}: expected at most 63 lower-case letters, digits and '-' (a DNS label)"
    return None


def dns_subdomain_problem(name: str, what: str) -> str | None:
    if len(name) > 253 or not _SUBDOMAIN_RE.fullmatch(name):
        return f"{what} {name!r}: expected lower-case letters, digits, '-' and '.' (a DNS subdomain)"
    return None


# ------------------------------------------------------------------- notes


class Sink:
    """The notes of one file."""

    __slots__ = ("notes", "counted")

    def __init__(self) -> None:
        self.notes: list[Note] = []
        # (code, key) -> [count, first span, message(n, plural s)]
        self.counted: dict[tuple[str, Any], list[Any]] = {}

    def note(self, span: Span, message: str, code: str) -> None:
        self.notes.append(Note(span=span, message=message, code=code))

    def count(
        self, code: str, key: Any, span: Callable[[], Span] | Span, message: Callable[[int, str], str]
    ) -> None:
        """One note per ``(code, key)``; ``message(n, s)`` says it for ``n`` objects (``s``: "s" or "")."""
        entry = self.counted.get((code, key))
        if entry is None:
            self.counted[(code, key)] = [1, span() if callable(span) else span, message]
        else:
            entry[0] += 1

    def merge(self, other: Sink) -> None:
        self.notes.extend(other.notes)
        for k, (n, span, message) in other.counted.items():
            entry = self.counted.get(k)
            if entry is None:
                self.counted[k] = [n, span, message]
            else:
                entry[0] += n

    def result(self) -> list[Note]:
        out = list(self.notes)
        for (code, _key), (n, span, message) in self.counted.items():
            out.append(Note(span=span, message=message(n, "" if n == 1 else "s"), code=code, count=n))
        return out


# --------------------------------------------------------------- the reader


class R:
    """Reads the fields of one object of ``kind`` at ``loc``."""

    __slots__ = ("loc", "kind", "sink")

    def __init__(self, loc: Loc, kind: str, sink: Sink) -> None:
        self.loc = loc
        self.kind = kind
        self.sink = sink

    # -- places, errors, notes

    def span(self, path: Path = ()) -> Span:
        return self.loc.span(path)

    def fail(self, path: Path, message: str, *, key: bool = False) -> NoReturn:
        raise Invalid(self.loc.diag(path, message, key=key))

    def expected(self, path: Path, v: Any, what: str) -> NoReturn:
        hint = ""
        if isinstance(v, bool | ScalarBoolean | int | float) and "string" in what:
            hint = " (quote it: unquoted, YAML reads yes/no/on/off/y/n as true/false and digits as a number)"
        self.fail(path, f"{dotted(path)}: expected {what}, found {found(v)}{hint}")

    def note(self, path: Path, message: str, code: str) -> None:
        self.sink.note(self.loc.span(path), message, code)

    def unread(self, m: dict[Any, Any], path: Path, known: frozenset[str]) -> None:
        """A counted note for each key of ``m`` that is neither read nor known to be irrelevant."""
        if known.issuperset(m):
            return
        for k in m:
            if k not in known:
                where = path + (k,)
                field = dotted(where, generic=True)
                loc = self.loc
                self.sink.count(
                    "unread-field",
                    (self.kind, field),
                    lambda loc=loc, where=where: loc.key_span(where),  # type: ignore[misc]
                    lambda n, s, field=field: (
                        f"{self.kind} field {field} is not read ({n} object{s}; the first here)"
                    ),  # type: ignore[misc]
                )

    # -- typed values; each returns None when the field is absent or null

    def opt_map(
        self, m: dict[Any, Any], key: str, path: Path, what: str = "a mapping"
    ) -> dict[Any, Any] | None:
        v = m.get(key)
        if v is None or isinstance(v, dict):
            return v
        self.expected(path + (key,), v, what)

    def opt_list(self, m: dict[Any, Any], key: str, path: Path, what: str = "a list") -> list[Any] | None:
        v = m.get(key)
        if v is None or isinstance(v, list):
            return v
        self.expected(path + (key,), v, what)

    def opt_str(self, m: dict[Any, Any], key: str, path: Path, what: str = "a string") -> str | None:
        v = m.get(key)
        if v is None:
            return None
        if type(v) is str:
            return v
        if isinstance(v, str):
            return str(v)
        self.expected(path + (key,), v, what)

    def need_str(self, m: dict[Any, Any], key: str, path: Path, what: str = "a string") -> str:
        v = self.opt_str(m, key, path, what)
        if v is None:
            self.fail(path, f"{dotted(path + (key,))} is required ({what})")
        return v

    def opt_bool(self, m: dict[Any, Any], key: str, path: Path) -> bool | None:
        v = m.get(key)
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, ScalarBoolean):
            return bool(v)
        self.expected(path + (key,), v, "true or false")

    def opt_int(
        self, m: dict[Any, Any], key: str, path: Path, lo: int, hi: int, what: str = ""
    ) -> int | None:
        v = m.get(key)
        if v is None:
            return None
        if not is_int(v) or not lo <= v <= hi:
            self.expected(path + (key,), v, what or f"an integer from {lo} to {hi}")
        return int(v)

    def port(self, m: dict[Any, Any], key: str, path: Path) -> int | None:
        return self.opt_int(m, key, path, 1, 65535, "a port number from 1 to 65535")

    def protocol(self, m: dict[Any, Any], path: Path) -> tuple[str, str | None]:
        """(effective protocol, as written): TCP when omitted."""
        p = self.opt_str(m, "protocol", path, "TCP, UDP or SCTP")
        if p is None:
            return "TCP", None
        if p not in PROTOCOLS:
            self.expected(path + ("protocol",), p, "TCP, UDP or SCTP")
        return p, p

    def port_or_name(self, m: dict[Any, Any], key: str, path: Path) -> int | str | None:
        """A port number or an IANA port name (``targetPort``, a policy's ``port``)."""
        v = m.get(key)
        if v is None:
            return None
        if is_int(v):
            if not 1 <= v <= 65535:
                self.expected(path + (key,), v, "a port number from 1 to 65535 or a port name")
            return int(v)
        if isinstance(v, str):
            problem = iana_port_name_problem(str(v))
            if problem:
                self.fail(path + (key,), f"{dotted(path + (key,))}: {problem}")
            return str(v)
        self.expected(path + (key,), v, "a port number from 1 to 65535 or a port name")

    def strings(
        self, m: dict[Any, Any], key: str, path: Path, what: str = "a string"
    ) -> tuple[str, ...] | None:
        items = self.opt_list(m, key, path, f"a list of {what}s")
        if items is None:
            return None
        out = []
        for i, v in enumerate(items):
            if not isinstance(v, str):
                self.expected(path + (key, i), v, what)
            out.append(str(v))
        return tuple(out)

    def ip(self, v: Any, path: Path) -> str:
        if type(v) is str and _IPV4_RE.fullmatch(v):
            return v  # already canonical (no leading zeros)
        if isinstance(v, str):
            try:
                return str(ipaddress.ip_address(str(v)))
            except ValueError:
                pass
        self.expected(path, v, "an IP address")

    def cidr(self, v: Any, path: Path) -> tuple[str, bool]:
        """(canonical network, whether the written one had host bits set)."""
        if isinstance(v, str) and "/" in v:
            try:
                net = ipaddress.ip_network(str(v), strict=False)
            except ValueError:
                pass
            else:
                return str(net), int(net.network_address) != int(ipaddress.ip_interface(str(v)).ip)
        self.expected(path, v, "a CIDR (address/prefix length, such as 10.244.0.0/16)")

    def labels(self, m: dict[Any, Any], key: str, path: Path, what: str = "labels") -> FrozenMap[str, str]:
        """A string-to-string map whose keys and values are valid label syntax."""
        v = m.get(key)
        if v is None:
            return FrozenMap()
        if not isinstance(v, dict):
            self.expected(path + (key,), v, f"a mapping of {what}")
        out: dict[str, str] = {}
        for k, val in v.items():
            where = path + (key, k)
            if not isinstance(k, str):
                self.fail(
                    where, f"{dotted(path + (key,))}: expected a string key, found {found(k)}", key=True
                )
            problem = label_key_problem(str(k))
            if problem:
                self.fail(where, f"{dotted(path + (key,))}: {problem}", key=True)
            if not isinstance(val, str):
                self.expected(where, val, "a string (quote numbers and true/false)")
            problem = label_value_problem(str(val))
            if problem:
                self.fail(where, f"{dotted(where)}: {problem}")
            out[str(k)] = str(val)
        return FrozenMap(out)

    def annotations(self, m: dict[Any, Any], path: Path) -> FrozenMap[str, str]:
        v = m.get("annotations")
        if v is None:
            return FrozenMap()
        if not isinstance(v, dict):
            self.expected(path + ("annotations",), v, "a mapping of annotations")
        out: dict[str, str] = {}
        for k, val in v.items():
            if not isinstance(k, str) or not isinstance(val, str):
                where = path + ("annotations", k)
                self.expected(where, val if isinstance(k, str) else k, "string keys and string values")
            out[str(k)] = str(val)
        return FrozenMap(out)
