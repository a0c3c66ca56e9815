"""Shared machinery of the profile expansion: switches, context, node builder.

Every modelling choice the reference leaves open (``[UNVERIFIED]`` in
shared/reference/CNI-SEMANTICS.md) or where the primitives cannot say exactly
what the plugin does is ONE module-level constant here, listed in
:data:`CHOICES` and in docs/profiles.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, collapse_addresses

from l2l3.errors import Diagnostic, Severity, SpecError, line_of
from l2l3.model.network import derive_mac
from l2l3.model.peerblock import PeerBlock, WithPeers
from l2l3.model.types import (
    OS,
    Bridge,
    Cluster,
    Fdb,
    Neighbor,
    Nic,
    Node,
    OutboundNat,
    Pod,
    ProxyArp,
    Route,
    RouteToHost,
    Segment,
    SourceNat,
    Span,
    Spec,
    Vxlan,
)

# --------------------------------------------------------------------------
# Switches (one per choice; see CHOICES and docs/profiles.md)

#: Which expansion a *Windows* node gets under each cluster profile
#: (None: the profile does not run on Windows -> spec error).
#: flannel host-gw -> win-bridge and flannel vxlan -> win-overlay are the
#: reference (§1(d), §2); the calico/antrea rows are our reading of it.
WINDOWS_UNDER: dict[tuple[str, ...], str | None] = {
    ("flannel", "host-gw"): "win-bridge",
    ("flannel", "vxlan"): "win-overlay",
    ("calico", "bgp"): "win-bridge",  # Calico for Windows BGP mode = HNS L2Bridge + BGP routes
    ("calico", "vxlan"): "win-overlay",  # Calico for Windows VXLAN = HNS Overlay, 0E-2A MACs (§2(b))
    ("calico", "ipip"): None,  # Calico for Windows has no IPIP
    ("antrea",): "antrea",  # §8 Windows: OVS on HNS Transparent; modelled like Linux Antrea
    ("win-bridge",): "win-bridge",
    ("win-overlay",): "win-overlay",
}

#: HNS ApplyOutboundNatPolicy when the config already has an OutBoundNAT:
#: "merge" adds the CIDR to that policy's ExceptionList (containernetworking/
#: plugins pkg/hns/netconf.go, v1 path); "second" appends a second OutBoundNAT
#: policy (reference §1(e) Gotcha 1, whose combination is UNVERIFIED §11.1).
HNS_OUTBOUNDNAT_MERGE = "merge"

#: FLANNEL-POSTRTG (§6) as masquerade lines: "exact" gives the same packet
#: set as the whole chain (rule 5 for foreign cluster sources and rule 6 need
#: several lines); "own-pods" keeps only the line for the node's own pods.
FLANNEL_MASQ = "exact"

#: Calico IPIP (§7(d)): "route" = `route BLOCK via NODE dev eth0 onlink`
#: (the outer IPv4-in-IPv4 header is not modelled); "tunnel" = a tunl0
#: encapsulating device written as a vxlan primitive (vni 0, port 0 stand in
#: for IP protocol 4), which models the node-to-node outer header.
CALICO_IPIP_ENCODING = "route"

#: Index of the Calico/flannel VTEP (tunnel) address inside the node's
#: block: 0 = the block's first address (flannel §6: lease .0/32; Calico's
#: IPAM tunnel address is UNVERIFIED §11.6).
TUNNEL_ADDRESS_INDEX = 0

#: Antrea's tunnel (Geneve, §8(a)(d)) as a vxlan primitive on port 6081 with
#: VNI 0; the inner destination MAC is a per-node VTEP MAC, not the global
#: virtual MAC aa:bb:cc:dd:ee:ff, because one fdb entry per MAC cannot pick
#: the remote node the way OVS's per-flow tun_dst does.
ANTREA_TUNNEL_PORT = 6081

#: Standalone plugins (bridge, win-bridge, win-overlay, macvlan) program no
#: cross-node routes (§3(d), §1(d)4 "requires user-defined routes"). True adds
#: host-gw style routes anyway.
STANDALONE_CROSS_NODE_ROUTES = False

#: Default OutBoundNAT ExceptionList of win-bridge (reference E2: cluster
#: pod-cidr, service-cidr, the node's management segment prefix). Overridden
#: by the cluster option ``outbound-nat-except``.
WIN_BRIDGE_DEFAULT_EXCEPTIONS = ("pod-cidr", "service-cidr", "segment")

#: A pod written at a reserved address (network, broadcast, gateway, host
#: endpoint, VTEP) is an error; host-local never hands these out (§1(h), §3(h)).
RESERVED_POD_ADDRESS_IS_ERROR = True

CHOICES: dict[str, str] = {
    "WINDOWS_UNDER": "which expansion a Windows node gets under each profile",
    "HNS_OUTBOUNDNAT_MERGE": "how the plugin's OutBoundNAT exception joins a configured OutBoundNAT",
    "FLANNEL_MASQ": "FLANNEL-POSTRTG as the exact packet set or only the node's own pods",
    "CALICO_IPIP_ENCODING": "IPIP as a plain route or as an encapsulating tunnel",
    "TUNNEL_ADDRESS_INDEX": "which block address the VTEP/tunnel holds",
    "ANTREA_TUNNEL_PORT": "Antrea Geneve encoded as a vxlan device on this port",
    "STANDALONE_CROSS_NODE_ROUTES": "whether standalone plugins get cross-node routes",
    "WIN_BRIDGE_DEFAULT_EXCEPTIONS": "default win-bridge OutBoundNAT exceptions (E2)",
    "RESERVED_POD_ADDRESS_IS_ERROR": "a pod at a reserved address is an error",
}

MULTICAST = IPv4Network("224.0.0.0/4")
ANY = IPv4Network("0.0.0.0/0")
CALICO_GATEWAY = IPv4Address("169.254.1.1")
CALICO_HOST_MAC = "ee:ee:ee:ee:ee:ee"

#: Comment keys: (node, Node field, index) for node statements,
#: (node, "pods", i, "routes", j) for pod routes, (node,) for the node itself.
CommentKey = tuple[object, ...]


def vtep_mac(node: str) -> str:
    """The VTEP MAC of ``node``: explicit, stable, the same on every node."""
    return derive_mac(f"{node}/vtep")


def short_hash(text: str, n: int) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def host(net: IPv4Network, index: int) -> IPv4Address:
    return net.network_address + index


def iface(addr: IPv4Address, plen: int) -> IPv4Interface:
    return IPv4Interface((int(addr), plen))  # the tuple form: no string parsing (once per pod)


def host_prefix(addr: IPv4Address) -> IPv4Network:
    """``addr``/32."""
    return IPv4Network((int(addr), 32))


def host_iface(ip: IPv4Interface) -> IPv4Interface:
    """``ip`` as a /32 (the object itself when it is one: a pod's /32 is made once per pod)."""
    return ip if ip.network.prefixlen == 32 else iface(ip.ip, 32)


def complement(nets: list[IPv4Network] | tuple[IPv4Network, ...]) -> list[IPv4Network]:
    """Prefixes covering exactly the addresses outside ``nets``."""
    out = [ANY]
    for n in collapse_addresses(nets):
        nxt: list[IPv4Network] = []
        for o in out:
            if n.subnet_of(o):
                nxt.extend(o.address_exclude(n))
            elif not o.subnet_of(n):
                nxt.append(o)
        out = nxt
    return sorted(out)


def minus(a: IPv4Network, b: IPv4Network) -> list[IPv4Network]:
    """``a`` without ``b`` as prefixes."""
    if not a.overlaps(b):
        return [a]
    if a.subnet_of(b):
        return []
    return sorted(a.address_exclude(b))


# --------------------------------------------------------------------------
# Context


@dataclass(frozen=True)
class Peer:
    """What other nodes need to know about a shorthand node."""

    name: str
    os: OS
    ip: IPv4Address
    subnet: IPv4Network
    segment: Segment
    span: Span


@dataclass
class Ctx:
    spec: Spec
    cluster: Cluster
    profile: tuple[str, ...]
    options: dict[str, str]
    peers: list[Peer]
    warnings: list[Diagnostic] = field(default_factory=list)
    comments: dict[CommentKey, str] = field(default_factory=dict)
    #: False: skip recording comments (only ``l2l3 expand`` shows them)
    keep_comments: bool = True
    #: statements about one peer that every other node has, built once and
    #: shared (N nodes x N peers would otherwise be N^2 objects)
    shared: dict[tuple[object, ...], object] = field(default_factory=dict)

    @cached_property
    def node_ips(self) -> frozenset[IPv4Address]:
        return frozenset(p.ip for p in self.peers)

    def diag(self, span: Span, message: str) -> Diagnostic:
        return Diagnostic(span, message, line_of(self.spec.source, span.line))

    def error(self, span: Span, message: str) -> SpecError:
        return SpecError([self.diag(span, message)])

    def warn(self, span: Span, message: str) -> None:
        self.warnings.append(replace(self.diag(span, message), severity=Severity.WARNING))

    @property
    def pools(self) -> tuple[IPv4Network, ...]:
        """The cluster's pod networks: pod-cidr, else every node subnet."""
        if self.cluster.pod_cidr is not None:
            return (self.cluster.pod_cidr,)
        return tuple(collapse_addresses(p.subnet for p in self.peers))

    def option(self, key: str, default: str) -> str:
        return self.options.get(key, default)

    def on(self, key: str, default: bool) -> bool:
        return self.option(key, "on" if default else "off") == "on"

    def exceptions_option(self) -> list[IPv4Network] | None:
        raw = self.options.get("outbound-nat-except")
        if raw is None:
            return None
        out = []
        for word in raw.replace(",", " ").split():
            try:
                out.append(IPv4Network(word, strict=False))
            except ValueError as exc:
                raise self.error(self.cluster.span, f"outbound-nat-except: bad prefix {word!r}") from exc
        return out


# --------------------------------------------------------------------------
# Node builder


_FIELDS = (
    "nics",
    "bridges",
    "routes",
    "snats",
    "outbound_nats",
    "routes_to_host",
    "vxlans",
    "fdbs",
    "neighbors",
    "proxy_arps",
)
#: fields whose peer block a node holds as a shared :class:`WithPeers` (the
#: interface lists are read while the node is built, so they stay plain)
_SHARED_FIELDS = frozenset({"routes", "neighbors", "fdbs"})
_IFACE_FIELDS = ("nics", "bridges", "vxlans")


class NodeBuild:
    """A node being expanded: lists to append to, with comments recorded."""

    def __init__(self, ctx: Ctx, node: Node, peer: Peer, family: str, cni: str) -> None:
        self.ctx = ctx
        self.node = node
        self.peer = peer
        self.family = family
        self.cni = cni
        self.enforce = node.enforce_policy
        # the node's own statements come first: explicit lines win ties and
        # match before the plugin's NAT rules
        self.lists: dict[str, list[object]] = {f: list(getattr(node, f)) for f in _FIELDS}
        self.pods: list[Pod] = list(node.pods)
        # field -> (where in its list the shared peer block sits, the block, the
        # index of this node's own entry in it): the list holds only own statements
        self.blocks: dict[str, tuple[int, PeerBlock[object], int]] = {}
        self._iface_names: set[str] = {o.name for f in _IFACE_FIELDS for o in self.lists[f]}  # type: ignore[attr-defined]
        self.comment(None, f"{cni}")

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def span(self) -> Span:
        return self.node.span

    @property
    def subnet(self) -> IPv4Network:
        return self.peer.subnet

    def comment(self, key: tuple[object, ...] | None, text: str | None) -> None:
        if text and self.ctx.keep_comments:
            self.ctx.comments[(self.name,) + (key or ())] = text

    def length(self, fld: str) -> int:
        """How many statements ``fld`` has so far, the shared block's included."""
        n = len(self.lists[fld])
        blk = self.blocks.get(fld)
        return n if blk is None else n + len(blk[1]) - 1

    def add(self, fld: str, obj: object, comment: str | None = None) -> object:
        self.lists[fld].append(obj)
        if fld in _IFACE_FIELDS:
            self._iface_names.add(obj.name)  # type: ignore[attr-defined]
        if comment and self.ctx.keep_comments:
            self.comment((fld, self.length(fld) - 1), comment)
        return obj

    def has_iface(self, name: str) -> bool:
        return name in self._iface_names  # kept by add(): the interface lists grow only through it

    # convenience adders
    def route(
        self,
        prefix: IPv4Network,
        via: IPv4Address | None = None,
        dev: str | None = None,
        onlink: bool = False,
        span: Span | None = None,
        comment: str | None = None,
    ) -> None:
        self.add(
            "routes", Route(prefix=prefix, via=via, dev=dev, onlink=onlink, span=span or self.span), comment
        )

    def masquerade(
        self,
        source: IPv4Network,
        exceptions: list[IPv4Network] | tuple[IPv4Network, ...],
        span: Span,
        comment: str,
        out: str | None = None,
    ) -> None:
        self.add("snats", SourceNat(source=source, exceptions=tuple(exceptions), out=out, span=span), comment)

    def outbound_nat(self, bridge: str, exceptions: list[IPv4Network], comment: str) -> None:
        self.add(
            "outbound_nats", OutboundNat(bridge=bridge, exceptions=tuple(exceptions), span=self.span), comment
        )

    def route_to_host(self, bridge: str, prefix: IPv4Network, comment: str) -> None:
        self.add("routes_to_host", RouteToHost(bridge=bridge, prefix=prefix, span=self.span), comment)

    def bridge(self, br: Bridge, comment: str) -> None:
        self.add("bridges", br, comment)

    def vxlan(self, vx: Vxlan, comment: str) -> None:
        self.add("vxlans", vx, comment)

    def add_peer_block(
        self, key: tuple[object, ...], make: Callable[[Peer], list[tuple[str, object, str]]]
    ) -> None:
        """For every *other* node, the statements ``make(peer)`` says about it.

        The statements do not depend on this node, so they are built once per
        ``key`` as one :class:`PeerBlock` per field, and the node's field
        becomes a :class:`WithPeers`: its own statements around the block
        minus its own entry (N nodes would otherwise hold N^2 references,
        and validation and the network would walk them per node). ``make``
        returns (field, statement, comment) triples, the same fields for
        every peer. A second block in one field is copied in, as a plain list.
        """
        blk = self.ctx.shared.get(key)
        if blk is None:
            per_peer = [make(p) for p in self.ctx.peers]
            fields = [f for f, _, _ in per_peer[0]] if per_peer else []
            objs = {f: PeerBlock([row[i][1] for row in per_peer]) for i, f in enumerate(fields)}
            texts = {f: [row[i][2] for row in per_peer] for i, f in enumerate(fields)}
            index = {p.name: i for i, p in enumerate(self.ctx.peers)}
            blk = self.ctx.shared[key] = (fields, objs, texts, index)
        fields, objs, texts, index = blk  # type: ignore[misc]
        me = index[self.name]
        for f in fields:
            start = self.length(f)
            block: PeerBlock[object] = objs[f]
            if f in _SHARED_FIELDS and f not in self.blocks:
                self.blocks[f] = (len(self.lists[f]), block, me)
            else:
                self.lists[f].extend(block.items[:me])
                self.lists[f].extend(block.items[me + 1 :])
            if self.ctx.keep_comments:
                for k, text in enumerate(texts[f][:me] + texts[f][me + 1 :]):
                    self.comment((f, start + k), text)

    def peer_routes(self, what: str, dev: str, comment: str, onlink: bool = False) -> None:
        """A route to every other node's pod subnet via its node address.

        ``comment`` may use ``{peer}``.
        """
        self.add_peer_block(
            ("routes", what, dev, onlink),
            lambda peer: [
                (
                    "routes",
                    Route(prefix=peer.subnet, via=peer.ip, dev=dev, onlink=onlink, span=peer.span),
                    comment.format(peer=peer.name),
                )
            ],
        )

    def tunnel_peers(self, dev: str, via: Callable[[Peer], IPv4Address], what: str) -> None:
        """flannel-style entries for every other node (§6 vxlan 1-3): route, neighbour, fdb."""

        def make(peer: Peer) -> list[tuple[str, object, str]]:
            mac = vtep_mac(peer.name)
            gw = via(peer)
            return [
                (
                    "routes",
                    Route(prefix=peer.subnet, via=gw, dev=dev, onlink=True, span=peer.span),
                    f"{what}: {peer.name}'s pod subnet through the tunnel",
                ),
                (
                    "neighbors",
                    Neighbor(ip=gw, mac=mac, dev=dev, span=peer.span),
                    f"{what}: permanent neighbour, {peer.name}'s VTEP MAC",
                ),
                (
                    "fdbs",
                    Fdb(mac=mac, dst=peer.ip, dev=dev, span=peer.span),
                    f"{what}: fdb, {peer.name}'s VTEP MAC lives behind {peer.ip}",
                ),
            ]

        self.add_peer_block(("tunnel", dev, what, via), make)

    def proxy_arp(self, dev: str, span: Span, comment: str) -> None:
        self.add("proxy_arps", ProxyArp(dev=dev, span=span), comment)

    def pod_comment(self, i: int, text: str) -> None:
        self.comment(("pods", i), text)

    def build(self) -> Node:
        kw: dict[str, object] = {f: tuple(v) for f, v in self.lists.items()}
        for f, (pos, block, me) in self.blocks.items():
            own = self.lists[f]
            kw[f] = WithPeers(own[:pos], block, me, own[pos:])
        return replace(
            self.node,
            pods=tuple(self.pods),
            enforce_policy=self.enforce,
            cni=self.cni,
            ip=None,
            segment=None,
            subnet=None,
            **kw,  # type: ignore[arg-type]
        )


def base_node(nb: NodeBuild) -> None:
    """The shorthand's NIC and default route (LANGUAGE.md §2)."""
    p = nb.peer
    if nb.has_iface("eth0"):
        raise nb.ctx.error(nb.span, f"node {nb.name}: the shorthand adds nic eth0, which is already written")
    nb.add(
        "nics",
        Nic(name="eth0", ip=iface(p.ip, p.segment.prefix.prefixlen), segment=p.segment.name, span=nb.span),
        f"node {nb.name} on {p.segment.name}",
    )
    if p.segment.gateway is not None:
        nb.route(ANY, p.segment.gateway, "eth0", comment=f"default route via {p.segment.name}'s gateway")


def pod_ip_checks(
    nb: NodeBuild,
    reserved: dict[IPv4Address, str],
    within: IPv4Network | None = None,
    network_and_broadcast: bool = True,
) -> None:
    """Every profile pod lies inside its node's subnet and off reserved addresses."""
    within = within or nb.subnet
    for pod in nb.pods:
        if pod.bridge is not None or pod.ip is None:
            continue
        ip = pod.ip.ip
        if ip not in within:
            raise nb.ctx.error(
                pod.span, f"pod {pod.name} ip {ip} is outside node {nb.name}'s subnet {within}"
            )
        if not RESERVED_POD_ADDRESS_IS_ERROR:
            continue
        why = reserved.get(ip)
        if why is None and network_and_broadcast and within.prefixlen < 31:
            if ip == within.network_address:
                why = f"the network address of {within}"
            elif ip == within.broadcast_address:
                why = f"the broadcast address of {within}"
        if why is None and ip in nb.ctx.node_ips:
            why = "a node's address"
        if why is not None:
            raise nb.ctx.error(pod.span, f"pod {pod.name} ip {ip} is reserved under {nb.cni}: {why}")


def profile_pods(nb: NodeBuild) -> list[tuple[int, Pod]]:
    """The pods the profile places (no ``on BRIDGE`` written, with an endpoint)."""
    out = []
    for i, pod in enumerate(nb.pods):
        if pod.bridge is not None or pod.ip is None:
            continue
        out.append((i, pod))
    return out


def with_prefix(pod: Pod, plen: int) -> IPv4Interface:
    if pod.ip_has_prefix:
        assert pod.ip is not None
        return pod.ip
    assert pod.ip is not None
    return iface(pod.ip.ip, plen)
