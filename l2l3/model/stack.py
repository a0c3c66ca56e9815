"""A stack of the derived network, its interfaces and its effective routes.

Split out of :mod:`l2l3.model.network` (which re-exports every name here):
:class:`Stack` is one IP stack (a node, a pod netns, a segment gateway),
:class:`Iface` one of its interfaces, :class:`EffRoute` a route as the stack
applies it, :class:`PodInfo` where a pod's processes live.

A node whose written routes are a :class:`~l2l3.model.peerblock.WithPeers`
(its own routes around the profile's shared peer block) holds the block's
effective routes as one :class:`PeerRoutes`, built and indexed once for all
nodes, plus its own; :meth:`Stack.lookup` consults both as one longest-prefix
table would, and :attr:`Stack.routes` is that one sorted table, made when
someone reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING

from l2l3.model.types import (
    NOWHERE,
    OS,
    Dnat,
    Filter,
    Node,
    OutboundNat,
    Pod,
    Route,
    RouteToHost,
    SourceNat,
    Span,
    Vxlan,
)

if TYPE_CHECKING:
    from l2l3.model.peerblock import PeerBlock, WithPeers


@dataclass(frozen=True, slots=True)
class Iface:
    """An interface of a stack. ``switch`` is the L2 node it plugs into."""

    stack: str
    name: str
    mac: str
    addrs: tuple[IPv4Interface, ...]
    switch: str | None
    pod: str | None = None  # "NODE/POD" when this is a pod's endpoint
    vxlan: Vxlan | None = None
    span: Span = NOWHERE

    @property
    def primary(self) -> IPv4Address | None:
        return self.addrs[0].ip if self.addrs else None

    def __str__(self) -> str:
        return f"{self.stack}:{self.name}"


@dataclass(frozen=True, slots=True)
class EffRoute:
    """A route as the stack applies it; ``dev`` is always resolved."""

    prefix: IPv4Network
    dev: str
    via: IPv4Address | None
    connected: bool
    span: Span
    #: sort key, longest prefix first (computed once: a shared route sits in thousands of tables)
    rank: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rank", -self.prefix.prefixlen)

    def describe(self) -> str:
        if self.connected:
            return f"connected route {self.prefix} dev {self.dev}"
        via = f" via {self.via}" if self.via else ""
        return f"route {self.prefix}{via} dev {self.dev}"


class StackKind(StrEnum):
    """What a stack is; members compare equal to their names as strings."""

    NODE = "node"
    # a node's root namespace / host compartment
    POD = "pod"
    # a pod's private netns (or Windows network compartment)
    GATEWAY = "gateway"
    # a segment's router towards its externals


@dataclass
class Stack:
    """One IP stack: a node, a pod netns, or a segment gateway."""

    id: str
    kind: StackKind
    os: OS
    node: str | None
    ifaces: dict[str, Iface] = field(default_factory=dict)
    forwarding: bool = False
    snats: tuple[SourceNat, ...] = ()
    outbound_nats: tuple[OutboundNat, ...] = ()
    routes_to_host: tuple[RouteToHost, ...] = ()
    dnats: tuple[Dnat, ...] = ()
    filters: tuple[Filter, ...] = ()
    proxy_arp: frozenset[str] = frozenset()
    neighbors: dict[tuple[str, IPv4Address], tuple[str, Span]] = field(default_factory=dict)
    fdb: dict[tuple[str, str], list[tuple[IPv4Address, Span]]] = field(default_factory=dict)
    enforce_policy: bool = False
    # gateway only: externals routed by this gateway
    externals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._routes: list[EffRoute] | None = []
        #: a shared peer block's routes (None: ``routes`` is the whole table)
        self.peer_routes: PeerRoutes | None = None
        #: the index in ``peer_routes`` of this stack's own entry (left out; -1: none)
        self.peer_skip = -1
        # own routes before and after the block, connected ones first in the head
        self._head: list[EffRoute] = []
        self._tail: list[EffRoute] = []

    @property
    def routes(self) -> list[EffRoute]:
        """The routing table, longest prefix first, ties in preference order.

        For a stack holding a shared peer block this is made (and kept) on
        first read; lookups do not need it (:meth:`lookup`).
        """
        if self._routes is None:
            assert self.peer_routes is not None
            block = self.peer_routes.routes
            k = self.peer_skip
            mine = block if k < 0 else chain(block[:k], block[k + 1 :])
            self._routes = sorted(chain(self._head, mine, self._tail), key=_RANK)
        return self._routes

    @routes.setter
    def routes(self, routes: list[EffRoute]) -> None:
        self._routes, self.peer_routes, self.peer_skip = routes, None, -1
        self._head, self._tail = [], []

    def share_routes(self, head: list[EffRoute], peers: PeerRoutes, skip: int, tail: list[EffRoute]) -> None:
        """Route by ``head``, then the shared block without entry ``skip``, then ``tail``.

        ``head`` starts with the connected routes; the three in written
        order are the table that :attr:`routes` sorts.
        """
        self._routes, self.peer_routes, self.peer_skip = None, peers, skip
        self._head, self._tail = head, tail
        self.__dict__.pop("_lpm", None)  # keyed by _routes, which is None for every shared stack
        self.__dict__.pop("_lpm_shared", None)

    @cached_property
    def local_addrs(self) -> frozenset[IPv4Address]:
        return frozenset(a.ip for i in self.ifaces.values() for a in i.addrs)

    def lpm_index(self) -> list[tuple[int, int, dict[int, EffRoute]]]:
        """``routes`` as (prefix length, mask, network -> first route), longest first.

        Built on first use; :meth:`lookup` probes one dict per prefix length
        instead of scanning every route. A stack with a shared peer block
        indexes only its own routes here (the block has its own index).
        """
        idx = self.__dict__.get("_lpm")
        if idx is None or idx[0] is not self._routes:
            idx = self.__dict__["_lpm"] = (
                self._routes,
                _index(self.routes if self.peer_routes is None else self._head),
            )
        return idx[1]

    def _shared_index(self) -> list[_Level]:
        """Per prefix length, longest first: (length, mask, own head, shared block, own tail) tables."""
        idx = self.__dict__.get("_lpm_shared")
        if idx is None or idx[0] is not self.peer_routes:
            peers = self.peer_routes
            assert peers is not None
            head = {p: t for p, _m, t in self.lpm_index()}
            tail = {p: t for p, _m, t in _index(self._tail)}
            lengths = sorted(head.keys() | peers.tables.keys() | tail.keys(), reverse=True)
            built = [(p, _MASKS[p], head.get(p), peers.tables.get(p), tail.get(p)) for p in lengths]
            idx = self.__dict__["_lpm_shared"] = (peers, built)
        return idx[1]

    def lookup(self, dst: IPv4Address) -> EffRoute | None:
        """Longest-prefix match; ties to the connected route, then the first written."""
        d = int(dst)
        peers = self.peer_routes
        if peers is None:
            for _plen, mask, table in self.lpm_index():
                r = table.get(d & mask)
                if r is not None:
                    return r
            return None
        skip = peers.routes[self.peer_skip] if self.peer_skip >= 0 else None
        for plen, mask, head, block, tail in self._shared_index():
            key = d & mask
            if head is not None and (r := head.get(key)) is not None:
                return r
            if block is not None and (r := block.get(key)) is not None:
                if r is not skip:
                    return r
                r = peers.second.get((plen, key))  # the next route of that prefix, if any
                if r is not None:
                    return r
            if tail is not None and (r := tail.get(key)) is not None:
                return r
        return None

    def owner_iface(self, ip: IPv4Address) -> Iface | None:
        for i in self.ifaces.values():
            if any(a.ip == ip for a in i.addrs):
                return i
        return None

    def primary_addr(self, dev: str) -> IPv4Address | None:
        """The source address the stack uses on ``dev``.

        The interface's first address; when it has none (a veth host end,
        a vxlan device without ip), the first address of the stack's first
        interface that has one, as Linux's inet_select_addr falls back to.
        """
        own = self.ifaces[dev].primary if dev in self.ifaces else None
        if own is not None:
            return own
        for i in self.ifaces.values():
            if i.primary is not None:
                return i.primary
        return None


@dataclass(frozen=True, slots=True)
class PodInfo:
    node: str
    pod: Pod
    stack: str  # where its processes live
    iface: str | None  # its endpoint interface in that stack (None: host-network)
    #: the pod's id (see :func:`pod_ids`); "" stands for ``NODE/POD``
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", f"{self.node}/{self.pod.name}")


def pod_ids(node: Node) -> list[str]:
    """The id of each pod of ``node``, in order.

    ``NODE/POD``; a name that two pods of the node share (Kubernetes names
    pods per namespace) makes ``NODE/NS/POD`` of each of them.
    """
    seen: dict[str, int] = {}
    for p in node.pods:
        seen[p.name] = seen.get(p.name, 0) + 1
    return [
        f"{node.name}/{p.namespace}/{p.name}" if seen[p.name] > 1 else f"{node.name}/{p.name}"
        for p in node.pods
    ]


_DEV = attrgetter("dev")
_RANK = attrgetter("rank")
_Table = dict[int, "EffRoute"]
_Level = tuple[int, int, _Table | None, _Table | None, _Table | None]
_MASKS = [(0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF for p in range(33)]


def _index(routes: list[EffRoute]) -> list[tuple[int, int, dict[int, EffRoute]]]:
    """(prefix length, mask, network -> first route), longest first; ``routes`` in preference order."""
    tables: dict[int, dict[int, EffRoute]] = {}
    for r in routes:
        tables.setdefault(r.prefix.prefixlen, {}).setdefault(int(r.prefix.network_address), r)
    return [(p, _MASKS[p], tables[p]) for p in sorted(tables, reverse=True)]


@dataclass(frozen=True, slots=True, eq=False)
class PeerRoutes:
    """The effective routes of one shared peer block, indexed once for every stack holding it.

    ``routes[i]`` is the block's i-th route. ``tables`` maps prefix length
    to network to the first route with that prefix, ``second`` (prefix
    length, network) to the next one where two share a prefix: a stack that
    leaves out the first gets the second, as its own table would give it.
    """

    routes: tuple[EffRoute, ...]
    tables: dict[int, dict[int, EffRoute]]
    second: dict[tuple[int, int], EffRoute]
    #: (index, route) of the block's routes without a gateway (they make prefixes on-link)
    onlink: tuple[tuple[int, EffRoute], ...]

    @classmethod
    def build(cls, block: PeerBlock[Route], shared: dict[int, EffRoute]) -> PeerRoutes | None:
        """The block's table; None when a route leaves its device to be found per stack."""
        items = block.items
        if None in map(_DEV, items):
            return None
        get = shared.get
        routes = tuple([get(id(r)) or _shared_eff(shared, r) for r in items])
        tables: dict[int, dict[int, EffRoute]] = {}
        second: dict[tuple[int, int], EffRoute] = {}
        for r in routes:
            plen, net = r.prefix.prefixlen, int(r.prefix.network_address)
            t = tables.setdefault(plen, {})
            if net not in t:
                t[net] = r
            else:
                second.setdefault((plen, net), r)
        onlink = tuple((i, r) for i, r in enumerate(routes) if r.via is None)
        return cls(routes, tables, second, onlink)


def _connected(st: Stack) -> list[EffRoute]:
    return [
        EffRoute(a.network, i.name, None, True, NOWHERE)
        for i in st.ifaces.values()
        for a in i.addrs
        if a.network.prefixlen < 32
    ]


def share_peer_routes(
    st: Stack, written: WithPeers[Route], peers: PeerRoutes, shared: dict[int, EffRoute]
) -> None:
    """Give ``st`` its own routes of ``written`` around the shared block (:meth:`Stack.share_routes`)."""
    connected = _connected(st)
    head = _explicit(connected, written.head, shared, [])
    before = [e for e in head if e.via is None]
    before += [e for i, e in peers.onlink if i != written.skip]
    tail = _explicit(connected, written.tail, shared, before)
    st.share_routes(connected + head, peers, written.skip, tail)


def _shared_eff(shared: dict[int, EffRoute], r: Route) -> EffRoute:
    eff = shared[id(r)] = EffRoute(r.prefix, r.dev or "", r.via, False, r.span)  # dev: never None here
    return eff


def _effective_routes(
    st: Stack, written: tuple[Route, ...], shared: dict[int, EffRoute] | None = None
) -> list[EffRoute]:
    connected = _connected(st)
    explicit = _explicit(connected, written, shared, [])
    return sorted(connected + explicit, key=_RANK)  # stable: connected first among equals


def _explicit(
    connected: list[EffRoute],
    written: tuple[Route, ...],
    shared: dict[int, EffRoute] | None,
    onlink_before: list[EffRoute],
) -> list[EffRoute]:
    """The written routes as applied, in order; ``onlink_before``: gateway-less routes written earlier."""
    if shared is not None and None not in map(_DEV, written):
        # every route names its device (profiles' peer routes do): one shared
        # EffRoute per written route, looked up in C, made on first sight
        get = shared.get
        return [get(id(r)) or _shared_eff(shared, r) for r in written]
    explicit: list[EffRoute] = []
    for r in written:
        dev = r.dev
        if dev is None and r.via is not None:
            dev = next(
                (c.dev for c in connected if r.via in c.prefix),
                next(
                    (e.dev for e in chain(onlink_before, explicit) if r.via in e.prefix and e.via is None),
                    None,
                ),
            )
        if dev is None:
            continue  # validation reports it; nothing to route through
        if r.dev is not None and shared is not None:
            eff = shared.get(id(r))
            if eff is None:
                eff = shared[id(r)] = EffRoute(r.prefix, dev, r.via, False, r.span)
            explicit.append(eff)
            continue
        explicit.append(EffRoute(r.prefix, dev, r.via, False, r.span))
    return explicit
