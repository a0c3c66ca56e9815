"""CNI profile expansion, the plugins that enforce NetworkPolicy (Calico, Antrea,
kindnet), and macvlan.

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
from l2l3.model.profiles import expand
from l2l3.model.types import BridgeKind, Segment
from tests.model.profiles_helpers import I, N, bridge, mk, node, pod, routes, send, snats, the_pod

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
