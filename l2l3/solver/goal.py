"""Goals and packet spaces as z3: the solver's reading of :mod:`l2l3.model.goal`.

``leaf_condition`` must mean exactly what :meth:`Goal.met_by` means on a
trace; the property tests compare the two on random networks.
"""

from __future__ import annotations

from l2l3.model.goal import ConnectGoal, Goal, PacketSpace
from l2l3.model.packet import Disposition
from l2l3.model.types import NatMode
from l2l3.solver.core import Leaf, SymPkt
from l2l3.solver.encode import (
    TRUE,
    Bool,
    Term,
    bv_eq,
    conj,
    disj,
    in_prefix,
    ip_const,
    neg,
    one_of,
    proto_is,
    val,
)


def leaf_condition(goal: Goal, leaf: Leaf) -> Bool | None:
    """The packets of ``leaf``'s path that meet ``goal``: None when none can.

    Everything but the arriving source address is decided by the leaf
    itself (where it ended, routed or not, NAT or not, MACs); only
    ``src_not`` adds a condition on the symbolic source.
    """
    if leaf.disposition is not goal.disposition:
        return None
    if goal.disposition is not Disposition.DELIVERED:
        return TRUE
    if goal.receivers is not None and leaf.to not in goal.receivers:
        return None
    if goal.bypassing is not None and leaf.entered_by == goal.bypassing:
        return None
    if goal.via_mac:
        sent, arrived = leaf.sent_macs, (leaf.pkt.smac, leaf.pkt.dmac)
        if leaf.routed or sent != arrived or sent[1] is None:
            return None
    if goal.nat is NatMode.WITH and not leaf.nat:
        return None
    if goal.nat is NatMode.WITHOUT and leaf.nat:
        return None
    cond: Bool = TRUE
    if goal.arrive is not None:  # a service destination: at one of its target ports
        at = [
            conj(proto_is(leaf.pkt.proto, p), leaf.pkt.dport == val(n, 16))
            for s, p, n in goal.arrive
            if s == leaf.to
        ]
        if not at:
            return None
        cond = disj(at)
    if goal.src_not:
        return conj(cond, neg(one_of(leaf.pkt.src, goal.src_not)))
    return cond


def answer_condition(goal: ConnectGoal, request: Leaf, answer: Leaf, sent: SymPkt) -> Bool | None:
    """The packets whose answer leaf ``answer`` (to ``request``, sent as ``sent``) the
    source takes: :meth:`ConnectGoal.met_by` on a request and an answer leaf. None
    when none can."""
    if leaf_condition(goal.answer_goal(), answer) is None or answer.pkt.outer is not None:
        return None
    if not goal.nat_ok(request.nat or answer.nat):
        return None
    a = answer.pkt
    assert a.sport is not None and sent.sport is not None  # both set by the connect search
    return conj(
        bv_eq(a.src, sent.dst), bv_eq(a.dst, sent.src), bv_eq(a.sport, sent.dport), bv_eq(a.dport, sent.sport)
    )


def space_constraints(space: PacketSpace, src: Term, dst: Term, proto: Term, dport: Term) -> list[Bool]:
    """The initial packet's header variables restricted to ``space`` (a conjunction)."""
    # the order is the one the golden witnesses were found with: z3's model
    # (and so the packet shown) depends on it
    out: list[Bool] = []
    if space.proto is not None:
        out.append(proto_is(proto, space.proto))
    if space.dport is not None:
        out.append(dport == val(space.dport, 16))  # ICMP carries dport 0 (Engine.search)
    if space.dst_prefix is not None:
        out.append(in_prefix(dst, space.dst_prefix))
    if space.dst_in is not None:
        out.append(one_of(dst, space.dst_in))
    if space.src is not None:
        out.append(src == ip_const(space.src))
    if space.srcs is not None:
        out.append(one_of(src, space.srcs))
    if space.src_prefix is not None:
        out.append(in_prefix(src, space.src_prefix))
    if space.dst is not None:
        out.append(dst == ip_const(space.dst))
    return out
