"""CNI profile expansion: each expanded fact, pinned to its reference section.

``CNI-SEMANTICS §N`` is shared/reference/CNI-SEMANTICS.md; ``E2`` etc. are its
example configs (§10). Specs are built from the model types directly, so
these tests do not depend on the DSL. A few verdict tests run the concrete
simulator on the expansion.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from l2l3.errors import SpecError
from l2l3.model import profiles
from l2l3.model.network import Network
from l2l3.model.packet import Packet
from l2l3.model.profiles import _base as B
from l2l3.model.profiles import expand, expand_with_comments
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import (
    OS,
    BridgeKind,
    Cluster,
    Nic,
    Node,
    Pod,
    Proto,
    Route,
    Segment,
    SourceNat,
    Span,
    Spec,
    StackMode,
)

A = IPv4Address
N = IPv4Network
I = IPv4Interface  # noqa: E741

CLUSTER_SPAN = Span("t.l2l3", 1, 1)
SEG = Segment(name="lan", prefix=N("10.127.130.0/24"), gateway=A("10.127.130.1"))


def pod(name: str, ip: str, ns: str = "shop", line: int = 0) -> Pod:
    return Pod(name=name, ip=I(f"{ip}/32"), ip_has_prefix=False, namespace=ns, span=Span("t.l2l3", line, 5))


def mk(
    cni: str,
    *,
    win: bool = False,
    options: tuple[tuple[str, str], ...] = (),
    pod_cidr: str | None = "10.244.0.0/16",
    service: str | None = "10.96.0.0/12",
    segment: Segment = SEG,
) -> Spec:
    """Two nodes: lin1 (10.244.1.0/24, pods web .5 and db .6) and lin2/win1 (10.244.3.0/24, pod iis .4)."""
    second = "win1" if win else "lin2"
    return Spec(
        file="t.l2l3",
        cluster=Cluster(
            name="c",
            pod_cidr=N(pod_cidr) if pod_cidr else None,
            service_cidr=N(service) if service else None,
            cni=tuple(cni.split()),
            options=options,
            span=CLUSTER_SPAN,
        ),
        segments=(segment,),
        nodes=(
            Node(
                name="lin1",
                os=OS.LINUX,
                ip=A("10.127.130.37"),
                segment=segment.name,
                subnet=N("10.244.1.0/24"),
                pods=(pod("web", "10.244.1.5", line=11), pod("db", "10.244.1.6", line=12)),
                span=Span("t.l2l3", 10, 1),
            ),
            Node(
                name=second,
                os=OS.WINDOWS if win else OS.LINUX,
                ip=A("10.127.130.38"),
                segment=segment.name,
                subnet=N("10.244.3.0/24"),
                pods=(pod("iis", "10.244.3.4", line=21),),
                span=Span("t.l2l3", 20, 1),
            ),
        ),
    )


def node(spec: Spec, name: str) -> Node:
    return next(n for n in spec.nodes if n.name == name)


def the_pod(n: Node, name: str) -> Pod:
    return next(p for p in n.pods if p.name == name)


def bridge(n: Node, name: str):  # type: ignore[no-untyped-def]
    return next(b for b in n.bridges if b.name == name)


def routes(n: Node) -> set[tuple[str, str | None, str | None, bool]]:
    return {(str(r.prefix), str(r.via) if r.via else None, r.dev, r.onlink) for r in n.routes}


def snats(n: Node) -> list[tuple[str, tuple[str, ...], str | None]]:
    return [(str(s.source), tuple(map(str, s.exceptions)), s.out) for s in n.snats]


def send(net: Network, src: str, dst: str, proto: Proto = Proto.ICMP):  # type: ignore[no-untyped-def]
    if "/" in src:
        info = net.pods[src]
        assert info.pod.ip is not None
        ip, origin = info.pod.ip.ip, Origin(stack=info.stack, pod=src)
    else:
        st = net.stacks[src]
        r = net.lookup(st, A(dst))
        assert r is not None
        ip, origin = st.primary_addr(r.dev), Origin(stack=src)
    assert ip is not None
    traces = simulate(net, origin, Packet(src=ip, dst=A(dst), proto=proto))
    assert len(traces) == 1, [t.reason for t in traces]
    return traces[0]


def masq_matches(n: Node, src: str, dst: str) -> bool:
    """Would the node's masquerade lines rewrite src -> dst (first match, no out)?"""
    s, d = A(src), A(dst)
    return any(s in r.source and not any(d in e for e in r.exceptions) for r in n.snats)


# --------------------------------------------------------------------------
# General contract


def test_spec_without_cluster_is_returned_unchanged() -> None:
    s = replace(mk("bridge"), cluster=None)
    out, warns = expand(s)
    assert out is s and warns == []
    assert expand_with_comments(s) == (s, [], {})


@pytest.mark.parametrize(
    "cni",
    [
        "bridge",
        "flannel host-gw",
        "flannel vxlan",
        "calico bgp",
        "calico ipip",
        "calico vxlan",
        "antrea",
        "kindnet",
    ],
)
def test_deterministic_and_idempotent(cni: str) -> None:
    a, wa, ca = expand_with_comments(mk(cni))
    b, wb, cb = expand_with_comments(mk(cni))
    assert a == b and wa == wb and ca == cb
    assert repr(a) == repr(b)  # names and MACs too, not only compared fields
    again, _ = expand(a)
    assert again == a


@pytest.mark.parametrize(
    "cni,win",
    [
        ("bridge", False),
        ("flannel host-gw", True),
        ("flannel vxlan", True),
        ("calico bgp", True),
        ("calico ipip", False),
        ("calico vxlan", True),
        ("antrea", True),
        ("kindnet", False),
        ("win-bridge", None),
        ("win-overlay", None),
    ],
)
def test_no_shorthand_left(cni: str, win: bool | None) -> None:
    s = mk(cni, win=bool(win))
    if win is None:  # Windows-only profiles: both nodes Windows
        s = replace(s, nodes=tuple(replace(n, os=OS.WINDOWS) for n in s.nodes))
    out, _ = expand(s)
    for n in out.nodes:
        assert n.ip is None and n.segment is None and n.subnet is None
        assert n.cni and n.nics and n.bridges
        for p in n.pods:
            assert p.bridge is not None and p.ip_has_prefix
    Network(out)  # the model accepts it


def test_node_shorthand_nic_and_default_route() -> None:
    """LANGUAGE.md §2: nic eth0 with the segment's length + default via the segment gateway."""
    n = node(expand(mk("bridge"))[0], "lin1")
    assert n.nics == (Nic(name="eth0", ip=I("10.127.130.37/24"), segment="lan"),)
    assert ("0.0.0.0/0", "10.127.130.1", "eth0", False) in routes(n)


def test_no_default_route_without_segment_gateway() -> None:
    seg = Segment(name="lan", prefix=N("10.127.130.0/24"))
    n = node(expand(mk("flannel host-gw", segment=seg))[0], "lin1")
    assert not any(r.prefix == N("0.0.0.0/0") for r in n.routes)


def test_generated_objects_carry_spans() -> None:
    out, _ = expand(mk("calico bgp"))
    lin1 = node(out, "lin1")
    assert lin1.nics[0].span.line == 10
    web_veth = bridge(lin1, the_pod(lin1, "web").bridge)  # type: ignore[arg-type]
    assert web_veth.span.line == 11
    remote = next(r for r in lin1.routes if r.prefix == N("10.244.3.0/24"))
    assert remote.span.line == 20  # caused by the remote node's line
    assert lin1.snats[0].span == CLUSTER_SPAN


def test_user_statements_in_a_shorthand_node_are_kept_first() -> None:
    s = mk("flannel host-gw")
    extra = Route(prefix=N("192.0.2.0/24"), via=A("10.127.130.9"), dev="eth0")
    first = replace(
        s.nodes[0], routes=(extra,), snats=(SourceNat(source=N("10.244.1.9/32"), to=A("10.127.130.37")),)
    )
    out, _, comments = expand_with_comments(replace(s, nodes=(first, s.nodes[1])))
    lin1 = node(out, "lin1")
    assert lin1.routes[0] == extra and lin1.snats[0].to == A("10.127.130.37")
    assert ("lin1", "routes", 0) not in comments and ("lin1", "routes", 1) in comments


def test_primitive_node_in_a_cluster_is_left_alone() -> None:
    s = mk("bridge")
    prim = Node(name="p", os=OS.LINUX, nics=(Nic(name="eth0", ip=I("10.127.130.50/24"), segment="lan"),))
    out, _ = expand(replace(s, nodes=s.nodes + (prim,)))
    assert node(out, "p") == prim


def test_comments_name_the_chain_and_the_section() -> None:
    out, _, c = expand_with_comments(mk("flannel host-gw"))
    lin1 = node(out, "lin1")
    assert c[("lin1",)] == "flannel host-gw"
    assert "FLANNEL-POSTRTG" in c[("lin1", "snats", 0)]
    i = lin1.routes.index(next(r for r in lin1.routes if r.prefix == N("10.244.3.0/24")))
    assert "CNI-SEMANTICS §6" in c[("lin1", "routes", i)]
    for key in c:
        assert isinstance(key, tuple) and key[0] in {"lin1", "lin2"}


# --------------------------------------------------------------------------
# bridge (§3)


def test_bridge_cni0_gateway_and_pod_prefix() -> None:
    """§3(a)(h): Linux bridge cni0 holds .1 (host-local gateway); pods get the subnet length."""
    n = node(expand(mk("bridge"))[0], "lin1")
    br = bridge(n, "cni0")
    assert br.kind is BridgeKind.LINUX and br.ip == I("10.244.1.1/24")
    web = the_pod(n, "web")
    assert web.ip == I("10.244.1.5/24") and web.bridge == "cni0" and web.mac is None  # kernel MAC (§0)
    assert web.routes == ()  # default via the bridge ip (isDefaultGateway)
    assert n.enforce_policy is False  # §0: plain plugins enforce no NetworkPolicy


def test_bridge_ipmasq_masquerades_all_but_own_subnet() -> None:
    """§3(e): CNI-<hash>: -d <subnet> ACCEPT; ! -d 224.0.0.0/4 MASQUERADE, per pod."""
    n = node(expand(mk("bridge"))[0], "lin1")
    assert snats(n) == [
        ("10.244.1.5/32", ("10.244.1.0/24", "224.0.0.0/4"), None),
        ("10.244.1.6/32", ("10.244.1.0/24", "224.0.0.0/4"), None),
    ]
    assert masq_matches(n, "10.244.1.5", "10.244.3.4")  # other nodes' pods ARE NAT'd
    assert not masq_matches(n, "10.244.1.5", "10.244.1.6")


def test_bridge_ipmasq_off() -> None:
    n = node(expand(mk("bridge", options=(("ipmasq", "off"),)))[0], "lin1")
    assert n.snats == ()


def test_bridge_has_no_cross_node_routes_and_warns() -> None:
    """§3(d): the bridge plugin provides nothing between nodes."""
    out, warns = expand(mk("bridge"))
    assert routes(node(out, "lin1")) == {("0.0.0.0/0", "10.127.130.1", "eth0", False)}
    assert any("no routes between nodes" in w.message and w.span == CLUSTER_SPAN for w in warns)


def test_bridge_same_node_is_l2() -> None:
    """§3(c): same node, L2 by MAC, no TTL change."""
    net = Network(expand(mk("bridge"))[0])
    t = send(net, "lin1/web", "10.244.1.6")
    assert t.delivered and t.delivered_to == "lin1/db" and t.via_mac


# --------------------------------------------------------------------------
# flannel (§6)


def test_flannel_host_gw_routes_per_remote_node() -> None:
    """§6 host-gw: {Dst: lease.Subnet, Gw: PublicIP, LinkIndex: ext iface} per remote lease."""
    out, warns = expand(mk("flannel host-gw"))
    assert ("10.244.3.0/24", "10.127.130.38", "eth0", False) in routes(node(out, "lin1"))
    assert ("10.244.1.0/24", "10.127.130.37", "eth0", False) in routes(node(out, "lin2"))
    assert bridge(node(out, "lin1"), "cni0").hairpin  # E3 hairpinMode
    assert not node(out, "lin1").enforce_policy  # §6: flannel has no NetworkPolicy
    assert warns == []


def test_flannel_postrtg_exact_packet_set() -> None:
    """§6 FLANNEL-POSTRTG, rule for rule, against the masquerade lines (mark rule aside)."""
    n = node(expand(mk("flannel host-gw"))[0], "lin1")
    P, C, M = N("10.244.1.0/24"), N("10.244.0.0/16"), N("224.0.0.0/4")

    def chain(src: str, dst: str) -> bool:
        s, d = A(src), A(dst)
        if s in P and d in C:
            return False
        if d in P:
            return False  # -s C -d P and ! -s C -d P RETURN
        if s in C and d not in M:
            return True
        return s not in C and d in C

    addrs = [
        "10.244.1.5",
        "10.244.3.4",
        "10.244.200.1",
        "10.127.130.38",
        "198.51.100.9",
        "224.0.0.5",
        "10.245.0.1",
        "0.0.0.1",
        "255.255.255.254",
        "10.244.0.1",
    ]
    for s in addrs:
        for d in addrs:
            assert masq_matches(n, s, d) == chain(s, d), (s, d)
    assert snats(n)[0] == ("10.244.1.0/24", ("10.244.0.0/16", "224.0.0.0/4"), None)


def test_flannel_postrtg_own_pods_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(B, "FLANNEL_MASQ", "own-pods")
    n = node(expand(mk("flannel host-gw"))[0], "lin1")
    assert snats(n) == [("10.244.1.0/24", ("10.244.0.0/16", "224.0.0.0/4"), None)]


def test_flannel_ipmasq_off_turns_bridge_ipmasq_on() -> None:
    """§6 CNI: delegate ipMasq = !flanneld_ipmasq, so the bridge's per-pod chain appears (§3(e))."""
    n = node(expand(mk("flannel vxlan", options=(("ipmasq", "off"),)))[0], "lin1")
    assert snats(n) == [
        ("10.244.1.5/32", ("10.244.1.0/24", "224.0.0.0/4"), None),
        ("10.244.1.6/32", ("10.244.1.0/24", "224.0.0.0/4"), None),
    ]


def test_flannel_vxlan_device_neighbor_fdb() -> None:
    """§6 vxlan: flannel.1, VNI 1, port 8472, lease .0/32; route onlink + neighbour + fdb per remote node."""
    out, _ = expand(mk("flannel vxlan"))
    lin1, lin2 = node(out, "lin1"), node(out, "lin2")
    (vx,) = lin1.vxlans
    assert (vx.name, vx.vni, vx.port, vx.local, vx.ip) == (
        "flannel.1",
        1,
        8472,
        A("10.127.130.37"),
        I("10.244.1.0/32"),
    )
    (vx2,) = lin2.vxlans
    assert vx.mac and vx2.mac and vx.mac != vx2.mac
    assert vx.mac == B.vtep_mac("lin1")  # explicit, derived from the node name
    assert ("10.244.3.0/24", "10.244.3.0", "flannel.1", True) in routes(lin1)
    assert [(str(x.ip), x.mac, x.dev) for x in lin1.neighbors] == [("10.244.3.0", vx2.mac, "flannel.1")]
    assert [(x.mac, str(x.dst), x.dev) for x in lin1.fdbs] == [(vx2.mac, "10.127.130.38", "flannel.1")]
    assert [(x.mac, str(x.dst)) for x in lin2.fdbs] == [(vx.mac, "10.127.130.37")]  # same MAC on both sides


def test_flannel_vxlan_options_and_default() -> None:
    out, _ = expand(mk("flannel vxlan", options=(("vni", "7"), ("port", "4789"))))
    assert node(out, "lin1").vxlans[0].name == "flannel.7" and node(out, "lin1").vxlans[0].port == 4789
    s = mk("flannel vxlan")
    assert (
        expand(replace(s, cluster=replace(s.cluster, cni=("flannel",))))[0].nodes == expand(s)[0].nodes
    )  # E3


@pytest.mark.parametrize("cni", ["flannel host-gw", "flannel vxlan"])
def test_flannel_cross_node_reach_without_nat(cni: str) -> None:
    net = Network(expand(mk(cni))[0])
    t = send(net, "lin1/web", "10.244.3.4")
    assert t.delivered and t.delivered_to == "lin2/iis" and not t.nat
    out = send(net, "lin1/web", "10.127.130.38")  # a node IP is outside the cluster CIDR
    assert out.delivered and out.nat and out.final is not None and out.final.src == A("10.127.130.37")


# --------------------------------------------------------------------------
# win-bridge (§1) and win-overlay (§2), mixed clusters


def test_windows_under_flannel_host_gw_is_win_bridge() -> None:
    """§1(a)(h): L2Bridge cbr0, host endpoint cbr0_ep .2 bound to eth0, .1 reserved; E2 policies."""
    out, _, c = expand_with_comments(mk("flannel host-gw", win=True))
    w = node(out, "win1")
    assert w.cni == "win-bridge (flannel host-gw)"
    br = bridge(w, "cbr0")
    assert br.kind is BridgeKind.L2BRIDGE and br.ip == I("10.244.3.2/24") and br.uplink == "eth0"
    iis = the_pod(w, "iis")
    assert iis.ip == I("10.244.3.4/24") and iis.bridge == "cbr0" and iis.mac is None  # HNS-assigned (§1(b))
    # E2 ExceptionList: cluster CIDR, service CIDR, management subnet
    (ob,) = w.outbound_nats
    assert ob.bridge == "cbr0" and ob.exceptions == (
        N("10.244.0.0/16"),
        N("10.96.0.0/12"),
        N("10.127.130.0/24"),
    )
    assert [(r.bridge, str(r.prefix)) for r in w.routes_to_host] == [
        ("cbr0", "10.96.0.0/12"),
        ("cbr0", "10.127.130.38/32"),
    ]
    assert ("10.244.1.0/24", "10.127.130.37", "eth0", False) in routes(w)  # §1(d)2
    assert ("10.244.3.0/24", "10.127.130.38", "eth0", False) in routes(node(out, "lin1"))
    assert not w.enforce_policy and w.snats == ()
    assert "OutBoundNAT" in c[("win1", "outbound_nats", 0)]


def test_win_bridge_pod_at_reserved_address_is_an_error() -> None:
    """§1(h): .1 is reserved by the platform and .2 is cbr0_ep."""
    s = mk("flannel host-gw", win=True)
    for ip in ("10.244.3.1", "10.244.3.2"):
        bad = replace(s.nodes[1], pods=(pod("x", ip, line=22),))
        with pytest.raises(SpecError) as e:
            expand(replace(s, nodes=(s.nodes[0], bad)))
        assert e.value.diagnostics[0].span.line == 22


def test_win_bridge_outbound_nat_option_and_flannel_merge() -> None:
    """Cluster option overrides the ExceptionList; flannel's ipMasqNetwork (cluster CIDR) is merged in (§1(e))."""
    out, _ = expand(
        mk("flannel host-gw", win=True, options=(("outbound-nat-except", "10.96.0.0/12, 192.0.2.0/24"),))
    )
    (ob,) = node(out, "win1").outbound_nats
    assert ob.exceptions == (N("10.96.0.0/12"), N("192.0.2.0/24"), N("10.244.0.0/16"))


def test_win_bridge_second_outbound_nat_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(B, "HNS_OUTBOUNDNAT_MERGE", "second")
    out, _ = expand(mk("flannel host-gw", win=True, options=(("outbound-nat-except", "10.96.0.0/12"),)))
    assert [o.exceptions for o in node(out, "win1").outbound_nats] == [
        (N("10.96.0.0/12"),),
        (N("10.244.0.0/16"),),
    ]


def test_win_bridge_verdicts() -> None:
    """§1(c)(d)(e): cross-node un-NAT'd, egress outside the exceptions NAT'd to the node IP."""
    net = Network(expand(mk("flannel host-gw", win=True))[0])
    t = send(net, "win1/iis", "10.244.1.5")
    assert t.delivered and t.delivered_to == "lin1/web" and not t.nat
    back = send(net, "lin1/web", "10.244.3.4")
    assert back.delivered and back.delivered_to == "win1/iis"


def test_standalone_win_bridge() -> None:
    s = mk("win-bridge")
    s = replace(s, nodes=tuple(replace(n, os=OS.WINDOWS) for n in s.nodes))
    out, warns = expand(s)
    w = node(out, "lin1")
    (ob,) = w.outbound_nats  # no flannel ipMasqNetwork: just the configured E2 list
    assert ob.exceptions == (N("10.244.0.0/16"), N("10.96.0.0/12"), N("10.127.130.0/24"))
    assert not any(r.prefix == N("10.244.3.0/24") for r in w.routes)
    assert warns


def test_windows_under_flannel_vxlan_is_win_overlay() -> None:
    """§2: Overlay network, gateway .1, MAC 0E-2A-<ip>, VNI 4096 / port 4789, local-subnet-only exception."""
    out, _ = expand(mk("flannel vxlan", win=True))
    w, lin1 = node(out, "win1"), node(out, "lin1")
    assert w.cni == "win-overlay (flannel vxlan)"
    br = bridge(w, "vxlan0")
    assert br.ip == I("10.244.3.1/24") and br.uplink is None
    iis = the_pod(w, "iis")
    assert iis.mac == "0e:2a:0a:f4:03:04" and iis.ip == I("10.244.3.4/24")
    assert [o.exceptions for o in w.outbound_nats] == [(N("10.244.3.0/24"),)]
    (vx,) = w.vxlans
    assert (vx.vni, vx.port, vx.local) == (4096, 4789, A("10.127.130.38"))
    # §2(a): a Windows node forces VNI >= 4096 and port 4789 on the Linux side too
    (lvx,) = lin1.vxlans
    assert (lvx.name, lvx.vni, lvx.port) == ("flannel.4096", 4096, 4789)
    assert ("10.244.1.0/24", "10.244.1.0", vx.name, True) in routes(w)
    assert [(x.mac, str(x.dst)) for x in w.fdbs] == [(lvx.mac, "10.127.130.37")]
    net = Network(out)
    t = send(net, "win1/iis", "10.244.1.5")
    assert t.delivered and t.delivered_to == "lin1/web"


def test_win_overlay_with_windows_rejects_vni_1() -> None:
    with pytest.raises(SpecError, match="4096"):
        expand(mk("flannel vxlan", win=True, options=(("vni", "1"),)))


def test_win_overlay_outbound_nat_option_adds_to_local_subnet() -> None:
    out, _ = expand(mk("flannel vxlan", win=True, options=(("outbound-nat-except", "10.96.0.0/12"),)))
    assert [o.exceptions for o in node(out, "win1").outbound_nats] == [
        (N("10.96.0.0/12"), N("10.244.3.0/24"))
    ]


# --------------------------------------------------------------------------
# Calico (§7)


def test_calico_pods_veths_proxy_arp() -> None:
    """§7(b)(g)(h): /32 pods, 169.254.1.1 link route + default, cali* veth MAC ee:…, proxy_arp, host /32 route."""
    n = node(expand(mk("calico bgp"))[0], "lin1")
    web = the_pod(n, "web")
    assert web.ip == I("10.244.1.5/32")
    assert web.bridge is not None and web.bridge.startswith("cali") and len(web.bridge) == 15
    assert [(str(r.prefix), str(r.via) if r.via else None, r.dev) for r in web.routes] == [
        ("169.254.1.1/32", None, "eth0"),
        ("0.0.0.0/0", "169.254.1.1", "eth0"),
    ]
    veth = bridge(n, web.bridge)
    assert veth.kind is BridgeKind.VETH and veth.mac == "ee:ee:ee:ee:ee:ee" and veth.ip is None
    assert web.bridge in {p.dev for p in n.proxy_arps}
    assert ("10.244.1.5/32", None, web.bridge, False) in routes(n)
    assert n.enforce_policy  # §7(f)
    assert the_pod(n, "db").bridge != web.bridge


def test_calico_nat_outgoing_pools_excepted() -> None:
    """§7(e): src in masq pools, dst not in all pools -> MASQUERADE."""
    n = node(expand(mk("calico bgp"))[0], "lin1")
    assert snats(n) == [("10.244.0.0/16", ("10.244.0.0/16",), None)]
    off = node(expand(mk("calico bgp", options=(("nat-outgoing", "off"),)))[0], "lin1")
    assert off.snats == ()


def test_calico_bgp_and_ipip_routes() -> None:
    """§7(d): BGP <block> via <nodeIP>; IPIP the same next hop (outer header: CALICO_IPIP_ENCODING)."""
    assert ("10.244.3.0/24", "10.127.130.38", "eth0", False) in routes(
        node(expand(mk("calico bgp"))[0], "lin1")
    )
    assert ("10.244.3.0/24", "10.127.130.38", "eth0", True) in routes(
        node(expand(mk("calico ipip"))[0], "lin1")
    )


def test_calico_ipip_tunnel_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(B, "CALICO_IPIP_ENCODING", "tunnel")
    out, _ = expand(mk("calico ipip"))
    lin1 = node(out, "lin1")
    assert lin1.vxlans[0].name == "tunl0"
    net = Network(out)
    assert send(net, "lin1/web", "10.244.3.4").delivered


def test_calico_vxlan() -> None:
    """§7(d): vxlan.calico, VNI 4096, port 4789; route via the remote VTEP, neighbour + fdb."""
    out, _ = expand(mk("calico vxlan"))
    lin1, lin2 = node(out, "lin1"), node(out, "lin2")
    (vx,) = lin1.vxlans
    assert (vx.name, vx.vni, vx.port, vx.ip) == ("vxlan.calico", 4096, 4789, I("10.244.1.0/32"))
    assert ("10.244.3.0/24", "10.244.3.0", "vxlan.calico", True) in routes(lin1)
    assert [(str(x.ip), x.mac) for x in lin1.neighbors] == [("10.244.3.0", lin2.vxlans[0].mac)]
    assert [str(x.dst) for x in lin1.fdbs] == ["10.127.130.38"]


@pytest.mark.parametrize("cni", ["calico bgp", "calico ipip", "calico vxlan"])
def test_calico_verdicts(cni: str) -> None:
    """§7(c): same node is L3 through the host (not via mac); cross node reaches."""
    net = Network(expand(mk(cni))[0])
    same = send(net, "lin1/web", "10.244.1.6")
    assert same.delivered and same.delivered_to == "lin1/db" and not same.via_mac
    cross = send(net, "lin1/web", "10.244.3.4")
    assert cross.delivered and cross.delivered_to == "lin2/iis" and not cross.nat


def test_calico_on_windows() -> None:
    """WINDOWS_UNDER: calico bgp -> L2Bridge + routes, calico vxlan -> overlay; policy enforced; no IPIP."""
    bgp = node(expand(mk("calico bgp", win=True))[0], "win1")
    assert bgp.cni == "win-bridge (calico bgp)" and bgp.enforce_policy
    assert ("10.244.1.0/24", "10.127.130.37", "eth0", False) in routes(bgp)
    vx = node(expand(mk("calico vxlan", win=True))[0], "win1")
    assert vx.enforce_policy and vx.vxlans[0].vni == 4096 and the_pod(vx, "iis").mac == "0e:2a:0a:f4:03:04"
    with pytest.raises(SpecError, match="Windows"):
        expand(mk("calico ipip", win=True))


def test_calico_warns_without_default_route() -> None:
    seg = Segment(name="lan", prefix=N("10.127.130.0/24"))
    _, warns = expand(mk("calico bgp", segment=seg))
    assert any("169.254.1.1" in w.message for w in warns)


# --------------------------------------------------------------------------
# Antrea (§8)


def test_antrea_gw0_tunnel_nat() -> None:
    """§8: antrea-gw0 at .1 on the OVS bridge, Geneve tunnel per remote node, ANTREA-POSTROUTING masquerade."""
    out, _ = expand(mk("antrea"))
    lin1 = node(out, "lin1")
    gw = bridge(lin1, "antrea-gw0")
    assert gw.kind is BridgeKind.OVS and gw.ip == I("10.244.1.1/24")
    assert the_pod(lin1, "web").ip == I("10.244.1.5/24") and the_pod(lin1, "web").bridge == "antrea-gw0"
    (vx,) = lin1.vxlans
    assert (vx.name, vx.port) == ("antrea-tun0", B.ANTREA_TUNNEL_PORT)
    assert ("10.244.3.0/24", "10.244.3.1", "antrea-tun0", True) in routes(lin1)
    assert [str(x.dst) for x in lin1.fdbs] == ["10.127.130.38"]
    assert snats(lin1) == [("10.244.1.0/24", ("10.244.0.0/16",), None)]
    assert lin1.enforce_policy
    net = Network(out)
    same = send(net, "lin1/web", "10.244.1.6")
    assert same.via_mac  # §8(c): intra-node forwarded by OVS directly
    cross = send(net, "lin1/web", "10.244.3.4")
    assert cross.delivered and cross.delivered_to == "lin2/iis" and not cross.nat


def test_antrea_on_windows() -> None:
    n = node(expand(mk("antrea", win=True))[0], "win1")
    assert n.enforce_policy and bridge(n, "antrea-gw0").kind is BridgeKind.OVS


# --------------------------------------------------------------------------
# kindnet (§5)


def test_kindnet_ptp_veths_share_the_gateway() -> None:
    """§5: host veths all hold the gateway /32; pod routes gw/32 dev eth0, subnet + default via gw."""
    out, warns = expand(mk("kindnet"))
    lin1 = node(out, "lin1")
    web, db = the_pod(lin1, "web"), the_pod(lin1, "db")
    assert web.ip == I("10.244.1.5/32")
    for p in (web, db):
        veth = bridge(lin1, p.bridge)
        assert veth.kind is BridgeKind.VETH and veth.ip == I("10.244.1.1/32")
    assert web.bridge != db.bridge
    assert [(str(r.prefix), str(r.via) if r.via else None, r.dev) for r in web.routes] == [
        ("10.244.1.1/32", None, "eth0"),
        ("10.244.1.0/24", "10.244.1.1", "eth0"),
        ("0.0.0.0/0", "10.244.1.1", "eth0"),
    ]
    assert ("10.244.1.5/32", None, web.bridge, False) in routes(lin1)
    assert ("10.244.3.0/24", "10.127.130.38", "eth0", False) in routes(lin1)  # syncRoute via InternalIP
    assert snats(lin1) == [("0.0.0.0/0", ("10.244.0.0/16",), None)]  # KIND-MASQ-AGENT
    assert lin1.enforce_policy and warns == []
    net = Network(out)
    same = send(net, "lin1/web", "10.244.1.6")
    assert same.delivered and not same.via_mac  # §5(c): L3 through the host
    assert send(net, "lin1/web", "10.244.3.4").delivered


# --------------------------------------------------------------------------
# macvlan (§4)


def test_macvlan_pods_on_the_lan_unreachable_from_own_host() -> None:
    """§4: children of eth0 in bridge mode, pods on the LAN; the host cannot reach its own children."""
    s = mk("macvlan", pod_cidr=None)
    nodes = (
        replace(s.nodes[0], subnet=N("10.127.130.64/27"), pods=(pod("a", "10.127.130.70"),)),
        replace(s.nodes[1], subnet=N("10.127.130.96/27"), pods=(pod("b", "10.127.130.100"),)),
    )
    out, warns = expand(replace(s, nodes=nodes))
    lin1 = node(out, "lin1")
    mv = bridge(lin1, "macvlan0")
    assert mv.kind is BridgeKind.MACVLAN and mv.uplink == "eth0" and mv.ip is None
    a = the_pod(lin1, "a")
    assert a.ip == I("10.127.130.70/24") and a.bridge == "macvlan0"
    assert [(str(r.prefix), str(r.via)) for r in a.routes] == [("0.0.0.0/0", "10.127.130.1")]
    assert lin1.snats == () and not lin1.enforce_policy and warns == []
    net = Network(out)
    assert not send(net, "lin1", "10.127.130.70").delivered
    t = send(net, "lin1/a", "10.127.130.100")
    assert t.delivered and t.via_mac
    assert send(net, "lin2", "10.127.130.70").delivered


def test_macvlan_subnet_must_be_on_the_segment() -> None:
    with pytest.raises(SpecError, match="macvlan"):
        expand(mk("macvlan", pod_cidr=None))


# --------------------------------------------------------------------------
# Errors


def _err(s: Spec) -> SpecError:
    with pytest.raises(SpecError) as e:
        expand(s)
    return e.value


def test_unknown_profile_mode_and_option() -> None:
    assert "unknown cni profile" in str(_err(mk("weave")))
    assert _err(mk("weave")).diagnostics[0].span == CLUSTER_SPAN
    assert "mode" in str(_err(mk("flannel udp")))
    assert "needs a mode" in str(_err(mk("calico")))
    assert "unknown option" in str(_err(mk("bridge", options=(("mtu", "1450"),))))
    assert "on or off" in str(_err(mk("bridge", options=(("ipmasq", "maybe"),))))
    assert "number" in str(_err(mk("flannel vxlan", options=(("vni", "x"),))))


def test_shorthand_without_subnet() -> None:
    s = mk("bridge")
    e = _err(replace(s, nodes=(replace(s.nodes[0], subnet=None), s.nodes[1])))
    assert e.diagnostics[0].span.line == 10 and "subnet" in str(e)


def test_pod_outside_node_subnet() -> None:
    s = mk("bridge")
    e = _err(replace(s, nodes=(replace(s.nodes[0], pods=(pod("x", "10.244.3.9", line=13),)), s.nodes[1])))
    assert e.diagnostics[0].span.line == 13 and "outside" in str(e)


def test_pod_at_gateway_address() -> None:
    s = mk("flannel host-gw")
    e = _err(replace(s, nodes=(replace(s.nodes[0], pods=(pod("x", "10.244.1.1", line=13),)), s.nodes[1])))
    assert "reserved" in str(e) and "cni0" in str(e)


def test_linux_only_profile_on_windows_and_vice_versa() -> None:
    assert "Windows" in str(_err(mk("kindnet", win=True)))
    assert "Windows plugin" in str(_err(mk("win-bridge")))


def test_subnet_outside_pod_cidr_and_overlap() -> None:
    assert "pod-cidr" in str(_err(mk("bridge", pod_cidr="10.250.0.0/16")))
    s = mk("bridge")
    assert "overlaps" in str(
        _err(replace(s, nodes=(s.nodes[0], replace(s.nodes[1], subnet=N("10.244.1.0/25")))))
    )


def test_error_line_text_comes_from_source() -> None:
    s = replace(mk("weave"), source="cluster c {\n  cni weave\n}\n")
    assert _err(s).diagnostics[0].line_text == "cluster c {"


def test_pod_without_ip() -> None:
    s = mk("bridge")
    nopod = Pod(name="x", span=Span("t.l2l3", 14, 5))
    assert (
        _err(replace(s, nodes=(replace(s.nodes[0], pods=(nopod,)), s.nodes[1]))).diagnostics[0].span.line
        == 14
    )
    hostnet = Pod(name="h", mode=StackMode.HOST_NETWORK)
    out, _ = expand(replace(s, nodes=(replace(s.nodes[0], pods=(hostnet,)), s.nodes[1])))
    assert node(out, "lin1").pods == (hostnet,)


def test_public_api() -> None:
    assert set(profiles.PROFILES) >= {
        "bridge",
        "win-bridge",
        "win-overlay",
        "flannel host-gw",
        "flannel vxlan",
        "calico bgp",
        "calico ipip",
        "calico vxlan",
        "antrea",
        "kindnet",
        "macvlan",
    }
    assert set(B.CHOICES) and all(hasattr(B, k) for k in B.CHOICES)
