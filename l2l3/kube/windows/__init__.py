"""A Windows node's own state as input (LANGUAGE.md §7, "Node state"; docs/windows-state.md).

The JSON of ``Get-HnsNetwork``, ``Get-HnsEndpoint``, ``Get-HnsPolicyList``
(``| ConvertTo-Json -Depth 10``; HNS v1 or HCN v2 field names),
``Get-NetRoute | ConvertTo-Json`` and ``docker network inspect`` are told
apart by their shape (:mod:`.read`), read with their places (:mod:`.hns`,
:mod:`.docker`) and built into the spec model (:mod:`.build`, :mod:`.acl`):
the files of one directory are one node. :func:`node_states` is what
:mod:`l2l3.kube.inputs` calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, ip_address
from typing import Any

from l2l3.kube.errors import Note
from l2l3.kube.errors import Span as KSpan
from l2l3.kube.provenance import Notes, input_error, model_span
from l2l3.kube.translate import METADATA_NAME, policy
from l2l3.kube.translate_service import services
from l2l3.kube.windows.build import build_node, writable
from l2l3.kube.windows.place import host_address, segments_for
from l2l3.kube.windows.read import read_states, shape
from l2l3.model.types import NamespaceDecl, Node, Policy, Route, Segment, Service, Spec

__all__ = ["NodeStates", "node_states", "shape"]


@dataclass
class NodeStates:
    nodes: list[Node] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    matched: set[tuple[str, str]] = field(default_factory=set)

    kube: Any = None  # the kube Cluster, its notes on the files taken here dropped
    services: tuple[Service, ...] = ()  # the manifests' Services (state-only path)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.notes)

    def alone(self, cni: str | None, block: Any) -> bool:
        """Whether the node states need no CNI: none is given and every Kubernetes Node is one of them."""
        kc = self.kube
        if not self.nodes or cni or (block is not None and block.cni) or kc.cni_configs or kc.flannel_configs:
            return False
        mine = {n.name for n in self.nodes}
        return all(n.name in mine for n in kc.nodes)

    def kubernetes(self) -> tuple[tuple[NamespaceDecl, ...], tuple[Policy, ...], list[Note]]:
        """The namespaces and NetworkPolicies of the Kubernetes inputs, and notes on pods no endpoint holds."""
        kc = self.kube
        notes = Notes()
        namespaces = tuple(
            NamespaceDecl(
                name=ns.name,
                labels=tuple(
                    sorted((a, b) for a, b in ns.labels.items() if (a, b) != (METADATA_NAME, ns.name))
                ),
                span=model_span(ns.span),
            )
            for ns in kc.namespaces
            if ns.declared
        )
        policies = tuple(policy(notes, p) for p in kc.policies)
        self.services = services(notes, kc.services, kc.endpoint_slices)
        self.unmatched(notes)
        self.enforcement(notes)
        self.load_balancers(notes)
        return namespaces, policies, notes.items

    def load_balancers(self, notes: Notes) -> None:
        """Services among the manifests beside the state's own ELB load balancers: both are modelled."""
        if not self.kube.services:
            return
        for n in self.nodes:
            if n.dnats:
                notes.add(
                    n.span,
                    f"node {n.name}: the Services among the inputs give it kube-proxy's load balancers, and its "
                    "state's ELB and port-mapping policies are dnat statements too (a VIP given by both is "
                    "translated twice, to the backends each names)",
                    "assumed",
                )

    def enforcement(self, notes: Notes) -> None:
        """What NetworkPolicy means on a node built from its state: what its ACLs say (docs/windows-state.md)."""
        if not self.kube.policies:
            return
        for n in self.nodes:
            what = (
                "its endpoints' ACLs are the policy a CNI programmed, and the NetworkPolicies among the inputs "
                "are enforced on it too, on every pod (l2l3 enforces per node)"
                if n.enforce_policy
                else "no endpoint has an ACL, so the NetworkPolicies among the inputs are not enforced on it"
            )
            notes.add(n.span, f"node {n.name} is built from its HNS state: {what}", "assumed")

    def unmatched(self, notes: Notes) -> None:
        mine = {n.name for n in self.nodes}
        left = [
            p
            for p in self.kube.pods
            if (p.namespace, p.name) not in self.matched
            and (not p.node_name or p.node_name in mine or not self.kube.nodes)
        ]
        if left:
            notes.add(
                left[0].span,
                f"{len(left)} pod(s) match no endpoint of the node state by IP: skipped",
                "skipped-pod",
                count=len(left),
            )

    def merge(self, spec: Spec, tr_notes: list[Note]) -> tuple[Spec, list[Note]]:
        """A translated spec with the nodes the node states describe put in place of the translated ones."""
        mine = {n.name for n in self.nodes}
        notes = Notes()
        notes.extend(tr_notes)
        self.unmatched(notes)
        self.enforcement(notes)
        notes.extend(self.notes)
        replaced = [n for n in spec.nodes if n.name in mine and n.ip is not None and n.subnet is not None]
        kept = [n for n in spec.nodes if n.name not in mine]
        if replaced and spec.cluster is not None:
            kept = self._routes_to(replaced, kept, spec.cluster.cni, notes)
        nodes = tuple(kept) + tuple(self.nodes)
        return replace(
            spec,
            nodes=nodes,
            segments=spec.segments + tuple(self.segments),
            policies=spec.policies + tuple(self.policies),
        ), notes.items

    def _routes_to(
        self, replaced: list[Node], kept: list[Node], cni: tuple[str, ...], notes: Notes
    ) -> list[Node]:
        """The profile nodes' routes to the pod subnets of the nodes the states replace.

        A node built from its state is no profile peer, so the profile gives the
        others no route to its podCIDR; under a routed CNI (flannel host-gw,
        calico bgp: a route to each peer's podCIDR via its node IP) they get it
        written here. Under other CNIs they get none, and a note says so.
        """
        span = self.nodes[0].span
        if cni not in ROUTED_CNIS:
            who = ", ".join(n.name for n in replaced)
            notes.add(
                span,
                f"cni {' '.join(cni)}: how the other nodes reach the pods of {who} (built from its state) is "
                "not modelled; they get no route to its pod subnet",
            )
            return kept
        out = []
        for n in kept:
            if n.ip is None:
                out.append(n)
                continue
            extra = tuple(
                Route(prefix=r.subnet, via=r.ip, dev="eth0", span=span)
                for r in replaced
                if r.subnet is not None
            )
            out.append(replace(n, routes=n.routes + extra))
        notes.assumed(
            span,
            f"cni {' '.join(cni)}: the other nodes route "
            + ", ".join(f"{r.name}'s podCIDR {r.subnet} via {r.ip}" for r in replaced)
            + " (a route to each peer's podCIDR via its node IP, as the CNI programs it for its own nodes)",
        )
        return out


#: CNIs that route each node's podCIDR via its node IP (CNI-SEMANTICS §1(d), §6, §7)
ROUTED_CNIS = (("flannel", "host-gw"), ("calico", "bgp"))


def _v4(text: str | None) -> IPv4Address | None:
    try:
        a = ip_address(text or "")
    except ValueError:
        return None
    return a if isinstance(a, IPv4Address) else None


def _from_kubernetes(kc: Any, st: Any, kpods: dict[IPv4Address, Any]) -> tuple[IPv4Address, None] | None:
    """The InternalIP of the Kubernetes Node that runs the pods of the state's endpoints."""
    for e in st.endpoints:
        p = kpods.get(e.ip)
        n = kc.node(p.node_name) if p is not None and p.node_name else None
        ip = next((a for a in (_v4(x) for x in n.internal_ips) if a is not None), None) if n else None
        if ip is not None:
            return ip, None
    return None


def node_states(kc: Any, segments: tuple[Segment, ...]) -> NodeStates:
    """The nodes the node-state files among ``kc.other_files`` describe (``kc``: a kube Cluster).

    Raises :class:`KubeError` for bad values (FILE:LINE:COL) and SpecError when
    a node's state gives no host address.
    """
    states, read_notes, _ = read_states([f for f in kc.other_files])
    out = NodeStates(kube=kc)
    notes = Notes()
    notes.extend(read_notes)
    used = []
    for st in states:
        if st.networks or st.dockers:
            used.append(st)
            continue
        notes.add(
            KSpan(st.files[0], 1, 1),
            f"the node state in {st.directory} has no network (Get-HnsNetwork or docker network inspect): "
            "its endpoints, policy lists and routes are read but not used",
            "skipped-object",
        )
    states = used
    out.files = [f for st in states for f in st.files]
    if not states:
        out.notes = notes.items if out.files else []
        return out
    gone = set(out.files)
    out.kube = replace(
        kc,
        notes=tuple(n for n in kc.notes if not (n.code == "not-kubernetes" and n.span.file in gone)),
        other_files=tuple(f for f in kc.other_files if f not in gone),
    )
    by_ip = {ip: n for n in kc.nodes for ip in (_v4(a) for a in n.internal_ips) if ip is not None}
    kpods = {
        ip: p for p in kc.pods if not p.host_network for ip in (_v4(a) for a in p.pod_ips) if ip is not None
    }
    placed = []
    names: set[str] = set()
    for st in states:
        got = host_address(st) or _from_kubernetes(kc, st, kpods)
        if got is None:
            raise input_error(
                KSpan(st.files[0], 1, 1),
                f"the node state in {st.directory} gives no host address: add the HNS network's "
                "ManagementIP (Get-HnsNetwork) or the host's routes (Get-NetRoute | ConvertTo-Json)",
            )
        ip, alias = got
        kn = by_ip.get(ip)
        if kn is not None:
            name = kn.name
        else:
            base = os.path.basename(os.path.abspath(st.directory))
            name = writable(base, "windows")
            notes.assumed(
                KSpan(st.files[0], 1, 1),
                f"the node whose state is in {st.directory} (address {ip}) is named {name}, after its directory "
                "(no Kubernetes Node among the inputs has that InternalIP)",
            )
        if name in names:
            raise input_error(
                KSpan(st.files[0], 1, 1),
                f"two node states are named {name}: put each node's files in a directory of its own",
            )
        names.add(name)
        placed.append((name, ip, st, alias))
    seg_of = segments_for(notes, placed, segments)
    dr_macs = {  # each node's VTEP MAC as the other nodes' RemoteSubnetRoute policies name it
        rs.provider: rs.dr_mac for st in states for n in st.networks for rs in n.remote_subnets if rs.dr_mac
    }
    known = {s.name for s in segments}
    for name, ip, st, alias in placed:
        seg = seg_of[name]
        if seg.name not in known:
            known.add(seg.name)
            out.segments.append(seg)
        built = build_node(notes, st, name, ip, alias, seg, kpods, dr_macs)
        out.nodes.append(built.node)
        out.policies += built.policies
        out.matched |= built.matched
    out.notes = notes.items
    return out
