"""Explanations: why a typical packet misses a goal, in the words of its hops."""

from __future__ import annotations

from l2l3.model.goal import Goal
from l2l3.model.packet import Hop, Trace
from l2l3.model.types import NatMode, Reach

_NAT_ACTIONS = ("dnat ", "snat:", "masquerade:", "outbound-nat ")
_ROUTING_ACTIONS = ("forwards by ", "routes to external ")


def _where(h: Hop) -> str:
    return f" ({h.span.file}:{h.span.line})" if h.span is not None and h.span.line else ""


def routing_hops(t: Trace) -> list[Hop]:
    """The hops where a router (a stack forwarding, a segment gateway) moved the packet."""
    return [h for h in t.hops if h.action.startswith(_ROUTING_ACTIONS)]


def nat_hops(t: Trace) -> list[Hop]:
    """The hops where a rule rewrote an address or a port."""
    return [h for h in t.hops if h.action.startswith(_NAT_ACTIONS)]


def mac_rewrite_hops(t: Trace) -> list[Hop]:
    """The L2 hops that rewrote a MAC address (HNS l2bridge uplinks)."""
    return [h for h in t.hops if "rewrites" in h.action and "MAC" in h.action]


def why_missed(t: Trace | None, goal: Goal) -> str:
    """Why ``t`` does not meet ``goal``: where it dies, or which hop breaks a flag.

    A dropped packet's reason says where and why it died. A delivered one
    that still misses names the routing hop (``via mac``), the MAC rewrite,
    or the NAT rule (``without nat``) with its file:line.
    """
    if t is None:
        return ""
    if not t.delivered:
        return t.reason
    if goal.arrive is not None and t.final is not None:  # a service destination (section 9)
        if t.delivered_to not in {a[0] for a in goal.arrive}:
            return f"delivered to {t.delivered_to}, which is none of the Service's ready endpoints"
        if (t.delivered_to, t.final.proto, t.final.dport) not in goal.arrive:
            return (
                f"delivered to {t.delivered_to} at {t.final.proto} port {t.final.dport}, not at a target port"
            )
    out: list[str] = []
    if goal.via_mac and not t.via_mac:
        r = routing_hops(t)
        if r:
            out.append(f"it is routed at {r[0].at} ({r[0].action}){_where(r[0])}, not bridged")
        else:
            m = mac_rewrite_hops(t)
            if m:
                out.append(f"its MACs are rewritten at {m[0].at} ({m[0].action}){_where(m[0])}")
            else:
                out.append("it never leaves its own stack, so no frame carries it")
    if goal.nat is NatMode.WITHOUT and t.nat:
        n = nat_hops(t)
        if n:
            out.append(f"{n[0].at} rewrites it ({n[0].action}){_where(n[0])}")
    if goal.nat is NatMode.WITH and not t.nat:
        out.append("no rule rewrites an address on its way")
    if goal.receivers is not None and t.delivered_to not in goal.receivers:
        out.append(f"it is delivered to {t.delivered_to} instead")
    if not out:
        return ""
    return f"delivered to {t.delivered_to}, but " + "; ".join(out)


def flags_note(q: Reach) -> str:
    """The header and flag words of a reach query, in parentheses (or nothing)."""
    parts = []
    if q.via_mac:
        parts.append("via mac")
    if q.nat is not NatMode.ANY:
        parts.append(q.nat.value)
    if str(q.headers):
        parts.insert(0, str(q.headers))
    return f" ({' '.join(parts)})" if parts else ""
