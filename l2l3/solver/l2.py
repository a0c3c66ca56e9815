"""L2 stages of the symbolic engine: ARP, bridges and segments, VXLAN, HNS route-to-host.

Each method mirrors the simulator's step of the same name
(:mod:`l2l3.model.simulate`); the conditions are the sets of packets for
which each outcome happens.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

from l2l3.model.choices import WINDOWS_ARP_ANY_LOCAL
from l2l3.model.network import EffRoute, Iface, Stack
from l2l3.model.packet import Disposition, Outer
from l2l3.model.types import OS, BridgeKind
from l2l3.solver.core import Core, SymPkt, _concrete, _Ctx
from l2l3.solver.encode import TRUE, Bool, Term, conj, disj, in_prefix, ip_const, neg, one_of


class L2Stages(Core):
    """Frames: who answers ARP, which port gets a MAC, tunnels in and out."""

    _arp_cache: dict[tuple[str, str, int], tuple[Term, list[tuple[Iface, str, Bool]]]]

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
