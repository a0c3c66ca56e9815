"""The policy screen counts kube-proxy's masquerade among the sources a packet arrives with.

kube-proxy (iptables mode, kubernetes/kubernetes pkg/proxy/iptables/proxier.go:
KUBE-SVC-… jumps to KUBE-MARK-MASQ for cluster-IP traffic from outside the
cluster CIDR, and KUBE-POSTROUTING masquerades marked packets) rewrites the
source of q's packet to its Service to n1's address. b admits only the node
segment, so b's ingress policy refuses q's own address but not what q's packet
arrives with. A screen that left the masquerading node's addresses out of its
NAT sources proved ``no reach`` here without a witness (seen: ``holds``, "1 of
1 destinations refuse"); the answer is ``violated``, with a replayed witness.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import l2l3
from l2l3.checking import Verdict
from l2l3.model.types import Cluster

SPEC = """
segment lan 10.0.0.0/24
node n1 linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.2.1.1/24
    pod q ip 10.2.1.2/24 on br0 namespace x labels app=q
    route 10.1.2.0/24 via 10.0.0.2 dev eth0
}
node n2 linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge br0 linux ip 10.1.2.1/24
    pod b ip 10.1.2.2/24 on br0 namespace shop labels app=b
    route 10.2.1.0/24 via 10.0.0.1 dev eth0
    enforce-policy on
}
policy from-nodes namespace shop {
    select app=b
    ingress from cidr 10.0.0.0/24
}
service shop/web ip 10.96.0.20 {
    port 80 tcp
    select app=b
}
"""


def test_a_masqueraded_service_packet_gets_through_a_policy_that_refuses_its_sender() -> None:
    # q (10.2.1.2) is outside the cluster CIDR, so its cluster-IP traffic is masqueraded
    spec = replace(l2l3.loads(SPEC), cluster=Cluster(name="c", pod_cidr=IPv4Network("10.1.0.0/16")))
    net = l2l3.Network(spec)
    for q in ("no reach n1/q -> n2/b", "no reach namespace x -> n2/b"):
        r = l2l3.evaluate(net, q)
        assert r.status is Verdict.VIOLATED, (q, r.explanation)
        assert r.witness is not None and r.witness.delivered_to == "n2/b"
        assert r.witness.packet.dst == IPv4Address("10.96.0.20")
        assert r.witness.final is not None and r.witness.final.src == IPv4Address("10.0.0.1")
