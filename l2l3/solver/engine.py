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

from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Address

import z3

from l2l3.model.choices import host_send_blocked, outbound_nat_source, outbound_nat_translates
from l2l3.model.endpoints import bound_sources
from l2l3.model.goal import Goal, PacketSpace
from l2l3.model.network import EffRoute, Iface, Network, Stack
from l2l3.model.packet import Disposition, Packet
from l2l3.model.simulate import Origin
from l2l3.model.types import OS, Dnat, Proto, StackMode
from l2l3.solver.connect import Conntrack
from l2l3.solver.core import (
    DEFAULT_BUDGET,
    MAX_DEPTH,
    Found,
    Leaf,
    SolverUnknown,
    SymPkt,
    _concrete,
    _Ctx,
    _minimal,
    _Stop,
)
from l2l3.solver.delivery import Delivery
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
from l2l3.solver.goal import leaf_condition, space_constraints
from l2l3.solver.l2 import L2Stages

__all__ = ["DEFAULT_BUDGET", "Engine", "Found", "Leaf", "SolverUnknown"]


class Engine(L2Stages, Delivery, Conntrack):
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
        self._rule_terms = {}
        self._with_sctp = False

    # --------------------------------------------------------------- search

    def search(self, origin: Origin, goal: Goal, space: PacketSpace = PacketSpace()) -> Found | None:
        """An initial packet in ``space`` sent by ``origin`` whose path meets ``goal``, or None.

        None is a proof: no packet of the space meets the goal. z3
        ``unknown``, a z3 resource error and the step budget raise
        :class:`SolverUnknown` instead. A fixed destination (``space.dst``)
        or source (``space.src``) enters as a constant, so routing, ARP and
        policy peers along the path are decided in Python (the variable is
        still pinned to it by the space constraints, for the model); only
        what the space leaves open stays symbolic.
        """
        self.found: list[Found] = []
        self.goal = goal
        self.origin_stack = origin.stack if origin.external is None else None
        self.checks = 0
        dst, src = space.dst, space.src
        pkt = SymPkt(
            ip_const(src) if src is not None else self.src0,
            ip_const(dst) if dst is not None else self.dst0,
            self.proto0,
            self.dport0,
        )
        pkt = self._init = replace(pkt, sport=self._sport0(self.proto0))
        protos = [Proto.ICMP, Proto.TCP, Proto.UDP]
        # SCTP only where it can fare unlike TCP and UDP (Network.sctp_distinct)
        self._with_sctp = space.proto is Proto.SCTP or self.net.sctp_distinct
        if self._with_sctp:
            protos.append(Proto.SCTP)
        base = [
            z3.Or([proto_is(self.proto0, p) for p in protos]),
            z3.Implies(proto_is(self.proto0, Proto.ICMP), self.dport0 == val(0, 16)),
            z3.Implies(z3.Not(proto_is(self.proto0, Proto.ICMP)), self.dport0 != val(0, 16)),
            *space_constraints(space, self.src0, self.dst0, self.proto0, self.dport0),
        ]
        info = self.net.pods.get(origin.pod) if origin.pod else None
        if info is not None and info.pod.mode is StackMode.HOST_NETWORK:
            info = None
        src_auto = space.src is None and space.srcs is None
        # A fresh solver per search (same z3 context): a long-lived one slows
        # down as push/pop history piles up.
        self.s = self._new_solver()
        self.s.push()
        try:
            self.s.add(*base)  # unsatisfiable only if no leaf is: leaf checks decide
            try:
                if origin.external is not None:
                    ext = self.net.externals[origin.external]
                    base_ext = self._owned_by_external(pkt.src, origin.external)
                    with self._assume(base_ext) as ok:
                        gw = self.net.stacks.get(f"gateway {ext.via}")
                        if ok and gw is not None:
                            self._receive(gw, None, pkt, _Ctx(None, False), 0)
                elif origin.stack is not None:
                    st = self.net.stacks[origin.stack]
                    self._originate(st, pkt, _Ctx(info, src_auto))
            except _Stop:
                pass
        except z3.Z3Exception as e:  # a resource limit inside z3
            raise SolverUnknown(f"z3 error: {e}") from e
        finally:
            self.s.pop()
        return self.found[0] if self.found else None

    def _leaf(self, leaf: Leaf) -> None:
        if self.connect is not None:
            self._connect_leaf(leaf)
            return
        extra = leaf_condition(self.goal, leaf)
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
        raise _Stop

    def _decode_preferring_plain_headers(self) -> Packet:
        """Decode the model, preferring ICMP, then TCP port 80, then not SCTP, when the path allows."""
        prefs = [
            proto_is(self.proto0, Proto.ICMP),
            conj(proto_is(self.proto0, Proto.TCP), self.dport0 == val(80, 16)),
        ]
        if self._with_sctp:
            prefs.append(neg(proto_is(self.proto0, Proto.SCTP)))
        for pref in prefs:
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

    # -------------------------------------------------------------- stages

    def _dnat(self, st: Stack, pkt: SymPkt, ctx: _Ctx, inbound: bool = True) -> Iterator[tuple[SymPkt, _Ctx]]:
        if self._tracked_here(st, pkt, ctx):
            yield pkt, ctx
            return
        src, dst, proto, dport, _ttl = self._l3(pkt)
        earlier: list[Bool] = []
        for rule in st.dnats:
            if rule.inbound_only and not inbound:
                continue
            m = [dst == ip_const(rule.vip)]
            if ctx.answer is not None and pkt.outer is None:  # an untracked echo reply: no NAT (Simulator)
                m.append(neg(proto_is(proto, Proto.ICMP)))
            if rule.sources:
                m.append(in_any(src, rule.sources))
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
                        c = self._noted(replace(ctx, nat=True), new, dnat=True)
                        yield from self._marked(rule, b.ip, src, new, c)
            earlier.append(match)
        with self._assume(conj(*[neg(e) for e in earlier])) as ok:
            if ok:
                yield pkt, ctx

    def _marked(
        self, rule: Dnat, to: IPv4Address, src: Term, pkt: SymPkt, ctx: _Ctx
    ) -> Iterator[tuple[SymPkt, _Ctx]]:
        """KUBE-MARK-MASQ (Simulator._dnat): the packet marked, and not, where each can be."""
        unless = rule.masq_unless
        m = FALSE if unless is None else (TRUE if not unless else neg(in_any(src, unless)))
        if rule.masq_hairpin:
            m = disj([m, src == ip_const(to)])
        if m is FALSE:
            yield pkt, ctx
            return
        for cond, c in ((m, replace(ctx, mark=rule)), (neg(m), ctx)):
            with self._assume(cond) as ok:
                if ok:
                    yield pkt, c

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

    def _filter_allows(
        self, st: Stack, pkt: SymPkt, in_dev: str | None, out_dev: str | None, ctx: _Ctx
    ) -> Bool:
        """First match wins; no match allows: If(m1, a1, If(m2, a2, … True))."""
        src, dst, proto, dport, _ttl = self._l3(pkt)
        acc: Bool = TRUE
        established = self._tracked_here(st, pkt, ctx)
        for f in reversed(st.filters):
            if f.established and not established:
                continue
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
                src_fix = disj([src_fix, *(pkt.src == ip_const(b) for b in bound_sources(ctx.pod))])
            first.append((when, src_fix))
        for when, src_fix in first:
            with self._assume(conj(when, src_fix)) as ok:
                if not ok:
                    continue
                for p, c in (
                    pc for v in self._visit(st, pkt, ctx) for pc in self._dnat(st, *v, inbound=False)
                ):
                    _s, dst, *_ = self._l3(p)
                    local = one_of(dst, st.local_addrs)
                    with self._assume(local) as ok2:
                        if ok2:
                            self._deliver(st, None, p, c)
                    for route, sel in self._route_cases(st, dst):
                        with self._assume(conj(neg(local), sel)) as ok2:
                            if not ok2:
                                continue
                            if route is None or host_send_blocked(st, st.ifaces[route.dev]):
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
            ctx = replace(ctx, seen=(*ctx.seen, (key, pkt)), mark=None)  # a mark never leaves its stack
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
                for p, c in self._visit(st, pkt, ctx):
                    self._receive_sane(st, iface, in_dev, p, c, depth)

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
                        allow = self._filter_allows(st, p, in_dev, None, c)
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
                        allow = self._filter_allows(st, p2, in_dev, route.dev, c2)
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
        """(condition, new source) per rule in first-match order; (rest, None) last.

        Rule i fires when it matches and no earlier rule does. A rule that
        cannot match (literally false: e.g. a known source outside its range)
        adds nothing to the negations, and one that surely matches ends the
        list; both leave the formulas exactly as the plain construction's.
        """
        src, dst, *_ = self._l3(pkt)
        negs: list[Bool] = []  # ¬m for every earlier rule that can match

        def rules() -> Iterator[tuple[Bool, IPv4Address | None]]:
            for ob in st.outbound_nats:
                to_ob = outbound_nat_source(st, out, ob.bridge)
                if not isinstance(to_ob, IPv4Address):
                    continue  # OutBoundNAT does not act on this way out (choices.py)
                members = [
                    p.pod.ip.ip
                    for p in self.net.pods.values()
                    if p.node == st.node and p.pod.bridge == ob.bridge and p.pod.ip is not None
                ]
                icmp = TRUE  # VFP leaves ICMP as it is unless choices.OUTBOUND_NAT_ICMP
                if not outbound_nat_translates(Proto.ICMP):
                    icmp = neg(proto_is(self._l3(pkt)[2], Proto.ICMP))
                yield conj(one_of(src, members), neg(in_any(dst, ob.exceptions)), icmp), to_ob
            for r in st.snats:
                if r.out is not None and r.out != out.name:
                    continue
                to = r.to if r.to is not None else st.primary_addr(out.name)
                source = in_prefix(src, r.source)
                yield (FALSE if source is FALSE else conj(source, neg(in_any(dst, r.exceptions)))), to

        for m, to in rules():
            if m is FALSE:
                continue
            if to is not None:
                yield conj(m, *negs), to
            if m is TRUE:
                return  # every later case needs this rule not to match
            negs.append(neg(m))
        yield conj(*negs), None

    def _egress(self, st: Stack, route: EffRoute, pkt: SymPkt, ctx: _Ctx, depth: int) -> None:
        out_if = st.ifaces[route.dev]
        if self._tracked_here(st, pkt, ctx):  # conntrack, not the NAT rules (Simulator._snat)
            self._egress_l2(st, out_if, route, *self._undnat(st, pkt, ctx), depth)
            return
        if ctx.answer is not None and pkt.outer is None:  # an untracked echo reply: no NAT (Simulator)
            icmp = proto_is(pkt.proto, Proto.ICMP)
            with self._assume(icmp) as ok:
                if ok:
                    self._egress_l2(st, out_if, route, pkt, ctx, depth)
            with self._assume(neg(icmp)) as ok:
                if ok:
                    self._egress_nat(st, out_if, route, pkt, ctx, depth)
            return
        self._egress_nat(st, out_if, route, pkt, ctx, depth)

    def _egress_nat(
        self, st: Stack, out_if: Iface, route: EffRoute, pkt: SymPkt, ctx: _Ctx, depth: int
    ) -> None:
        """POSTROUTING for a packet no conntrack entry speaks for: the marked masquerade, then SNAT rules."""
        to_m = st.primary_addr(out_if.name) if ctx.mark is not None else None
        if to_m is not None:  # KUBE-POSTROUTING first: MASQUERADE the marked packet
            p = self._set_l3(pkt, src=ip_const(to_m))
            c = self._noted(replace(ctx, nat=True, mark=None), p, dnat=False)
            self._egress_l2(st, out_if, route, p, c, depth)
            return
        for cond, to in self._snat_cases(st, out_if, pkt):
            with self._assume(cond) as ok:
                if not ok:
                    continue
                p, c = pkt, ctx
                if to is not None:
                    p = self._set_l3(pkt, src=ip_const(to))
                    c = self._noted(replace(ctx, nat=True), p, dnat=False)
                self._egress_l2(st, out_if, route, p, c, depth)

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
