"""The engine's shared core: symbolic packets, leaves, the solver plumbing.

:class:`Core` holds what every forwarding stage needs — the network, the z3
solver with its ``_assume`` scoping, the header accessors — so the stages can
live in their own modules (:mod:`l2l3.solver.l2`, :mod:`l2l3.solver.delivery`)
and meet again in :class:`l2l3.solver.engine.Engine`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network

import z3

from l2l3.model.goal import Goal
from l2l3.model.network import EffRoute, Iface, Network, PodInfo, Stack
from l2l3.model.packet import INITIAL_TTL, Disposition, Outer, Packet
from l2l3.model.types import Proto
from l2l3.solver import SolverUnknown as SolverUnknown
from l2l3.solver.encode import FALSE, TRUE, Bool, Term, ip_const, val

#: Longest path followed (stack visits + L2 hand-offs).
MAX_DEPTH = 256
#: Solver checks one search may make before it answers unknown.
DEFAULT_BUDGET = 200_000


@dataclass(frozen=True, slots=True)
class SymPkt:
    src: Term
    dst: Term
    proto: Term
    dport: Term
    ttl: int = INITIAL_TTL
    smac: str | None = None
    dmac: str | None = None
    outer: Outer | None = None
    #: the source port (only an answer's changes: a request's is the ephemeral port)
    sport: Term | None = None


#: (proto, src, sport, dst, dport) terms of a packet conntrack keys.
SymTup = tuple[Term, Term, Term, Term, Term]


@dataclass(frozen=True, slots=True)
class SymVisit:
    """l2l3.model.conntrack.Visit with terms: the entry a request left at ``stack``."""

    stack: str
    before: SymTup
    after: SymTup
    snat: bool = False
    dnat: bool = False


@dataclass(frozen=True, slots=True)
class Leaf:
    """Where a path ends. ``pkt`` is the header as it arrives (or dies)."""

    disposition: Disposition
    at: str
    to: str | None
    entered_by: str | None
    routed: bool
    nat: bool
    pkt: SymPkt
    sent_macs: tuple[str | None, str | None]
    #: the conntrack entries a request left on its way
    tracked: tuple[SymVisit, ...] = ()


@dataclass(frozen=True, slots=True)
class Found:
    packet: Packet
    leaf: Leaf


@dataclass(frozen=True, slots=True)
class _Ctx:
    pod: PodInfo | None
    src_auto: bool
    seen: tuple[tuple[tuple[str, str | None], SymPkt], ...] = ()
    routed: bool = False
    nat: bool = False
    sent: tuple[str | None, str | None] | None = None
    #: the kube-proxy rule that set KUBE-MARK-MASQ in the current stack (None: unmarked)
    mark: object | None = None
    #: conntrack (l2l3.model.conntrack): the entries a request leaves; for an
    #: answer, the request's entries and the current stack's matched one
    #: (its id and the source its DNAT is undone to, if any)
    visits: tuple[SymVisit, ...] = ()
    answer: tuple[SymVisit, ...] | None = None
    ct: tuple[str, tuple[Term, Term] | None] | None = None


class _Stop(Exception):
    """Raised inside a search once it has found what it looks for."""


def _minimal(prefixes: list[IPv4Network]) -> list[IPv4Network]:
    """Drop prefixes contained in another of the list (they add nothing to a union)."""
    out: list[IPv4Network] = []
    for p in sorted(set(prefixes), key=lambda n: n.prefixlen):
        if not any(p.subnet_of(q) for q in out):
            out.append(p)
    return out


def _concrete(t: Term) -> int | None:
    s = z3.simplify(t)
    return s.as_long() if z3.is_bv_value(s) else None


class Core:
    """The network, the solver and the header accessors every stage uses."""

    net: Network
    s: z3.Solver
    budget: int
    timeout_ms: int
    checks: int
    goal: Goal
    #: time.monotonic() after which a search gives up (unknown); None: no limit
    deadline: float | None = None

    def _new_solver(self) -> z3.Solver:
        s = z3.SolverFor("QF_BV")
        s.set("timeout", self.timeout_ms)
        s.set("random_seed", 0)
        return s

    def _check(self) -> bool:
        self.checks += 1
        if self.checks > self.budget:
            raise SolverUnknown(f"search budget of {self.budget} solver checks exhausted")
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise SolverUnknown("time limit reached")
            if left * 1000 < self.timeout_ms:  # one z3 check must not outlive the limit
                self.s.set("timeout", max(1, int(left * 1000)))
        r = self.s.check()
        if r == z3.unknown:
            raise SolverUnknown(f"z3: {self.s.reason_unknown()}")
        return bool(r == z3.sat)

    @contextmanager
    def _assume(self, cond: Bool) -> Iterator[bool]:
        if cond is TRUE:
            yield True
            return
        if cond is not FALSE:
            cond = z3.simplify(cond)
        if cond is FALSE or z3.is_false(cond):
            yield False
            return
        self.s.push()
        try:
            self.s.add(cond)
            yield True if z3.is_true(cond) else self._check()
        finally:
            self.s.pop()

    def _end(
        self, ctx: _Ctx, pkt: SymPkt, disp: Disposition, at: str, to: str | None = None, by: str | None = None
    ) -> None:
        self._leaf(Leaf(disp, at, to, by, ctx.routed, ctx.nat, pkt, ctx.sent or (None, None), ctx.visits))

    def _leaf(self, leaf: Leaf) -> None:
        raise NotImplementedError  # the engine records leaves that meet its goal

    # stages other modules call back into (defined by Engine)
    def _receive(self, st: Stack, iface: Iface | None, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        raise NotImplementedError

    def _egress(self, st: Stack, route: EffRoute, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        raise NotImplementedError

    def _route_cases(self, st: Stack, dst: Term) -> list[tuple[EffRoute | None, Bool]]:
        raise NotImplementedError

    def _undnat(self, st: Stack, pkt: SymPkt, ctx: _Ctx) -> tuple[SymPkt, _Ctx]:
        raise NotImplementedError  # l2l3.solver.connect.Conntrack

    # ------------------------------------------------------------ headers

    @staticmethod
    def _l3(p: SymPkt) -> tuple[Term, Term, Term, Term, int]:
        if p.outer is not None:
            o = p.outer
            return ip_const(o.src), ip_const(o.dst), val(int(Proto.UDP), 8), val(o.dport, 16), o.ttl
        return p.src, p.dst, p.proto, p.dport, p.ttl

    @staticmethod
    def _set_l3(p: SymPkt, **kw: object) -> SymPkt:
        if p.outer is not None:
            conv: dict[str, object] = {}
            for k, v in kw.items():
                if k in ("src", "dst"):
                    c = _concrete(v)  # type: ignore[arg-type]
                    assert c is not None, "outer header stays concrete"
                    conv[k] = IPv4Address(c)
                elif k == "dport":
                    c = _concrete(v)  # type: ignore[arg-type]
                    assert c is not None
                    conv[k] = c
                else:
                    conv[k] = v
            return replace(p, outer=replace(p.outer, **conv))  # type: ignore[arg-type]
        return replace(p, **kw)  # type: ignore[arg-type]

    def _set_l2(self, p: SymPkt, smac: str, dmac: str) -> SymPkt:
        return self._set_l3(p, smac=smac, dmac=dmac)
