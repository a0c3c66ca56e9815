"""Hypothesis strategies for small random networks built from the model types.

Addresses come from a small plan so that a finite header domain covers every
behaviour: node NICs 10.0.0.N on segment ``lan``, node N's pod subnet
10.1.N.0/24 with the bridge at .1 and pods from .2, Service VIPs 10.96.0.N.
:func:`header_domain` lists one packet per class a spec can tell apart.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from hypothesis import strategies as st

from l2l3.model.network import Network
from l2l3.model.types import (
    OS,
    Action,
    Backend,
    Bridge,
    BridgeKind,
    CidrPeer,
    ContainerPort,
    Dnat,
    External,
    Filter,
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
    Segment,
    SelectorOp,
    SelectorPeer,
    SourceNat,
    Spec,
    StackMode,
)

A = IPv4Address
N = IPv4Network
PORTS = (80, 443)
#: container ports of rich_networks' pods: "http" is 80 on some, 443 on others; "metrics" is SCTP
_CONTAINER_PORTS = [
    (),
    (ContainerPort(port=80, name="http"),),
    (ContainerPort(port=443, name="http"), ContainerPort(port=443, proto=Proto.SCTP, name="metrics")),
]


def _pod_subnet(i: int) -> IPv4Network:
    return N(f"10.1.{i}.0/24")


@st.composite
def networks(draw: st.DrawFn, max_nodes: int = 3, max_pods: int = 2) -> Spec:
    n_nodes = draw(st.integers(1, max_nodes))
    gateway = draw(st.booleans())
    seg = Segment(name="lan", prefix=N("10.0.0.0/24"), gateway=A("10.0.0.254") if gateway else None)
    externals = (External(name="net", prefix=N("0.0.0.0/0"), via="lan"),) if gateway else ()
    nodes = []
    pod_ips: list[IPv4Address] = []
    for i in range(1, n_nodes + 1):
        n_pods = draw(st.integers(0, max_pods))
        kind = draw(st.sampled_from([BridgeKind.LINUX, BridgeKind.LINUX, BridgeKind.VETH]))
        bridge_ip = draw(st.booleans()) or kind is BridgeKind.LINUX
        isolated = draw(st.booleans()) if kind is BridgeKind.LINUX else False
        br = Bridge(
            name="br0",
            kind=BridgeKind.LINUX if kind is BridgeKind.VETH and n_pods > 1 else kind,
            ip=IPv4Interface(f"10.1.{i}.1/24") if bridge_ip else None,
            isolated_ports=isolated,
        )
        pods = []
        for j in range(n_pods):
            ip = A(f"10.1.{i}.{j + 2}")
            pod_ips.append(ip)
            mode = draw(
                st.sampled_from([StackMode.NETNS, StackMode.NETNS, StackMode.NETNS, StackMode.NO_NETNS])
            )
            pods.append(Pod(name=f"p{j}", ip=IPv4Interface(f"{ip}/24"), bridge="br0", mode=mode))
        routes = []
        for k in range(1, n_nodes + 1):
            if k == i:
                continue
            choice = draw(st.sampled_from(["right", "right", "none", "wrong"]))
            if choice == "right":
                routes.append(Route(prefix=_pod_subnet(k), via=A(f"10.0.0.{k}"), dev="eth0"))
            elif choice == "wrong":
                routes.append(
                    Route(prefix=_pod_subnet(k), via=A(f"10.0.0.{draw(st.integers(1, n_nodes))}"), dev="eth0")
                )
        if gateway and draw(st.booleans()):
            routes.append(Route(prefix=N("0.0.0.0/0"), via=A("10.0.0.254"), dev="eth0"))
        snats = []
        if draw(st.booleans()):
            exc = draw(
                st.lists(
                    st.sampled_from([N("10.1.0.0/16"), _pod_subnet(i), N("10.0.0.0/24")]),
                    max_size=2,
                    unique=True,
                )
            )
            out = draw(st.sampled_from([None, "eth0"]))
            snats.append(SourceNat(source=_pod_subnet(i), exceptions=tuple(exc), out=out))
        filters = []
        for _ in range(draw(st.integers(0, 2))):
            filters.append(
                Filter(
                    action=draw(st.sampled_from([Action.ALLOW, Action.DENY])),
                    source=draw(st.sampled_from([None, _pod_subnet(i), N("10.1.0.0/16")])),
                    dest=draw(st.sampled_from([None, *[_pod_subnet(k) for k in range(1, n_nodes + 1)]])),
                    proto=draw(st.sampled_from([None, Proto.TCP, Proto.UDP, Proto.ICMP, Proto.SCTP])),
                    port=draw(st.sampled_from([None, 80])),
                    in_dev=draw(st.sampled_from([None, "eth0", "br0"])),
                )
            )
        filters = [
            f
            if f.proto in (Proto.TCP, Proto.UDP, Proto.SCTP) or f.port is None
            else Filter(
                action=f.action, source=f.source, dest=f.dest, proto=Proto.TCP, port=f.port, in_dev=f.in_dev
            )
            for f in filters
        ]
        dnats = []
        if pod_ips and draw(st.booleans()):
            backs = draw(st.lists(st.sampled_from(pod_ips), min_size=1, max_size=2, unique=True))
            port = draw(st.sampled_from([None, 80]))
            dnats.append(
                Dnat(
                    vip=A(f"10.96.0.{i}"),
                    proto=draw(st.sampled_from([Proto.TCP, Proto.SCTP])) if port else None,
                    port=port,
                    backends=tuple(Backend(ip=b, port=draw(st.sampled_from([None, 443]))) for b in backs),
                )
            )
        nodes.append(
            Node(
                name=f"n{i}",
                os=OS.LINUX,
                nics=(Nic(name="eth0", ip=IPv4Interface(f"10.0.0.{i}/24"), segment="lan"),),
                bridges=(br,),
                pods=tuple(pods),
                routes=tuple(routes),
                snats=tuple(snats),
                filters=tuple(filters),
                dnats=tuple(dnats),
                forwarding=draw(st.sampled_from([True, True, True, False])),
            )
        )
    return Spec(segments=(seg,), externals=externals, nodes=tuple(nodes))


def header_domain(net: Network) -> list[tuple[IPv4Address, Proto, int]]:
    """(dst, proto, dport) covering every class of packet the network can tell apart."""
    dsts = set(net.owners)
    for st_ in net.stacks.values():
        for d in st_.dnats:
            dsts.add(d.vip)
    dsts |= {A("10.1.1.200"), A("8.8.8.8"), A("10.0.0.200")}
    dsts |= _region_representatives(net)
    ports = sorted({*PORTS, 9} | _policy_ports(net))
    out = []
    for d in sorted(dsts):
        out.append((d, Proto.ICMP, 0))
        for p in (Proto.TCP, Proto.UDP, Proto.SCTP):
            for port in ports:
                out.append((d, p, port))
    return out


def _policy_ports(net: Network) -> set[int]:
    """Ports at the edges of policy port ranges, and the pods' container ports."""
    out: set[int] = set()
    for pol in net.policies:
        for r in (*pol.ingress, *pol.egress):
            for ps in r.ports:
                if isinstance(ps.port, int):
                    out.add(ps.port)
                    if ps.end_port is not None:
                        out |= {ps.end_port, min(ps.port + 1, ps.end_port), min(ps.end_port + 1, 65535)}
    out |= {c.port for info in net.pods.values() for c in info.pod.ports}
    return out


def _prefixes(net: Network) -> set[IPv4Network]:
    out: set[IPv4Network] = {N("10.1.0.0/16"), N("10.96.0.0/16")}
    for s in net.stacks.values():
        out |= {r.prefix for r in s.routes}
        for r in s.snats:
            out |= {r.source, *r.exceptions}
        for f in s.filters:
            out |= {p for p in (f.source, f.dest) if p is not None}
    out |= {e.prefix for e in net.spec.externals}
    return out


def _region_representatives(net: Network) -> set[IPv4Address]:
    """Addresses at the edges of every prefix and of every hole cut into one."""
    prefixes = _prefixes(net)
    out: set[IPv4Address] = set()
    top = int(A("255.255.255.255"))
    for p in prefixes:
        lo, hi = int(p.network_address), int(p.broadcast_address)
        out |= {A(lo), A(hi), A(min(lo + 1, top))}
        for q in prefixes:
            if q != p and q.subnet_of(p):
                b, a = int(q.network_address) - 1, int(q.broadcast_address) + 1
                if b >= lo:
                    out.add(A(b))
                if a <= hi:
                    out.add(A(a))
    return out


@st.composite
def rich_networks(draw: st.DrawFn) -> Spec:
    """:func:`networks` plus Windows l2bridge nodes, OutBoundNAT, route-to-host,
    proxy ARP, NetworkPolicies (selector peers with expressions, namespace labels,
    ipBlocks, port ranges, named and SCTP ports) and a VXLAN tunnel (right or
    wrong) between n1 and n2."""
    from dataclasses import replace

    from l2l3.model.types import Fdb, Neighbor, OutboundNat, ProxyArp, RouteToHost, Vxlan

    spec = draw(networks())
    nodes = []
    for node in spec.nodes:
        i = int(node.name[1:])
        pods = tuple(
            replace(
                p,
                namespace=f"ns{j % 2}",
                labels=(("app", f"a{j}"), *((("tier", "front"),) if (i + j) % 2 else ())),
                ports=draw(st.sampled_from(_CONTAINER_PORTS)),
            )
            for j, p in enumerate(node.pods)
        )
        node = replace(node, pods=pods, enforce_policy=draw(st.booleans()))
        if draw(st.booleans()):
            br = node.bridges[0]
            node = replace(
                node,
                os=OS.WINDOWS,
                bridges=(
                    replace(
                        br,
                        kind=BridgeKind.L2BRIDGE,
                        ip=IPv4Interface(f"10.1.{i}.1/24"),
                        uplink="eth0",
                        isolated_ports=False,
                    ),
                ),
                pods=tuple(replace(p, mode=StackMode.NETNS) for p in pods),
                outbound_nats=(
                    OutboundNat(
                        bridge="br0",
                        exceptions=tuple(
                            draw(
                                st.lists(
                                    st.sampled_from([N("10.1.0.0/16"), N("10.0.0.0/24")]),
                                    unique=True,
                                    max_size=2,
                                )
                            )
                        ),
                    ),
                )
                if draw(st.booleans())
                else (),
                routes_to_host=(RouteToHost(bridge="br0", prefix=N("10.96.0.0/16")),)
                if draw(st.booleans())
                else (),
                snats=(),
            )
        elif draw(st.booleans()):
            node = replace(node, proxy_arps=(ProxyArp(dev=draw(st.sampled_from(["br0", "eth0"]))),))
        nodes.append(node)
    if len(nodes) >= 2 and draw(st.booleans()):
        right = draw(st.booleans())
        macs = ("8e:00:00:00:00:01", "8e:00:00:00:00:02")
        for a, b in ((0, 1), (1, 0)):
            n, peer = nodes[a], nodes[b]
            pi = int(peer.name[1:])
            vx = Vxlan(
                name="vx0",
                vni=1,
                local=A(f"10.0.0.{int(n.name[1:])}"),
                mac=macs[a],
                ip=IPv4Interface(f"10.9.{a}.0/32"),
            )
            dst = A(f"10.0.0.{pi}") if right or a == 0 else A("10.0.0.250")
            nodes[a] = replace(
                n,
                vxlans=(vx,),
                routes=(
                    Route(prefix=_pod_subnet(pi), via=A(f"10.9.{b}.0"), dev="vx0", onlink=True),
                    *[r for r in n.routes if r.prefix != _pod_subnet(pi)],
                ),
                neighbors=(Neighbor(ip=A(f"10.9.{b}.0"), mac=macs[b], dev="vx0"),),
                fdbs=(Fdb(mac=macs[b], dst=dst, dev="vx0"),),
            )
    policies = [draw(_policy(ns)) for ns in ("ns0", "ns1") if draw(st.booleans())]
    namespaces = tuple(
        NamespaceDecl(name=ns, labels=(("team", team),))
        for ns, team in (("ns0", "a"), ("ns1", "b"))
        if draw(st.booleans())
    )
    return replace(spec, nodes=tuple(nodes), policies=tuple(policies), namespaces=namespaces)


#: selectors of pods (labels app=aJ, tier=front|back on some) and of namespaces (team=a|b on some)
_POD_SELECTORS = [
    LabelSelector(),
    LabelSelector(match=(("app", "a0"),)),
    LabelSelector(exprs=(LabelExpr(key="app", op=SelectorOp.IN, values=("a0", "a1")),)),
    LabelSelector(exprs=(LabelExpr(key="app", op=SelectorOp.NOT_IN, values=("a0",)),)),
    LabelSelector(exprs=(LabelExpr(key="tier", op=SelectorOp.EXISTS),)),
    LabelSelector(exprs=(LabelExpr(key="tier", op=SelectorOp.DOES_NOT_EXIST),)),
]
_NS_SELECTORS = [
    LabelSelector(),
    LabelSelector(match=(("kubernetes.io/metadata.name", "ns0"),)),
    LabelSelector(match=(("team", "a"),)),
    LabelSelector(exprs=(LabelExpr(key="team", op=SelectorOp.NOT_IN, values=("a",)),)),
    LabelSelector(exprs=(LabelExpr(key="team", op=SelectorOp.EXISTS),)),
]


@st.composite
def _policy(draw: st.DrawFn, ns: str) -> Policy:
    """A policy of namespace ``ns``: selector peers, ipBlocks, numbered, ranged, named and SCTP ports."""
    pods_sel = st.sampled_from(_POD_SELECTORS)
    peer = st.one_of(
        st.builds(SelectorPeer, pods=pods_sel),
        st.builds(SelectorPeer, namespaces=st.sampled_from(_NS_SELECTORS)),
        st.builds(SelectorPeer, pods=pods_sel, namespaces=st.sampled_from(_NS_SELECTORS)),
        st.builds(
            CidrPeer, cidr=st.just(N("10.1.0.0/16")), exceptions=st.sampled_from([(), (N("10.1.1.0/24"),)])
        ),
    )
    port = st.sampled_from(
        [
            PortSpec(proto=Proto.TCP, port=80),
            PortSpec(proto=Proto.TCP, port=80, end_port=443),
            PortSpec(proto=Proto.TCP, port="http"),
            PortSpec(proto=Proto.SCTP, port="metrics"),
            PortSpec(proto=Proto.SCTP),
            PortSpec(proto=Proto.UDP, port=443),
        ]
    )
    rule = st.builds(
        PolicyRule,
        peers=st.lists(peer, max_size=2).map(tuple),
        ports=st.lists(port, max_size=2).map(tuple),
    )
    egress = draw(st.lists(rule, max_size=1))
    types = draw(st.sampled_from([None, frozenset({"ingress", "egress"})]))
    return Policy(
        name=f"pol-{ns}",
        namespace=ns,
        select=draw(pods_sel),
        ingress=tuple(draw(st.lists(rule, min_size=0, max_size=2))),
        egress=tuple(egress),
        types=types,
    )
