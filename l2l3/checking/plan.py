"""Planning: which pairs a query covers, and how few searches can answer it.

Everything here either enumerates exactly (pairs, pre-images) or groups
senders into classes whose members provably behave like their
representative (see :func:`source_classes`). Every grouping is covered by
the Checker-level property test (tests/property/test_checker_vs_brute.py),
which compares verdicts with brute-force simulation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from l2l3.model.endpoints import Endpoint, send_address
from l2l3.model.network import Network
from l2l3.model.packet import Packet
from l2l3.model.types import Headers, Proto, StackMode


@dataclass(frozen=True, slots=True)
class Pairs:
    """The (source, destination) pairs of a query and the self pairs it leaves out."""

    pairs: list[tuple[Endpoint, Endpoint]]
    excluded: int


def pairs(srcs: list[Endpoint], dsts: list[Endpoint], *, self_pairs: bool) -> Pairs:
    """Every pair; a pair of an endpoint with itself only when ``self_pairs``."""
    out, excluded = [], 0
    for s in srcs:
        for d in dsts:
            if not self_pairs and s.same_as(d):
                excluded += 1
                continue
            out.append((s, d))
    return Pairs(out, excluded)


def pair_count(srcs: list[Endpoint], dsts: list[Endpoint], *, self_pairs: bool) -> tuple[int, int]:
    """(pairs covered, self pairs excluded), in O(|srcs| + |dsts|)."""
    if self_pairs:
        return len(srcs) * len(dsts), 0
    seen = Counter(s.key for s in srcs)
    excluded = sum(seen[d.key] for d in dsts)
    return len(srcs) * len(dsts) - excluded, excluded


def self_note(excluded: int) -> str:
    """The sentence an explanation carries when self pairs were left out."""
    if not excluded:
        return ""
    return f"; {excluded} self pair{'s' if excluded != 1 else ''} (an endpoint with itself) not checked"


def preimage(net: Network, stacks: set[str]) -> frozenset[IPv4Address]:
    """Destinations a packet can be sent to and end up delivered into ``stacks``.

    Delivery needs the destination to be a local address of the receiver,
    and only DNAT changes a destination; so the pre-image is those
    addresses plus, to a fixpoint, every VIP with a backend among them.
    """
    addrs = {a for s in stacks for a in net.stacks[s].local_addrs}
    changed = True
    while changed:
        changed = False
        for st in net.stacks.values():
            for d in st.dnats:
                if d.vip not in addrs and any(b.ip in addrs for b in d.backends):
                    addrs.add(d.vip)
                    changed = True
    return frozenset(addrs)


def stack_targets(dsts: list[Endpoint]) -> set[str] | None:
    """The receiving stacks, or None when a destination is not a stack."""
    out = set()
    for d in dsts:
        if d.stack is None or d.prefix is not None:
            return None
        out.add(d.stack)
    return out


def destination_space(net: Network, dsts: list[Endpoint]) -> tuple[frozenset[IPv4Address], list[IPv4Network]]:
    """Addresses (and ranges) a packet must be sent to in order to reach any of ``dsts``.

    Stacks contribute their pre-image, address endpoints their prefix;
    externals own only addresses no stack owns, so they add nothing a
    sender class could collide with.
    """
    stacks = {d.stack for d in dsts if d.stack is not None and d.prefix is None}
    prefixes = [d.prefix for d in dsts if d.prefix is not None]
    return preimage(net, stacks), prefixes


def _class_key(net: Network, s: Endpoint) -> tuple[object, ...] | None:
    """What a sender's behaviour depends on besides its own address; None: it stands alone.

    A netns pod's stack holds one interface (its address and MAC) and its
    routes. Two such pods of one node, on one bridge, with the same
    effective routes (so the same on-link subnet and gateway), namespace and
    labels (so the same policies) differ only in their address and MAC: a
    packet from one with the other's address as source takes the same path
    the other's would, as long as the packet is not sent to one of the
    members' own addresses (which one of them delivers locally and the
    other over the wire) — :func:`source_classes` keeps such members apart.
    """
    info = net.pods.get(s.pod) if s.pod else None
    if info is None or info.pod.mode is not StackMode.NETNS or s.src is None or s.stack is None:
        return None
    st = net.stacks[s.stack]
    iface = st.ifaces.get(info.iface or "")
    if iface is None or len(st.ifaces) != 1:
        return None
    routes = tuple((r.prefix, r.dev, r.via, r.connected) for r in st.routes)
    p = info.pod
    return (info.node, st.os, iface.switch, iface.name, routes, p.namespace, p.labels)


def source_classes(
    net: Network,
    srcs: list[Endpoint],
    receivers: set[str],
    dst_addrs: frozenset[IPv4Address],
    dst_prefixes: list[IPv4Network],
) -> list[list[Endpoint]]:
    """Senders grouped into classes whose members behave like their representative.

    A sender stands alone when it is a receiver of the query, when
    :func:`_class_key` says so, or when its own address is one a packet of
    the query may be sent to (``dst_addrs``, ``dst_prefixes``). Whatever the
    grouping, every witness is replayed from the member that owns its source
    address.
    """
    classes: dict[tuple[object, ...], list[Endpoint]] = {}
    alone: list[list[Endpoint]] = []
    for s in srcs:
        key = _class_key(net, s) if s.stack not in receivers else None
        if key is not None and s.src is not None:
            if s.src in dst_addrs or any(s.src in p for p in dst_prefixes):
                key = None
        if key is None:
            alone.append([s])
        else:
            classes.setdefault(key, []).append(s)
    return alone + list(classes.values())


def probe_packet(net: Network, src: Endpoint, dst: Endpoint, h: Headers) -> Packet | None:
    """A typical packet (to the destination's own address) for fast paths and explanations."""
    if dst.address is None:
        return None
    proto = h.proto or (Proto.TCP if h.port is not None else Proto.ICMP)
    hint = [pp for pp in dst.ports if h.proto in (None, pp[0]) and h.port in (None, pp[1])]
    if hint:  # a service destination: one of its own ports
        proto, h = hint[0][0], Headers(proto=hint[0][0], port=hint[0][1])
    s = send_address(net, src, dst.address) or IPv4Address(0)
    return Packet(
        src=s,
        dst=dst.address,
        proto=proto,
        sport=0 if proto == Proto.ICMP else 40000,
        dport=0 if proto == Proto.ICMP else (h.port or 80),
    )
