"""Assertions for tests of networks: a failing one shows the verdict and the witness on one screen.

>>> import l2l3
>>> from l2l3.testing import assert_holds, assert_reach
>>> spec = l2l3.loads('''
... segment lan 10.0.0.0/24
... node a linux {
...     nic eth0 ip 10.0.0.1/24 on lan
... }
... node b linux {
...     nic eth0 ip 10.0.0.2/24 on lan
... }
... ''')
>>> assert_holds(spec, "reach node a -> node b via mac").status.value
'holds'
>>> assert_reach(spec, "node a", "node b", proto="tcp", port=80).status.value
'holds'

Each helper returns the :class:`~l2l3.CheckResult` when the query holds and
raises :class:`AssertionError` otherwise; ``unknown`` (a resource limit) is a
failure too, never a pass. Malformed queries and unknown endpoints raise
:class:`~l2l3.QueryError`, as :func:`l2l3.evaluate` does.
"""

from __future__ import annotations

from typing import Any

from l2l3.api import CheckResult, Network, Verdict, evaluate, loads
from l2l3.model.types import Query, Spec
from l2l3.report import render_trace

__all__ = ["MAX_LINES", "assert_holds", "assert_isolated", "assert_reach", "describe_failure"]

#: lines of a failure message (one screen); a longer witness is cut in its middle
MAX_LINES = 30

_PROTOS = ("tcp", "udp", "icmp")


def _network(net_or_spec: Network | Spec | str) -> Network:
    if isinstance(net_or_spec, Network):
        return net_or_spec
    if isinstance(net_or_spec, str):  # a spec's text
        return Network(loads(net_or_spec))
    return Network(net_or_spec)


def _cut(lines: list[str], limit: int) -> list[str]:
    """``lines`` cut to ``limit``: the head and the tail (where the packet ends up) stay."""
    if len(lines) <= limit:
        return lines
    tail = max(limit // 3, 1)
    head = max(limit - tail - 1, 1)
    return [*lines[:head], f"    … {len(lines) - head - tail} more lines …", *lines[-tail:]]


def describe_failure(r: CheckResult, *, max_lines: int = MAX_LINES) -> str:
    """The message of a query that does not hold: verdict, explanation, witness, at most ``max_lines``."""
    name = f"check {r.check.name}: " if r.check is not None else ""
    where = f"{r.check.span.file}:{r.check.span.line}: " if r.check is not None and r.check.span.line else ""
    verdict = "VIOLATED" if r.status is Verdict.VIOLATED else r.status.value
    if r.status is Verdict.UNKNOWN:
        verdict += " (neither proved nor refuted; a resource limit was hit)"
    explanation = r.explanation if len(r.explanation) <= 600 else r.explanation[:599] + "…"
    head = [f"{where}{name}{r.query}", f"  {verdict}: {explanation}"]
    head += [f"  warning: {w}" for w in r.warnings[:3]]
    body: list[str] = []
    if r.witness is not None:
        w = r.witness
        if r.status is Verdict.VIOLATED:
            label = "counterexample" if w.delivered else "where its packets die"
        else:
            label = "witness" if w.delivered else "where it dies"
        body = [f"  {label}:", *render_trace(w).split("\n")]
    return "\n".join(head + _cut(body, max(max_lines - len(head), 4)))


def _check(net_or_spec: Network | Spec | str, query: Query | str) -> CheckResult:
    __tracebackhide__ = True
    r = evaluate(_network(net_or_spec), query)
    if r.status is not Verdict.HOLDS:
        raise AssertionError(describe_failure(r))
    return r


def _headers(kind: str, headers: dict[str, Any], allowed: tuple[str, ...]) -> str:
    unknown = sorted(set(headers) - set(allowed))
    if unknown:
        raise TypeError(f"{kind}: unexpected keyword argument(s) {', '.join(unknown)} (take {allowed})")
    words = []
    proto = headers.get("proto")
    if proto is not None:
        p = str(getattr(proto, "value", proto)).lower()
        if p not in _PROTOS:
            raise ValueError(f"proto must be one of {_PROTOS}, not {proto!r}")
        words.append(p)
    port = headers.get("port")
    if port is not None:
        words.append(f"port {int(port)}")
    if headers.get("via_mac"):
        words.append("via mac")
    nat = headers.get("nat")
    if nat is not None:
        with_nat = nat if isinstance(nat, bool) else str(nat).removesuffix(" nat") == "with"
        if not isinstance(nat, bool) and str(nat).removesuffix(" nat") not in ("with", "without"):
            raise ValueError(f"nat must be True, False, 'with' or 'without', not {nat!r}")
        words.append("with nat" if with_nat else "without nat")
    return "".join(" " + w for w in words)


def assert_holds(net_or_spec: Network | Spec | str, query: Query | str) -> CheckResult:
    """Assert that ``query`` (its text as written after ``check NAME:``, or a Query) holds.

    ``net_or_spec`` is a :class:`~l2l3.Network`, a loaded spec, or a spec's text.
    """
    __tracebackhide__ = True
    return _check(net_or_spec, query)


def assert_reach(net: Network | Spec | str, src: str, dst: str, **headers: Any) -> CheckResult:
    """Assert ``reach SRC -> DST`` with the given headers.

    Keywords: ``proto`` (``"tcp"``, ``"udp"``, ``"icmp"``), ``port`` (an int),
    ``via_mac`` (bool), ``nat`` (``True``/``"with"``: with nat,
    ``False``/``"without"``: without nat).
    """
    __tracebackhide__ = True
    tail = _headers("assert_reach", headers, ("proto", "port", "via_mac", "nat"))
    return _check(net, f"reach {src} -> {dst}{tail}")


def assert_isolated(net: Network | Spec | str, a: str, b: str, **headers: Any) -> CheckResult:
    """Assert ``isolated A <-> B`` (no packet either way); keywords ``proto`` and ``port``."""
    __tracebackhide__ = True
    tail = _headers("assert_isolated", headers, ("proto", "port"))
    return _check(net, f"isolated {a} <-> {b}{tail}")
