"""Delivery in the symbolic engine: NetworkPolicy at the receiving stack or external."""

from __future__ import annotations

import z3

from l2l3.model.network import Iface, PodInfo, Stack
from l2l3.model.packet import Disposition
from l2l3.model.policy import (
    CompiledRule,
    Direction,
    PeerSet,
    from_resident_node,
    governing_rules,
    port_ranges,
)
from l2l3.model.types import Pod, PortSpec, Proto
from l2l3.solver.core import Core, SymPkt, _Ctx
from l2l3.solver.encode import (
    TRUE,
    Bool,
    Term,
    address_ranges,
    conj,
    disj,
    in_any,
    in_prefix,
    in_ranges,
    neg,
    proto_is,
    val,
)


def _port_in(dport: Term, lo: int, hi: int) -> Bool:
    """lo ≤ dport ≤ hi (unsigned; one port is an equality)."""
    if lo == hi:
        return dport == val(lo, 16)
    return z3.And(z3.ULE(val(lo, 16), dport), z3.ULE(dport, val(hi, 16)))


class Delivery(Core):
    """The last step: policy admits the packet (delivered) or not (dropped)."""

    _policy_cache: dict[tuple[str, str, int, int, int], tuple[SymPkt, Bool]]
    _rule_terms: dict[
        tuple[CompiledRule, int, int, int, tuple[object, ...]], tuple[tuple[Term, Term, Term], Bool]
    ]
    #: the stack the current search sends from (None: an external); set by Engine.search
    origin_stack: str | None = None

    def _peers(self, ps: PeerSet, x: Term) -> Bool:
        if ps.any:
            return TRUE
        # address sets become their fewest ranges: a namespace's pods
        # usually sit in a few runs of addresses, so the formula stays small
        parts = [in_ranges(x, address_ranges(ps.ips))] + [
            conj(in_prefix(x, c), neg(in_any(x, ex))) for c, ex in ps.blocks
        ]
        return disj(parts)

    @staticmethod
    def _ports(ports: tuple[PortSpec, ...], proto: Term, dport: Term, dest: Pod | None) -> Bool:
        """The port specs as a formula; named ports resolved at ``dest`` (model.policy.port_ranges)."""
        if not ports:
            return TRUE
        parts = []
        for ps in ports:
            ranges = port_ranges(ps, dest)
            if ranges is None:
                parts.append(proto_is(proto, ps.proto))
            elif isinstance(ps.port, int) and ps.end_port is None:
                parts.append(
                    conj(
                        proto_is(proto, ps.proto), neg(proto_is(proto, Proto.ICMP)), dport == val(ps.port, 16)
                    )
                )
            elif ps.proto != Proto.ICMP:
                parts.append(
                    conj(proto_is(proto, ps.proto), disj(_port_in(dport, lo, hi) for lo, hi in ranges))
                )
        return disj(parts)

    def _rules_allow(
        self, rules: list[CompiledRule] | None, peer: Term, pkt: SymPkt, dest: Pod | None
    ) -> Bool:
        if rules is None:
            return TRUE
        return disj(self._rule_term(r, peer, pkt.proto, pkt.dport, dest) for r in rules)

    def _rule_term(self, r: CompiledRule, peer: Term, proto: Term, dport: Term, dest: Pod | None) -> Bool:
        """``r`` admits the peer address and the ports: built once per rule and terms (issue 15)."""
        key = self._rule_key(r, peer, proto, dport, dest)
        hit = self._rule_terms.get(key)
        if hit is None:
            term = conj(self._peers(r.peers, peer), self._ports(r.ports, proto, dport, dest))
            hit = self._rule_terms[key] = ((peer, proto, dport), term)  # the terms pin their ids
        return hit[1]

    @staticmethod
    def _rule_key(
        r: CompiledRule, peer: Term, proto: Term, dport: Term, dest: Pod | None
    ) -> tuple[CompiledRule, int, int, int, tuple[object, ...]]:
        """Everything :meth:`_rule_term`'s formula is made of: the rule (by identity), the
        peer, protocol and port terms (by id) and the port ranges ``r``'s named ports
        resolve to at ``dest`` (the only thing the destination pod adds)."""
        ranges = tuple(port_ranges(ps, dest) for ps in r.ports)
        return (r, peer.get_id(), proto.get_id(), dport.get_id(), ranges)

    def _policy(self, ctx: _Ctx, receiver: PodInfo | None, pkt: SymPkt) -> Bool:
        key = (
            ctx.pod.id if ctx.pod else "",
            (receiver.id if receiver else "") + ("|from-node" if self._from_node(ctx, receiver) else ""),
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
        dest = receiver.pod if receiver is not None else None
        if ctx.pod is not None:
            parts.append(
                self._rules_allow(governing_rules(self.net, ctx.pod, Direction.EGRESS), pkt.dst, pkt, dest)
            )
        if receiver is not None and not self._from_node(ctx, receiver):
            parts.append(
                self._rules_allow(governing_rules(self.net, receiver, Direction.INGRESS), pkt.src, pkt, dest)
            )
        return conj(*parts)

    def _from_node(self, ctx: _Ctx, receiver: PodInfo | None) -> bool:
        """The receiver's own node sent it on its local path (model.policy.from_resident_node)."""
        return from_resident_node(self.origin_stack, ctx.routed, receiver)

    def _deliver(self, st: Stack, iface: Iface | None, pkt: SymPkt, ctx: _Ctx) -> None:
        if ctx.answer is not None:  # stateful policy: the request's admission admits its answer
            pkt, ctx = self._undnat(st, pkt, ctx)
            self._end(ctx, pkt, Disposition.DELIVERED, st.id, st.id, iface.name if iface else None)
            return
        receiver = self.net.pods[iface.pod] if iface is not None and iface.pod is not None else None
        allow = self._policy(ctx, receiver, pkt)
        with self._assume(neg(allow)) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DROPPED, st.id)
        with self._assume(allow) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DELIVERED, st.id, st.id, iface.name if iface else None)

    def _deliver_external(self, name: str, pkt: SymPkt, ctx: _Ctx) -> None:
        at = f"external {name}"
        if ctx.answer is not None:  # stateful policy: the request's admission admits its answer
            self._end(ctx, pkt, Disposition.DELIVERED, at, at, None)
            return
        allow = self._policy(ctx, None, pkt)
        with self._assume(neg(allow)) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DROPPED, at)
        with self._assume(allow) as ok:
            if ok:
                self._end(ctx, pkt, Disposition.DELIVERED, at, at, None)
