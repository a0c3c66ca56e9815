"""Symbolic forwarding: every path a *set* of packets can take, with z3.

The engine walks the same stages as the simulator, but the packet's source,
destination, protocol and destination port are z3 terms. At each stage that
can go several ways (a DNAT, a routing decision, a filter, who answers ARP,
a policy) it forks, adding the condition of each way to the path condition,
and drops the ways z3 proves empty. A *leaf* is where a path ends:
delivered, dropped or looped, together with its path condition.

A query is a *goal* over leaves (``delivered to that pod, arriving with that
source address…``). :meth:`Engine.search` returns concrete initial packets
for leaves that meet the goal. The caller replays each in the simulator.

z3 ``unknown`` and the step budget raise :class:`SolverUnknown`: a search cut
short never reads as "no packet".
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network, collapse_addresses

import z3

from l2l3.model.choices import WINDOWS_ARP_ANY_LOCAL, outbound_nat_source
from l2l3.model.network import EffRoute, Iface, Network, PodInfo, Stack
from l2l3.model.packet import INITIAL_TTL, Disposition, Outer, Packet
from l2l3.model.policy import CompiledRule, PeerSet, governing_rules
from l2l3.model.types import OS, BridgeKind, PortSpec, Proto, StackMode
from l2l3.solver.encode import (
    FALSE,
    TRUE,
    Bool,
    Term,
    bv_eq,
    conj,
    disj,
    in_any,
    in_prefix,
    ip_const,
    neg,
    one_of,
    proto_is,
    val,
)

#: Longest path followed (stack visits + L2 hand-offs).
MAX_DEPTH = 256
#: Solver checks one search may make before it answers unknown.
DEFAULT_BUDGET = 200_000


class SolverUnknown(Exception):
    """z3 answered unknown, or the search budget ran out."""


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


class _Stop(Exception):
    pass


Goal = Callable[[Leaf], Bool | None]


def _minimal(prefixes: list[IPv4Network]) -> list[IPv4Network]:
    """Drop prefixes contained in another of the list (they add nothing to a union)."""
    out: list[IPv4Network] = []
    for p in sorted(set(prefixes), key=lambda n: n.prefixlen):
        if not any(p.subnet_of(q) for q in out):
            out.append(p)
    return out


@functools.lru_cache(maxsize=4096)
def _collapsed(ips: frozenset[IPv4Address]) -> tuple[IPv4Network, ...]:
    return tuple(collapse_addresses(IPv4Network(a) for a in ips))


def _concrete(t: Term) -> int | None:
    s = z3.simplify(t)
    return s.as_long() if z3.is_bv_value(s) else None


class Engine:
    """Symbolic search over one :class:`Network`; reuses one z3 solver."""

    def __init__(self, net: Network, *, budget: int = DEFAULT_BUDGET, timeout_ms: int = 10_000) -> None:
        self.net = net
        self.budget = budget
        self.timeout_ms = timeout_ms
        self.s = self._new_solver()
        self.src0 = z3.BitVec("pkt.src@0", 32)
        self.dst0 = z3.BitVec("pkt.dst@0", 32)
        self.proto0 = z3.BitVec("pkt.proto@0", 8)
        self.dport0 = z3.BitVec("pkt.dport@0", 16)
        self.checks = 0
        # caches keyed by z3 term ids; each entry keeps its terms alive so
        # that no id is reused while the entry exists
        self._route_cache: dict[tuple[str, int], tuple[Term, list[tuple[EffRoute | None, Bool]]]] = {}
        self._arp_cache: dict[tuple[str, str, int], tuple[Term, list[tuple[Iface, str, Bool]]]] = {}
        self._policy_cache: dict[tuple[str, str, int, int, int], tuple[SymPkt, Bool]] = {}

    # ------------------------------------------------------------- solving

    def _new_solver(self) -> z3.Solver:
        s = z3.SolverFor("QF_BV")
        s.set("timeout", self.timeout_ms)
        s.set("random_seed", 0)
        return s

    def _check(self) -> bool:
        self.checks += 1
        if self.checks > self.budget:
            raise SolverUnknown(f"search budget of {self.budget} solver checks exhausted")
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

    # --------------------------------------------------------------- search

    def search(
        self,
        *,
        stack: str | None,
        pod: str | None,
        external: str | None,
        src: IPv4Address | None,
        constraints: list[Bool],
        dst: IPv4Address | None = None,
        srcs: list[IPv4Address] | None = None,
        goal: Goal,
        first_only: bool = True,
        limit: int = 50,
    ) -> list[Found]:
        """Initial packets from the origin whose path ends in a leaf meeting ``goal``.

        ``srcs`` lets the source be any of several addresses: the caller runs
        one search for a class of senders that behave alike (see
        :meth:`l2l3.checking.Checker._source_classes`). ``dst`` fixes the destination address (searches then split by
        destination, see :meth:`l2l3.checking.Checker._search`). ``src`` fixes the sender's address; None lets the stack pick it from
        the outgoing interface (a node or host-network process), or, for an
        external, any address it owns.
        """
        self.found: list[Found] = []
        self.goal = goal
        self.first_only = first_only
        self.limit = limit
        self.checks = 0
        # A fixed destination enters as a constant, so routing and ARP along
        # the path are decided in Python; only ports, protocol and source stay
        # symbolic.
        pkt = SymPkt(self.src0, ip_const(dst) if dst is not None else self.dst0, self.proto0, self.dport0)
        base = [
            z3.Or(
                proto_is(self.proto0, Proto.ICMP),
                proto_is(self.proto0, Proto.TCP),
                proto_is(self.proto0, Proto.UDP),
            ),
            z3.Implies(proto_is(self.proto0, Proto.ICMP), self.dport0 == val(0, 16)),
            z3.Implies(z3.Not(proto_is(self.proto0, Proto.ICMP)), self.dport0 != val(0, 16)),
            *constraints,
        ]
        info = self.net.pods.get(pod) if pod else None
        if info is not None and info.pod.mode is StackMode.HOST_NETWORK:
            info = None
        if src is not None:
            base.append(self.src0 == ip_const(src))
        if srcs is not None:  # a class of alike senders, one address each
            base.append(one_of(self.src0, srcs))
        if dst is not None:
            base.append(self.dst0 == ip_const(dst))
        # A fresh solver per search (same z3 context): a long-lived one slows
        # down as push/pop history piles up.
        self.s = self._new_solver()
        self.s.push()
        try:
            self.s.add(*base)  # unsatisfiable only if no leaf is: leaf checks decide
            try:
                if external is not None:
                    ext = self.net.externals[external]
                    base_ext = self._owned_by_external(self.src0, external)
                    with self._assume(base_ext) as ok:
                        gw = self.net.stacks.get(f"gateway {ext.via}")
                        if ok and gw is not None:
                            self._receive(gw, None, pkt, _Ctx(None, False), 0)
                else:
                    assert stack is not None
                    st = self.net.stacks[stack]
                    self._originate(st, pkt, _Ctx(info, src is None and srcs is None))
            except _Stop:
                pass
        finally:
            self.s.pop()
        return self.found

    def _leaf(self, leaf: Leaf) -> None:
        extra = self.goal(leaf)
        if extra is None:
            return
        self.s.push()
        try:
            self.s.add(extra)
            if not self._check():  # always check: the model must be this path's
                return
            self.found.append(Found(self._decode_preferring_plain_headers(), leaf))
        finally:
            self.s.pop()
        if self.first_only or len(self.found) >= self.limit:
            raise _Stop

    def _decode_preferring_plain_headers(self) -> Packet:
        """Decode the model, preferring ICMP, then TCP port 80, when the path allows."""
        for pref in (
            proto_is(self.proto0, Proto.ICMP),
            conj(proto_is(self.proto0, Proto.TCP), self.dport0 == val(80, 16)),
        ):
            self.s.push()
            try:
                self.s.add(pref)
                if self.s.check() == z3.sat:
                    return self._decode()
            finally:
                self.s.pop()
        self._check()  # restore the model of the path itself
        return self._decode()

    def _decode(self) -> Packet:
        m = self.s.model()
        ev = lambda t: m.eval(t, model_completion=True).as_long()  # noqa: E731
        proto = Proto(ev(self.proto0))
        dport = ev(self.dport0) if proto != Proto.ICMP else 0
        return Packet(
            src=IPv4Address(ev(self.src0)),
            dst=IPv4Address(ev(self.dst0)),
            proto=proto,
            sport=0 if proto == Proto.ICMP else 40000,
            dport=dport,
        )

    def _end(
        self, ctx: _Ctx, pkt: SymPkt, disp: Disposition, at: str, to: str | None = None, by: str | None = None
    ) -> None:
        self._leaf(Leaf(disp, at, to, by, ctx.routed, ctx.nat, pkt, ctx.sent or (None, None)))

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

    @staticmethod
    def _macs(p: SymPkt) -> tuple[str | None, str | None]:
        return (p.outer.smac, p.outer.dmac) if p.outer is not None else (p.smac, p.dmac)

    # -------------------------------------------------------------- stages

    def _dnat(self, st: Stack, pkt: SymPkt, ctx: _Ctx) -> Iterator[tuple[SymPkt, _Ctx]]:
        _src, dst, proto, dport, _ttl = self._l3(pkt)
        earlier: list[Bool] = []
        for rule in st.dnats:
            m = [dst == ip_const(rule.vip)]
            if rule.proto is not None:
                m.append(proto_is(proto, rule.proto))
            if rule.port is not None:
                m.append(neg(proto_is(proto, Proto.ICMP)))
                m.append(dport == val(rule.port, 16))
            match = conj(*m)
            with self._assume(conj(match, *[neg(e) for e in earlier])) as ok:
                if ok:
                    for b in rule.backends:
                        new = self._set_l3(
                            pkt, dst=ip_const(b.ip), dport=val(b.port, 16) if b.port is not None else dport
                        )
                        yield new, replace(ctx, nat=True)
            earlier.append(match)
        with self._assume(conj(*[neg(e) for e in earlier])) as ok:
            if ok:
                yield pkt, ctx

    def _route_cases(self, st: Stack, dst: Term) -> list[tuple[EffRoute | None, Bool]]:
        """(route, dst selects it) for each route; (None, no route matches).

        Route i wins when dst is in its prefix and in no earlier (longer or
        first-written) prefix; only earlier prefixes *inside* route i's can
        contain dst, so only those are negated (linear, not quadratic).
        """
        key = (st.id, dst.get_id())
        cached = self._route_cache.get(key)
        if cached is not None:
            return cached[1]
        c = _concrete(dst)
        out: list[tuple[EffRoute | None, Bool]] = []
        if c is not None:  # a known destination: the lookup is plain Python
            r = self.net.lookup(st, IPv4Address(c))
            out = [(r, TRUE)]
        else:
            for i, r in enumerate(st.routes):
                inner = [e.prefix for e in st.routes[:i] if e.prefix.subnet_of(r.prefix)]
                cond = in_prefix(dst, r.prefix)
                if any(p == r.prefix for p in inner):
                    continue  # shadowed by an equal, earlier route
                if inner:
                    cond = conj(cond, neg(in_any(dst, _minimal(inner))))
                out.append((r, cond))
            out.append((None, neg(in_any(dst, _minimal([r.prefix for r in st.routes])))))
        self._route_cache[key] = (dst, out)  # the term pins its id
        return out

    def _filter_allows(self, st: Stack, pkt: SymPkt, in_dev: str | None, out_dev: str | None) -> Bool:
        """First match wins; no match allows: If(m1, a1, If(m2, a2, … True))."""
        src, dst, proto, dport, _ttl = self._l3(pkt)
        acc: Bool = TRUE
        for f in reversed(st.filters):
            if f.in_dev is not None and f.in_dev != in_dev:
                continue
            if f.out_dev is not None and f.out_dev != out_dev:
                continue
            m: list[Bool] = []
            if f.source is not None:
                m.append(in_prefix(src, f.source))
            if f.dest is not None:
                m.append(in_prefix(dst, f.dest))
            if f.proto is not None:
                m.append(proto_is(proto, f.proto))
            if f.port is not None:
                m.append(neg(proto_is(proto, Proto.ICMP)))
                m.append(dport == val(f.port, 16))
            action = TRUE if f.action.value == "allow" else FALSE
            acc = z3.If(conj(*m), action, acc)
        return acc

    def _originate(self, st: Stack, pkt: SymPkt, ctx: _Ctx) -> None:
        """A process sends: route on the destination as written (this picks
        the source address), then OUTPUT DNAT, then route again."""
        _src, dst0, *_ = self._l3(pkt)
        local0 = one_of(dst0, st.local_addrs)
        first: list[tuple[Bool, Bool]] = [  # (when, source address it implies)
            (local0, TRUE if not ctx.src_auto else one_of(pkt.src, st.local_addrs))
        ]
        for route0, sel0 in self._route_cases(st, dst0):
            when = conj(neg(local0), sel0)
            if route0 is None:
                with self._assume(when) as ok:
                    if ok:  # ENETUNREACH
                        self._end(ctx, pkt, Disposition.DROPPED, st.id)
                continue
            src_fix = TRUE
            if ctx.src_auto:
                addr = st.primary_addr(route0.dev)
                src_fix = FALSE if addr is None else pkt.src == ip_const(addr)
            first.append((when, src_fix))
        for when, src_fix in first:
            with self._assume(conj(when, src_fix)) as ok:
                if not ok:
                    continue
                for p, c in self._dnat(st, pkt, ctx):
                    _s, dst, *_ = self._l3(p)
                    local = one_of(dst, st.local_addrs)
                    with self._assume(local) as ok2:
                        if ok2:
                            self._deliver(st, None, p, c)
                    for route, sel in self._route_cases(st, dst):
                        with self._assume(conj(neg(local), sel)) as ok2:
                            if not ok2:
                                continue
                            if route is None:
                                self._end(c, p, Disposition.DROPPED, st.id)
                                continue
                            self._egress(st, route, p, c, 0)

    def _receive(self, st: Stack, iface: Iface | None, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        key = (st.id, iface.name if iface else None)
        same = [self._same(pkt, prev) for k, prev in ctx.seen if k == key]
        looped = disj(same)
        with self._assume(looped) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.LOOPED, st.id)
        if depth > MAX_DEPTH:
            raise SolverUnknown(f"path longer than {MAX_DEPTH} steps")
        with self._assume(neg(looped)) as ok:
            if not ok:
                return
            ctx = replace(ctx, seen=(*ctx.seen, (key, pkt)))
            self._receive_fresh(st, iface, pkt, ctx, depth)

    def _receive_fresh(self, st: Stack, iface: Iface | None, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        in_dev = iface.name if iface else None
        martian = FALSE
        if iface is not None and st.os is OS.LINUX:
            martian = one_of(self._l3(pkt)[0], st.local_addrs)  # accept_local=0
            with self._assume(martian) as ok:
                if ok:
                    self._end(ctx, pkt, Disposition.DROPPED, st.id)
        with self._assume(neg(martian)) as ok:
            if ok:
                self._receive_sane(st, iface, in_dev, pkt, ctx, depth)

    def _receive_sane(
        self, st: Stack, iface: Iface | None, in_dev: str | None, pkt: SymPkt, ctx: _Ctx, depth: int
    ) -> None:
        for p, c in self._dnat(st, pkt, ctx):
            _src, dst, _proto, _dport, ttl = self._l3(p)
            local = one_of(dst, st.local_addrs)
            if st.kind == "gateway":
                with self._assume(neg(local)) as ok:
                    if ok:
                        self._gateway(st, p, c, depth)
            else:
                with self._assume(local) as ok:
                    if ok:
                        allow = self._filter_allows(st, p, in_dev, None)
                        with self._assume(neg(allow)) as ok2:
                            if ok2:
                                self._end(c, p, Disposition.DROPPED, st.id)
                        with self._assume(allow) as ok2:
                            if ok2:
                                if p.outer is not None:
                                    self._decap(st, p, c, depth)
                                else:
                                    self._deliver(st, iface, p, c)
            if st.kind == "gateway":
                with self._assume(local) as ok:
                    if ok:
                        self._deliver(st, iface, p, c)
                continue
            with self._assume(neg(local)) as ok:
                if not ok:
                    continue
                if not st.forwarding or ttl <= 1:
                    self._end(c, p, Disposition.DROPPED, st.id)
                    continue
                p2 = self._set_l3(p, ttl=ttl - 1)
                c2 = replace(c, routed=True)
                for route, sel in self._route_cases(st, dst):
                    with self._assume(sel) as ok2:
                        if not ok2:
                            continue
                        if route is None:
                            self._end(c2, p2, Disposition.DROPPED, st.id)
                            continue
                        allow = self._filter_allows(st, p2, in_dev, route.dev)
                        with self._assume(neg(allow)) as ok3:
                            if ok3:
                                self._end(c2, p2, Disposition.DROPPED, st.id)
                        with self._assume(allow) as ok3:
                            if ok3:
                                self._egress(st, route, p2, c2, depth)

    def _owned_by_external(self, x: Term, name: str) -> Bool:
        """x ∈ E.prefix ∧ x ∉ more specific externals ∧ x is no stack's address."""
        e = self.net.externals[name]
        return conj(
            in_prefix(x, e.prefix),
            neg(in_any(x, self.net.external_exclusions[name])),
            neg(one_of(x, self.net.owners.keys())),
        )

    def _gateway(self, gw: Stack, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        _src, dst, _proto, _dport, ttl = self._l3(pkt)
        if ttl <= 1:
            self._end(ctx, pkt, Disposition.DROPPED, gw.id)
            return
        pkt = self._set_l3(pkt, ttl=ttl - 1)
        ctx = replace(ctx, routed=True)
        for route, sel in self._route_cases(gw, dst):
            with self._assume(sel) as ok:
                if not ok:
                    continue
                if route is not None:
                    self._egress(gw, route, pkt, ctx, depth)
                    continue
                owned = [(e, self._owned_by_external(dst, e)) for e in gw.externals]
                for name, cond in owned:
                    with self._assume(cond) as ok2:
                        if ok2:
                            self._deliver_external(name, pkt, ctx)
                with self._assume(conj(*[neg(c) for _, c in owned])) as ok2:
                    if ok2:
                        self._end(ctx, pkt, Disposition.DROPPED, gw.id)

    def _snat_cases(self, st: Stack, out: Iface, pkt: SymPkt) -> Iterator[tuple[Bool, IPv4Address | None]]:
        """(condition, new source) per rule in first-match order; (rest, None) last."""
        src, dst, *_ = self._l3(pkt)
        earlier: list[Bool] = []
        for ob in st.outbound_nats:
            to_ob = outbound_nat_source(st, out, ob.bridge)
            if not isinstance(to_ob, IPv4Address):
                continue  # OutBoundNAT does not act on this way out (choices.py)
            members = [
                p.pod.ip.ip
                for p in self.net.pods.values()
                if p.node == st.node and p.pod.bridge == ob.bridge and p.pod.ip is not None
            ]
            m = conj(one_of(src, members), neg(in_any(dst, ob.exceptions)))
            yield conj(m, *[neg(e) for e in earlier]), to_ob
            earlier.append(m)
        for r in st.snats:
            if r.out is not None and r.out != out.name:
                continue
            to = r.to if r.to is not None else st.primary_addr(out.name)
            m = conj(in_prefix(src, r.source), neg(in_any(dst, r.exceptions)))
            if to is not None:
                yield conj(m, *[neg(e) for e in earlier]), to
            earlier.append(m)
        yield conj(*[neg(e) for e in earlier]), None

    def _egress(self, st: Stack, route: EffRoute, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        out_if = st.ifaces[route.dev]
        for cond, to in self._snat_cases(st, out_if, pkt):
            with self._assume(cond) as ok:
                if not ok:
                    continue
                p, c = pkt, ctx
                if to is not None:
                    p = self._set_l3(pkt, src=ip_const(to))
                    c = replace(ctx, nat=True)
                self._egress_l2(st, out_if, route, p, c, depth)

    def _egress_l2(
        self, st: Stack, out_if: Iface, route: EffRoute, pkt: SymPkt, ctx: _Ctx, depth: int
    ) -> None:
        _src, dst, *_ = self._l3(pkt)
        # a gateway that is one of the stack's own addresses: ARP for the destination
        nexthop: Term = (
            ip_const(route.via) if route.via is not None and route.via not in st.local_addrs else dst
        )
        if out_if.vxlan is not None:
            self._vxlan_send(st, out_if, nexthop, pkt, ctx, depth)
            return
        if out_if.switch is None:
            self._end(ctx, pkt, Disposition.DROPPED, st.id)
            return
        rth = self._rth_cases(out_if, dst)
        for hif, cond in rth:
            with self._assume(cond) as ok:
                if ok:
                    p = self._set_l2(pkt, out_if.mac, hif.mac)
                    c = replace(ctx, sent=ctx.sent or (out_if.mac, hif.mac))
                    self._receive(self.net.stacks[hif.stack], hif, p, c, depth + 1)
        not_rth = conj(*[neg(c) for _, c in rth])
        with self._assume(not_rth) as ok:
            if not ok:
                return
            answers: list[tuple[str, Bool]] = []
            statics = [(ip, mac) for (dev, ip), (mac, _s) in st.neighbors.items() if dev == out_if.name]
            static_hit = one_of(nexthop, [ip for ip, _ in statics])
            for ip, mac in statics:
                answers.append((mac, nexthop == ip_const(ip)))
            for _peer, mac, cond in self._arp(out_if, nexthop):
                answers.append((mac, conj(neg(static_hit), cond)))
            with self._assume(conj(*[neg(c) for _, c in answers])) as ok2:
                if ok2:
                    self._end(ctx, pkt, Disposition.DROPPED, st.id)
            for mac, cond in answers:
                with self._assume(cond) as ok2:
                    if not ok2:
                        continue
                    p = self._set_l2(pkt, out_if.mac, mac)
                    c = replace(ctx, sent=ctx.sent or (out_if.mac, mac))
                    self._l2_deliver(out_if, mac, p, c, depth)

    def _rth_cases(self, out_if: Iface, dst: Term) -> list[tuple[Iface, Bool]]:
        if out_if.pod is None or out_if.switch is None:
            return []
        if self.net.switch_kind.get(out_if.switch) is not BridgeKind.L2BRIDGE:
            return []
        node_name, bridge = out_if.switch.split(":", 1)[1].split("/", 1)
        node = self.net.stacks[node_name]
        hif = node.ifaces.get(bridge)
        if hif is None or hif is out_if:
            return []
        earlier: list[Bool] = []
        out = []
        for r in node.routes_to_host:
            if r.bridge != bridge:
                continue
            m = in_prefix(dst, r.prefix)
            out.append((hif, conj(m, *[neg(e) for e in earlier])))
            earlier.append(m)
        return out

    def _lpm_dev_differs(self, st: Stack, target: Term, dev: str) -> Bool:
        """The route ``st`` picks for target exists and leaves by another device."""
        return disj(sel for r, sel in self._route_cases(st, target) if r is not None and r.dev != dev)

    def _arp(self, sender: Iface, target: Term) -> list[tuple[Iface, str, Bool]]:
        """Symbolic :meth:`Network.arp`: (peer, MAC it answers with, when)."""
        key = (sender.stack, sender.name, target.get_id())
        hit = self._arp_cache.get(key)
        if hit is None:
            hit = self._arp_cache[key] = (target, self._arp_uncached(sender, target))
        return hit[1]

    def _arp_uncached(self, sender: Iface, target: Term) -> list[tuple[Iface, str, Bool]]:
        c = _concrete(target)
        if c is not None:
            return [(peer, mac, TRUE) for peer, mac, _span in self.net.arp(sender, IPv4Address(c))]
        out = []
        for peer in self.net.l2_peers(sender):
            st = self.net.stacks[peer.stack]
            cond = one_of(target, [a.ip for a in peer.addrs])
            if (st.os is OS.LINUX or WINDOWS_ARP_ANY_LOCAL) and st.kind != "gateway":
                others = [a.ip for i in st.ifaces.values() if i.switch != peer.switch for a in i.addrs]
                cond = disj([cond, one_of(target, others)])
            if peer.name in st.proxy_arp:
                cond = disj([cond, self._lpm_dev_differs(st, target, peer.name)])
            seen, _, _ = self.net._visible(sender, peer)
            out.append((peer, seen, cond))
        return out

    def _l2_deliver(self, sender: Iface, dmac: str, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        _src, dst, *_ = self._l3(pkt)
        exact, rewritten = [], []
        for peer in self.net.l2_peers(sender):
            seen_dst, seen_src, _notes = self.net._visible(sender, peer)
            if seen_dst != dmac:
                continue
            if seen_dst == peer.mac:
                exact.append((peer, seen_src, TRUE))
            else:
                rewritten.append((peer, seen_src, one_of(dst, [a.ip for a in peer.addrs])))
        any_rw = disj(c for _, _, c in rewritten)
        cases = rewritten + [(p, s, neg(any_rw)) for p, s, _ in exact]
        with self._assume(conj(*[neg(c) for _, _, c in cases])) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DROPPED, sender.stack)
        for peer, smac, cond in cases:
            with self._assume(cond) as ok:
                if ok:
                    p = self._set_l2(pkt, smac, peer.mac)
                    self._receive(self.net.stacks[peer.stack], peer, p, ctx, depth + 1)

    def _vxlan_send(self, st: Stack, vx_if: Iface, nexthop: Term, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        vx = vx_if.vxlan
        assert vx is not None
        if pkt.outer is not None:
            self._end(ctx, pkt, Disposition.DROPPED, st.id)
            return
        statics = [(ip, mac) for (dev, ip), (mac, _s) in st.neighbors.items() if dev == vx_if.name]
        with self._assume(neg(one_of(nexthop, [ip for ip, _ in statics]))) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DROPPED, st.id)
        for ip, mac in statics:
            with self._assume(nexthop == ip_const(ip)) as ok:
                if not ok:
                    continue
                inner = replace(pkt, smac=vx_if.mac, dmac=mac)
                vteps = st.fdb.get((vx_if.name, mac)) or st.fdb.get((vx_if.name, "00:00:00:00:00:00"))
                if not vteps:
                    self._end(ctx, inner, Disposition.DROPPED, st.id)
                    continue
                for vtep, _span in vteps:
                    enc = replace(inner, outer=Outer(src=vx.local, dst=vtep, dport=vx.port, vni=vx.vni))
                    c = replace(ctx, sent=ctx.sent or (vx_if.mac, mac))
                    if vtep in st.local_addrs:
                        self._receive(st, None, enc, c, depth + 1)
                        continue
                    route = self.net.lookup(st, vtep)
                    if route is None or st.ifaces[route.dev].vxlan is not None:
                        self._end(c, enc, Disposition.DROPPED, st.id)
                        continue
                    self._egress(st, route, enc, c, depth + 1)

    def _decap(self, st: Stack, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        outer = pkt.outer
        assert outer is not None
        for i in st.ifaces.values():
            vx = i.vxlan
            if vx is None or vx.port != outer.dport or vx.vni != outer.vni or vx.local != outer.dst:
                continue
            inner = replace(pkt, outer=None)
            if inner.dmac != i.mac:
                self._end(ctx, inner, Disposition.DROPPED, st.id)
                return
            self._receive(st, i, inner, ctx, depth + 1)
            return
        self._end(ctx, pkt, Disposition.DROPPED, st.id)

    # ------------------------------------------------------------- delivery

    def _peers(self, ps: PeerSet, x: Term) -> Bool:
        if ps.any:
            return TRUE
        # address sets become their fewest covering prefixes: a namespace's
        # pods usually sit in a few ranges, so the formula stays small
        parts = [in_any(x, _collapsed(ps.ips))] + [
            conj(in_prefix(x, c), neg(in_any(x, ex))) for c, ex in ps.blocks
        ]
        return disj(parts)

    @staticmethod
    def _ports(ports: tuple[PortSpec, ...], proto: Term, dport: Term) -> Bool:
        if not ports:
            return TRUE
        return disj(
            [
                conj(proto_is(proto, ps.proto))
                if ps.port is None
                else conj(
                    proto_is(proto, ps.proto), neg(proto_is(proto, Proto.ICMP)), dport == val(ps.port, 16)
                )
                for ps in ports
            ]
        )

    def _rules_allow(self, rules: list[CompiledRule] | None, peer: Term, pkt: SymPkt) -> Bool:
        if rules is None:
            return TRUE
        return disj(
            conj(self._peers(r.peers, peer), self._ports(r.ports, pkt.proto, pkt.dport)) for r in rules
        )

    def _policy(self, ctx: _Ctx, receiver: PodInfo | None, pkt: SymPkt) -> Bool:
        key = (
            ctx.pod.id if ctx.pod else "",
            receiver.id if receiver else "",
            pkt.src.get_id(),
            pkt.dst.get_id(),
            pkt.proto.get_id() * 100003 + pkt.dport.get_id(),
        )
        hit = self._policy_cache.get(key)
        if hit is None:
            hit = self._policy_cache[key] = (pkt, self._policy_uncached(ctx, receiver, pkt))
        return hit[1]

    def _policy_uncached(self, ctx: _Ctx, receiver: PodInfo | None, pkt: SymPkt) -> Bool:
        parts = []
        if ctx.pod is not None:
            parts.append(self._rules_allow(governing_rules(self.net, ctx.pod, "egress"), pkt.dst, pkt))
        if receiver is not None:
            parts.append(self._rules_allow(governing_rules(self.net, receiver, "ingress"), pkt.src, pkt))
        return conj(*parts)

    def _deliver(self, st: Stack, iface: Iface | None, pkt: SymPkt, ctx: _Ctx) -> None:
        receiver = self.net.pods[iface.pod] if iface is not None and iface.pod is not None else None
        allow = self._policy(ctx, receiver, pkt)
        with self._assume(neg(allow)) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DROPPED, st.id)
        with self._assume(allow) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DELIVERED, st.id, st.id, iface.name if iface else None)

    def _deliver_external(self, name: str, pkt: SymPkt, ctx: _Ctx) -> None:
        allow = self._policy(ctx, None, pkt)
        at = f"external {name}"
        with self._assume(neg(allow)) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DROPPED, at)
        with self._assume(allow) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DELIVERED, at, at, None)

    def _same(self, a: SymPkt, b: SymPkt) -> Bool:
        """Same headers but TTL: the condition for a loop."""
        if (a.smac, a.dmac) != (b.smac, b.dmac):
            return FALSE
        ao, bo = a.outer, b.outer
        if (ao is None) != (bo is None):
            return FALSE
        if ao is not None and bo is not None:
            if (ao.src, ao.dst, ao.dport, ao.vni, ao.smac, ao.dmac) != (
                bo.src,
                bo.dst,
                bo.dport,
                bo.vni,
                bo.smac,
                bo.dmac,
            ):
                return FALSE
        return conj(
            bv_eq(a.src, b.src), bv_eq(a.dst, b.dst), bv_eq(a.proto, b.proto), bv_eq(a.dport, b.dport)
        )

    # helpers for queries
    def src_var(self) -> Term:
        return self.src0

    def dst_var(self) -> Term:
        return self.dst0


def arrived_src(leaf: Leaf) -> Term:
    return leaf.pkt.src


__all__ = ["Engine", "Found", "Leaf", "SolverUnknown", "arrived_src"]

_ = (_concrete, Callable)
