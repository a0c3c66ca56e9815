"""The ``service`` destination and kube-proxy's rules: the checker against brute force.

A ``holds`` of ``no reach A -> service S`` and of ``nat A -> service S as IP``
is a proof without a witness (the z3 engine's search over the mark, source
and hairpin conditions of the generated DNAT rules, and the ``arrive`` goal),
so it is compared here with simulating every packet a sender can send to
the cluster IP: TCP, UDP and ICMP, to the Service port and another one. The
clusters are the Service differential test's (tests/kernel/kgen_services.py:
ClusterIP and NodePort, named and numeric targets, selectors and explicit
endpoints, both traffic policies, with and without a cluster CIDR, hostPorts).
"""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import l2l3
from l2l3.model.endpoints import as_destination, resolve, send_address
from l2l3.model.goal import delivery_goal
from l2l3.model.network import Network
from l2l3.model.packet import Packet
from l2l3.model.services import ServiceRef
from l2l3.model.simulate import simulate
from l2l3.model.types import NodeRef, PodRef, Proto, Reach, Spec
from tests.kernel.kgen_services import PROBE_PORT, service_clusters


def _brute(net: Network, sender: object, dst_ref: ServiceRef) -> set[IPv4Address]:
    """The sources packets from ``sender`` arrive with, over every packet to the cluster IP that meets the goal."""
    (d,) = as_destination(net, dst_ref)
    (s,) = resolve(net, sender)  # type: ignore[arg-type]
    goal = delivery_goal([d], Reach(src=sender, dst=dst_ref))  # type: ignore[arg-type]
    assert d.address is not None
    src = send_address(net, s, d.address)
    assert src is not None
    out: set[IPv4Address] = set()
    for proto, port in ((Proto.TCP, PROBE_PORT), (Proto.UDP, PROBE_PORT), (Proto.TCP, 81), (Proto.ICMP, 0)):
        pkt = Packet(src=src, dst=d.address, proto=proto, sport=0 if port == 0 else 40000, dport=port)
        for t in simulate(net, s.origin, pkt):
            if goal.met_by(t) and t.final is not None:
                out.add(t.final.src)
    return out


@settings(max_examples=3, deadline=None)
@given(spec=service_clusters(max_nodes=2, max_services=2), pick=st.randoms(use_true_random=False))
def test_service_verdicts_agree_with_brute_force(spec: Spec, pick: object) -> None:
    _compare(spec, pick)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(spec=service_clusters(), pick=st.randoms(use_true_random=False))
def test_service_verdicts_agree_with_brute_force_long(spec: Spec, pick: object) -> None:
    _compare(spec, pick)


def _compare(spec: Spec, pick: object) -> None:
    net = Network(spec)
    services = [ServiceRef(namespace=s.namespace, name=s.name) for s in spec.services]
    senders: list[object] = [PodRef(node=i.node, pod=i.pod.name) for i in net.pods.values()]
    senders += [NodeRef(node=n.name) for n in spec.nodes]
    for svc in services:
        for sender in pick.sample(senders, min(3, len(senders))):  # type: ignore[attr-defined]
            arrived = _brute(net, sender, svc)
            q = f"{'node ' + sender.node if isinstance(sender, NodeRef) else sender} -> {svc}"
            reach = l2l3.evaluate(net, f"reach {q}").status.value
            no_reach = l2l3.evaluate(net, f"no reach {q}").status.value
            assert (reach == "holds") == bool(arrived), (q, reach, arrived)
            assert (no_reach == "holds") == (not arrived), (q, no_reach, arrived)
            if len(arrived) == 1:
                (only,) = arrived
                assert l2l3.evaluate(net, f"nat {q} as {only}").status.value == "holds", (q, only)
            elif arrived:
                for a in arrived:
                    assert l2l3.evaluate(net, f"nat {q} as {a}").status.value == "violated", (q, a)
