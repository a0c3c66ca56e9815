"""Six behaviours checked against primary sources (issue 14, "six behaviours the model gets wrong").

Each test names its source in its docstring. Verdicts come from the checker
(the z3 engine, every witness replayed through the simulator), so a test
that passes exercises both engines.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

import l2l3
from l2l3.model import choices, policy
from l2l3.model.network import Network
from l2l3.model.types import Proto

# Two nodes on one segment, both written with the shorthand; {cni} is the cluster's profile line.
TWO_NODES = """
cluster c {{
    pod-cidr 10.244.0.0/16
    service-cidr 10.96.0.0/12
    cni {cni}
}}
segment lan 10.127.130.0/24 gateway 10.127.130.1
external internet 0.0.0.0/0 via lan
node win1 {os1} ip 10.127.130.38 on lan subnet 10.244.3.0/24 {{
    pod iis ip 10.244.3.4 namespace shop
}}
node lin1 {os2} ip 10.127.130.37 on lan subnet 10.244.1.0/24 {{
    pod web ip 10.244.1.5 namespace shop
}}
"""


def net_of(cni: str, os1: str = "windows", os2: str = "linux", extra: str = "") -> Network:
    return Network(l2l3.loads(TWO_NODES.format(cni=cni, os1=os1, os2=os2) + extra))


def verdict(net: Network, query: str) -> str:
    return l2l3.evaluate(net, query).status.value


def exceptions(net: Network, node: str) -> list[list[str]]:
    return [[str(e) for e in ob.exceptions] for ob in net.spec_node(node).outbound_nats]


# --------------------------------------------------------------------------
# 3. Calico for Windows: OutBoundNAT excepts the Service CIDR and the IP pools only


@pytest.mark.parametrize("cni", ["calico bgp", "calico vxlan"])
def test_calico_windows_outbound_nat_excepts_service_cidr_and_pools(cni: str) -> None:
    """tigera/operator ``pkg/render/windows.go`` (``createCalicoPluginConfig``): the
    calico-node-windows CNI config has one OutBoundNAT whose ExceptionList is the
    Service CIDRs; projectcalico/calico ``cni-plugin`` ``winpol.CalculateEndpointPolicies``
    appends the IP pools to that list. The node segment is not excepted (flannel's E2
    sample list excepts it), so a pod's packet to another node's address is NATed."""
    net = net_of(cni)
    assert exceptions(net, "win1") == [["10.96.0.0/12", "10.244.0.0/16"]]
    assert verdict(net, "nat win1/iis -> 10.127.130.37 tcp port 80 as 10.127.130.38") == "holds"
    assert verdict(net, "reach win1/iis -> lin1/web without nat") == "holds"  # pools excepted


def test_flannel_windows_keeps_e2_exceptions() -> None:
    """containernetworking/plugins E2 (microsoft/SDN flannel l2bridge cni.conf): under
    flannel the node segment stays excepted, so pod -> node address is not NATed."""
    net = net_of("flannel host-gw")
    assert "10.127.130.0/24" in exceptions(net, "win1")[0]
    assert verdict(net, "reach win1/iis -> 10.127.130.37 tcp port 80 without nat") == "holds"


# --------------------------------------------------------------------------
# 4. Calico natOutgoing: false removes OutBoundNAT on Windows


@pytest.mark.parametrize("cni", ["calico bgp", "calico vxlan"])
def test_calico_windows_nat_outgoing_off_drops_outbound_nat(cni: str) -> None:
    """projectcalico/calico ``cni-plugin`` ``winpol.CalculateEndpointPolicies``: with the
    pool's ``natOutgoing`` false the OutBoundNAT policy from the NetConf is skipped
    ("NAT-outgoing disabled for this IP pool, ignoring OutBoundNAT policy from NetConf")
    and none is added, so pod traffic leaves with the pod's own address."""
    on, off = net_of(cni), net_of(cni + " nat-outgoing off")
    assert exceptions(on, "win1") != [] and exceptions(off, "win1") == []
    q = "203.0.113.7 tcp port 80"
    assert verdict(on, f"nat win1/iis -> {q} as 10.127.130.38") == "holds"
    assert verdict(off, f"reach win1/iis -> {q} without nat") == "holds"
    assert verdict(off, f"nat win1/iis -> {q} as 10.127.130.38") == "violated"


# --------------------------------------------------------------------------
# 1. Windows OutBoundNAT does not translate ICMP


@pytest.mark.parametrize("cni", ["flannel host-gw", "flannel vxlan", "calico bgp"])
def test_outbound_nat_leaves_icmp_untranslated(cni: str) -> None:
    """Kubernetes docs, Windows networking, Limitations: VFP "doesn't support ICMP
    packet transpositions", so pings from Windows pods to destinations outside the
    OutBoundNAT exceptions leave with the pod's address (microsoft/SDN#170: "ping
    fails, curl works"); TCP and UDP are translated. win-bridge (flannel host-gw,
    calico bgp) and win-overlay (flannel vxlan) alike. Switch: choices.OUTBOUND_NAT_ICMP."""
    net = net_of(cni)
    out = "win1/iis -> 203.0.113.7"
    assert verdict(net, f"nat {out} tcp port 80 as 10.127.130.38") == "holds"
    assert verdict(net, f"nat {out} udp port 53 as 10.127.130.38") == "holds"
    assert verdict(net, f"reach {out} icmp without nat") == "holds"
    assert verdict(net, f"nat {out} icmp as 10.127.130.38") == "violated"
    assert verdict(net, f"reach {out} icmp with nat") == "violated"


def test_outbound_nat_icmp_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch's other setting: ICMP translated like TCP/UDP (the model before the
    Kubernetes docs' limitation was applied)."""
    monkeypatch.setattr(choices, "OUTBOUND_NAT_ICMP", True)
    net = net_of("flannel host-gw")
    assert verdict(net, "nat win1/iis -> 203.0.113.7 icmp as 10.127.130.38") == "holds"


# --------------------------------------------------------------------------
# 2. flannel vxlan (win-overlay): a Windows host reaches only its local pods


def test_windows_host_reaches_only_local_pods_under_flannel_vxlan() -> None:
    """Kubernetes docs, Windows networking, Limitations (flannel VXLAN): "Node-pod
    connectivity is only possible for local pods"; flannel PR #1096 ("Enable host to
    local pod connectivity in Windows VXLAN") adds a host route to the node's own pods
    only: "Windows hosts still do not have connectivity with pods running on remote
    hosts". The remote-subnet routes are VFP policies on endpoint ports (CNI-SEMANTICS
    §2(d)), so pods still cross, and a Linux host (flannel.N routes) still reaches the
    Windows node's pods. Switch: choices.WINDOWS_HOST_VIA_OVERLAY."""
    net = net_of("flannel vxlan")
    assert verdict(net, "reach node win1 -> win1/iis") == "holds"
    assert verdict(net, "no reach node win1 -> lin1/web") == "holds"
    assert verdict(net, "reach win1/iis -> lin1/web") == "holds"
    assert verdict(net, "reach lin1/web -> win1/iis") == "holds"
    assert verdict(net, "reach node lin1 -> win1/iis") == "holds"
    t = l2l3.trace(net, "node win1", "10.244.1.5")
    assert [x.disposition.value for x in t] == ["dropped"] and "no route into the overlay" in (
        t[0].reason or ""
    )


def test_windows_host_via_overlay_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch's other setting: the Windows host sends through the tunnel like its pods."""
    monkeypatch.setattr(choices, "WINDOWS_HOST_VIA_OVERLAY", True)
    assert verdict(net_of("flannel vxlan"), "reach node win1 -> lin1/web") == "holds"


# --------------------------------------------------------------------------
# 5. NetworkPolicy never blocks a pod's own node

RESIDENT = """
cluster c {{
    pod-cidr 10.244.0.0/16
    cni {cni}
}}
segment lan 10.127.130.0/24 gateway 10.127.130.1
node n1 linux ip 10.127.130.11 on lan subnet 10.244.1.0/24 {{
    pod p0 ip 10.244.1.10 namespace shop
    pod p1 ip 10.244.1.11 namespace dev
    pod agent host-network namespace kube-system
}}
node n2 linux ip 10.127.130.12 on lan subnet 10.244.2.0/24 {{
    pod q0 ip 10.244.2.10 namespace dev
    pod agent2 host-network namespace kube-system
}}
policy deny-in namespace shop {{
    select
    types ingress
}}
"""


@pytest.mark.parametrize("cni", ["calico bgp", "calico vxlan", "antrea", "kindnet"])
def test_policy_never_blocks_the_resident_node(cni: str) -> None:
    """Kubernetes docs, Network Policies, "What you can't do with network policies":
    pods cannot "block access from their resident node"; projectcalico/calico PR #2691
    (docs "Protect hosts"): "Calico allows all connections from processes running on
    the host to guest workloads on the host"; calico#2797 (a deny-all GlobalNetworkPolicy
    still lets the node reach its own pods); kube-router PR #195. "From its resident node"
    is the node's own stack as sender on its local path: the node from any of its
    addresses, its host-network pods (the same stack); another node, or a pod of the
    same node, is still refused."""
    net = Network(l2l3.loads(RESIDENT.format(cni=cni)))
    assert verdict(net, "reach node n1 -> n1/p0 tcp port 80") == "holds"
    assert verdict(net, "reach n1/agent -> n1/p0 tcp port 80") == "holds"
    assert verdict(net, "reach 10.127.130.11 -> n1/p0 tcp port 80") == "holds"  # bound to eth0's address
    assert verdict(net, "no reach node n2 -> n1/p0") == "holds"
    assert verdict(net, "no reach n2/agent2 -> n1/p0") == "holds"
    assert verdict(net, "no reach n1/p1 -> n1/p0") == "holds"
    assert verdict(net, "no reach namespace kube-system -> n1/p0") == "violated"  # n1/agent reaches it


def test_resident_node_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch's other setting: ingress rules apply to node -> own-pod traffic too."""
    monkeypatch.setattr(policy, "FROM_RESIDENT_NODE_ALLOWED", False)
    net = Network(l2l3.loads(RESIDENT.format(cni="calico bgp")))
    assert verdict(net, "no reach node n1 -> n1/p0") == "holds"
    assert verdict(net, "no reach namespace kube-system -> n1/p0") == "holds"


# --------------------------------------------------------------------------
# 6. A no-netns pod sends from its node's stack: the route's source, or its own address

SHARED_STACK = """
segment lan 10.0.0.0/24
node n1 linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge cni0 linux ip 10.20.1.1/24
    pod p0 ip 10.20.1.10/24 on cni0
    route 10.20.2.0/24 via 10.0.0.2 dev eth0
    filter deny from 10.20.2.0/24 tcp port 80
}
node n2 linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge cni0 linux ip 10.20.2.1/24
    pod nn ip 10.20.2.5/24 on cni0 no-netns
    route 10.20.1.0/24 via 10.0.0.1 dev eth0
}
"""


def test_no_netns_pod_sends_like_its_node() -> None:
    """LANGUAGE.md §1 (`no-netns`: the pod's processes share the node's stack) and Linux
    source address selection (an unbound socket takes the route's preferred source,
    ip-route(8) "src"; bind(2) fixes another local address): the shared stack sends from
    the node's address unless bound to the pod's. Shown in real namespaces by
    tests/kernel/test_shared_stack.py. So `reach n2/nn -> …` agrees with `reach node n2 -> …`."""
    net = Network(l2l3.loads(SHARED_STACK))
    for sender in ("n2/nn", "node n2"):
        assert verdict(net, f"reach {sender} -> n1/p0 tcp port 80") == "holds", sender
        assert verdict(net, f"nat {sender} -> n1/p0 tcp port 80 as 10.0.0.2") == "holds", sender
    # the bound socket (the pod's own address) is the one the filter drops
    assert verdict(net, "no reach 10.20.2.5 -> n1/p0 tcp port 80") == "holds"
    # and `no reach` sees both sources: the unbound one gets through
    assert verdict(net, "no reach n2/nn -> n1/p0 tcp port 80") == "violated"
    assert verdict(net, "reach n2/nn -> n1/p0 udp port 53") == "holds"
    assert l2l3.trace(net, "n2/nn", "10.20.1.10", Proto.TCP, 80)[0].packet.src == IPv4Address("10.0.0.2")


# --------------------------------------------------------------------------
# Decided and documented (docs/language.md, docs/semantics.md): an empty pod block


def test_empty_pod_block_is_the_plugins_default_route() -> None:
    """What real nodes run: every plugin gives a pod a default route (containernetworking
    bridge `isDefaultGateway`, CNI-SEMANTICS §3(h); ptp/kindnet IPAM routes §5; Calico
    169.254.1.1 §7(h); the HNS endpoint gateway §1(h)), so `{ }` means the same as no
    block; a pod with only its connected route writes that route out."""
    spec = SHARED_STACK.replace(
        "pod p0 ip 10.20.1.10/24 on cni0", "pod p0 ip 10.20.1.10/24 on cni0 {{ROUTES}}"
    )

    def routes(block: str) -> list[tuple[str, str | None]]:
        net = Network(l2l3.loads(spec.replace("{ROUTES}", block)))
        return [(str(r.prefix), str(r.via) if r.via else None) for r in net.stacks["n1/p0"].routes]

    plain = Network(l2l3.loads(SHARED_STACK)).stacks["n1/p0"].routes  # no block at all
    assert [(str(r.prefix), str(r.via) if r.via else None) for r in plain] == routes("") == routes(" ")
    assert routes(" ") == [("10.20.1.0/24", None), ("0.0.0.0/0", "10.20.1.1")]
    assert ("0.0.0.0/0", "10.20.1.1") not in routes(" route 10.20.1.0/24 dev eth0 ")
