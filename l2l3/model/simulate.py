"""The concrete simulator: what happens to one packet, step by step.

This is the reference semantics of l2l3, written as plainly as the kernel
path it follows: PREROUTING (DNAT) -> routing decision -> INPUT or FORWARD
(filter, TTL) -> POSTROUTING (SNAT) -> neighbour resolution -> L2 delivery.
It knows nothing of z3: the solver's witnesses are replayed here, so the two
must agree independently (see docs/semantics.md for every rule).

Where a step has several outcomes (a DNAT with several backends, two hosts
answering one ARP), the simulator follows every one: :func:`simulate`
returns one :class:`Trace` per outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from l2l3.model.choices import host_send_blocked, outbound_nat_source, outbound_nat_translates
from l2l3.model.conntrack import CtHit, Visit, answer_packet, match, tup, vfp_host
from l2l3.model.network import EffRoute, Iface, Network, PodInfo, Stack, switch_name
from l2l3.model.packet import INITIAL_TTL, Disposition, Hop, Outer, Packet, Trace
from l2l3.model.policy import from_resident_node, policy_verdict
from l2l3.model.types import OS, BridgeKind, Dnat, Proto, SourceNat, Span, StackMode

#: Deepest path followed before giving up (each hop is a stack or an L2 hand-off).
MAX_STEPS = 256


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sends: a stack (with the pod whose process it is, if any) or an external."""

    stack: str | None = None
    pod: str | None = None
    external: str | None = None


@dataclass(frozen=True, slots=True)
class _Ctx:
    origin: Origin
    hops: tuple[Hop, ...] = ()
    seen: frozenset[tuple[object, ...]] = frozenset()
    routed: bool = False
    nat: bool = False
    #: the kube-proxy rule that set KUBE-MARK-MASQ in the current stack (None: unmarked)
    mark: Dnat | None = None
    #: conntrack entries the packet leaves (a request; see l2l3.model.conntrack)
    visits: tuple[Visit, ...] = ()
    #: the request's entries, when this packet is its answer
    answer: tuple[Visit, ...] | None = None
    #: the entry of the current stack the answer matched
    ct: CtHit | None = None

    def hop(self, at: str, action: str, pkt: Packet, span: Span | None = None) -> _Ctx:
        return replace(self, hops=(*self.hops, Hop(at=at, action=action, packet=pkt, span=span)))


def l3(pkt: Packet) -> tuple[IPv4Address, IPv4Address, Proto, int, int, int]:
    """(src, dst, proto, sport, dport, ttl) of the header routing acts on."""
    if pkt.outer is not None:
        o = pkt.outer
        return o.src, o.dst, Proto.UDP, 0, o.dport, o.ttl
    return pkt.src, pkt.dst, pkt.proto, pkt.sport, pkt.dport, pkt.ttl


def set_l3(pkt: Packet, **kw: object) -> Packet:
    if pkt.outer is not None:
        return pkt.with_(outer=replace(pkt.outer, **kw))  # type: ignore[arg-type]
    return pkt.with_(**kw)


def set_l2(pkt: Packet, smac: str, dmac: str) -> Packet:
    return set_l3(pkt, smac=smac, dmac=dmac)


class Simulator:
    """Concrete forwarding over a :class:`Network`."""

    def __init__(self, net: Network) -> None:
        self.net = net

    # ----------------------------------------------------------- entry points

    def run(self, origin: Origin, pkt: Packet) -> list[Trace]:
        ctx = _Ctx(origin=origin)
        if origin.external is not None:
            ext = self.net.externals[origin.external]
            gw = self.net.stacks.get(f"gateway {ext.via}")
            ctx = ctx.hop(f"external {ext.name}", f"sends {pkt}", pkt)
            if gw is None:
                return [self._end(ctx, pkt, Disposition.DROPPED, f"segment {ext.via} has no gateway")]
            return self._receive(gw, None, pkt, ctx, 0)
        assert origin.stack is not None
        st = self.net.stacks[origin.stack]
        ctx = ctx.hop(st.id, f"sends {pkt}", pkt)
        return self._originate(st, pkt, ctx)

    def answer(self, request: Trace) -> list[Trace]:
        """Every fate of the answer to the delivered ``request``: sent by the stack (or
        external) it was delivered into, from the address and port it arrived at to
        the ones it came from, met by conntrack at every stack the request passed."""
        pkt = answer_packet(request)
        where = request.delivered_to
        assert where is not None
        ctx = _Ctx(origin=Origin(stack=where), answer=request.tracked)
        if where.startswith("external "):
            ext = self.net.externals[where.removeprefix("external ")]
            gw = self.net.stacks.get(f"gateway {ext.via}")
            ctx = replace(ctx, origin=Origin(external=ext.name)).hop(where, f"answers {pkt}", pkt)
            if gw is None:
                return [self._end(ctx, pkt, Disposition.DROPPED, f"segment {ext.via} has no gateway")]
            return self._receive(gw, None, pkt, ctx, 0)
        st = self.net.stacks[where]
        return self._originate(st, pkt, ctx.hop(st.id, f"answers {pkt}", pkt))

    # ---------------------------------------------------------------- helpers

    def _end(
        self,
        ctx: _Ctx,
        pkt: Packet,
        disp: Disposition,
        reason: str,
        *,
        to: str | None = None,
        entered_by: str | None = None,
    ) -> Trace:
        first = ctx.hops[0].packet if ctx.hops else pkt
        return Trace(
            packet=first,
            hops=ctx.hops,
            disposition=disp,
            reason=reason,
            delivered_to=to,
            entered_by=entered_by,
            routed=ctx.routed,
            nat=ctx.nat,
            final=pkt,
            tracked=ctx.visits,
        )

    def _drop(self, ctx: _Ctx, at: str, pkt: Packet, reason: str, span: Span | None = None) -> Trace:
        ctx = ctx.hop(at, f"dropped: {reason}", pkt, span)
        return self._end(ctx, pkt, Disposition.DROPPED, f"{at}: {reason}")

    def _visit(self, st: Stack, pkt: Packet, ctx: _Ctx) -> tuple[Packet, _Ctx]:
        """Conntrack as the packet enters ``st``: a request opens an entry; an
        answer that matches one has the stack's SNAT undone here (before routing)."""
        if ctx.answer is None:
            if pkt.outer is not None:
                return pkt, ctx
            t = tup(pkt)
            return pkt, replace(ctx, visits=(*ctx.visits, Visit(st.id, t, t)))
        v = match(ctx.answer, st.id, pkt)
        host = vfp_host(st) if v is None else None
        hv = match(ctx.answer, host, pkt) if host is not None else None
        if hv is not None:  # the endpoint's VFP port holds its node's NAT state
            new = pkt.with_(dst=hv.before[1], dport=hv.before[2]) if hv.snat else pkt
            new = new.with_(src=hv.before[3], sport=hv.before[4]) if hv.dnat else new
            what = f"conntrack (VFP port of {st.id}): answer of a connection {host} NATed, {pkt.src} > {pkt.dst} -> {new.src} > {new.dst}"
            return new, replace(ctx, nat=True, ct=CtHit(st.id, None)).hop(st.id, what, new)
        if v is None:
            return pkt, replace(ctx, ct=None)
        restore = (v.before[3], v.before[4]) if v.dnat else None
        ctx = replace(ctx, ct=CtHit(st.id, restore))
        if v.snat:
            new = pkt.with_(dst=v.before[1], dport=v.before[2])
            what = f"conntrack: answer of a tracked connection, dst {pkt.dst} -> {new.dst} (undoes its SNAT)"
            return new, replace(ctx, nat=True).hop(st.id, what, new)
        return pkt, ctx

    def _tracked_here(self, st: Stack, pkt: Packet, ctx: _Ctx) -> bool:
        """An answer that matched ``st``'s entry (its NAT rules do not apply to it)."""
        return ctx.ct is not None and ctx.ct.stack == st.id and pkt.outer is None

    @staticmethod
    def _icmp_answer(pkt: Packet, ctx: _Ctx) -> bool:
        """An echo reply where no entry matched: not a valid first packet, so no NAT rule
        applies (conntrack marks it invalid; measured: tests/kernel/connect/asymmetric-masquerade.l2l3)."""
        return ctx.answer is not None and pkt.outer is None and pkt.proto is Proto.ICMP

    @staticmethod
    def _noted(ctx: _Ctx, pkt: Packet, *, dnat: bool) -> _Ctx:
        """A NAT rule rewrote the request: its entry at the current stack leaves with ``pkt``'s tuple."""
        if ctx.answer is not None or pkt.outer is not None or not ctx.visits:
            return ctx
        v = ctx.visits[-1]
        v = Visit(v.stack, v.before, tup(pkt), snat=v.snat or not dnat, dnat=v.dnat or dnat)
        return replace(ctx, visits=(*ctx.visits[:-1], v))

    def _undnat(self, st: Stack, pkt: Packet, ctx: _Ctx) -> tuple[Packet, _Ctx]:
        """An answer leaving (or delivered at) the stack that DNATed its request: source restored."""
        if not self._tracked_here(st, pkt, ctx) or ctx.ct is None or ctx.ct.restore is None:
            return pkt, ctx
        ip, port = ctx.ct.restore
        new = pkt.with_(src=ip, sport=port)
        what = f"conntrack: answer of a tracked connection, src {pkt.src} -> {ip} (undoes its DNAT)"
        ctx = replace(ctx, nat=True, ct=replace(ctx.ct, restore=None))
        return new, ctx.hop(st.id, what, new)

    def _dnat(self, st: Stack, pkt: Packet, ctx: _Ctx, inbound: bool = True) -> list[tuple[Packet, _Ctx]]:
        if self._tracked_here(st, pkt, ctx) or self._icmp_answer(pkt, ctx):
            return [(pkt, ctx)]
        src, dst, proto, _sport, dport, _ttl = l3(pkt)
        for rule in st.dnats:
            if rule.vip != dst or (rule.inbound_only and not inbound):
                continue
            if rule.sources and not any(src in s for s in rule.sources):
                continue
            if rule.proto is not None and rule.proto != proto:
                continue
            if rule.port is not None and (proto == Proto.ICMP or rule.port != dport):
                continue
            out = []
            for b in rule.backends:
                new = set_l3(pkt, dst=b.ip, dport=b.port if b.port is not None else dport)
                where = f"{b.ip}:{b.port}" if b.port is not None else str(b.ip)
                marked = (rule.masq_unless is not None and not any(src in n for n in rule.masq_unless)) or (
                    rule.masq_hairpin and src == b.ip
                )
                note = " (marked for masquerade)" if marked else ""
                c = replace(ctx, nat=True, mark=rule if marked else ctx.mark)
                c = c.hop(st.id, f"dnat {rule.vip} -> {where}{note}", new, rule.span)
                out.append((new, self._noted(c, new, dnat=True)))
            return out
        return [(pkt, ctx)]

    def _filter(
        self, st: Stack, pkt: Packet, in_dev: str | None, out_dev: str | None, ctx: _Ctx
    ) -> tuple[bool, str, Span | None]:
        src, dst, proto, _sport, dport, _ttl = l3(pkt)
        established = self._tracked_here(st, pkt, ctx)
        for f in st.filters:
            if f.established and not established:
                continue
            if f.in_dev is not None and f.in_dev != in_dev:
                continue
            if f.out_dev is not None and f.out_dev != out_dev:
                continue
            if f.source is not None and src not in f.source:
                continue
            if f.dest is not None and dst not in f.dest:
                continue
            if f.proto is not None and f.proto != proto:
                continue
            if f.port is not None and (proto == Proto.ICMP or f.port != dport):
                continue
            return f.action.value == "allow", f"filter {f.action.value}", f.span
        return True, "", None

    def _snat(self, st: Stack, out: Iface, pkt: Packet, ctx: _Ctx) -> tuple[Packet, _Ctx]:
        if self._tracked_here(st, pkt, ctx):
            return self._undnat(st, pkt, ctx)
        if self._icmp_answer(pkt, ctx):
            return pkt, ctx
        new, ctx = self._snat_rules(st, out, pkt, ctx)
        return new, (ctx if new is pkt else self._noted(ctx, new, dnat=False))

    def _snat_rules(self, st: Stack, out: Iface, pkt: Packet, ctx: _Ctx) -> tuple[Packet, _Ctx]:
        src, dst, *_ = l3(pkt)
        if ctx.mark is not None:  # KUBE-POSTROUTING, first in nat POSTROUTING: MASQUERADE
            to_m = st.primary_addr(out.name)
            if to_m is not None:
                new = set_l3(pkt, src=to_m)
                what = f"masquerade: src {src} -> {to_m} (KUBE-MARK-MASQ)"
                return new, replace(ctx, nat=True, mark=None).hop(st.id, what, new, ctx.mark.span)
        # HNS OutBoundNAT, at the endpoint's vSwitch port: endpoint traffic
        # that the host sends out of a NIC (CNI-SEMANTICS §1(e); choices.py).
        if st.outbound_nats:
            for ob in st.outbound_nats:
                new_src = outbound_nat_source(st, out, ob.bridge)
                if not isinstance(new_src, IPv4Address):
                    continue
                members = [
                    p
                    for p in self.net.pods.values()
                    if p.node == st.node and p.pod.bridge == ob.bridge and p.pod.ip is not None
                ]
                if not any(p.pod.ip and p.pod.ip.ip == src for p in members):
                    continue
                if any(dst in e for e in ob.exceptions):
                    continue
                if not outbound_nat_translates(l3(pkt)[2]):
                    continue  # VFP leaves ICMP as it is (choices.OUTBOUND_NAT_ICMP)
                new = set_l3(pkt, src=new_src)
                c = replace(ctx, nat=True).hop(
                    st.id, f"outbound-nat {ob.bridge}: src {src} -> {new_src}", new, ob.span
                )
                return new, c
        rule = self.first_snat(st, out, src, dst)
        if rule is None:
            return pkt, ctx
        to = rule.to if rule.to is not None else st.primary_addr(out.name)
        if to is None:
            return pkt, ctx
        new = set_l3(pkt, src=to)
        kind = "snat" if rule.to is not None else "masquerade"
        c = replace(ctx, nat=True).hop(st.id, f"{kind}: src {src} -> {to}", new, rule.span)
        return new, c

    @staticmethod
    def first_snat(st: Stack, out: Iface, src: IPv4Address, dst: IPv4Address) -> SourceNat | None:
        for r in st.snats:
            if r.out is not None and r.out != out.name:
                continue
            if src not in r.source:
                continue
            if any(dst in e for e in r.exceptions):
                continue
            return r
        return None

    # ------------------------------------------------------------ the stages

    def _originate(self, st: Stack, pkt: Packet, ctx: _Ctx) -> list[Trace]:
        # Linux routes a locally generated packet on the destination as
        # written, before the OUTPUT hook's DNAT: with no route, sendto()
        # fails (ENETUNREACH) whatever a DNAT rule would have made of it.
        _src, dst0, *_ = l3(pkt)
        if dst0 not in st.local_addrs and self.net.lookup(st, dst0) is None:
            return [self._drop(ctx, st.id, pkt, f"no route to {dst0} (network unreachable)")]
        pkt, ctx = self._visit(st, pkt, ctx)
        out: list[Trace] = []
        for p, c in self._dnat(st, pkt, ctx, inbound=False):
            _src, dst, *_ = l3(p)
            if dst in st.local_addrs:
                out.append(self._deliver(st, None, p, c))
                continue
            route = self.net.lookup(st, dst)
            if route is None:
                out.append(self._drop(c, st.id, p, f"no route to {dst}"))
                continue
            why = host_send_blocked(st, st.ifaces[route.dev])
            if why is not None:
                out.append(self._drop(c, st.id, p, why))
                continue
            c = c.hop(st.id, route.describe(), p, route.span)
            out.extend(self._egress(st, route, p, c, 0))
        return out

    def _receive(self, st: Stack, iface: Iface | None, pkt: Packet, ctx: _Ctx, depth: int) -> list[Trace]:
        key = (st.id, iface.name if iface else None, _sans_ttl(pkt))
        if key in ctx.seen:
            ctx = ctx.hop(st.id, "loop: back here with the same headers", pkt)
            return [self._end(ctx, pkt, Disposition.LOOPED, f"{st.id}: forwarding loop")]
        if depth > MAX_STEPS:
            return [self._drop(ctx, st.id, pkt, "path longer than the search bound")]
        ctx = replace(ctx, seen=ctx.seen | {key}, mark=None)  # a mark never leaves its stack
        in_dev = iface.name if iface else None
        if iface is not None and st.os is OS.LINUX and l3(pkt)[0] in st.local_addrs:
            # accept_local=0: a packet from the wire claiming one of our own
            # addresses is a martian (e.g. a hairpin DNAT without masquerade)
            return [self._drop(ctx, st.id, pkt, f"martian source {l3(pkt)[0]} (one of its own addresses)")]
        pkt, ctx = self._visit(st, pkt, ctx)
        out: list[Trace] = []
        for p, c in self._dnat(st, pkt, ctx):
            src, dst, proto, _sport, dport, ttl = l3(p)
            if st.kind == "gateway" and dst not in st.local_addrs:
                out.extend(self._gateway(st, p, c, depth))
                continue
            if dst in st.local_addrs:
                ok, what, span = self._filter(st, p, in_dev, None, c)
                if not ok:
                    out.append(self._drop(c, st.id, p, f"{what} (INPUT)", span))
                    continue
                if p.outer is not None:
                    out.extend(self._decap(st, p, c, depth))
                    continue
                out.append(self._deliver(st, iface, p, c))
                continue
            if not st.forwarding:
                out.append(self._drop(c, st.id, p, f"not addressed to it ({dst}) and forwarding is off"))
                continue
            if ttl <= 1:
                out.append(self._drop(c, st.id, p, "TTL exceeded"))
                continue
            p = set_l3(p, ttl=ttl - 1)
            c = replace(c, routed=True)
            route = self.net.lookup(st, dst)
            if route is None:
                out.append(self._drop(c, st.id, p, f"no route to {dst}"))
                continue
            c = c.hop(st.id, f"forwards by {route.describe()}", p, route.span)
            ok, what, span = self._filter(st, p, in_dev, route.dev, c)
            if not ok:
                out.append(self._drop(c, st.id, p, f"{what} (FORWARD)", span))
                continue
            out.extend(self._egress(st, route, p, c, depth))
        return out

    def _gateway(self, gw: Stack, pkt: Packet, ctx: _Ctx, depth: int) -> list[Trace]:
        _src, dst, _proto, _sport, _dport, ttl = l3(pkt)
        if ttl <= 1:
            return [self._drop(ctx, gw.id, pkt, "TTL exceeded")]
        pkt = set_l3(pkt, ttl=ttl - 1)
        ctx = replace(ctx, routed=True)
        route = self.net.lookup(gw, dst)
        if route is not None:
            ctx = ctx.hop(gw.id, f"forwards by {route.describe()}", pkt, route.span)
            return self._egress(gw, route, pkt, ctx, depth)
        ext = self.net.external_owner(dst)
        if ext is not None and ext in gw.externals:
            e = self.net.externals[ext]
            ctx = ctx.hop(gw.id, f"routes to external {ext} ({e.prefix})", pkt, e.span)
            return [self._deliver_external(ext, pkt, ctx)]
        return [self._drop(ctx, gw.id, pkt, f"no route to {dst} (no external owns it)")]

    def _egress(self, st: Stack, route: EffRoute, pkt: Packet, ctx: _Ctx, depth: int) -> list[Trace]:
        out_if = st.ifaces[route.dev]
        pkt, ctx = self._snat(st, out_if, pkt, ctx)
        _src, dst, *_ = l3(pkt)
        # a gateway that is one of the stack's own addresses is no gateway:
        # Linux gives such a nexthop host scope and ARPs for the destination
        nexthop = route.via if route.via is not None and route.via not in st.local_addrs else dst
        if out_if.vxlan is not None:
            return self._vxlan_send(st, out_if, nexthop, pkt, ctx, depth)
        if out_if.switch is None:
            return [self._drop(ctx, st.id, pkt, f"{out_if.name} is not attached to any L2")]
        # HNS ROUTE/NeedEncap: endpoint traffic to the prefix goes to the host.
        host = self._route_to_host(st, out_if, dst)
        if host is not None:
            hif, span = host
            p = set_l2(pkt, out_if.mac, hif.mac)
            c = ctx.hop(
                switch_name(out_if.switch), f"route-to-host: {dst} goes to host endpoint {hif}", p, span
            )
            return self._receive(self.net.stacks[hif.stack], hif, p, c, depth + 1)
        answers: list[tuple[str, Span | None, str]] = []
        static = st.neighbors.get((out_if.name, nexthop))
        if static is not None:
            answers.append((static[0], static[1], f"neighbor {nexthop} lladdr {static[0]}"))
        else:
            for peer, mac, _span in self.net.arp(out_if, nexthop):
                answers.append((mac, None, f"ARP {nexthop} answered by {peer} with {mac}"))
        if not answers:
            return [self._drop(ctx, st.id, pkt, f"no ARP answer for {nexthop} on {out_if.name}")]
        traces: list[Trace] = []
        for mac, why_span, how in answers:
            p = set_l2(pkt, out_if.mac, mac)
            c = ctx.hop(st.id, f"sends out {out_if.name}: {how}", p, why_span)
            deliveries = self.net.l2_deliver(out_if, mac, dst)
            if not deliveries:
                traces.append(self._drop(c, switch_name(out_if.switch), p, f"no port has MAC {mac}"))
                continue
            for d in deliveries:
                q = set_l2(p, d.smac, d.dmac)
                path = " > ".join(switch_name(s) for s in d.switches)
                note = "; " + "; ".join(d.rewrites) if d.rewrites else ""
                c2 = c.hop(path, f"L2 to {d.iface}{note}", q)
                traces.extend(self._receive(self.net.stacks[d.iface.stack], d.iface, q, c2, depth + 1))
        return traces

    def _route_to_host(self, st: Stack, out_if: Iface, dst: IPv4Address) -> tuple[Iface, Span] | None:
        if out_if.pod is None or out_if.switch is None:
            return None
        if self.net.switch_kind.get(out_if.switch) is not BridgeKind.L2BRIDGE:
            return None
        node_name, bridge = switch_name(out_if.switch).split("/", 1)
        node = self.net.stacks[node_name]
        for rth in node.routes_to_host:
            if rth.bridge == bridge and dst in rth.prefix:
                hif = node.ifaces.get(bridge)
                if hif is not None and hif is not out_if:
                    return hif, rth.span
        return None

    def _vxlan_send(
        self, st: Stack, vx_if: Iface, nexthop: IPv4Address, pkt: Packet, ctx: _Ctx, depth: int
    ) -> list[Trace]:
        vx = vx_if.vxlan
        assert vx is not None
        if pkt.outer is not None:
            return [self._drop(ctx, st.id, pkt, "nested VXLAN is not modelled")]
        static = st.neighbors.get((vx_if.name, nexthop))
        if static is None:
            return [self._drop(ctx, st.id, pkt, f"no neighbor entry for {nexthop} on {vx_if.name}")]
        mac = static[0]
        inner = pkt.with_(smac=vx_if.mac, dmac=mac)
        ctx = ctx.hop(st.id, f"neighbor {nexthop} lladdr {mac} on {vx_if.name}", inner, static[1])
        vteps = st.fdb.get((vx_if.name, mac)) or st.fdb.get((vx_if.name, "00:00:00:00:00:00"))
        if not vteps:
            return [self._drop(ctx, st.id, inner, f"no fdb entry for {mac} on {vx_if.name}")]
        traces: list[Trace] = []
        for vtep, span in vteps:
            enc = inner.with_(outer=Outer(src=vx.local, dst=vtep, dport=vx.port, vni=vx.vni, ttl=INITIAL_TTL))
            c = ctx.hop(st.id, f"vxlan encap vni {vx.vni} to {vtep}:{vx.port} (fdb {mac})", enc, span)
            # the outer packet leaves as if the node sent it
            route = self.net.lookup(st, vtep)
            if vtep in st.local_addrs:
                traces.extend(self._receive(st, None, enc, c, depth + 1))
                continue
            if route is None:
                traces.append(self._drop(c, st.id, enc, f"no route to VTEP {vtep}"))
                continue
            if st.ifaces[route.dev].vxlan is not None:
                traces.append(self._drop(c, st.id, enc, "VTEP routed into a VXLAN device"))
                continue
            c = c.hop(st.id, route.describe(), enc, route.span)
            traces.extend(self._egress(st, route, enc, c, depth + 1))
        return traces

    def _decap(self, st: Stack, pkt: Packet, ctx: _Ctx, depth: int) -> list[Trace]:
        outer = pkt.outer
        assert outer is not None
        for i in st.ifaces.values():
            vx = i.vxlan
            if vx is None or vx.port != outer.dport or vx.vni != outer.vni:
                continue
            if vx.local != outer.dst:
                continue
            inner = pkt.with_(outer=None)
            if inner.dmac != i.mac:
                return [
                    self._drop(ctx, st.id, inner, f"inner destination MAC {inner.dmac} is not {i.name}'s")
                ]
            c = ctx.hop(st.id, f"vxlan decap on {i.name} (vni {vx.vni})", inner, vx.span)
            return self._receive(st, i, inner, c, depth + 1)
        return [self._drop(ctx, st.id, pkt, f"no vxlan device for vni {outer.vni} port {outer.dport}")]

    # -------------------------------------------------------------- delivery

    def _deliver(self, st: Stack, iface: Iface | None, pkt: Packet, ctx: _Ctx) -> Trace:
        receiver = self._receiving_pod(st, iface)
        if ctx.answer is not None:  # NetworkPolicy is stateful: the request's admission admits it
            pkt, ctx = self._undnat(st, pkt, ctx)
        else:
            ok, why, span = policy_verdict(
                self.net, self._sending_pod(ctx), receiver, pkt, self._from_node(ctx, receiver)
            )
            if not ok:
                return self._drop(ctx, st.id, pkt, why, span)
        by = iface.name if iface else None
        how = f"delivered (entered by {by})" if by else "delivered locally (same stack)"
        ctx = ctx.hop(st.id, how, pkt)
        return self._end(ctx, pkt, Disposition.DELIVERED, "", to=st.id, entered_by=by)

    def _deliver_external(self, name: str, pkt: Packet, ctx: _Ctx) -> Trace:
        ok, why, span = policy_verdict(self.net, self._sending_pod(ctx), None, pkt)
        if not ok and ctx.answer is None:
            return self._drop(ctx, f"external {name}", pkt, why, span)
        ctx = ctx.hop(f"external {name}", "delivered", pkt)
        return self._end(ctx, pkt, Disposition.DELIVERED, "", to=f"external {name}")

    @staticmethod
    def _from_node(ctx: _Ctx, receiver: PodInfo | None) -> bool:
        """The receiver's own node sent it on its local path (model.policy.from_resident_node)."""
        return from_resident_node(ctx.origin.stack, ctx.routed, receiver)

    def _sending_pod(self, ctx: _Ctx) -> PodInfo | None:
        if ctx.origin.pod is None:
            return None
        info = self.net.pods[ctx.origin.pod]
        return None if info.pod.mode is StackMode.HOST_NETWORK else info

    def _receiving_pod(self, st: Stack, iface: Iface | None) -> PodInfo | None:
        if iface is not None and iface.pod is not None:
            return self.net.pods[iface.pod]
        return None


def _sans_ttl(pkt: Packet) -> tuple[object, ...]:
    o = pkt.outer
    outer = None if o is None else (o.src, o.dst, o.dport, o.vni, o.smac, o.dmac)
    return (pkt.src, pkt.dst, pkt.proto, pkt.sport, pkt.dport, pkt.smac, pkt.dmac, outer)


def simulate(net: Network, origin: Origin, pkt: Packet) -> list[Trace]:
    """Every fate of ``pkt`` sent by ``origin`` (one trace per outcome)."""
    return Simulator(net).run(origin, pkt)


def simulate_answer(net: Network, request: Trace) -> list[Trace]:
    """Every fate of the answer to the delivered ``request`` (l2l3.model.conntrack)."""
    return Simulator(net).answer(request)
