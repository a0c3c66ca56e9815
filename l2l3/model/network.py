"""The derived network: stacks, interfaces, routing tables and L2 domains.

:class:`Network` is built once from a validated, expanded :class:`Spec`. It
holds facts, not behaviour: who has which address, which routes apply in
which order, which interfaces share an L2 domain and which MAC one interface
sees for another. The simulator (:mod:`l2l3.model.simulate`) and the solver
(:mod:`l2l3.solver`) both read it; each evaluates packets its own way.

Stack ids: ``NODE`` for a node's stack, ``NODE/POD`` for a pod with its own
netns (``NODE/NS/POD`` when two pods of the node share the name, in
different namespaces: :func:`pod_ids`), ``gateway SEGMENT`` for a segment's
router. A ``no-netns`` or ``host-network`` pod has no stack of its own: its
:class:`PodInfo` names its node's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import TYPE_CHECKING

from l2l3.model import choices
from l2l3.model.base import quiet_gc
from l2l3.model.peerblock import PeerBlock, WithPeers
from l2l3.model.stack import (
    EffRoute,
    Iface,
    PeerRoutes,
    PodInfo,
    Stack,
    StackKind,
    _effective_routes,
    pod_ids,
    share_peer_routes,
)
from l2l3.model.switches import SwitchGraph
from l2l3.model.types import (
    OS,
    BridgeKind,
    Node,
    Pod,
    Policy,
    Proto,
    Route,
    Span,
    Spec,
    StackMode,
)

__all__ = [
    "EffRoute",
    "Iface",
    "L2Delivery",
    "Network",
    "PodInfo",
    "Stack",
    "StackKind",
    "derive_mac",
    "pod_ids",
    "switch_name",
]

if TYPE_CHECKING:
    from l2l3.model.endpoints import Endpoint
    from l2l3.model.policy import CompiledRule


def switch_name(sw: str) -> str:
    """``seg:lan`` -> ``lan``; ``br:lin1/cni0`` -> ``lin1/cni0``."""
    return sw.split(":", 1)[1]


def derive_mac(key: str) -> str:
    """A stable, locally administered unicast MAC for an unnamed interface."""
    digest = hashlib.sha1(key.encode()).digest()
    return "02:" + digest[:5].hex(":")


@dataclass(frozen=True, slots=True)
class L2Delivery:
    """A frame handed by L2 to ``iface``, with the MACs it arrives with."""

    iface: Iface
    smac: str
    dmac: str
    switches: tuple[str, ...]
    rewrites: tuple[str, ...]  # human notes of MAC rewrites on the way


class Network:
    """The derived view of one spec (see module docstring)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.stacks: dict[str, Stack] = {}
        self.pods: dict[str, PodInfo] = {}
        self.switch_kind: dict[str, BridgeKind | None] = {}  # None: a segment
        self.switch_graph = SwitchGraph()
        # l2bridge/macvlan switch -> the uplink NIC iface bound to it
        self.uplink_of: dict[str, Iface] = {}
        self.isolated_switches: set[str] = set()
        self.policies: tuple[Policy, ...] = spec.policies
        self.externals = {e.name: e for e in spec.externals}
        self._peers_cache: dict[tuple[str, str], list[Iface]] = {}
        # (pod id, direction) -> compiled allow rules (see model.policy)
        self.policy_rules: dict[tuple[str, str], list[CompiledRule] | None] = {}
        self.compiled_rules: dict[tuple[int, int], CompiledRule] = {}
        # written route (by identity; the spec keeps it alive) -> its EffRoute, for routes
        # naming their device: profiles share one Route per peer among all nodes, so do stacks
        self._eff_routes: dict[int, EffRoute] = {}
        # a profile's shared peer block (by identity) -> its routes, built and indexed once
        self._peer_routes: dict[int, tuple[PeerBlock[Route], PeerRoutes | None]] = {}
        # pod id -> its query endpoint (l2l3.model.endpoints), built on demand
        self.endpoint_cache: dict[str, Endpoint] = {}
        self._by_namespace: dict[str, list[str]] | None = None
        with quiet_gc():  # no reference cycles: see quiet_gc
            self._build()

    # ------------------------------------------------------------------ build

    def _build(self) -> None:
        for seg in self.spec.segments:
            sw = f"seg:{seg.name}"
            self.switch_kind[sw] = None
            self.switch_graph.add_node(sw)
        for node in self.spec.nodes:
            self._build_node(node)
        for seg in self.spec.segments:
            if seg.gateway is None:
                continue
            gid = f"gateway {seg.name}"
            gw = Stack(id=gid, kind=StackKind.GATEWAY, os=OS.LINUX, node=None, forwarding=True)
            addr = IPv4Interface(f"{seg.gateway}/{seg.prefix.prefixlen}")
            gw.ifaces[seg.name] = Iface(
                gid, seg.name, derive_mac(gid), (addr,), f"seg:{seg.name}", span=seg.span
            )
            gw.routes = [EffRoute(seg.prefix, seg.name, None, True, seg.span)]
            gw.externals = tuple(e.name for e in self.spec.externals if e.via == seg.name)
            self.stacks[gid] = gw
        if self.spec.services or any(c.host_port for i in self.pods.values() for c in i.pod.ports):
            from l2l3.model.profiles.services import program  # kube-proxy's and portmap's rules

            for name, (dnats, filters) in program(self).items():
                st = self.stacks[name]
                st.dnats, st.filters = dnats + st.dnats, filters + st.filters

    def _build_node(self, node: Node) -> None:
        st = Stack(
            id=node.name,
            kind=StackKind.NODE,
            os=node.os,
            node=node.name,
            forwarding=node.forwarding,
            snats=node.snats,
            outbound_nats=node.outbound_nats,
            routes_to_host=node.routes_to_host,
            dnats=node.dnats,
            filters=node.filters,
            proxy_arp=frozenset(p.dev for p in node.proxy_arps),
            enforce_policy=node.enforce_policy,
        )
        self.stacks[st.id] = st
        for nic in node.nics:
            mac = nic.mac or derive_mac(f"{node.name}/{nic.name}")
            st.ifaces[nic.name] = Iface(st.id, nic.name, mac, (nic.ip,), f"seg:{nic.segment}", span=nic.span)
        for br in node.bridges:
            sw = f"br:{node.name}/{br.name}"
            self.switch_kind[sw] = br.kind
            self.switch_graph.add_node(sw)
            if br.isolated_ports:
                self.isolated_switches.add(sw)
            if br.kind is BridgeKind.MACVLAN or (br.kind is BridgeKind.L2BRIDGE and br.ip is None):
                continue  # no host interface on this switch
            mac = br.mac or derive_mac(f"{node.name}/{br.name}")
            addrs = (br.ip,) if br.ip else ()
            st.ifaces[br.name] = Iface(st.id, br.name, mac, addrs, sw, span=br.span)
        for br in node.bridges:
            if br.uplink is None or br.uplink not in st.ifaces:
                continue
            sw = f"br:{node.name}/{br.name}"
            nic_if = st.ifaces[br.uplink]
            assert nic_if.switch is not None
            self.switch_graph.add_edge(sw, nic_if.switch)
            if br.kind in (BridgeKind.L2BRIDGE, BridgeKind.MACVLAN):
                self.uplink_of[sw] = nic_if
        for vx in node.vxlans:
            mac = vx.mac or derive_mac(f"{node.name}/{vx.name}")
            addrs = (vx.ip,) if vx.ip else ()
            st.ifaces[vx.name] = Iface(st.id, vx.name, mac, addrs, None, vxlan=vx, span=vx.span)
        for nb in node.neighbors:
            st.neighbors[(nb.dev, nb.ip)] = (nb.mac, nb.span)
        for fd in node.fdbs:
            remotes = st.fdb.setdefault((fd.dev, fd.mac), [])
            if remotes and _unicast(fd.mac):
                # `bridge fdb append` adds remotes only to all-zeros or
                # multicast entries; a unicast MAC keeps its first (kernel,
                # found by the differential test)
                continue
            remotes.append((fd.dst, fd.span))
        for pod, pid in zip(node.pods, pod_ids(node), strict=True):
            self._build_pod(node, st, pod, pid)
        written = node.routes
        peers = self._peer_table(written.block) if isinstance(written, WithPeers) else None
        if peers is not None:
            assert isinstance(written, WithPeers)
            share_peer_routes(st, written, peers, self._eff_routes)
        else:
            st.routes = _effective_routes(st, tuple(written), self._eff_routes)

    def _peer_table(self, block: PeerBlock[Route]) -> PeerRoutes | None:
        hit = self._peer_routes.get(id(block))
        if hit is None or hit[0] is not block:
            hit = self._peer_routes[id(block)] = (block, PeerRoutes.build(block, self._eff_routes))
        return hit[1]

    def _build_pod(self, node: Node, host: Stack, pod: Pod, pid: str) -> None:
        if pod.mode is StackMode.HOST_NETWORK or pod.ip is None or pod.bridge is None:
            self.pods[pid] = PodInfo(node.name, pod, host.id, None, pid)
            return
        sw = f"br:{node.name}/{pod.bridge}"
        mac = pod.mac or derive_mac(pid)
        if pod.mode is StackMode.NO_NETNS:
            name = f"{pid.split('/', 1)[1]}@{pod.bridge}"
            host.ifaces[name] = Iface(host.id, name, mac, (pod.ip,), sw, pod=pid, span=pod.span)
            self.pods[pid] = PodInfo(node.name, pod, host.id, name, pid)
            return
        st = Stack(id=pid, kind=StackKind.POD, os=node.os, node=node.name, forwarding=False)
        st.ifaces["eth0"] = Iface(pid, "eth0", mac, (pod.ip,), sw, pod=pid, span=pod.span)
        routes = pod.routes
        if not routes:
            gw = next((b.ip for b in node.bridges if b.name == pod.bridge and b.ip), None)
            if gw is not None and gw.ip != pod.ip.ip:
                routes = (Route(prefix=IPv4Network("0.0.0.0/0"), via=gw.ip, span=pod.span),)
        st.routes = _effective_routes(st, routes, self._eff_routes)
        self.stacks[pid] = st
        self.pods[pid] = PodInfo(node.name, pod, pid, "eth0", pid)

    # --------------------------------------------------------------- queries

    def spec_node(self, name: str) -> Node:
        return next(n for n in self.spec.nodes if n.name == name)

    @cached_property
    def owners(self) -> dict[IPv4Address, list[Iface]]:
        """Every address of every stack, to the interfaces that hold it."""
        out: dict[IPv4Address, list[Iface]] = {}
        for st in self.stacks.values():
            for i in st.ifaces.values():
                for a in i.addrs:
                    out.setdefault(a.ip, []).append(i)
        return out

    def external_owner(self, ip: IPv4Address) -> str | None:
        """The external that owns ``ip``: longest prefix, if no stack owns it."""
        if ip in self.owners:
            return None
        best = None
        for e in self.spec.externals:
            if ip in e.prefix and (best is None or e.prefix.prefixlen > best.prefix.prefixlen):
                best = e
        return best.name if best else None

    @cached_property
    def external_exclusions(self) -> dict[str, tuple[IPv4Network, ...]]:
        """For each external, the more specific externals carved out of it."""
        return {
            e.name: tuple(
                o.prefix
                for o in self.spec.externals
                if o is not e and o.prefix.subnet_of(e.prefix) and o.prefix.prefixlen > e.prefix.prefixlen
            )
            for e in self.spec.externals
        }

    @cached_property
    def domains(self) -> dict[str, int]:
        """Switch -> L2 domain number (connected through uplinks)."""
        out: dict[str, int] = {}
        for n, comp in enumerate(self.switch_graph.components()):
            for sw in comp:
                out[sw] = n
        return out

    @cached_property
    def ifaces_by_domain(self) -> dict[int, list[Iface]]:
        out: dict[int, list[Iface]] = {}
        for st in self.stacks.values():
            for i in st.ifaces.values():
                if i.switch is not None:
                    out.setdefault(self.domains[i.switch], []).append(i)
        return out

    def _l2_path(self, a: str, b: str) -> tuple[str, ...]:
        if a == b:
            return (a,)
        return tuple(self.switch_graph.shortest_path(a, b))

    def _blocked(self, sender: Iface, receiver: Iface) -> bool:
        """Port isolation and macvlan's parent/child wall."""
        if sender.switch == receiver.switch and sender.switch in self.isolated_switches:
            if sender.pod is not None and receiver.pod is not None:
                return True
        for a, b in ((sender, receiver), (receiver, sender)):
            if a.switch and self.switch_kind.get(a.switch) is BridgeKind.MACVLAN:
                parent = self.uplink_of.get(a.switch)
                if parent is not None and b.stack == parent.stack:
                    return True
        return False

    def _visible(self, sender: Iface, receiver: Iface) -> tuple[str, str, tuple[str, ...]]:
        """(MAC the sender sees for receiver, source MAC the receiver sees, notes).

        An HNS l2bridge shows every port behind its uplink with the uplink
        NIC's MAC, in both directions (CNI-SEMANTICS §1(b)).
        """
        assert sender.switch and receiver.switch
        path = self._l2_path(sender.switch, receiver.switch)
        seen_dst, seen_src, notes = receiver.mac, sender.mac, []
        if sender.switch != receiver.switch and choices.L2BRIDGE_MAC_REWRITE:
            if self.switch_kind.get(sender.switch) is BridgeKind.L2BRIDGE:
                nic = self.uplink_of.get(sender.switch)
                if nic is not None and nic is not sender:
                    seen_src = nic.mac
                    notes.append(f"{switch_name(sender.switch)} uplink rewrites source MAC to {nic.mac}")
            if self.switch_kind.get(receiver.switch) is BridgeKind.L2BRIDGE:
                nic = self.uplink_of.get(receiver.switch)
                if nic is not None and nic is not receiver:
                    seen_dst = nic.mac
                    notes.append(
                        f"{switch_name(receiver.switch)} uplink rewrites destination MAC to {receiver.mac}"
                    )
        del path
        return seen_dst, seen_src, tuple(notes)

    def l2_peers(self, sender: Iface) -> list[Iface]:
        """Interfaces a frame from ``sender`` can reach at L2."""
        key = (sender.stack, sender.name)
        hit = self._peers_cache.get(key)
        if hit is None:
            hit = self._peers_cache[key] = self._l2_peers(sender)
        return hit

    def _l2_peers(self, sender: Iface) -> list[Iface]:
        if sender.switch is None:
            return []
        dom = self.domains[sender.switch]
        return [
            i for i in self.ifaces_by_domain.get(dom, []) if i is not sender and not self._blocked(sender, i)
        ]

    def arp(self, sender: Iface, target: IPv4Address) -> list[tuple[Iface, str, Span]]:
        """Who answers ARP for ``target`` asked on ``sender``'s L2, and with which MAC.

        The owner of the address answers; on Linux any interface of a stack
        answers for any local address of that stack (arp_ignore=0), on Windows
        only the interface that holds it. A ``proxy-arp IF`` stack answers on
        IF for addresses it routes out of another interface.
        """
        out: list[tuple[Iface, str, Span]] = []
        for peer in self.l2_peers(sender):
            st = self.stacks[peer.stack]
            answers = any(a.ip == target for a in peer.addrs)
            span = peer.span
            any_local = st.os is OS.LINUX or choices.WINDOWS_ARP_ANY_LOCAL
            if not answers and any_local and st.kind != "gateway" and target in st.local_addrs:
                # arp_ignore=0, but only when the address is not on another
                # interface of this same L2 (that one answers for itself)
                holder = st.owner_iface(target)
                answers = holder is not None and holder.switch != peer.switch
            if not answers and peer.name in st.proxy_arp:
                r = self.lookup(st, target)
                if r is not None and r.dev != peer.name:
                    answers = True
            if answers:
                seen, _, _ = self._visible(sender, peer)
                out.append((peer, seen, span))
        return out

    def l2_deliver(self, sender: Iface, dmac: str, dst_ip: IPv4Address) -> list[L2Delivery]:
        """Where a frame sent on ``sender`` to ``dmac`` arrives, with its MACs."""
        exact: list[L2Delivery] = []
        rewritten: list[L2Delivery] = []
        for peer in self.l2_peers(sender):
            seen_dst, seen_src, notes = self._visible(sender, peer)
            if seen_dst != dmac:
                continue
            assert sender.switch and peer.switch
            d = L2Delivery(peer, seen_src, peer.mac, self._l2_path(sender.switch, peer.switch), notes)
            if seen_dst == peer.mac:
                exact.append(d)
            elif any(a.ip == dst_ip for a in peer.addrs):
                rewritten.append(d)  # demultiplexed by IP behind an l2bridge uplink
        return rewritten or exact

    def lookup(self, st: Stack, dst: IPv4Address) -> EffRoute | None:
        """Longest-prefix match; ties to the connected route, then the first written."""
        return st.lookup(dst)

    @cached_property
    def sctp_distinct(self) -> bool:
        """Whether an SCTP packet can fare differently from every TCP and UDP packet.

        Rules tell protocols apart only by naming them (a filter, a dnat, a
        policy port; a port alone matches every protocol but ICMP). If no
        rule names SCTP and one of TCP and UDP goes unnamed too, an SCTP
        packet fares exactly as that protocol's packet with the same other
        headers: the engine then leaves SCTP out of its search and the
        kernel prober out of its probes, as they find nothing new there.
        """
        named: set[Proto] = set()
        for st in self.stacks.values():
            named |= {f.proto for f in st.filters if f.proto is not None}
            named |= {d.proto for d in st.dnats if d.proto is not None}
        for pol in self.policies:
            named |= {ps.proto for r in (*pol.ingress, *pol.egress) for ps in r.ports}
        return Proto.SCTP in named or {Proto.TCP, Proto.UDP} <= named

    def pods_in_namespace(self, namespace: str) -> list[str]:
        """Ids of the pods of ``namespace``, sorted."""
        if self._by_namespace is None:
            idx: dict[str, list[str]] = {}
            for pid in sorted(self.pods):
                idx.setdefault(self.pods[pid].pod.namespace, []).append(pid)
            self._by_namespace = idx
        return self._by_namespace.get(namespace, [])


def _unicast(mac: str) -> bool:
    first = int(mac.split(":")[0], 16)
    return mac != "00:00:00:00:00:00" and not first & 1
