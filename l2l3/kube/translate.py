"""Kubernetes objects -> the spec model, with Kubernetes semantics (LANGUAGE.md §7).

:func:`translate` turns a :class:`~l2l3.kube.Cluster` (what the readers
found) and a :class:`~l2l3.kube.cni.CniChoice` into a *raw* spec: the
``cluster`` block, the underlay segment(s), one shorthand node per Node
(``node NAME OS ip INTERNAL-IP on SEGMENT subnet POD-CIDR``) holding its pods,
the namespaces and the NetworkPolicies. Profile expansion and validation are
left to the caller (:mod:`l2l3.kube.inputs`), as for a hand-written spec.

Every statement keeps the span of the object it came from; what is skipped
or assumed is a note (``Translation.notes``), never silent. The notes with
code ``assumed`` are the ``# assumed:`` comments of ``l2l3 import``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_network
from typing import Any

from l2l3.kube import objects as k
from l2l3.kube.cni import CniChoice
from l2l3.kube.errors import Note
from l2l3.kube.load import Cluster as KubeCluster
from l2l3.kube.provenance import Notes, model_span, quiet_gc
from l2l3.kube.translate_service import services
from l2l3.kube.underlay import covering, place_nodes
from l2l3.model.profiles._base import WINDOWS_UNDER
from l2l3.model.types import (
    NOWHERE,
    OS,
    CidrPeer,
    Cluster,
    ContainerPort,
    LabelExpr,
    LabelSelector,
    NamespaceDecl,
    Nic,
    Node,
    Pod,
    Policy,
    PolicyRule,
    PortSpec,
    Proto,
    Route,
    RouteToHost,
    Segment,
    SelectorOp,
    SelectorPeer,
    Spec,
    StackMode,
)

__all__ = ["Translation", "translate", "CALICO_BLOCK"]

#: The prefix length an inferred node subnet is widened to when nothing else
#: claims the space (Calico's default IPAM block size).
CALICO_BLOCK = 26
METADATA_NAME = "kubernetes.io/metadata.name"
ANY = IPv4Network("0.0.0.0/0")
OPS = {
    "In": SelectorOp.IN,
    "NotIn": SelectorOp.NOT_IN,
    "Exists": SelectorOp.EXISTS,
    "DoesNotExist": SelectorOp.DOES_NOT_EXIST,
}
PROTOS = {"TCP": Proto.TCP, "UDP": Proto.UDP, "SCTP": Proto.SCTP}
#: the HNS bridge each Windows dataplane expands into (l2l3.model.profiles.windows)
WINDOWS_BRIDGE = {"win-bridge": "cbr0", "win-overlay": "vxlan0"}


@dataclass
class Translation:
    """A raw spec (profiles not expanded) and what was said about it."""

    spec: Spec
    notes: list[Note] = field(default_factory=list)


# ---------------------------------------------------------------- selectors and policies


def selector(sel: k.LabelSelector) -> LabelSelector:
    """``matchLabels`` + ``matchExpressions`` as the model's selector."""
    return LabelSelector(
        match=tuple(sorted(sel.match_labels.items())),
        exprs=tuple(
            LabelExpr(key=r.key, op=OPS[r.operator], values=tuple(r.values)) for r in sel.match_expressions
        ),
    )


def _ipv4(text: str) -> IPv4Network | None:
    net = ip_network(text, strict=False)
    return net if isinstance(net, IPv4Network) else None


def _peer(notes: Notes, p: k.PolicyPeer, where: str) -> SelectorPeer | CidrPeer | None:
    if p.ip_block is not None:
        cidr = _ipv4(p.ip_block.cidr)
        if cidr is None:
            notes.add(p.span, f"{where}: ipBlock {p.ip_block.cidr} is IPv6; l2l3 models IPv4 only: left out")
            return None
        excepts = tuple(e for e in (_ipv4(x) for x in p.ip_block.except_) if e is not None)
        return CidrPeer(cidr=cidr, exceptions=excepts)
    return SelectorPeer(
        pods=None if p.pod_selector is None else selector(p.pod_selector),
        namespaces=None if p.namespace_selector is None else selector(p.namespace_selector),
    )


def _port(p: k.PolicyPort) -> PortSpec:
    return PortSpec(proto=PROTOS[p.protocol], port=p.port, end_port=p.end_port)


def _rule(notes: Notes, rule: k.PolicyRule, where: str) -> PolicyRule | None:
    peers: tuple[SelectorPeer | CidrPeer, ...] = ()
    if rule.peers:  # absent or empty: every peer
        got = [_peer(notes, p, where) for p in rule.peers]
        peers = tuple(x for x in got if x is not None)
        if not peers:
            notes.add(rule.span, f"{where}: every peer is IPv6, so the rule admits nothing: left out")
            return None
    ports = tuple(_port(p) for p in rule.ports) if rule.ports else ()
    return PolicyRule(peers=peers, ports=ports, span=model_span(rule.span))


def policy(notes: Notes, pol: k.NetworkPolicy) -> Policy:
    """A NetworkPolicy with every field; ``types`` explicit when the model's default would differ."""
    where = f"NetworkPolicy {pol.namespace}/{pol.name}"
    ingress = tuple(r for r in (_rule(notes, x, where + " ingress") for x in pol.ingress or ()) if r)
    egress = tuple(r for r in (_rule(notes, x, where + " egress") for x in pol.egress or ()) if r)
    want = frozenset(t.lower() for t in pol.policy_types)
    default = frozenset({"ingress"} | ({"egress"} if egress else set()))
    types = None if (not pol.policy_types_written and want == default) else want
    return Policy(
        name=pol.name,
        namespace=pol.namespace,
        select=selector(pol.pod_selector),
        ingress=ingress,
        egress=egress,
        types=types,
        span=model_span(pol.span),
    )


# ---------------------------------------------------------------- pods


def _v4(text: str) -> IPv4Address | None:
    """The IPv4 address of a canonical address string (the readers' form), else None."""
    if ":" in text:
        return None
    a, b, c, d = text.split(".")
    return IPv4Address((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d))


def _first_v4(addresses: Sequence[str]) -> IPv4Address | None:
    for a in addresses:
        ip = _v4(a)
        if ip is not None:
            return ip
    return None


class _Pods:
    """Pods of the model from the readers' pods; equal port lists are one tuple (150,000 pods)."""

    def __init__(self, notes: Notes) -> None:
        self.notes = notes
        self.ports: dict[tuple[tuple[int, str, str | None, int | None], ...], tuple[ContainerPort, ...]] = {}
        #: fields read but not modelled, counted over every pod: what -> [count, first span]
        self.counted: dict[str, list[Any]] = {}

    def count(self, what: str, span: Any) -> None:
        got = self.counted.get(what)
        if got is None:
            self.counted[what] = [1, span]
        else:
            got[0] += 1

    def ports_of(self, pod: k.Pod) -> tuple[ContainerPort, ...]:
        key = tuple(
            (p.container_port, p.protocol, p.name, None if pod.host_network else p.host_port)
            for c in pod.containers
            for p in c.ports
        )
        for c in pod.containers:
            for p in c.ports:
                if p.host_port is not None and p.host_ip not in (None, "", "0.0.0.0"):
                    self.count(
                        "pod{s} with a hostIP: the hostPort is programmed on every node address", p.span
                    )
        got = self.ports.get(key)
        if got is None:  # a hostPort is programmed as the portmap plugin does (model.profiles.services)
            got = self.ports[key] = tuple(
                ContainerPort(port=n, proto=PROTOS[proto], name=name, host_port=hp)
                for n, proto, name, hp in key
            )
        return got

    def make(self, pod: k.Pod, node_ip: IPv4Address) -> tuple[Pod, IPv4Address | None] | None:
        """The model's pod and its address (None for a host-network pod), or None when skipped."""
        labels = tuple(sorted(pod.labels.to_dict().items()))
        span = model_span(pod.span)
        ip = _first_v4(pod.pod_ips)
        if len(pod.pod_ips) > 1:
            self.count(
                "pod{s} with more than one address (dual-stack): only the IPv4 one is modelled", pod.span
            )
        if pod.host_network:
            if ip is not None and ip != node_ip:
                self.notes.add(
                    pod.span,
                    f"host-network pod {pod.namespace}/{pod.name} has podIP {ip}, not its node's {node_ip}: "
                    "read as the node's",
                )
            out = Pod(
                name=pod.name,
                mode=StackMode.HOST_NETWORK,
                namespace=pod.namespace,
                labels=labels,
                ports=self.ports_of(pod),
                span=span,
            )
            return out, None
        if ip is None:
            self.notes.add(
                pod.span,
                f"Pod {pod.namespace}/{pod.name} is skipped: it has no IPv4 address (l2l3 models IPv4 only)",
                "skipped-pod",
            )
            return None
        out = Pod(
            name=pod.name,
            ip=IPv4Interface((int(ip), 32)),
            ip_has_prefix=False,
            namespace=pod.namespace,
            labels=labels,
            ports=self.ports_of(pod),
            span=span,
        )
        return out, ip


# ---------------------------------------------------------------- node subnets


def _subnets(
    notes: Notes,
    nodes: list[tuple[k.Node, list[IPv4Address]]],
    ipam_subnet: IPv4Network | None,
) -> dict[str, IPv4Network | None]:
    """Each node's pod subnet: its podCIDR, else the config's IPAM subnet, else inferred from its pods.

    An inferred subnet is the smallest prefix covering the node's pod
    addresses, widened up to a Calico block (/26) while it overlaps no other
    node's subnet.
    """
    out: dict[str, IPv4Network | None] = {}
    inferred: dict[str, IPv4Network] = {}
    for node, ips in nodes:
        cidr = next((n for n in (_ipv4(c) for c in node.pod_cidrs) if n is not None), None)
        out[node.name] = None
        if cidr is not None and all(ip in cidr for ip in ips):
            out[node.name] = cidr
        elif ipam_subnet is not None and ips and all(ip in ipam_subnet for ip in ips):
            out[node.name] = ipam_subnet
            notes.assumed(
                node.span, f"node {node.name}'s pod subnet is the CNI config's IPAM subnet {ipam_subnet}"
            )
        elif ips:
            inferred[node.name] = covering(ips)
        elif cidr is None:
            notes.add(
                node.span,
                f"node {node.name} has no IPv4 podCIDR and no pods with addresses: "
                "written with its NIC only, without a pod subnet",
            )
    taken = [n for n in out.values() if n is not None] + list(inferred.values())
    for node, _ips in nodes:
        net = inferred.get(node.name)
        if net is None:
            continue
        first = net
        others = [t for t in taken if t is not first]
        while net.prefixlen > CALICO_BLOCK and not any(net.supernet().overlaps(o) for o in others):
            net = net.supernet()
        taken = [net if t is first else t for t in taken]
        out[node.name] = net
        why = (
            f"its podCIDR {node.pod_cidr} does not hold all its pods"
            if node.pod_cidr
            else "it has no podCIDR"
        )
        notes.assumed(
            node.span, f"node {node.name}'s pod subnet {net} is inferred from its pods' addresses ({why})"
        )
    return out


# ---------------------------------------------------------------- nodes


def _os(notes: Notes, node: k.Node) -> OS | None:
    name = (node.os or "").lower()
    if name == "windows":
        return OS.WINDOWS
    if name == "linux":
        return OS.LINUX
    if not name:
        notes.assumed(node.span, f"node {node.name} has no kubernetes.io/os label: linux assumed")
        return OS.LINUX
    notes.add(
        node.span,
        f"node {node.name} runs {node.os}, which l2l3 does not model: skipped with its pods",
        "skipped-object",
    )
    return None


def _windows_routes(
    choice: CniChoice, node: k.Node, ip: IPv4Address, node_ips: set[IPv4Address]
) -> tuple[RouteToHost, ...]:
    family = (
        WINDOWS_UNDER.get(choice.words)
        if choice.words not in (("win-bridge",), ("win-overlay",))
        else choice.words[0]
    )
    bridge = WINDOWS_BRIDGE.get(family or "")
    if bridge is None:
        return ()
    out = []
    for prefix, span in choice.windows_routes:
        if prefix.prefixlen == 32 and prefix.network_address in node_ips:
            if family == "win-bridge":
                continue  # the profile adds the node's own IP (E2)
            prefix = IPv4Network((int(ip), 32))
        out.append(RouteToHost(bridge=bridge, prefix=prefix, span=model_span(span)))
    return tuple(out)


def translate(
    cluster: KubeCluster, cni: CniChoice, segments: Sequence[Segment] = (), name: str = "kubernetes"
) -> Translation:
    """The raw spec of ``cluster`` under ``cni``, its nodes placed on ``segments`` (else an assumed one)."""
    with quiet_gc():  # see quiet_gc: no cycles here, and the collector's passes would dominate
        return _translate(cluster, cni, segments, name)


def _translate(cluster: KubeCluster, cni: CniChoice, segments: Sequence[Segment], name: str) -> Translation:
    notes = Notes()
    notes.extend(cluster.notes)
    notes.extend(cni.notes)
    namespaces = tuple(
        NamespaceDecl(
            name=ns.name,
            labels=tuple(
                sorted((a, b) for a, b in ns.labels.items() if not (a == METADATA_NAME and b == ns.name))
            ),
            span=model_span(ns.span),
        )
        for ns in cluster.namespaces
        if ns.declared
    )
    by_node: dict[str, list[k.Pod]] = {}
    for pod in cluster.pods:
        by_node.setdefault(pod.node_name, []).append(pod)
    placed: list[tuple[k.Node, OS, IPv4Address, list[Pod], list[IPv4Address]]] = []
    maker = _Pods(notes)
    for node in cluster.nodes:
        os_ = _os(notes, node)
        kpods = by_node.pop(node.name, [])
        ip = _first_v4(node.internal_ips)
        if os_ is None:
            continue
        if ip is None:
            notes.add(
                node.span,
                f"node {node.name} has no IPv4 InternalIP: skipped with its {len(kpods)} pods",
                "skipped-object",
            )
            continue
        if len(node.internal_ips) > 1:
            maker.count("node{s} with more than one InternalIP: the first IPv4 one is used", node.span)
        if node.external_ips:
            maker.count("node{s} with an ExternalIP: external addresses are not modelled", node.span)
        if len(node.pod_cidrs) > 1:
            maker.count("node{s} with more than one podCIDR (dual-stack): the IPv4 one is used", node.span)
        mine: list[Pod] = []
        ips: list[IPv4Address] = []
        for pod in kpods:
            got = maker.make(pod, ip)
            if got is None:
                continue
            mine.append(got[0])
            if got[1] is not None:
                ips.append(got[1])
        placed.append((node, os_, ip, mine, ips))
    for what, (n, span) in maker.counted.items():
        notes.add(
            span, f"{n} {what.format(s='' if n == 1 else 's')} (the first here)", "unread-field", count=n
        )
    for node_name, left in by_node.items():
        notes.add(
            left[0].span,
            f"{len(left)} pod{'s' if len(left) > 1 else ''} on node {node_name} skipped: "
            f"no Node {node_name} among the inputs",
            "skipped-pod",
            count=len(left),
        )
    subnets = _subnets(notes, [(n, ips) for n, _, _, _, ips in placed], cni.ipam_subnet)
    seg_of, new_segments = place_nodes(notes, [(n, ip) for n, _, ip, _, _ in placed], segments)
    node_ips = {ip for _, _, ip, _, _ in placed}
    nodes = []
    for node, os_, ip, pods, _ in placed:
        seg = seg_of[node.name]
        subnet = subnets.get(node.name)
        extra = _windows_routes(cni, node, ip, node_ips) if os_ is OS.WINDOWS else ()
        if subnet is None:  # no pod subnet: the NIC and default route the shorthand would give
            default = (Route(prefix=ANY, via=seg.gateway, dev="eth0", span=model_span(node.span)),)
            nodes.append(
                Node(
                    name=node.name,
                    os=os_,
                    nics=(
                        Nic(name="eth0", ip=IPv4Interface((int(ip), seg.prefix.prefixlen)), segment=seg.name),
                    ),
                    routes=default if seg.gateway is not None else (),
                    pods=tuple(pods),
                    span=model_span(node.span),
                )
            )
            continue
        nodes.append(
            Node(
                name=node.name,
                os=os_,
                ip=ip,
                segment=seg.name,
                subnet=subnet,
                pods=tuple(pods),
                routes_to_host=extra,
                span=model_span(node.span),
            )
        )
    svcs = services(notes, cluster.services, cluster.endpoint_slices)  # l2l3.kube.translate_service
    pod_cidr = cni.pod_cidr
    block = Cluster(
        name=name,
        pod_cidr=pod_cidr,
        service_cidr=cni.service_cidr,
        cni=cni.words,
        options=cni.options,
        span=model_span(cni.span) if cni.span is not None else NOWHERE,
    )
    if pod_cidr is not None:
        outside = [n for n in nodes if n.subnet is not None and not n.subnet.subnet_of(pod_cidr)]
        if outside:
            notes.assumed(
                block.span,
                f"the CNI config's pod network {pod_cidr} does not hold node {outside[0].name}'s subnet {outside[0].subnet}: pod-cidr left out",
            )
            block = Cluster(
                name=name, service_cidr=cni.service_cidr, cni=cni.words, options=cni.options, span=block.span
            )
    spec = Spec(
        file=cluster.files[0] if cluster.files else "<kubernetes>",
        cluster=block,
        segments=tuple(new_segments),
        nodes=tuple(nodes),
        policies=tuple(policy(notes, p) for p in cluster.policies),
        services=svcs,
        namespaces=namespaces,
    )
    return Translation(spec=spec, notes=notes.items)
