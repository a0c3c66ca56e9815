"""Hypothesis strategies for ``connect`` differential cases: a realizable Linux
spec and a few ``connect`` / ``no connect`` queries over it.

Address plan as :mod:`tests.kernel.kgen`: segment ``lan`` 10.0.0.0/24 (node I
at 10.0.0.I, gateway .254 with external ``web`` 198.51.100.0/24), node I's
pods in 10.1.I.0/24 on bridge ``cni0`` (10.1.I.1, pods from .2), VIPs
10.96.0.I. What a connection can trip over is drawn on purpose:

- routes to a peer's pods: direct, through a third node (so the way back may
  differ from the way there: an asymmetric return path), or missing;
- masquerade as the bridge plugin's ``ipMasq`` writes it, as flannel's
  ``--ip-masq`` does (everything leaving the pod network), on a router for
  what it forwards, or a fixed ``snat``;
- a DNAT VIP (one or two backends, all or one protocol), other nodes routing
  the VIP range to its node, sometimes with the masquerade kube-proxy adds;
- stateless filters (from/to/protocol/port), forwarding off now and then.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from hypothesis import strategies as st

from l2l3.model.types import (
    OS,
    Action,
    AddressRef,
    Backend,
    Bridge,
    BridgeKind,
    Dnat,
    EndpointRef,
    External,
    ExternalRef,
    Filter,
    Headers,
    Nic,
    Node,
    NodeRef,
    Pod,
    PodRef,
    Proto,
    Route,
    Segment,
    SourceNat,
    Spec,
)

A = IPv4Address
N = IPv4Network
PODS = N("10.1.0.0/16")


def _subnet(i: int) -> IPv4Network:
    return N(f"10.1.{i}.0/24")


@st.composite
def connect_specs(draw: st.DrawFn) -> Spec:
    """A 2-3 node Linux spec with the shapes listed in the module docstring."""
    n = draw(st.integers(2, 3), label="nodes")
    ids = list(range(1, n + 1))
    gateway = draw(st.sampled_from([False, False, True]), label="gateway")
    seg = Segment(name="lan", prefix=N("10.0.0.0/24"), gateway=A("10.0.0.254") if gateway else None)
    externals = (External(name="web", prefix=N("198.51.100.0/24"), via="lan"),) if gateway else ()
    counts = {i: draw(st.integers(1, 2), label=f"pods n{i}") for i in ids}
    pod_ips = [A(f"10.1.{i}.{j + 2}") for i in ids for j in range(counts[i])]
    vip_node = draw(st.sampled_from([None, None, *ids]), label="dnat node")
    nodes = []
    for i in ids:
        routes: list[Route] = []
        for k in ids:
            if k == i:
                continue
            routers = [r for r in ids if r not in (i, k)]
            fate = draw(st.sampled_from(["direct"] * 5 + ["router"] * 2 + ["none"]), label="peer route")
            if fate == "router" and routers:
                routes.append(Route(prefix=_subnet(k), via=A(f"10.0.0.{draw(st.sampled_from(routers))}")))
            elif fate != "none":
                routes.append(Route(prefix=_subnet(k), via=A(f"10.0.0.{k}"), dev="eth0"))
        if vip_node is not None and vip_node != i and draw(st.booleans(), label="vip route"):
            routes.append(Route(prefix=N("10.96.0.0/16"), via=A(f"10.0.0.{vip_node}"), dev="eth0"))
        elif vip_node == i and draw(st.booleans(), label="own vip route"):
            routes.append(Route(prefix=N("10.96.0.0/16"), dev="eth0"))  # OUTPUT DNAT needs a route
        if gateway and draw(st.booleans(), label="default route"):
            routes.append(Route(prefix=N("0.0.0.0/0"), via=A("10.0.0.254"), dev="eth0"))
        snats = []
        masq = draw(
            st.sampled_from(["none"] * 3 + ["ipmasq", "flannel", "router", "snat"]), label="masquerade"
        )
        if masq == "ipmasq":  # bridge plugin: per pod, everything but its own subnet and multicast
            snats += [
                SourceNat(source=N(f"{ip}/32"), exceptions=(_subnet(i), N("224.0.0.0/4")))
                for ip in pod_ips
                if ip in _subnet(i)
            ]
        elif masq == "flannel":
            snats.append(SourceNat(source=_subnet(i), exceptions=(PODS,)))
        elif masq == "router":
            snats.append(SourceNat(source=PODS, out="eth0"))
        elif masq == "snat":
            snats.append(SourceNat(source=_subnet(i), to=A(f"10.0.0.{i}"), exceptions=(_subnet(i),)))
        filters = []
        for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]), label="filters")):
            nets = [None, None, N("10.0.0.0/24"), PODS, *[_subnet(k) for k in ids]]
            proto = draw(st.sampled_from([None, Proto.TCP, Proto.UDP, Proto.ICMP]), label="filter proto")
            filters.append(
                Filter(
                    action=draw(st.sampled_from([Action.DENY, Action.DENY, Action.ALLOW])),
                    source=draw(st.sampled_from(nets), label="filter from"),
                    dest=draw(st.sampled_from(nets), label="filter to"),
                    proto=proto,
                    port=draw(st.sampled_from([None, 80])) if proto in (Proto.TCP, Proto.UDP) else None,
                )
            )
        dnats = []
        if vip_node == i:
            backs = draw(
                st.lists(st.sampled_from(pod_ips), min_size=1, max_size=2, unique=True), label="backends"
            )
            proto = draw(st.sampled_from([None, None, Proto.TCP, Proto.UDP]), label="dnat proto")
            dnats.append(
                Dnat(
                    vip=A(f"10.96.0.{i}"),
                    proto=proto,
                    port=80 if proto is not None else None,
                    backends=tuple(Backend(ip=b) for b in backs),
                )
            )
            if draw(st.booleans(), label="vip masquerade"):  # kube-proxy's KUBE-MARK-MASQ, roughly
                snats.append(SourceNat(source=N("10.0.0.0/8"), exceptions=(_subnet(i),), out="eth0"))
        pods = tuple(
            Pod(name=f"p{j}", ip=IPv4Interface(f"10.1.{i}.{j + 2}/24"), bridge="cni0")
            for j in range(counts[i])
        )
        nodes.append(
            Node(
                name=f"n{i}",
                os=OS.LINUX,
                nics=(Nic(name="eth0", ip=IPv4Interface(f"10.0.0.{i}/24"), segment="lan"),),
                bridges=(Bridge(name="cni0", kind=BridgeKind.LINUX, ip=IPv4Interface(f"10.1.{i}.1/24")),),
                pods=pods,
                routes=tuple(routes),
                snats=tuple(snats),
                filters=tuple(filters),
                dnats=tuple(dnats),
                forwarding=draw(st.sampled_from([True] * 9 + [False]), label="forwarding"),
            )
        )
    return Spec(file="<generated>", segments=(seg,), externals=externals, nodes=tuple(nodes))


@st.composite
def connect_cases(draw: st.DrawFn, queries: int = 4) -> tuple[Spec, list[object]]:
    """A spec of :func:`connect_specs` and ``queries`` connect / no connect queries over it."""
    from l2l3.model.types import Connect

    spec = draw(connect_specs())
    pods = [PodRef(node=nd.name, pod=p.name) for nd in spec.nodes for p in nd.pods]
    srcs: list[EndpointRef] = [*pods, *pods, *[NodeRef(node=nd.name) for nd in spec.nodes]]
    dsts: list[EndpointRef] = [*pods, *pods]
    dsts += [AddressRef(prefix=N(f"{d.vip}/32")) for nd in spec.nodes for d in nd.dnats] * 2
    dsts += [AddressRef(prefix=N(f"{nd.nics[0].ip.ip}/32")) for nd in spec.nodes]
    if spec.externals:
        srcs.append(ExternalRef(name="web"))
        dsts.append(ExternalRef(name="web"))
    out: list[object] = []
    for _ in range(queries):
        proto = draw(st.sampled_from([Proto.TCP, Proto.TCP, Proto.UDP, Proto.UDP, Proto.ICMP]), label="proto")
        src = draw(st.sampled_from(srcs), label="src")
        out.append(
            Connect(
                src=src,
                dst=draw(st.sampled_from([d for d in dsts if d != src]), label="dst"),
                headers=Headers(proto=proto, port=80 if proto != Proto.ICMP else None),
                negated=draw(st.sampled_from([False, False, True]), label="negated"),
            )
        )
    return spec, out
