"""CNI profile expansion, the flannel family: the bridge plugin, flannel, and
win-bridge / win-overlay (what flannel stands for on Windows).

``CNI-SEMANTICS §N`` is shared/reference/CNI-SEMANTICS.md; ``E2`` etc. are its
example configs (§10). Specs are built from the model types directly (see
``profiles_helpers``), so these tests do not depend on the DSL. A few verdict tests run the
concrete simulator on the expansion.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2l3.errors import SpecError
from l2l3.model.network import Network
from l2l3.model.profiles import _base as B
from l2l3.model.profiles import expand, expand_with_comments
from l2l3.model.types import OS, BridgeKind
from tests.model.profiles_helpers import (
    CLUSTER_SPAN,
    A,
    I,
    N,
    bridge,
    masq_matches,
    mk,
    node,
    pod,
    routes,
    send,
    snats,
    the_pod,
)

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
