"""Which policy rules let a delivered packet through: the allowing side of an explanation.

A dropped packet's trace already names the policy that denied it (with its
file:line); a delivered one passed every policy that governs its sender's
egress and its receiver's ingress, and this module names, for each
direction, the rules that admitted it (netpol-analyzer's ``--explain``
answers the same question). The rules are the ones the simulator applied,
matched against the packet as it was delivered (after any DNAT), so the
answer agrees with the replayed trace.
"""

from __future__ import annotations

from l2l3.model.network import Network, PodInfo
from l2l3.model.packet import Trace
from l2l3.model.policy import Direction, governing_rules, selects
from l2l3.model.types import StackMode

__all__ = ["admitted_by", "admission_note"]


def _pod(net: Network, place: str | None) -> PodInfo | None:
    info = net.pods.get(place) if place is not None else None
    if info is None or info.pod.mode is StackMode.HOST_NETWORK:
        return None
    return info


def admitted_by(net: Network, t: Trace) -> list[str]:
    """``egress of A by ns/policy (file:line)`` and ``ingress of B by …`` for each governed direction of ``t``.

    A direction that a policy selects on a node enforcing none says so. Empty
    when ``t`` was not delivered or no policy selects either end.
    """
    if not t.delivered or not t.hops:
        return []
    pkt = t.hops[-1].packet
    sender, receiver = _pod(net, t.hops[0].at), _pod(net, t.delivered_to)
    out: list[str] = []
    for info, direction, peer in (
        (sender, Direction.EGRESS, pkt.dst),
        (receiver, Direction.INGRESS, pkt.src),
    ):
        if info is None:
            continue
        rules = governing_rules(net, info, direction)
        if rules is None:
            lax = sorted(
                f"{p.namespace}/{p.name} ({p.span.file}:{p.span.line})"
                for p in net.policies
                if direction in p.directions and selects(p, info.pod)
            )
            if lax and not net.stacks[info.node].enforce_policy:
                out.append(
                    f"{direction.value} of {info.id}: {', '.join(lax)} selects it, but {info.node} enforces no policy"
                )
            continue
        dest = receiver.pod if receiver is not None else None
        hits = [r for r in rules if r.matches(peer, pkt.proto, pkt.dport, dest)]
        names = sorted(
            {f"{r.policy.namespace}/{r.policy.name} ({r.span.file}:{r.span.line})" for r in hits}
            if hits
            else set()
        )
        if names:
            out.append(f"{direction.value} of {info.id} by {', '.join(names)}")
    return out


def admission_note(net: Network, t: Trace | None) -> str:
    """`` (policy: …)`` for a delivered trace that policies govern or would govern, else ``""``."""
    got = admitted_by(net, t) if t is not None else []
    return f" (policy: {'; '.join(got)})" if got else ""
