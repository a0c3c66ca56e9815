"""One Windows node's state -> a node of the spec model, with the primitives a hand-written spec uses.

An HNS ``L2Bridge``/``L2Tunnel`` network is a ``bridge NAME l2bridge`` with the
host NIC ``eth0`` as uplink (what ``cni win-bridge`` expands to,
l2l3.model.profiles.windows); its host endpoint (the one whose address the
other endpoints use as gateway, cbr0_ep at .2 under flannel, CNI-SEMANTICS
§1(a)(h)) gives the host's address on it; every other local endpoint is a
pod; OutBoundNAT is ``outbound-nat BRIDGE except …``; a ROUTE/SDNRoute with
NeedEncap is ``route-to-host BRIDGE CIDR``; a PortMapping is a ``dnat`` of
the host's address; ACLs are a policy (:mod:`.acl`). A ``NAT`` network is
WinNAT: a bridge without uplink and a masquerade of its subnet. The host's
address is the networks' ``ManagementIP``, else the local /32 route of
``Get-NetRoute``; its routes become ``route`` statements.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from l2l3.kube import objects as k
from l2l3.kube.errors import Span as KSpan
from l2l3.kube.provenance import Notes, input_error, model_span
from l2l3.kube.windows.acl import ACL_LABEL, acl_policy
from l2l3.kube.windows.overlay import Tunnel, tunnel
from l2l3.kube.windows.place import SPECIAL, ZERO, docker_networks
from l2l3.kube.windows.state import (
    Acl,
    Endpoint,
    LoadBalancer,
    Network,
    OutboundNat,
    PortMapping,
    ProviderAddress,
    SdnRoute,
    State,
    interface,
)
from l2l3.model.types import (
    OS,
    Backend,
    Bridge,
    BridgeKind,
    ContainerPort,
    Dnat,
    Nic,
    Node,
    Pod,
    Policy,
    Proto,
    Route,
    RouteToHost,
    Segment,
    SourceNat,
)
from l2l3.model.types import OutboundNat as ModelOutboundNat

__all__ = ["Built", "acl_label", "build_node", "writable"]

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
BRIDGED = {"l2bridge", "l2tunnel", "overlay"}
UPLINKED = {"l2bridge", "l2tunnel"}
PROTOS = {6: Proto.TCP, 17: Proto.UDP}


def writable(name: str, fallback: str) -> str:
    """``name`` as a spec-language name (other characters become ``-``)."""
    text = re.sub(r"[^A-Za-z0-9_.\-]", "-", name.strip()) or fallback
    return text if NAME.fullmatch(text) else "_" + text


def acl_label(name: str) -> str:
    """A pod name as a label value (63 characters, alphanumeric at both ends)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "-", name)[:63].strip("-_.") or "endpoint"


@dataclass
class Built:
    node: Node
    policies: list[Policy] = field(default_factory=list)
    matched: set[tuple[str, str]] = field(default_factory=set)  # kube pods placed by IP


def _members(net: Network, eps: list[Endpoint]) -> list[Endpoint]:
    by_id = [e for e in eps if e.network_id and e.network_id == net.id]
    if by_id:
        return by_id
    by_name = [e for e in eps if e.network_name and e.network_name == net.name]
    if by_name:
        return by_name
    return [e for e in eps if e.ip is not None and any(e.ip in p for p, _ in net.subnets)]


def _host_endpoint(net: Network, local: list[Endpoint]) -> Endpoint | None:
    gateways = Counter(e.gateway for e in local if e.gateway is not None)
    for e in local:
        if e.ip is not None and gateways.get(e.ip):
            return e
    return next((e for e in local if e.name.lower() == f"{net.name}_ep".lower()), None)


class _NodeBuilder:
    def __init__(
        self,
        notes: Notes,
        name: str,
        ip: IPv4Address,
        seg: Segment,
        kpods: dict[IPv4Address, k.Pod],
        dr_macs: dict[IPv4Address, str],
    ):
        self.notes = notes
        self.name = name
        self.ip = ip
        self.seg = seg
        self.kpods = kpods
        self.bridges: list[Bridge] = []
        self.pods: list[Pod] = []
        self.outbound: list[ModelOutboundNat] = []
        self.to_host: list[RouteToHost] = []
        self.dnats: list[Dnat] = []
        self.snats: list[SourceNat] = []
        self.policies: list[Policy] = []
        self.matched: set[tuple[str, str]] = set()
        self.names: set[str] = {"eth0"}
        self.pod_names: set[str] = set()
        self.aliases: dict[IPv4Address, str] = {}  # host addresses on bridges -> bridge
        self.tunnels: list[Tunnel] = []
        self.dr_macs = dr_macs

    def unique(self, name: str, taken: set[str]) -> str:
        out, n = name, 1
        while out in taken:
            n += 1
            out = f"{name}-{n}"
        taken.add(out)
        return out

    def network(self, net: Network, members: list[Endpoint]) -> None:
        kind = net.type.lower()
        span = model_span(net.span)
        if kind not in BRIDGED and kind != "nat":
            self.notes.add(
                net.span,
                f"HNS network {net.name} of type {net.type} is not modelled: skipped with its {len(members)} endpoints",
                "skipped-object",
            )
            return
        if not net.subnets:
            self.notes.add(net.span, f"HNS network {net.name} has no IPv4 subnet: skipped", "skipped-object")
            return
        subnet, gw = net.subnets[0]
        if len(net.subnets) > 1:
            self.notes.add(
                net.span,
                f"HNS network {net.name} has {len(net.subnets)} subnets: the first, {subnet}, is modelled",
            )
        remote = [e for e in members if e.remote]
        local = [e for e in members if not e.remote]
        if remote:
            self.notes.add(
                remote[0].span,
                f"{len(remote)} remote endpoint(s) of network {net.name} (pods of other nodes): read, left to their own node's state",
                "skipped-object",
                count=len(remote),
            )
        host_ep = _host_endpoint(net, local) if kind in UPLINKED else None
        bname = self.unique(writable(net.name, "hns"), self.names)
        if host_ep is not None and host_ep.ip is not None:
            bip = host_ep.ip
        else:
            common = Counter(e.gateway for e in local if e.gateway is not None).most_common(1)
            bip = common[0][0] if common else gw  # type: ignore[assignment]
            if bip is None:
                self.notes.add(
                    net.span,
                    f"HNS network {net.name} has no gateway and no host endpoint: skipped",
                    "skipped-object",
                )
                return
            if kind in UPLINKED:
                self.notes.assumed(
                    net.span,
                    f"network {net.name} has no host endpoint: the host's address on bridge {bname} is the endpoints' gateway {bip}",
                )
        self.aliases[bip] = bname
        if kind == "overlay":
            dev = self.unique(f"vxlan{net.vsid or ''}".rstrip(), self.names)
            self.tunnels.append(tunnel(self.notes, net, self.name, self.ip, dev, self.dr_macs))
        self.bridges.append(
            Bridge(
                name=bname,
                kind=BridgeKind.L2BRIDGE,
                ip=interface(bip, subnet.prefixlen),
                uplink="eth0" if kind in UPLINKED else None,
                span=span,
            )
        )
        if kind == "nat":
            self.snats.append(SourceNat(source=subnet, out="eth0", span=span))
            self.notes.assumed(
                net.span,
                f"NAT network {net.name}: WinNAT translates {subnet} to the host's address for every destination outside it (masquerade)",
            )
        if net.dns_servers:
            self.notes.add(
                net.span,
                f"network {net.name} DNS servers {', '.join(net.dns_servers)}: the model has no DNS; checks may name these addresses",
                "unread-field",
            )
        pods = [e for e in local if e is not host_ep]
        signatures: Counter[tuple[tuple[IPv4Network, ...], ...]] = Counter()
        routes: Counter[tuple[IPv4Network, ...]] = Counter()
        first_ob: dict[tuple[IPv4Network, ...], KSpan] = {}
        first_rt: dict[IPv4Network, KSpan] = {}
        for e in pods:
            pod = self.pod(e, bname, subnet)
            if pod is None:
                continue
            self.endpoint_policies(e, pod, signatures, routes, first_ob, first_rt)
        self.bridge_policies(net, bname, signatures, routes, first_ob, first_rt)

    def endpoint_policies(  # type: ignore[no-untyped-def]
        self, e: Endpoint, pod: Pod, signatures, routes, first_ob, first_rt
    ) -> None:
        """One endpoint's OutBoundNAT and ROUTE policies counted; its port maps and ACLs made."""
        obs = [p for p in e.policies if isinstance(p, OutboundNat)]
        for ob in obs:
            if ob.destinations:
                self.notes.add(
                    ob.span,
                    "OutBoundNAT with Destinations (loopback DSR: NAT of traffic to those addresses only) "
                    "is not modelled",
                )
            if ob.vip is not None and ob.vip != self.ip:
                self.notes.add(
                    ob.span, f"OutBoundNAT VIP {ob.vip}: the model translates to the host's address {self.ip}"
                )
            first_ob.setdefault(ob.exceptions, ob.span)
        signatures[tuple(ob.exceptions for ob in obs if not ob.destinations)] += 1
        rts = [p for p in e.policies if isinstance(p, SdnRoute)]
        for rt in rts:
            if not rt.need_encap:
                self.notes.add(
                    rt.span,
                    f"ROUTE {rt.prefix} without NeedEncap is not modelled (only NeedEncap routes go to the host)",
                )
            first_rt.setdefault(rt.prefix, rt.span)
        routes[tuple(sorted({rt.prefix for rt in rts if rt.need_encap}))] += 1
        for pm in e.policies:
            if isinstance(pm, PortMapping):
                self.port_mapping(pm, pod)
            elif isinstance(pm, ProviderAddress) and pm.address != self.ip:
                self.notes.add(
                    pm.span,
                    f"provider address {pm.address} of pod {pod.name}: the model encapsulates from the node's "
                    f"address {self.ip}",
                )
        acls = [p for p in e.policies if isinstance(p, Acl)]
        if acls and pod.ip is not None:
            self.policies.append(
                acl_policy(self.notes, acls, pod.name, pod.namespace, pod.ip.ip, acl_label(pod.name))
            )

    def majority(self, net: Network, counts: Counter[Any], what: str) -> Any:
        """The policies most endpoints of ``net`` share (HNS holds them per endpoint, l2l3 per network)."""
        got, n = counts.most_common(1)[0]
        if len(counts) > 1:
            self.notes.add(
                net.span,
                f"the endpoints of network {net.name} carry different {what} policies; l2l3 models them "
                f"per network: those of {n} of {sum(counts.values())} endpoints are used",
            )
        return got

    def bridge_policies(  # type: ignore[no-untyped-def]
        self, net: Network, bname: str, signatures, routes, first_ob, first_rt
    ) -> None:
        if signatures:
            for excs in self.majority(net, signatures, "OutBoundNAT"):
                self.outbound.append(
                    ModelOutboundNat(bridge=bname, exceptions=excs, span=model_span(first_ob[excs]))
                )
        if routes:
            for p in self.majority(net, routes, "ROUTE"):
                self.to_host.append(RouteToHost(bridge=bname, prefix=p, span=model_span(first_rt[p])))

    def pod(self, e: Endpoint, bname: str, subnet: IPv4Network) -> Pod | None:
        if e.ip is None:
            self.notes.add(
                e.span, f"HNS endpoint {e.name or e.id} has no IPv4 address: skipped", "skipped-pod"
            )
            return None
        if e.ip not in subnet:
            self.notes.add(
                e.span,
                f"HNS endpoint {e.name or e.id} at {e.ip} is outside its network's subnet {subnet}: skipped",
                "skipped-pod",
            )
            return None
        kp = self.kpods.get(e.ip)
        labels: tuple[tuple[str, str], ...] = ()
        ports: tuple[ContainerPort, ...] = ()
        namespace = "default"
        if kp is not None:
            self.matched.add((kp.namespace, kp.name))
            name, namespace = kp.name, kp.namespace
            labels = tuple(sorted(kp.labels.to_dict().items()))
            ports = tuple(
                ContainerPort(port=p.container_port, proto=Proto[p.protocol], name=p.name)
                for c in kp.containers
                for p in c.ports
            )
        else:
            name = writable(e.name.split("_")[0] if e.name else e.id[:12], "endpoint")
        name = self.unique(name, self.pod_names)
        acls = any(isinstance(p, Acl) for p in e.policies)
        if acls:
            labels = tuple(sorted(labels + ((ACL_LABEL, acl_label(name)),)))
        plen = (
            e.prefix_len
            if e.prefix_len is not None and e.prefix_len >= subnet.prefixlen
            else subnet.prefixlen
        )
        pod = Pod(
            name=name,
            ip=IPv4Interface(f"{e.ip}/{plen}"),
            mac=e.mac,
            bridge=bname,
            namespace=namespace,
            labels=labels,
            ports=ports,
            span=model_span(e.span),
        )
        self.pods.append(pod)
        return pod

    def port_mapping(self, p: PortMapping, pod: Pod) -> None:
        proto = PROTOS.get(p.protocol)
        if proto is None or not p.external or not p.internal or pod.ip is None:
            self.notes.add(
                p.span, f"PortMapping protocol {p.protocol} ports {p.external}->{p.internal} is not modelled"
            )
            return
        self.dnats.append(
            Dnat(
                vip=p.vip or self.ip,
                proto=proto,
                port=p.external,
                backends=(Backend(ip=pod.ip.ip, port=p.internal),),
                span=model_span(p.span),
            )
        )

    def balancer(self, lb: LoadBalancer, endpoints: dict[str, Endpoint]) -> None:
        """A Get-HnsPolicyList ELB (kube-proxy winkernel's Service) as a dnat to the referenced endpoints."""
        proto = PROTOS.get(lb.protocol)
        ips = [endpoints[i].ip for i in lb.endpoint_ids if i in endpoints and endpoints[i].ip is not None]
        missing = [i for i in lb.endpoint_ids if i not in endpoints]
        if proto is None or not lb.external_port or not lb.internal_port or not ips:
            why = (
                "no endpoint among the inputs it references"
                if not ips
                else f"protocol {lb.protocol} or port 0"
            )
            self.notes.add(lb.span, f"ELB policy {lb.id or ''}: {why}: not modelled", "skipped-object")
            return
        if missing:
            self.notes.add(
                lb.span,
                f"ELB policy {lb.id}: {len(missing)} referenced endpoint(s) are not among the inputs: left out",
            )
        vips = list(lb.vips)
        if not vips:
            vips = [self.ip]
            self.notes.assumed(
                lb.span, f"ELB policy {lb.id} has no VIPs (a NodePort): read as the host's address {self.ip}"
            )
        backends = tuple(Backend(ip=ip, port=lb.internal_port) for ip in ips if ip is not None)
        for vip in vips:
            self.dnats.append(
                Dnat(vip=vip, proto=proto, port=lb.external_port, backends=backends, span=model_span(lb.span))
            )

    def routes(self, state: State, alias: str | None) -> list[Route]:
        out: list[Route] = []
        bridge_alias = {
            r.alias: self.aliases[r.prefix.network_address]
            for r in state.routes
            if r.prefix.prefixlen == 32 and r.prefix.network_address in self.aliases
        }
        subnets = [b.ip.network for b in self.bridges if b.ip is not None] + [self.seg.prefix]
        unknown = 0
        for r in sorted(state.routes, key=lambda r: (r.metric,)):
            dev = "eth0" if alias is not None and r.alias == alias else bridge_alias.get(r.alias)
            if r.next_hop == ZERO:
                if (
                    r.prefix.prefixlen == 32
                    or any(r.prefix.subnet_of(s) for s in SPECIAL)
                    or any(r.prefix.subnet_of(s) for s in subnets)
                ):
                    continue  # the host's own addresses, broadcast, multicast, connected subnets
                if dev is None:
                    unknown += 1
                    continue
                out.append(Route(prefix=r.prefix, dev=dev, span=model_span(r.span)))
            elif dev is not None or r.next_hop in self.seg.prefix:
                out.append(Route(prefix=r.prefix, via=r.next_hop, dev=dev, span=model_span(r.span)))
            else:
                unknown += 1
        if unknown:
            first = state.routes[0].span
            self.notes.add(
                first,
                f"{unknown} Get-NetRoute row(s) on interfaces l2l3 does not model (not the host NIC nor a bridge's host endpoint): left out",
                "unread-field",
                count=unknown,
            )
        return out


def build_node(
    notes: Notes,
    state: State,
    name: str,
    ip: IPv4Address,
    alias: str | None,
    seg: Segment,
    kpods: dict[IPv4Address, k.Pod],
    dr_macs: dict[IPv4Address, str] | None = None,
) -> Built:
    b = _NodeBuilder(notes, name, ip, seg, kpods, dr_macs or {})
    hns = [(n, _members(n, state.endpoints)) for n in state.networks]
    for net, members in hns + docker_networks(state):
        b.network(net, members)
    placed = {id(e) for _, m in hns for e in m}
    stray = [e for e in state.endpoints if id(e) not in placed]
    if stray:
        notes.add(
            stray[0].span,
            f"{len(stray)} HNS endpoint(s) of no network among the inputs: skipped",
            "skipped-pod",
            count=len(stray),
        )
    for lb in state.balancers:
        b.balancer(lb, {e.id: e for e in state.endpoints})
    if state.ipv6_routes:
        notes.add(
            state.ipv6_span or KSpan(state.files[0], 1, 1),
            f"{state.ipv6_routes} IPv6 route(s): l2l3 models IPv4 only",
            "unread-field",
            count=state.ipv6_routes,
        )
    mac = next((n.source_mac for n in state.networks if n.source_mac), None)
    first = model_span(state.networks[0].span if state.networks else KSpan(state.files[0], 1, 1))
    routes = b.routes(state, alias)
    if not state.routes:
        if seg.gateway is not None:
            routes = [Route(prefix=IPv4Network("0.0.0.0/0"), via=seg.gateway, dev="eth0", span=first)]
            notes.assumed(
                first,
                f"no Get-NetRoute output for node {name}: a default route via the segment's gateway {seg.gateway} is assumed",
            )
        else:
            notes.add(
                first,
                f"no Get-NetRoute output for node {name}, and segment {seg.name} has no gateway: the node has no routes",
            )
    node = Node(
        name=name,
        os=OS.WINDOWS,
        nics=(
            Nic(name="eth0", ip=interface(ip, seg.prefix.prefixlen), mac=mac, segment=seg.name, span=first),
        ),
        bridges=tuple(b.bridges),
        pods=tuple(b.pods),
        routes=tuple(routes) + tuple(r for t in b.tunnels for r in t.routes),
        vxlans=tuple(t.vxlan for t in b.tunnels),
        neighbors=tuple(x for t in b.tunnels for x in t.neighbors),
        fdbs=tuple(x for t in b.tunnels for x in t.fdbs),
        snats=tuple(b.snats),
        outbound_nats=tuple(b.outbound),
        dnats=tuple(b.dnats),
        routes_to_host=tuple(b.to_host),
        enforce_policy=bool(b.policies),
        span=first,
    )
    if not b.bridges:
        raise input_error(
            first,
            f"no HNS network or docker network l2l3 can model among the node state of {state.directory}",
        )
    return Built(node=node, policies=b.policies, matched=b.matched)
