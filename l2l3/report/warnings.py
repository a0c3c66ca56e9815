"""Warnings for a person: alike ones grouped and counted, long pod lists cut short.

A report's warnings are lines ``FILE:LINE[:COL]: warning: MESSAGE`` (some
followed by the spec line and a caret, which the first of a group keeps). Lines
whose message is the same once the check's name is set aside (``check NAME:
vacuous: …`` of twenty checks) become one line at the first location that
counts the rest and names a few; a list of pods (``not enforced on a/x, b/y,
…``) longer than :data:`SHOWN` names the first few and counts the others.
The machine formats (JSON, SARIF, JUnit) keep every warning whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["SHOWN", "group_warnings"]

#: how many names of a list (pods, locations) a grouped line shows
SHOWN = 4

_LINE = re.compile(
    r"^(?P<loc>\S+?:\d+(?::\d+)?): (?P<sev>warning|note): (?P<msg>[^\n]*)(?P<context>\n.*)?$", re.S
)
_CHECK = re.compile(r"^check (?P<name>\S+): ")
_PODS = re.compile(r"(?P<head>is not enforced on )(?P<pods>[^()]+?)(?P<tail> \()")


def _few(names: list[str], what: str) -> str:
    if len(names) <= SHOWN:
        return ", ".join(names)
    return f"{len(names)} {what}: {', '.join(names[:SHOWN])} and {len(names) - SHOWN} more"


def _short_pods(msg: str) -> str:
    def cut(m: re.Match[str]) -> str:
        return m["head"] + _few(m["pods"].split(", "), "pods") + m["tail"]

    return _PODS.sub(cut, msg, count=1)


def group_warnings(warnings: Iterable[str]) -> list[str]:
    """The lines to print for ``warnings``, in the order their groups first appear."""
    groups: dict[
        tuple[str, str], list[tuple[str, str, str]]
    ] = {}  # (severity, message) -> [(loc, check, context)]
    loose: list[tuple[int, str]] = []  # lines that are not FILE:LINE: warning: …, kept as they are
    order: list[tuple[str, str] | int] = []
    for w in warnings:
        m = _LINE.match(w)
        if m is None:
            loose.append((len(loose), w))
            order.append(len(loose) - 1)
            continue
        msg, name = m["msg"], ""
        c = _CHECK.match(msg)
        if c is not None:
            name, msg = c["name"], msg[c.end() :]
        key = (m["sev"], msg)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((m["loc"], name, m["context"] or ""))
    out: list[str] = []
    for k in order:
        if isinstance(k, int):
            out.append(loose[k][1])
            continue
        sev, msg = k
        (loc, name, context), rest = groups[k][0], groups[k][1:]
        head = f"check {name}: " if name else ""
        line = f"{loc}: {sev}: {head}{_short_pods(msg)}"
        if rest:
            names = [n for _, n, _ in rest if n]
            more = names if len(names) == len(rest) else [loc for loc, _, _ in rest]
            what = "checks" if len(names) == len(rest) else "places"
            line += f" (also {_few(more, 'more ' + what)}; {len(groups[k])} in all)"
        out.append(line + context)
    return out
