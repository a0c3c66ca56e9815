"""The public Python API: load a spec, check it, ask questions, trace packets.

>>> import l2l3
>>> spec = l2l3.loads('''
... segment lan 10.0.0.0/24
... node a linux {
...     nic eth0 ip 10.0.0.1/24 on lan
... }
... node b linux {
...     nic eth0 ip 10.0.0.2/24 on lan
... }
... check ab: reach node a -> node b via mac
... ''')
>>> [r.status.value for r in l2l3.check(spec).results]
['holds']
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Any

from l2l3.checking import Checker, CheckResult, Report, Verdict
from l2l3.checking.admitted import admission_note
from l2l3.errors import Diagnostic, QueryError, SpecError, line_of
from l2l3.model.endpoints import check_query_endpoints, resolve, send_address
from l2l3.model.network import Network
from l2l3.model.packet import Packet, Trace
from l2l3.model.policy import unenforced_policies
from l2l3.model.simulate import simulate
from l2l3.model.types import Proto, Query, Spec

if TYPE_CHECKING:
    from l2l3.incremental import Session

__all__ = [
    "CheckResult",
    "Network",
    "Report",
    "Session",
    "Verdict",
    "check",
    "evaluate",
    "load",
    "loads",
    "parse_endpoint",
    "parse_query",
    "policy_warnings",
    "trace",
]


def loads(text: str, file: str = "<spec>") -> Spec:
    """Parse, expand profiles and validate a spec; raises SpecError."""
    from l2l3.dsl import parse

    return parse(text, file)


def load(path: str | Path) -> Spec:
    """Read a ``.l2l3`` file; raises SpecError (also for unreadable files)."""
    from l2l3.dsl import load as dsl_load

    return dsl_load(str(path))


def policy_warnings(net: Network) -> list[str]:
    """A line per policy that selects pods on nodes whose CNI does not enforce it."""
    out = []
    for pol, pods in unenforced_policies(net):
        cnis = sorted({net.spec_node(p.split("/")[0]).cni or "" for p in pods})
        named = [c for c in cnis if c]
        why = (
            f"{', '.join(named)} does not enforce NetworkPolicy"
            if named
            else "their nodes have enforce-policy off"
        )
        where = f"{pol.span.file}:{pol.span.line}: " if pol.span.line else ""
        out.append(
            f"{where}warning: policy {pol.namespace}/{pol.name} is not enforced on "
            f"{', '.join(pods)} ({why}); l2l3 reasons as that dataplane behaves and ignores it there"
        )
    return out


def check(
    spec: Spec,
    *,
    extra_warnings: list[Diagnostic] | None = None,
    budget: int | None = None,
    time_limit: float | None = None,
    network: Network | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> Report:
    """Run every ``check`` of the spec.

    ``budget`` caps the solver checks of each search; a search that needs
    more ends ``unknown`` (never ``holds``); so does a query that takes more
    than ``time_limit`` seconds. An endpoint that cannot be
    resolved (an unknown name, a source address nothing owns) raises
    :class:`SpecError` at the check's line before anything is checked.
    ``network``: the spec's :class:`Network`, if the caller built it already;
    ``on_result`` is called with each result as it is found (progress bars).
    """
    net = network if network is not None else Network(spec)
    bad = []
    for c in spec.checks:
        try:
            check_query_endpoints(net, c.query)
        except QueryError as e:
            bad.append(Diagnostic(c.span, f"check {c.name}: {e}", line_of(spec.source, c.span.line)))
    if bad:
        raise SpecError(bad)
    checker = Checker(net, budget=budget, time_limit=time_limit)
    results = []
    for c in spec.checks:
        r = checker.evaluate(c.query)
        why = r.explanation + admission_note(net, r.witness)  # which policy rules let its packet pass
        results.append(CheckResult(r.query, r.status, why, r.witness, c, r.pairs, r.warnings, r.answer))
        if on_result is not None:
            on_result(results[-1])
    warnings = [d.render() for d in extra_warnings or []] + policy_warnings(net)
    warnings += [
        f"{r.check.span.file}:{r.check.span.line}: warning: check {r.check.name}: {w}"
        for r in results
        if r.check is not None
        for w in r.warnings
    ]
    return Report(spec, tuple(results), tuple(warnings))


def evaluate(net: Network, query: Query | str) -> CheckResult:
    """Answer one query (a model object or its text, e.g. ``"reach a/x -> b/y"``)."""
    q = parse_query(query) if isinstance(query, str) else query
    return Checker(net).evaluate(q)


def parse_query(text: str) -> Query:
    """The query of ``text`` as written after ``check NAME:`` in a spec."""
    from l2l3.dsl import parse

    spec = parse(f"check q: {text}\n", "<query>", expand=False, validate=False)
    if len(spec.checks) != 1:
        raise QueryError(f"not one query: {text!r}")
    return spec.checks[0].query


def parse_endpoint(text: str):  # type: ignore[no-untyped-def]
    """An endpoint as written in checks (``node/pod``, ``node N``, ``external E``, an address)."""
    q = parse_query(f"reach {text} -> 0.0.0.0/0")
    return q.src  # type: ignore[union-attr]


def trace(
    net: Network,
    src: str,
    dst: IPv4Address | str,
    proto: Proto = Proto.ICMP,
    dport: int = 0,
    *,
    sport: int | None = None,
) -> list[Trace]:
    """The fate of one concrete packet from ``src`` to ``dst`` (one trace per outcome)."""
    ends = resolve(net, parse_endpoint(src))
    if len(ends) != 1:
        raise QueryError(f"{src!r} names {len(ends)} senders; trace takes one")
    e = ends[0]
    dst_ip = ip_address(str(dst))
    if not isinstance(dst_ip, IPv4Address):
        raise QueryError("l2l3 models IPv4 only")
    s = send_address(net, e, dst_ip)
    if s is None:
        raise QueryError(f"{src!r} has no address to send from")
    if proto == Proto.ICMP:
        dport, sp = 0, 0
    else:
        sp = 40000 if sport is None else sport
    pkt = Packet(src=s, dst=dst_ip, proto=proto, sport=sp, dport=dport)
    return simulate(net, e.origin, pkt)


def __getattr__(name: str) -> Any:  # PEP 562: the incremental session is imported when asked for
    if name == "Session":
        from l2l3.incremental import Session

        return Session
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
