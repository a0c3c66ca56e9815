"""A stack of the derived network, its interfaces and its effective routes.

Split out of :mod:`l2l3.model.network` (which re-exports every name here):
:class:`Stack` is one IP stack (a node, a pod netns, a segment gateway),
:class:`Iface` one of its interfaces, :class:`EffRoute` a route as the stack
applies it, :class:`PodInfo` where a pod's processes live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from operator import attrgetter

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
    routes: list[EffRoute] = field(default_factory=list)
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

    @cached_property
    def local_addrs(self) -> frozenset[IPv4Address]:
        return frozenset(a.ip for i in self.ifaces.values() for a in i.addrs)

    def lpm_index(self) -> list[tuple[int, int, dict[int, EffRoute]]]:
        """``routes`` as (prefix length, mask, network -> first route), longest first.

        Built on first use; :meth:`Network.lookup` probes one dict per
        prefix length instead of scanning every route.
        """
        idx = self.__dict__.get("_lpm")
        if idx is None or idx[0] is not self.routes:
            tables: dict[int, dict[int, EffRoute]] = {}
            for r in self.routes:  # sorted longest first, ties in preference order
                tables.setdefault(r.prefix.prefixlen, {}).setdefault(int(r.prefix.network_address), r)
            built = [
                (p, int(IPv4Network(f"0.0.0.0/{p}").netmask), tables[p]) for p in sorted(tables, reverse=True)
            ]
            idx = self.__dict__["_lpm"] = (self.routes, built)
        return idx[1]

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


def _shared_eff(shared: dict[int, EffRoute], r: Route) -> EffRoute:
    eff = shared[id(r)] = EffRoute(r.prefix, r.dev or "", r.via, False, r.span)  # dev: never None here
    return eff


def _effective_routes(
    st: Stack, written: tuple[Route, ...], shared: dict[int, EffRoute] | None = None
) -> list[EffRoute]:
    connected: list[EffRoute] = []
    for i in st.ifaces.values():
        for a in i.addrs:
            if a.network.prefixlen < 32:
                connected.append(EffRoute(a.network, i.name, None, True, NOWHERE))
    if shared is not None and None not in map(_DEV, written):
        # every route names its device (profiles' peer routes do): one shared
        # EffRoute per written route, looked up in C, made on first sight
        get = shared.get
        explicit = [get(id(r)) or _shared_eff(shared, r) for r in written]
        return sorted(connected + explicit, key=_RANK)  # stable: connected first among equals
    explicit = []
    for r in written:
        dev = r.dev
        if dev is None and r.via is not None:
            dev = next(
                (c.dev for c in connected if r.via in c.prefix),
                next((e.dev for e in explicit if r.via in e.prefix and e.via is None), None),
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
    ordered = connected + explicit  # stable: connected first among equals
    return sorted(ordered, key=attrgetter("rank"))
