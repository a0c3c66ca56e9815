"""What a check's answer can depend on, and whether a change touches it.

The dependency rule of :mod:`l2l3.incremental` (docs/incremental.md, "The
rule"): a check is answered again after a change unless none of these holds
— it ranges over every sender or pod (``netns-isolation``, ``no-loops``,
``connect``, Service endpoints); its endpoints can name a changed pod or
node; a packet meeting its goal can carry a changed destination on the way
(before or after DNAT); a pod it sends from or delivers to has changed
rules; an ingress rule of a pod it delivers to now names one of its senders
differently. :class:`~l2l3.model.update.Delta` says what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from l2l3.model.endpoints import as_destination, resolve
from l2l3.model.network import Network, Stack
from l2l3.model.types import (
    AddressRef,
    Connect,
    EndpointRef,
    Isolated,
    LabelRef,
    NamespaceRef,
    NatAs,
    NodeRef,
    PodNsRef,
    PodRef,
    Query,
    Reach,
    ServiceRef,
)
from l2l3.model.update import Delta

__all__ = ["Footprint", "affected", "footprint", "steering"]


@dataclass(frozen=True)
class Footprint:
    """What a check's answer can depend on (see docs/incremental.md, "The rule").

    ``whole``: a reason it depends on every pod and stack (empty: it does
    not). ``refs``: its endpoints as written. ``senders``/``receivers``: pods
    whose egress/ingress rules its packets can meet. ``dst_addrs`` and
    ``dst_prefixes``: every destination a packet meeting its goal can carry
    on the way (before and after DNAT).
    """

    whole: str = ""
    refs: tuple[EndpointRef, ...] = ()
    senders: frozenset[str] = frozenset()
    receivers: frozenset[str] = frozenset()
    dst_addrs: frozenset[IPv4Address] = frozenset()
    dst_prefixes: tuple[IPv4Network, ...] = ()
    #: ranges an external sender picks its source from (what no stack owns there)
    src_prefixes: tuple[IPv4Network, ...] = ()
    #: per leg (source pods, destination pods) when both ends are namespaces or label sets
    members: tuple[tuple[frozenset[str], frozenset[str]], ...] | None = None


def footprint(net: Network, q: Query, dnats: list[tuple[IPv4Address, IPv4Address]]) -> Footprint:
    """The :class:`Footprint` of ``q`` over ``net``; ``dnats``: every (VIP, backend) of the network.

    An endpoint that does not resolve raises :class:`~l2l3.errors.QueryError`.
    """
    if isinstance(q, Connect):
        return Footprint(whole="connect follows the answer back as well (not narrowed)")
    if isinstance(q, Reach | NatAs):
        legs = [(q.src, q.dst)]
    elif isinstance(q, Isolated):
        legs = [(q.a, q.b), (q.b, q.a)]
    else:
        return Footprint(whole=f"{type(q).__name__} ranges over every sender")
    refs = tuple(r for leg in legs for r in leg)
    if any(isinstance(r, ServiceRef) for r in refs):
        return Footprint(whole="a Service endpoint (kube-proxy's rules follow every pod)")
    senders: set[str] = set()
    receivers: set[str] = set()
    stacks: set[str] = set()
    prefixes: list[IPv4Network] = []
    src_prefixes: list[IPv4Network] = []
    members: list[tuple[frozenset[str], frozenset[str]]] | None = []
    for s, d in legs:
        srcs, dsts = resolve(net, s), as_destination(net, d)
        if members is not None and isinstance(s, _SETS) and isinstance(d, _SETS):
            members.append((frozenset(e.pod for e in srcs if e.pod), frozenset(e.pod for e in dsts if e.pod)))
        else:
            members = None
        for e in srcs:
            if e.pod is not None:
                senders.add(e.pod)
            if e.external is not None:
                src_prefixes.append(e.prefix or net.externals[e.external].prefix)
        for e in dsts:
            if e.prefix is not None:
                prefixes.append(e.prefix)
            elif e.stack is not None:
                stacks.add(e.stack)
            elif e.external is not None:
                prefixes.append(net.externals[e.external].prefix)
    final = {a for sid in stacks for a in net.stacks[sid].local_addrs}
    more = _dnat_closure(dnats, final, prefixes)  # addresses a packet carries before (or after) a DNAT
    owning = set(stacks) | {i.stack for a in more for i in net.owners.get(a, [])}
    if prefixes:
        owning |= {i.stack for a, ifs in net.owners.items() if any(a in p for p in prefixes) for i in ifs}
    for sid in owning:  # the entered interface's pod is the receiver (simulate._receiving_pod)
        st = net.stacks[sid]
        if st.kind == "pod" and sid in net.pods:
            receivers.add(sid)
        else:
            receivers |= {i.pod for i in st.ifaces.values() if i.pod is not None}
    return Footprint(
        "",
        refs,
        frozenset(senders),
        frozenset(receivers),
        frozenset(final | more),
        tuple(prefixes),
        tuple(src_prefixes),
        tuple(members) if members is not None else None,
    )


_SETS = (NamespaceRef, LabelRef)


def _dnat_closure(
    pairs: list[tuple[IPv4Address, IPv4Address]], addrs: set[IPv4Address], prefixes: list[IPv4Network]
) -> set[IPv4Address]:
    """Every DNAT address chained, either way, to one of ``addrs`` or an address inside ``prefixes``."""
    out: set[IPv4Address] = set()

    def inside(x: IPv4Address) -> bool:
        return x in out or x in addrs or any(x in p for p in prefixes)

    changed = bool(pairs)
    while changed:
        changed = False
        for a, b in pairs:
            if (inside(a) or inside(b)) and not (a in out and b in out):
                out |= {a, b}
                changed = True
    return out


def _involves(ref: EndpointRef, d: Delta) -> bool:
    """Whether endpoint ``ref`` can name one of the changed pods (old or new) or nodes."""
    if isinstance(ref, NodeRef):
        return ref.node in d.nodes
    if isinstance(ref, AddressRef):
        return any(ref.prefix.overlaps(a) for a in d.addrs)
    if isinstance(ref, LabelRef):
        for was, now in d.relabelled:  # names it before or after, not both
            if ref.namespace in (None, was.pod.namespace) and ref.selector.matches(
                was.pod.labels
            ) != ref.selector.matches(now.pod.labels):
                return True
    for info in d.pods:
        p = info.pod
        if isinstance(ref, PodRef) and ref.node == info.node:
            return True
        if isinstance(ref, PodNsRef) and (ref.namespace, ref.name) == (p.namespace, p.name):
            return True
        if isinstance(ref, NamespaceRef) and ref.namespace == p.namespace:
            return True
        if (
            isinstance(ref, LabelRef)
            and ref.namespace in (None, p.namespace)
            and ref.selector.matches(p.labels)
        ):
            return True
    return False


def affected(fp: Footprint, d: Delta) -> str:
    """Why a check with footprint ``fp`` must be answered again after ``d`` ("" if it need not).

    ``d.everything`` already says whether a changed address steers packets
    (a next hop, tunnel end, neighbour or NAT source: :meth:`Session._steering`).
    """
    if d.everything:
        return d.everything
    if fp.whole:
        return fp.whole
    if any(_involves(r, d) for r in fp.refs):
        return "its endpoints name a changed pod or node"
    for n in d.addrs:
        if any(n.overlaps(p) for p in fp.src_prefixes):
            return f"an external sender's own addresses changed ({n})"
        if any(n.overlaps(p) for p in fp.dst_prefixes):
            return f"it can send to {n}"
        if n.prefixlen == 32:
            if n.network_address in fp.dst_addrs:
                return f"it can send to {n.network_address}"
        elif any(a in n for a in fp.dst_addrs):
            return f"it can send into {n}"
    if d.ingress & fp.receivers:
        return "a pod it delivers to has new ingress rules"
    if d.egress & fp.senders:
        return "a pod it sends from has new egress rules"
    for senders, receivers in d.pairs:
        if senders & fp.senders and receivers & fp.receivers:
            return "an ingress rule of a pod it delivers to now names a sender differently"
    return ""


def steering(st: Stack) -> set[IPv4Address]:
    """Addresses ``st`` steers packets by besides their destination (next hops, tunnels, NAT)."""
    out = {r.via for r in st.routes if r.via is not None}
    out |= {ip for _dev, ip in st.neighbors}
    out |= {dst for remotes in st.fdb.values() for dst, _span in remotes}
    out |= {i.vxlan.local for i in st.ifaces.values() if i.vxlan is not None and i.vxlan.local is not None}
    out |= {r.to for r in st.snats if r.to is not None}
    if st.snats or st.outbound_nats or any(d.masq_unless is not None or d.masq_hairpin for d in st.dnats):
        out |= st.local_addrs  # a NAT may write one of them as the source
    return out
