"""Connections in the symbolic engine: conntrack stages and the answer search.

The symbolic reading of :mod:`l2l3.model.conntrack`. A request leaves one
:class:`~l2l3.solver.core.SymVisit` per stack it passes (its 5-tuple as
terms, as it entered and as it left); the answer starts from a request
leaf's final packet, swapped, with the request's path condition still on the
solver, and at each stack forks on which entry (if any) its tuple matches.

A ``connect`` search (:meth:`Conntrack.search_connect`) explores every
request leaf that meets the request goal and, from each, every path of its
answer; it stops at the first answer leaf that meets
:func:`l2l3.solver.goal.answer_condition`. Returning None is a proof: no
request in the space has an answer the source takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import z3

from l2l3.model.conntrack import vfp_host
from l2l3.model.goal import ConnectGoal, Goal, PacketSpace
from l2l3.model.network import Stack
from l2l3.model.packet import Packet
from l2l3.model.simulate import Origin
from l2l3.model.types import Proto
from l2l3.solver.core import Core, Found, Leaf, SymPkt, SymTup, SymVisit, _Ctx, _Stop
from l2l3.solver.encode import Bool, Term, bv_eq, conj, neg, proto_is, val
from l2l3.solver.goal import answer_condition, leaf_condition

#: The source port a request is sent from (an ephemeral port; ICMP: 0).
EPHEMERAL_PORT = 40000


def _swapped(t: SymTup) -> SymTup:
    proto, src, sport, dst, dport = t
    return (proto, dst, dport, src, sport)


class Conntrack(Core):
    """Conntrack entries, their matching and undoing, and the connect search."""

    #: set during a connect search
    connect: ConnectGoal | None = None
    #: the request leaf whose answer is being followed
    _request: Leaf | None = None
    #: the answer leaf of the last connect search's witness
    answer_leaf: Leaf | None = None
    #: the request's initial packet (its terms are the query's variables)
    _init: SymPkt
    found: list[Found]

    def search(self, origin: Origin, goal: Goal, space: PacketSpace = PacketSpace()) -> Found | None:
        raise NotImplementedError  # Engine.search

    def _originate(self, st: Stack, pkt: SymPkt, ctx: _Ctx) -> None:
        raise NotImplementedError  # Engine._originate

    # ------------------------------------------------------------ search

    def search_connect(
        self, origin: Origin, goal: ConnectGoal, space: PacketSpace = PacketSpace()
    ) -> Found | None:
        """A request in ``space`` from ``origin`` whose path meets ``goal.request`` and
        whose answer meets the rest of ``goal``; None is a proof that none has.
        ``answer_leaf`` then holds the answer's leaf."""
        self.connect, self._request, self.answer_leaf = goal, None, None
        try:
            return self.search(origin, goal.request, space)
        finally:
            self.connect = None

    def _sport0(self, proto: Term) -> Term:
        """The request's source port: the ephemeral port, 0 for ICMP."""
        icmp = proto_is(proto, Proto.ICMP)
        if z3.is_true(icmp) or z3.is_false(icmp):
            return val(0 if z3.is_true(icmp) else EPHEMERAL_PORT, 16)
        return z3.If(icmp, val(0, 16), val(EPHEMERAL_PORT, 16))

    @contextmanager
    def _checked(self, extra: Bool) -> Iterator[bool]:
        """``extra`` asserted on top of the path condition, and whether both can hold (always checked)."""
        self.s.push()
        try:
            self.s.add(extra)
            yield self._check()
        finally:
            self.s.pop()

    def _connect_leaf(self, leaf: Leaf) -> None:
        goal = self.connect
        assert goal is not None
        if self._request is None:  # a leaf of the request: follow its answer
            extra = leaf_condition(goal.request, leaf)
            if extra is None:
                return
            with self._checked(extra) as ok:
                if ok:
                    self._request = leaf
                    try:
                        self._answer_from(leaf)
                    finally:
                        self._request = None
            return
        extra = answer_condition(goal, self._request, leaf, self._init)
        if extra is None:
            return
        with self._checked(extra) as ok:
            if not ok:
                return
            self.found.append(Found(self._decode_preferring_plain_headers(), self._request))
            self.answer_leaf = leaf
        raise _Stop

    def _decode_preferring_plain_headers(self) -> Packet:
        raise NotImplementedError  # Engine

    def _answer_from(self, leaf: Leaf) -> None:
        """Follow the answer to a delivered request leaf (the path condition is on the solver)."""
        p = leaf.pkt
        if p.outer is not None or leaf.to is None:
            return
        sport = p.sport if p.sport is not None else self._sport0(p.proto)
        ans = SymPkt(p.dst, p.src, p.proto, sport, sport=p.dport)
        ctx = _Ctx(None, False, answer=leaf.tracked)
        if leaf.to.startswith("external "):
            ext = self.net.externals[leaf.to.removeprefix("external ")]
            gw = self.net.stacks.get(f"gateway {ext.via}")
            if gw is not None:
                self._receive(gw, None, ans, ctx, 0)
            return
        self._originate(self.net.stacks[leaf.to], ans, ctx)

    # ------------------------------------------------------------ stages

    def _tup(self, p: SymPkt) -> SymTup:
        sport = p.sport if p.sport is not None else self._sport0(p.proto)
        return (p.proto, p.src, sport, p.dst, p.dport)

    def _visit(self, st: Stack, pkt: SymPkt, ctx: _Ctx) -> Iterator[tuple[SymPkt, _Ctx]]:
        """Conntrack as the packet enters ``st`` (Simulator._visit): a request opens an
        entry; an answer forks on the entry of ``st`` it matches, first one first."""
        if ctx.answer is None:
            if pkt.outer is None:
                t = self._tup(pkt)
                ctx = replace(ctx, visits=(*ctx.visits, SymVisit(st.id, t, t)))
            yield pkt, ctx
            return
        entries = [v for v in ctx.answer if v.stack == st.id] if pkt.outer is None else []
        t = self._tup(pkt)
        earlier: list[Bool] = []
        for v in entries:
            m = conj(*[bv_eq(a, b) for a, b in zip(t, _swapped(v.after), strict=True)])
            with self._assume(conj(m, *[neg(e) for e in earlier])) as ok:
                if ok:
                    restore = (v.before[3], v.before[4]) if v.dnat else None
                    c = replace(ctx, ct=(st.id, restore))
                    if v.snat:
                        yield replace(pkt, dst=v.before[1], dport=v.before[2]), replace(c, nat=True)
                    else:
                        yield pkt, c
            earlier.append(m)
        host = vfp_host(st) if pkt.outer is None else None  # the endpoint's VFP port (Simulator._visit)
        for v in [w for w in ctx.answer if w.stack == host] if host is not None else []:
            m = conj(*[bv_eq(a, b) for a, b in zip(t, _swapped(v.after), strict=True)])
            with self._assume(conj(m, *[neg(e) for e in earlier])) as ok:
                if ok:
                    p = replace(pkt, dst=v.before[1], dport=v.before[2]) if v.snat else pkt
                    p = replace(p, src=v.before[3], sport=v.before[4]) if v.dnat else p
                    yield p, replace(ctx, nat=True, ct=(st.id, None))
            earlier.append(m)
        with self._assume(conj(*[neg(e) for e in earlier])) as ok:
            if ok:
                yield pkt, replace(ctx, ct=None)

    @staticmethod
    def _tracked_here(st: Stack, pkt: SymPkt, ctx: _Ctx) -> bool:
        """An answer that matched ``st``'s entry (no NAT rule of ``st`` applies to it)."""
        return ctx.ct is not None and ctx.ct[0] == st.id and pkt.outer is None

    def _noted(self, ctx: _Ctx, pkt: SymPkt, *, dnat: bool) -> _Ctx:
        """A NAT rule rewrote the request: its entry here now leaves with ``pkt``'s tuple."""
        if ctx.answer is not None or pkt.outer is not None or not ctx.visits:
            return ctx
        v = ctx.visits[-1]
        v = SymVisit(v.stack, v.before, self._tup(pkt), snat=v.snat or not dnat, dnat=v.dnat or dnat)
        return replace(ctx, visits=(*ctx.visits[:-1], v))

    def _undnat(self, st: Stack, pkt: SymPkt, ctx: _Ctx) -> tuple[SymPkt, _Ctx]:
        """An answer leaving (or delivered at) the stack that DNATed its request: source restored."""
        if not self._tracked_here(st, pkt, ctx) or ctx.ct is None or ctx.ct[1] is None:
            return pkt, ctx
        ip, port = ctx.ct[1]
        return replace(pkt, src=ip, sport=port), replace(ctx, nat=True, ct=(st.id, None))
