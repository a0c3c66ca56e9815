"""Hypothesis strategies for random *realizable* Linux topologies.

Address plan: segment ``lan`` 10.0.0.0/24 (node I at 10.0.0.I, gateway at
.254), node I's pods in 10.1.I.0/24 on bridge ``br0`` (10.1.I.1, pods from
.2), node I's VXLAN device ``flannel.1`` with 10.1.I.0/32 (flannel's
layout), node I's macvlan pods (children of eth0, ``mv0``) at 10.0.0.1IJ,
Service VIPs 10.96.0.I. Everything a random choice can break is
broken on purpose some of the time: node routes (missing, via the wrong
node, through the wrong device), VXLAN peers (fdb to the wrong VTEP, wrong
neighbour MAC, missing entries), pod routes, forwarding, filters and
masquerade exceptions.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from hypothesis import strategies as st

from l2l3.model.network import derive_mac
from l2l3.model.types import (
    OS,
    Action,
    Backend,
    Bridge,
    BridgeKind,
    Dnat,
    External,
    Fdb,
    Filter,
    Neighbor,
    Nic,
    Node,
    Pod,
    Proto,
    Route,
    Segment,
    SourceNat,
    Spec,
    Vxlan,
)

A = IPv4Address
N = IPv4Network
VX = "flannel.1"


def subnet(i: int) -> IPv4Network:
    return N(f"10.1.{i}.0/24")


def vx_mac(i: int) -> str:
    return derive_mac(f"n{i}/{VX}")


@st.composite
def topologies(draw: st.DrawFn, max_nodes: int = 4, max_pods: int = 4) -> Spec:
    n = draw(st.integers(1, max_nodes), label="nodes")
    ids = list(range(1, n + 1))
    gateway = draw(st.booleans(), label="gateway")
    seg = Segment(name="lan", prefix=N("10.0.0.0/24"), gateway=A("10.0.0.254") if gateway else None)
    externals: tuple[External, ...] = ()
    if gateway:
        ext = draw(st.sampled_from([("web", "198.51.100.0/24"), ("internet", "0.0.0.0/0")]), label="external")
        externals = (External(name=ext[0], prefix=N(ext[1]), via="lan"),)
    has_vx = {i: draw(st.booleans(), label=f"vxlan n{i}") for i in ids}
    pod_ips: list[IPv4Address] = []
    counts = {i: draw(st.integers(1, max_pods), label=f"pods n{i}") for i in ids}
    for i in ids:
        pod_ips += [A(f"10.1.{i}.{j + 2}") for j in range(counts[i])]
    nodes = []
    for i in ids:
        bridge_ip = draw(st.sampled_from([True] * 7 + [False]), label="bridge ip")
        br = Bridge(
            name="br0",
            kind=BridgeKind.LINUX,
            ip=IPv4Interface(f"10.1.{i}.1/24") if bridge_ip else None,
            isolated_ports=draw(st.sampled_from([False] * 5 + [True]), label="isolated"),
        )
        pods = []
        for j in range(counts[i]):
            routes: tuple[Route, ...] = ()
            kind = draw(
                st.sampled_from(["default"] * 6 + ["scope-link", "wrong-gw", "none-but-pods"]),
                label="pod route",
            )
            if kind == "scope-link":
                routes = (Route(prefix=N("0.0.0.0/0"), dev="eth0"),)
            elif kind == "wrong-gw":
                # may be the pod's own address: Linux then treats the route as on-link
                wrong = [99, 2, 3]
                routes = (Route(prefix=N("0.0.0.0/0"), via=A(f"10.1.{i}.{draw(st.sampled_from(wrong))}")),)
            elif kind == "none-but-pods" and bridge_ip:
                routes = (Route(prefix=N("10.1.0.0/16"), via=A(f"10.1.{i}.1")),)
            pods.append(
                Pod(name=f"p{j}", ip=IPv4Interface(f"10.1.{i}.{j + 2}/24"), bridge="br0", routes=routes)
            )
        bridges = [br]
        n_mv = draw(st.sampled_from([0] * 6 + [1, 2]), label="macvlan pods")
        if n_mv:
            # macvlan children of eth0: pods on the LAN itself, walled off from their host
            bridges.append(Bridge(name="mv0", kind=BridgeKind.MACVLAN, uplink="eth0"))
            for j in range(n_mv):
                proutes: tuple[Route, ...] = ()
                if gateway and draw(st.booleans(), label="macvlan default"):
                    proutes = (Route(prefix=N("0.0.0.0/0"), via=A("10.0.0.254"), dev="eth0"),)
                pods.append(
                    Pod(
                        name=f"m{j}",
                        ip=IPv4Interface(f"10.0.0.{100 + 10 * i + j}/24"),
                        bridge="mv0",
                        routes=proutes,
                    )
                )
        routes = []
        neighbors = []
        fdbs = []
        for k in ids:
            if k == i:
                continue
            over_vx = has_vx[i] and has_vx[k] and draw(st.booleans(), label="route over vxlan")
            if over_vx:
                fate = draw(
                    st.sampled_from(["right"] * 4 + ["fdb-wrong", "mac-wrong", "no-fdb", "no-neigh"]),
                    label="vx peer",
                )
                routes.append(Route(prefix=subnet(k), via=A(f"10.1.{k}.0"), dev=VX, onlink=True))
                mac = vx_mac(k)
                if fate == "mac-wrong":
                    others = [m for m in ids if m != k]
                    mac = vx_mac(draw(st.sampled_from(others)))
                if fate != "no-neigh":
                    neighbors.append(Neighbor(ip=A(f"10.1.{k}.0"), mac=mac, dev=VX))
                dst = A(f"10.0.0.{k}")
                if fate == "fdb-wrong":
                    dst = A(f"10.0.0.{draw(st.sampled_from([m for m in ids if m != k] or [k]))}")
                if fate != "no-fdb":
                    fdbs.append(Fdb(mac=vx_mac(k), dst=dst, dev=VX))
                if fate == "mac-wrong" and mac != vx_mac(k):
                    m = next(x for x in ids if vx_mac(x) == mac)
                    fdbs.append(Fdb(mac=mac, dst=A(f"10.0.0.{m}"), dev=VX))
                continue
            fate = draw(
                st.sampled_from(["right"] * 4 + ["none", "wrong-via", "wrong-dev"]), label="peer route"
            )
            if fate == "right":
                routes.append(Route(prefix=subnet(k), via=A(f"10.0.0.{k}"), dev="eth0"))
            elif fate == "wrong-via":
                wrong = [*ids, 200]  # via itself too: then the route acts as on-link
                routes.append(
                    Route(prefix=subnet(k), via=A(f"10.0.0.{draw(st.sampled_from(wrong))}"), dev="eth0")
                )
            elif fate == "wrong-dev":
                routes.append(Route(prefix=subnet(k), via=A(f"10.0.0.{k}"), dev="br0"))
        if gateway and draw(st.booleans(), label="default route"):
            routes.append(Route(prefix=N("0.0.0.0/0"), via=A("10.0.0.254"), dev="eth0"))
        vxlans: tuple[Vxlan, ...] = ()
        if has_vx[i]:
            vxlans = (
                Vxlan(
                    name=VX,
                    vni=1,
                    port=8472,
                    local=A(f"10.0.0.{i}"),
                    mac=vx_mac(i),
                    ip=IPv4Interface(f"10.1.{i}.0/32"),
                ),
            )
        snats = []
        for _ in range(draw(st.integers(0, 2), label="snats")):
            exc_pool = [N("10.1.0.0/16"), N("10.0.0.0/24"), N("198.51.100.0/24"), *[subnet(k) for k in ids]]
            exc = draw(st.lists(st.sampled_from(exc_pool), max_size=3, unique=True), label="exceptions")
            out = draw(st.sampled_from([None, "eth0", "eth0", *([VX] if has_vx[i] else [])]), label="out")
            to = draw(st.sampled_from([None, None, None, A(f"10.0.0.{i}")]), label="snat to")
            source = draw(st.sampled_from([subnet(i), subnet(i), N("10.1.0.0/16")]), label="snat from")
            snats.append(SourceNat(source=source, to=to, exceptions=tuple(exc), out=out))
        filters = []
        devs = [None, None, "eth0", "br0", *([VX] if has_vx[i] else [])]
        for _ in range(draw(st.integers(0, 2), label="filters")):
            filters.append(
                Filter(
                    action=draw(st.sampled_from([Action.ALLOW, Action.DENY, Action.DENY])),
                    in_dev=draw(st.sampled_from(devs)),
                    out_dev=draw(st.sampled_from(devs)),
                    source=draw(st.sampled_from([None, None, subnet(i), N("10.1.0.0/16"), N("10.0.0.0/24")])),
                    dest=draw(st.sampled_from([None, None, N("10.0.0.0/24"), *[subnet(k) for k in ids]])),
                    proto=draw(st.sampled_from([None, Proto.TCP, Proto.UDP, Proto.ICMP, Proto.SCTP])),
                    port=draw(st.sampled_from([None, None, 80, 443])),
                )
            )
        dnats = []
        if draw(st.sampled_from([False] * 5 + [True]), label="dnat"):
            back = draw(st.sampled_from(pod_ips))
            port = draw(st.sampled_from([None, 80]))
            dnats.append(
                Dnat(
                    vip=A(f"10.96.0.{i}"),
                    proto=draw(st.sampled_from([Proto.TCP, Proto.SCTP])) if port else None,
                    port=port,
                    backends=(Backend(ip=back),),
                )
            )
            # the node's own processes need a route to the VIP before OUTPUT DNAT
            if draw(st.booleans(), label="vip route"):
                routes.append(Route(prefix=N("10.96.0.0/16"), dev="eth0"))
        nodes.append(
            Node(
                name=f"n{i}",
                os=OS.LINUX,
                nics=(Nic(name="eth0", ip=IPv4Interface(f"10.0.0.{i}/24"), segment="lan"),),
                bridges=tuple(bridges),
                pods=tuple(pods),
                routes=tuple(routes),
                snats=tuple(snats),
                filters=tuple(filters),
                dnats=tuple(dnats),
                vxlans=vxlans,
                neighbors=tuple(neighbors),
                # several entries for one MAC are kept: the model must use only
                # the first, as Linux does (regressions/fdb-unicast-multi.l2l3)
                fdbs=tuple(fdbs),
                forwarding=draw(st.sampled_from([True] * 7 + [False]), label="forwarding"),
            )
        )
    return Spec(file="<generated>", segments=(seg,), externals=externals, nodes=tuple(nodes))
