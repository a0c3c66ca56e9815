"""Services as kube-proxy programs them: ``service`` statements -> node-stack DNAT and filters.

Every rule is an existing primitive (:class:`~l2l3.model.types.Dnat`,
:class:`~l2l3.model.types.Filter`) carrying the Service's span, so a witness
hop cites the ``service`` line (or the manifest line it came from). The
rules are derived when the :class:`~l2l3.model.network.Network` is built
(:func:`program`), not written into the nodes, so expanding a spec twice
changes nothing; ``l2l3 expand`` lists them (:func:`describe`).

Linux, kube-proxy iptables mode (kubernetes/kubernetes
``pkg/proxy/iptables/proxier.go``, ``syncProxyRules``):

- ``KUBE-SERVICES`` is jumped to first from nat PREROUTING and OUTPUT: one
  DNAT per Service port, cluster IP and port -> one ready endpoint at its
  target port (``KUBE-SVC-*`` picks one with ``statistic`` rules; the model
  lets the search pick any one: the choice is existential).
- ``KUBE-MARK-MASQ`` (mark 0x4000, masqueraded in ``KUBE-POSTROUTING``,
  jumped to first from nat POSTROUTING): for cluster-IP traffic from outside
  the cluster CIDR (``! -s clusterCIDR``, the ``ClusterCIDR`` local-traffic
  detector; with no pod-cidr no such rule), for every endpoint reaching
  itself (``KUBE-SEP-*``: ``-s EP -j KUBE-MARK-MASQ``, hairpin), and for all
  external traffic (NodePort, externalIPs, load-balancer IPs) of an
  ``externalTrafficPolicy: Cluster`` Service (``KUBE-EXT-*``).
- NodePorts on every local address of the node (``-m addrtype --dst-type
  LOCAL -j KUBE-NODEPORTS``, the default with no ``--nodeport-addresses``).
- ``externalTrafficPolicy: Local``: external traffic goes to local
  endpoints only (``KUBE-SVL-*``) and keeps its source; traffic from pods
  (``-s clusterCIDR``) and from the node itself (``--src-type LOCAL``, with
  the mark) still goes to every endpoint; with no local endpoint external
  traffic is dropped (filter ``KUBE-EXTERNAL-SERVICES``).
- ``internalTrafficPolicy: Local``: cluster-IP traffic goes to the node's
  own endpoints only; none is a drop (filter ``KUBE-SERVICES``).
- No ready endpoint at all: the cluster IP is rejected (filter
  ``KUBE-SERVICES`` ``REJECT``), modelled as a deny filter in INPUT/FORWARD.

Windows, kube-proxy winkernel (``pkg/proxy/winkernel/proxier.go``): one HNS
load balancer per Service port and VIP over every endpoint (local ones and
remote ones), modelled as a DNAT in the host stack (pod traffic to the
Service CIDR reaches the host by the ROUTE/SDNRoute NeedEncap policy the
profiles write as ``route-to-host``). With DSR (``WINKERNEL_DSR``, on by
default since Kubernetes 1.33, GA in 1.34) the backend sees the client's
address; NodePort load balancers act on traffic arriving at the node, not
on the node's own (``inbound_only``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from l2l3.model.services import Service, ServicePort, ServiceType, TrafficPolicy
from l2l3.model.types import OS, Action, Backend, Dnat, Filter, Span, StackMode

ANY = IPv4Network("0.0.0.0/0")

if TYPE_CHECKING:
    from l2l3.model.network import Network

__all__ = ["CHOICES", "Target", "describe", "program", "targets"]

# --------------------------------------------------------------------------
# Switches

#: kube-proxy ``--masquerade-all``: mark every cluster-IP packet for
#: masquerade (default false in proxier.go). Cluster option
#: ``kube-proxy-masquerade-all on|off`` overrides it per spec.
MASQUERADE_ALL = False
#: winkernel Direct Server Return (``WinDSR`` feature gate): beta and on by
#: default in 1.33, GA in 1.34 (Kubernetes release notes; CNI-SEMANTICS
#: §11.8). False: the load balancer rewrites the source to the node's
#: address (the "source VIP" of an l2bridge network is the node IP).
#: Cluster option ``windows-dsr on|off`` overrides it per spec.
WINKERNEL_DSR = True
#: Whether winkernel honours ``internalTrafficPolicy: Local`` like iptables
#: mode (it filters endpoints to local ones; not checked against HNS).
WINKERNEL_INTERNAL_LOCAL = True

CHOICES: dict[str, str] = {
    "MASQUERADE_ALL": "kube-proxy --masquerade-all (every cluster-IP packet is masqueraded)",
    "WINKERNEL_DSR": "Windows load balancers keep the client address (DSR, default since 1.33)",
    "WINKERNEL_INTERNAL_LOCAL": "winkernel applies internalTrafficPolicy: Local",
}


@dataclass(frozen=True, slots=True)
class Target:
    """One ready endpoint of one Service port: where the DNAT sends the packet."""

    port: ServicePort
    ip: IPv4Address
    target_port: int
    node: str | None  # the node whose stack holds the address (None: outside every node)
    stack: str | None  # the stack the address is delivered into


def _resolve_port(net: Network, p: ServicePort, pod_ports: tuple[object, ...]) -> int | None:
    if p.target is None:
        return p.port
    if isinstance(p.target, int):
        return p.target
    for cp in pod_ports:
        if getattr(cp, "name", None) == p.target and getattr(cp, "proto", None) == p.proto:
            return int(getattr(cp, "port"))  # noqa: B009
    return None  # the pod has no such named port: not an endpoint of this port


def targets(net: Network, svc: Service) -> list[Target]:
    """Every (Service port, ready endpoint) pair, target ports resolved per pod."""
    out: list[Target] = []
    if svc.endpoints is None:
        if svc.selector is None:
            return out
        for pid in net.pods_in_namespace(svc.namespace):
            info = net.pods[pid]
            if not svc.selector.matches(info.pod.labels):
                continue
            ip = (
                info.pod.ip.ip
                if info.pod.ip is not None and info.pod.mode is not StackMode.HOST_NETWORK
                else _primary(net, info.node)
            )
            if ip is None:
                continue
            for p in svc.ports:
                tp = _resolve_port(net, p, info.pod.ports)
                if tp is not None:
                    out.append(Target(p, ip, tp, info.node, info.stack))
        return out
    for ep in svc.endpoints:
        owner = net.owners.get(ep.ip)
        stack = owner[0].stack if owner else None
        node = net.stacks[stack].node if stack is not None else None
        pod = owner[0].pod if owner else None
        pod_ports = net.pods[pod].pod.ports if pod and pod in net.pods else ()
        given = dict(ep.ports)
        for p in svc.ports:
            tp = given.get(p.key)
            if tp is None:
                tp = _resolve_port(net, p, pod_ports)
            if tp is not None:
                out.append(Target(p, ep.ip, tp, node, stack))
    return out


def _primary(net: Network, node: str) -> IPv4Address | None:
    for i in net.stacks[node].ifaces.values():
        if i.primary is not None:
            return i.primary
    return None


def _backends(ts: list[Target]) -> tuple[Backend, ...]:
    seen: dict[Backend, None] = {}
    for t in ts:
        seen.setdefault(Backend(ip=t.ip, port=t.target_port), None)
    return tuple(seen)


def _cluster_ip(
    vip: IPv4Address,
    p: ServicePort,
    ts: list[Target],
    masq: tuple[IPv4Network, ...] | None,
    hairpin: bool,
    span: Span,
) -> Dnat:
    """The rule of a cluster IP and port: DNAT to one of ``ts``, with its KUBE-MARK-MASQ conditions."""
    return Dnat(
        vip=vip,
        proto=p.proto,
        port=p.port,
        backends=_backends(ts),
        masq_unless=masq,
        masq_hairpin=hairpin,
        span=span,
    )


def _deny(vip: IPv4Address, p: ServicePort, port: int, span: Span) -> Filter:
    return Filter(action=Action.DENY, dest=IPv4Network(vip), proto=p.proto, port=port, span=span)


def host_ports(net: Network, node: str, local: list[IPv4Address]) -> list[Dnat]:
    """The portmap plugin's rules for the hostPorts of ``node``'s pods (Linux).

    ``CNI-HOSTPORT-DNAT`` (nat PREROUTING and OUTPUT, ``-m addrtype
    --dst-type LOCAL``): every local address at the host port -> the pod at
    its container port; ``CNI-HOSTPORT-SETMARK`` marks what comes from the
    pod's own subnet (``-s <container network>``) and ``CNI-HOSTPORT-MASQ``
    masquerades it, so a pod reaching a host port arrives from the bridge's
    address (containernetworking/plugins ``plugins/meta/portmap``; seen in
    real namespaces, CNI-SEMANTICS "portmap (CNI 1.1.1)").
    """
    out: list[Dnat] = []
    for info in net.pods.values():
        if info.node != node or info.pod.ip is None:
            continue
        for cp in info.pod.ports:
            if cp.host_port is None:
                continue
            outside = tuple(ANY.address_exclude(info.pod.ip.network))  # mark iff from the subnet
            be = (Backend(ip=info.pod.ip.ip, port=cp.port),)
            out += [
                Dnat(
                    vip=a,
                    proto=cp.proto,
                    port=cp.host_port,
                    backends=be,
                    masq_unless=outside,
                    span=info.pod.span,
                )
                for a in local
            ]
    return out


def program(net: Network) -> dict[str, tuple[tuple[Dnat, ...], tuple[Filter, ...]]]:
    """node -> (DNAT rules, filter rules) kube-proxy (and portmap) program, in order."""
    spec = net.spec
    with_host_ports = {i.node for i in net.pods.values() if any(c.host_port for c in i.pod.ports)}
    if not spec.services and not with_host_ports:
        return {}
    cluster_cidr = spec.cluster.pod_cidr if spec.cluster is not None else None
    opts = {k.lower(): v.lower() for k, v in spec.cluster.options} if spec.cluster is not None else {}
    masq_all = opts.get("kube-proxy-masquerade-all", "on" if MASQUERADE_ALL else "off") == "on"
    dsr = opts.get("windows-dsr", "on" if WINKERNEL_DSR else "off") == "on"
    per_svc = [(svc, targets(net, svc)) for svc in spec.services]
    out: dict[str, tuple[tuple[Dnat, ...], tuple[Filter, ...]]] = {}
    for st in net.stacks.values():
        if st.kind != "node" or st.node is None:
            continue
        dnats: list[Dnat] = []
        filters: list[Filter] = []
        for svc, ts in per_svc:
            if st.os is OS.WINDOWS:
                _windows(st.node, svc, ts, _primary(net, st.node), dnats, dsr)
            else:
                ilb: tuple[IPv4Network, ...] | None = (
                    () if masq_all else ((cluster_cidr,) if cluster_cidr is not None else None)
                )
                _linux(st.node, sorted(st.local_addrs), svc, ts, cluster_cidr, ilb, dnats, filters)
        if st.node in with_host_ports and st.os is OS.LINUX:
            dnats += host_ports(net, st.node, sorted(st.local_addrs))
        if dnats or filters:
            out[st.node] = (tuple(dnats), tuple(filters))
    return out


def _linux(
    node: str,
    local: list[IPv4Address],
    svc: Service,
    ts: list[Target],
    cluster_cidr: IPv4Network | None,
    ilb_masq: tuple[IPv4Network, ...] | None,
    dnats: list[Dnat],
    filters: list[Filter],
) -> None:
    span = svc.span
    for p in svc.ports:
        mine = [t for t in ts if t.port is p]
        here = [t for t in mine if t.node == node]
        if svc.ip is not None:
            internal = here if svc.internal_policy is TrafficPolicy.LOCAL else mine
            if internal:
                dnats.append(_cluster_ip(svc.ip, p, internal, ilb_masq, True, span))
            else:
                filters.append(_deny(svc.ip, p, p.port, span))
        fronts: list[tuple[IPv4Address, int]] = [(ip, p.port) for ip in svc.external_ips]
        if p.node_port is not None and svc.type is not ServiceType.CLUSTER_IP:
            fronts += [(a, p.node_port) for a in local]
        for vip, port in fronts:
            base = Dnat(vip=vip, proto=p.proto, port=port, backends=(), masq_hairpin=True, span=span)
            if svc.external_policy is TrafficPolicy.CLUSTER:
                if mine:
                    dnats.append(replace(base, backends=_backends(mine), masq_unless=()))
                else:
                    filters.append(_deny(vip, p, port, span))
                continue
            if mine and cluster_cidr is not None:  # pods short-circuit to every endpoint
                dnats.append(replace(base, backends=_backends(mine), sources=(cluster_cidr,)))
            if mine:  # the node's own traffic: every endpoint, masqueraded
                own = tuple(IPv4Network(a) for a in local)
                dnats.append(replace(base, backends=_backends(mine), sources=own, masq_unless=()))
            if here:
                dnats.append(replace(base, backends=_backends(here)))
            else:
                filters.append(_deny(vip, p, port, span))


def _windows(
    node: str, svc: Service, ts: list[Target], node_ip: IPv4Address | None, dnats: list[Dnat], dsr: bool
) -> None:
    span = svc.span
    masq: tuple[IPv4Network, ...] | None = None if dsr else ()
    for p in svc.ports:
        mine = [t for t in ts if t.port is p]
        here = [t for t in mine if t.node == node]
        if svc.ip is not None:
            local_only = svc.internal_policy is TrafficPolicy.LOCAL and WINKERNEL_INTERNAL_LOCAL
            internal = here if local_only else mine
            if internal:
                dnats.append(_cluster_ip(svc.ip, p, internal, masq, False, span))
        fronts: list[tuple[IPv4Address, int]] = [(ip, p.port) for ip in svc.external_ips]
        if p.node_port is not None and svc.type is not ServiceType.CLUSTER_IP and node_ip is not None:
            fronts.append((node_ip, p.node_port))
        external = here if svc.external_policy is TrafficPolicy.LOCAL else mine
        for vip, port in fronts:
            if external:
                dnats.append(
                    Dnat(
                        vip=vip,
                        proto=p.proto,
                        port=port,
                        backends=_backends(external),
                        masq_unless=masq if svc.external_policy is TrafficPolicy.CLUSTER else None,
                        inbound_only=True,
                        span=span,
                    )
                )


def describe(d: Dnat) -> str:
    """How a generated rule reads in ``l2l3 expand`` (one line)."""
    words = [f"dnat {d.vip} {d.proto} port {d.port} to " + ", ".join(f"{b.ip}:{b.port}" for b in d.backends)]
    if d.sources:
        words.append("from " + ", ".join(map(str, d.sources)))
    if d.masq_unless == ():
        words.append("masquerade (every packet)")
    elif _only_from(d.masq_unless) is not None:
        words.append(f"masquerade from {_only_from(d.masq_unless)}")
    elif d.masq_unless:
        words.append("masquerade unless from " + ", ".join(map(str, d.masq_unless)))
    if d.masq_hairpin:
        words.append("masquerade hairpin")
    if d.inbound_only:
        words.append("inbound only")
    return " ".join(words)


def _only_from(unless: tuple[IPv4Network, ...] | None) -> IPv4Network | None:
    """The network N when ``unless`` is the complement of N (portmap's ``-s <subnet>`` mark)."""
    if not unless or len(unless) < 2:
        return None
    longest = max(unless, key=lambda n: n.prefixlen)
    cand = next(n for n in longest.supernet().subnets() if n != longest)
    return cand if set(ANY.address_exclude(cand)) == set(unless) else None


def _chain(d: Dnat, os: OS) -> str:
    if _only_from(d.masq_unless) is not None:
        return "CNI-HOSTPORT-DNAT, CNI-HOSTPORT-SETMARK for the pod's subnet (portmap)"
    if os is OS.WINDOWS:
        return "HNS load balancer" + (" (NodePort: traffic arriving at the node)" if d.inbound_only else "")
    if d.sources:
        return "KUBE-EXT (externalTrafficPolicy Local: pods and the node itself to every endpoint)"
    return "KUBE-SERVICES -> KUBE-SVC/KUBE-EXT -> KUBE-SEP"


def expansion_text(net: Network) -> str:
    """The rules kube-proxy adds, per node, as comment lines (``l2l3 expand``): each cites its Service."""
    rules = program(net)
    if not rules:
        return ""
    names = {(s.span.file, s.span.line): f"service {s.ref}" for s in net.spec.services}
    names.update(
        {(i.pod.span.file, i.pod.span.line): f"pod {i.id} (hostPort, portmap)" for i in net.pods.values()}
    )
    out = [
        "",
        "# kube-proxy: the rules each node's Services add, first in their chains (l2l3.model.profiles.services)",
    ]
    for node, (dnats, filters) in rules.items():
        os = net.stacks[node].os
        out.append(f"# node {node} ({'winkernel' if os is OS.WINDOWS else 'iptables mode'}):")
        for d in dnats:
            src = f"{names.get((d.span.file, d.span.line), '?')} at {d.span.file}:{d.span.line}"
            out.append(f"#   {describe(d)}    # {src}: {_chain(d, os)}")
        for f in filters:
            src = f"{names.get((f.span.file, f.span.line), '?')} at {f.span.file}:{f.span.line}"
            rule = f"filter deny to {f.dest} {f.proto} port {f.port}"
            out.append(
                f"#   {rule}    # {src}: no ready endpoint here (filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES)"
            )
    return "\n".join(out) + "\n"
