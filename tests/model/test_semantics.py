"""The forwarding rules of docs/semantics.md, one behaviour per test.

Each test names where the behaviour comes from: a section of
shared/reference/CNI-SEMANTICS.md (the CNI plugins' and HNS's sources), or
the Linux kernel. Windows behaviour cannot be run here; these tests pin the
reference's statements instead.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import l2l3
from l2l3.model.network import Network
from l2l3.model.packet import Disposition, Trace
from l2l3.model.types import Proto

A = IPv4Address

WIN_AND_LINUX = """
segment lan 10.127.130.0/24 gateway 10.127.130.1
external web 198.51.100.0/24 via lan
node lin1 linux {
    nic eth0 ip 10.127.130.37/24 mac 52:54:00:00:00:37 on lan
    bridge cni0 linux ip 10.244.1.1/24
    pod web ip 10.244.1.5/24 on cni0
    pod db ip 10.244.1.6/24 on cni0
    route 10.244.3.0/24 via 10.127.130.38 dev eth0
    route 0.0.0.0/0 via 10.127.130.1 dev eth0
    masquerade from 10.244.1.0/24 except 10.244.0.0/16
}
node win1 windows {
    nic eth0 ip 10.127.130.38/24 mac 00:15:5d:01:00:38 on lan
    bridge cbr0 l2bridge ip 10.244.3.2/24 uplink eth0
    pod iis ip 10.244.3.4/24 mac 00:15:5d:aa:03:04 on cbr0
    pod legacy ip 10.244.3.5/24 on cbr0 no-netns
    pod flat ip 10.127.130.50/24 mac 00:15:5d:aa:03:50 on cbr0
    outbound-nat cbr0 except 10.244.0.0/16, 10.127.130.0/24
    route-to-host cbr0 10.96.0.0/12
    dnat 10.96.0.10 tcp port 53 to 10.244.1.5:5353, 10.244.1.6:5353
    route 10.244.1.0/24 via 10.127.130.37 dev eth0
    route 0.0.0.0/0 via 10.127.130.1 dev eth0
}
"""


def net_of(text: str) -> Network:
    return l2l3.Network(l2l3.loads(text, "t.l2l3"))


def one(traces: list[Trace]) -> Trace:
    assert len(traces) == 1, [t.reason for t in traces]
    return traces[0]


def test_l2bridge_uplink_rewrites_source_mac_to_the_host_nic() -> None:
    """CNI-SEMANTICS §1(b): frames leaving an l2bridge carry the host's MAC."""
    net = net_of(WIN_AND_LINUX)
    t = one(l2l3.trace(net, "win1/flat", "10.127.130.37"))
    assert t.delivered and t.delivered_to == "lin1"
    assert t.final is not None
    assert t.final.smac == "00:15:5d:01:00:38"  # win1's NIC, not flat's 00:15:5d:aa:03:50
    assert not t.via_mac and not t.routed


def test_l2bridge_rewrites_inbound_frames_back_to_the_pod_mac() -> None:
    """CNI-SEMANTICS §1(d)5: inbound frames for a pod IP get the pod's MAC back."""
    net = net_of(WIN_AND_LINUX)
    t = one(l2l3.trace(net, "node lin1", "10.127.130.50"))
    assert t.delivered and t.delivered_to == "win1/flat"
    assert t.final is not None and t.final.dmac == "00:15:5d:aa:03:50"
    sent = next(h.packet for h in t.hops if h.packet.dmac is not None)
    assert sent.dmac == "00:15:5d:01:00:38"  # lin1 learnt the host's MAC by ARP


def test_l2bridge_same_node_pods_switch_with_their_own_macs() -> None:
    """CNI-SEMANTICS §1(c): same node, same subnet is bridged in the vSwitch."""
    net = net_of(WIN_AND_LINUX)
    t = one(l2l3.trace(net, "win1/iis", "10.244.3.5"))
    assert t.delivered and t.via_mac and not t.nat
    assert t.delivered_to == "win1"  # legacy is no-netns: its address is win1's


def test_outbound_nat_translates_to_the_node_address_outside_the_exceptions() -> None:
    """CNI-SEMANTICS §1(e): OutBoundNAT SNATs endpoint traffic not in ExceptionList (TCP;
    ICMP is not translated: tests/model/test_six_fixes.py)."""
    net = net_of(WIN_AND_LINUX)
    out = one(l2l3.trace(net, "win1/iis", "198.51.100.9", Proto.TCP, 443))
    assert out.delivered_to == "external web" and out.final is not None
    assert out.final.src == A("10.127.130.38")
    inside = one(l2l3.trace(net, "win1/iis", "10.244.1.5"))
    assert inside.final is not None and inside.final.src == A("10.244.3.4") and not inside.nat


def test_route_to_host_steers_service_traffic_to_the_host_load_balancer() -> None:
    """CNI-SEMANTICS §1(e) ROUTE/NeedEncap and §9: VIP traffic goes to the host, where DNAT applies."""
    net = net_of(WIN_AND_LINUX)
    traces = l2l3.trace(net, "win1/iis", "10.96.0.10", Proto.TCP, 53)
    assert {t.delivered_to for t in traces} == {"lin1/web", "lin1/db"}  # any backend
    for t in traces:
        assert any("route-to-host" in h.action for h in t.hops)
        assert t.final is not None and t.final.dport == 5353 and t.nat


def test_linux_bridge_same_node_is_pure_l2_with_no_ttl_change() -> None:
    """CNI-SEMANTICS §0 and §3(c): Linux bridge paths do not decrement TTL."""
    net = net_of(WIN_AND_LINUX)
    t = one(l2l3.trace(net, "lin1/web", "10.244.1.6"))
    assert t.via_mac and t.final is not None and t.final.ttl == 64


def test_routed_hops_decrement_ttl() -> None:
    """CNI-SEMANTICS §0: any L3 hop decrements TTL (two hosts: 64 -> 62)."""
    net = net_of(WIN_AND_LINUX)
    t = one(l2l3.trace(net, "win1/iis", "10.244.1.5"))  # win1 routes, lin1 routes
    assert t.delivered and t.final is not None and t.final.ttl == 62


def test_l2bridge_ingress_is_switched_by_the_vswitch_not_routed() -> None:
    """CNI-SEMANTICS §1(d)5: inbound frames for a pod IP are rewritten and switched to it.

    Only lin1 routes (64 -> 63); the HNS vSwitch hands the frame to iis itself.
    """
    net = net_of(WIN_AND_LINUX)
    t = one(l2l3.trace(net, "lin1/web", "10.244.3.4"))
    assert t.delivered_to == "win1/iis" and t.final is not None and t.final.ttl == 63


def test_masquerade_skips_excepted_destinations() -> None:
    """iptables MASQUERADE with RETURN exceptions (CNI-SEMANTICS §3(e))."""
    net = net_of(WIN_AND_LINUX)
    out = one(l2l3.trace(net, "lin1/web", "198.51.100.9"))
    assert out.final is not None and out.final.src == A("10.127.130.37")
    inside = one(l2l3.trace(net, "lin1/web", "10.244.3.4"))
    assert inside.final is not None and inside.final.src == A("10.244.1.5")


BRIDGE_IPMASQ = """
segment lan 10.0.0.0/24
node n1 linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge cni0 linux ip 10.244.1.1/24
    pod a ip 10.244.1.5/24 on cni0
    route 10.244.2.0/24 via 10.0.0.2 dev eth0
    masquerade from 10.244.1.5/32 except 10.244.1.0/24, 224.0.0.0/4
}
node n2 linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge cni0 linux ip 10.244.2.1/24
    pod b ip 10.244.2.7/24 on cni0
    route 10.244.1.0/24 via 10.0.0.1 dev eth0
}
"""


def test_bridge_ipmasq_nats_traffic_to_other_nodes_pods() -> None:
    """CNI-SEMANTICS §3(e): ipMasq accepts only the own subnet, so other nodes' pods see the node."""
    net = net_of(BRIDGE_IPMASQ)
    t = one(l2l3.trace(net, "n1/a", "10.244.2.7"))
    assert t.delivered_to == "n2/b" and t.final is not None and t.final.src == A("10.0.0.1")


MACVLAN = """
segment lan 10.0.0.0/24
node h linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge mv macvlan uplink eth0
    pod a ip 10.0.0.10/24 on mv
    pod b ip 10.0.0.11/24 on mv
}
node other linux {
    nic eth0 ip 10.0.0.2/24 on lan
}
"""


def test_macvlan_children_are_unreachable_from_their_own_host() -> None:
    """CNI-SEMANTICS §4: the host cannot talk to its own macvlan children."""
    net = net_of(MACVLAN)
    t = one(l2l3.trace(net, "node h", "10.0.0.10"))
    assert t.disposition is Disposition.DROPPED and "no ARP answer" in t.reason


def test_macvlan_children_are_on_the_lan_with_their_own_macs() -> None:
    """CNI-SEMANTICS §4(d): the pod MAC is visible on the wire; siblings switch in the kernel."""
    net = net_of(MACVLAN)
    assert one(l2l3.trace(net, "node other", "10.0.0.10")).via_mac
    assert one(l2l3.trace(net, "h/a", "10.0.0.11")).via_mac


ISOLATED = """
segment lan 10.0.0.0/24
node n linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge cni0 linux ip 10.244.1.1/24 isolated-ports
    pod a ip 10.244.1.2/24 on cni0
    pod b ip 10.244.1.3/24 on cni0
}
"""


def test_isolated_ports_block_pod_to_pod_but_not_the_gateway() -> None:
    """CNI-SEMANTICS §3(a) portIsolation: isolated ports talk only to non-isolated ones."""
    net = net_of(ISOLATED)
    assert not one(l2l3.trace(net, "n/a", "10.244.1.3")).delivered
    assert one(l2l3.trace(net, "n/a", "10.244.1.1")).delivered


CALICO_LIKE = """
segment lan 10.0.0.0/24 gateway 10.0.0.254
node n linux {
    nic eth0 ip 10.0.0.1/24 on lan
    route 0.0.0.0/0 via 10.0.0.254
    bridge cali1 veth mac ee:ee:ee:ee:ee:ee
    bridge cali2 veth mac ee:ee:ee:ee:ee:ee
    pod a ip 10.244.1.2/32 on cali1 {
        route 169.254.1.1/32 dev eth0
        route 0.0.0.0/0 via 169.254.1.1 dev eth0
    }
    pod b ip 10.244.1.3/32 on cali2 {
        route 169.254.1.1/32 dev eth0
        route 0.0.0.0/0 via 169.254.1.1 dev eth0
    }
    proxy-arp cali1
    proxy-arp cali2
    route 10.244.1.2/32 dev cali1
    route 10.244.1.3/32 dev cali2
}
"""


def test_proxy_arp_answers_the_link_local_gateway_and_routes_pods() -> None:
    """CNI-SEMANTICS §7(g)(c): proxy ARP answers 169.254.1.1 with ee:…; same node is L3."""
    net = net_of(CALICO_LIKE)
    t = one(l2l3.trace(net, "n/a", "10.244.1.3"))
    assert t.delivered_to == "n/b" and t.routed and not t.via_mac
    sent = next(h.packet for h in t.hops if h.packet.dmac is not None)
    assert sent.dmac == "ee:ee:ee:ee:ee:ee"
    assert t.final is not None and t.final.smac == "ee:ee:ee:ee:ee:ee" and t.final.ttl == 63


FILTERS = """
segment lan 10.0.0.0/24
node r linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge cni0 linux ip 10.244.1.1/24
    pod a ip 10.244.1.2/24 on cni0
    filter allow to 10.0.0.2/32 tcp port 80
    filter deny to 10.0.0.0/24
}
node s linux {
    nic eth0 ip 10.0.0.2/24 on lan
    route 10.244.1.0/24 via 10.0.0.1
}
"""


def test_filters_first_match_wins() -> None:
    """iptables chain order: the first matching rule decides."""
    net = net_of(FILTERS)
    assert one(l2l3.trace(net, "r/a", "10.0.0.2", Proto.TCP, 80)).delivered
    dead = one(l2l3.trace(net, "r/a", "10.0.0.2", Proto.TCP, 81))
    assert not dead.delivered and "filter deny" in dead.reason
    assert dead.hops[-1].span is not None and dead.hops[-1].span.line == 8


LOOP = """
segment lan 10.0.0.0/24
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
    route 10.9.0.0/16 via 10.0.0.2
}
node b linux {
    nic eth0 ip 10.0.0.2/24 on lan
    route 10.9.0.0/16 via 10.0.0.1
}
node c linux {
    nic eth0 ip 10.0.0.3/24 on lan
    route 10.9.0.0/16 via 10.0.0.1
}
"""


def test_routing_loop_is_reported_where_it_closes() -> None:
    """Kernel: two routers pointing at each other bounce a packet until its TTL dies."""
    net = net_of(LOOP)
    t = one(l2l3.trace(net, "node c", "10.9.1.1"))
    assert t.disposition is Disposition.LOOPED


def test_a_packet_back_from_the_wire_with_an_own_source_is_martian() -> None:
    """Kernel accept_local=0 (found by the kernel differential test): a's own
    packet, bounced back by b, is dropped as a martian, not looped."""
    net = net_of(LOOP)
    t = one(l2l3.trace(net, "node a", "10.9.1.1"))
    assert not t.delivered and "martian source" in t.reason


def test_a_route_via_an_own_address_arps_for_the_destination() -> None:
    """Kernel (found by the kernel differential test): Linux gives a nexthop
    that is a local address host scope and resolves the destination itself."""
    text = LOOP.replace("route 10.9.0.0/16 via 10.0.0.2", "route 10.9.0.0/16 via 10.0.0.1 dev eth0")
    text = text.replace(
        "    nic eth0 ip 10.0.0.2/24 on lan\n",
        "    nic eth0 ip 10.0.0.2/24 on lan\n    nic eth1 ip 10.9.1.1/24 on lan\n",
    )
    net = net_of(text)
    t = one(l2l3.trace(net, "node a", "10.9.1.1"))
    assert t.delivered and t.delivered_to == "b" and t.via_mac


def test_a_process_needs_a_route_to_the_vip_before_dnat() -> None:
    """Kernel (found by the kernel differential test): a locally generated
    packet is routed before OUTPUT DNAT; no route means ENETUNREACH."""
    text = """
segment lan 10.0.0.0/24
node n1 linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.1.1.1/24
    pod p0 ip 10.1.1.2/24 on br0
    dnat 10.96.0.1 to 10.1.1.2
}
"""
    net = net_of(text)
    t = one(l2l3.trace(net, "node n1", "10.96.0.1"))
    assert not t.delivered and "network unreachable" in t.reason
    net = net_of(text.replace("    dnat", "    route 10.96.0.0/16 dev eth0\n    dnat"))
    assert one(l2l3.trace(net, "node n1", "10.96.0.1")).delivered_to == "n1/p0"


def test_forwarding_off_drops_transit_traffic() -> None:
    """Kernel ip_forward=0: a stack delivers to itself but forwards nothing."""
    net = net_of(
        LOOP.replace("route 10.9.0.0/16 via 10.0.0.1", "route 10.9.0.0/16 via 10.0.0.1\n    forwarding off")
    )
    t = one(l2l3.trace(net, "node a", "10.9.1.1"))
    assert not t.delivered and "forwarding is off" in t.reason


def test_vxlan_encapsulates_with_outer_udp_8472_and_vni() -> None:
    """CNI-SEMANTICS §6 vxlan: outer node->node UDP 8472, inner TTL-1, inner MACs of the VTEPs."""
    spec = l2l3.load(Path(__file__).resolve().parents[2] / "examples/flannel-vxlan-by-hand.l2l3")
    net = l2l3.Network(spec)
    t = one(l2l3.trace(net, "n1/a", "10.244.2.2"))
    assert t.delivered_to == "n2/b"
    enc = [h.packet for h in t.hops if h.packet.outer is not None]
    assert enc, "the packet crossed the LAN encapsulated"
    o = enc[0].outer
    assert o is not None
    assert (o.src, o.dst, o.dport, o.vni) == (A("192.168.56.11"), A("192.168.56.12"), 8472, 1)
    assert enc[0].smac == "8e:00:00:00:00:01" and enc[0].dmac == "8e:00:00:00:00:02"
    assert t.final is not None and t.final.ttl == 62 and t.final.outer is None
