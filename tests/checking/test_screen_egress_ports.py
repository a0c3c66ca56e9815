"""The policy screen on egress rules and ports, and candidate packets from policy atoms.

A pod in a namespace with default-deny egress (only DNS to kube-dns, as
issue 15's realistic mix has it) reaches nothing else: ``no reach`` is proved
by the screen, with no search. Its DNS answer is found by a candidate packet
(UDP 53, from the egress rule's ports) that the simulator delivers, again
with no search. A Service whose port (80) differs from its target (8080)
must keep the screen from using the query's port: the packet sent on port 80
arrives on 8080, which the backend's ingress admits.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network

import pytest

import l2l3
from l2l3.checking import Checker, CheckResult, Verdict
from l2l3.checking.atoms import ALL, UNKNOWN, candidates, intersect, query_atoms, spec_atoms
from l2l3.model.endpoints import Endpoint, pod_endpoint
from l2l3.model.types import Cluster, Headers, Pod, PortSpec, Proto

SPEC = """
segment lan 10.0.0.0/24
node n1 linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.1.1.1/24
    pod a ip 10.1.1.2/24 on br0 namespace x labels app=a
    pod dns ip 10.1.1.3/24 on br0 namespace kube-system labels k8s-app=kube-dns
    route 10.1.2.0/24 via 10.0.0.2 dev eth0
    enforce-policy on
}
node n2 linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge br0 linux ip 10.1.2.1/24
    pod b ip 10.1.2.2/24 on br0 namespace shop labels app=b
    pod c ip 10.1.2.3/24 on br0 namespace y labels app=c
    route 10.1.1.0/24 via 10.0.0.1 dev eth0
    enforce-policy on
}
policy dns-only namespace x {
    select
    types egress
    egress to namespace kube-system pods k8s-app=kube-dns udp 53, tcp 53
}
policy web namespace shop {
    select app=b
    ingress from namespace y tcp 8080
}
policy c-out namespace y {
    select
    types egress
    egress to namespace shop pods app=b tcp 9000-9100
}
service shop/web ip 10.96.0.20 {
    port 80 tcp target 8080
    select app=b
}
"""


@pytest.fixture
def checker() -> Checker:
    spec = replace(l2l3.loads(SPEC), cluster=Cluster(name="c", pod_cidr=IPv4Network("10.1.0.0/16")))
    return Checker(l2l3.Network(spec))


def _no_search(monkeypatch: pytest.MonkeyPatch, checker: Checker) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the query searched; it should have been answered without z3")

    monkeypatch.setattr(checker, "search", refuse)


def _ask(checker: Checker, text: str) -> CheckResult:
    (q,) = l2l3.loads(SPEC + f"check q: {text}\n").checks
    return checker.evaluate(q.query)


def test_default_deny_egress_is_proved_by_the_screen(
    checker: Checker, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_search(monkeypatch, checker)
    for text in ("no reach n1/a -> n2/b", "no reach namespace x -> namespace shop", "no reach n1/a -> n2/c"):
        r = _ask(checker, text)
        assert r.status is Verdict.HOLDS, (text, r.explanation)
    r = _ask(checker, "reach n1/a -> n2/c")
    assert r.status is Verdict.VIOLATED and "egress" in r.explanation, r.explanation


def test_dns_is_reached_by_a_candidate_packet(checker: Checker, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_search(monkeypatch, checker)
    r = _ask(checker, "reach n1/a -> n1/dns")
    assert r.status is Verdict.HOLDS, r.explanation
    assert r.witness is not None and r.witness.delivered_to == "n1/dns"
    assert (r.witness.packet.proto, r.witness.packet.dport) in ((Proto.UDP, 53), (Proto.TCP, 53))


def test_ports_egress_and_ingress_admit_nothing_in_common(
    checker: Checker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # c may send to b on tcp 9000-9100 only; b admits y (c's namespace) on tcp 8080 only
    _no_search(monkeypatch, checker)
    r = _ask(checker, "no reach n2/c -> n2/b")
    assert r.status is Verdict.HOLDS, r.explanation
    refused = checker.screen.refusals(*_ends(checker, "n2/c", "n2/b"))
    assert refused == {0: "policy"}


def _ends(checker: Checker, a: str, b: str) -> tuple[list[Endpoint], list[Endpoint]]:
    return [pod_endpoint(checker.net, a)], [pod_endpoint(checker.net, b)]


def test_a_service_port_rewrite_keeps_the_query_port_out_of_the_screen() -> None:
    # y may reach b only on tcp 8080 (its egress also allows tcp 9000-9100 to b): a packet
    # to the Service on port 80 arrives on 8080, so "tcp port 80" does reach b
    spec = l2l3.loads(SPEC.replace("tcp 9000-9100", "tcp 8080"))
    net = l2l3.Network(replace(spec, cluster=Cluster(name="c", pod_cidr=IPv4Network("10.1.0.0/16"))))
    ck = Checker(net)
    s, d = _ends(ck, "n2/c", "n2/b")
    assert ck.screen.refusals(s, d, Headers(proto=Proto.TCP, port=80)) == {}
    r = _ask(ck, "no reach n2/c -> n2/b tcp port 80")
    assert r.status is Verdict.VIOLATED, r.explanation
    assert r.witness is not None and str(r.witness.packet.dst) == "10.96.0.20"
    # a port no Service rewrites to is refused by the screen
    assert ck.screen.refusals(s, d, Headers(proto=Proto.UDP, port=80)) == {0: "policy"}


def test_atoms() -> None:
    assert spec_atoms(PortSpec(proto=Proto.ICMP, port=80), None) == ()
    assert spec_atoms(PortSpec(proto=Proto.ICMP), None) == ((Proto.ICMP, 0, 65535),)
    assert spec_atoms(PortSpec(proto=Proto.TCP, port="http"), UNKNOWN) == ((Proto.TCP, 0, 65535),)
    assert spec_atoms(PortSpec(proto=Proto.TCP, port="http"), None) == ()
    assert spec_atoms(PortSpec(proto=Proto.TCP, port=9, end_port=12), Pod(name="p")) == ((Proto.TCP, 9, 12),)
    tcp = ((Proto.TCP, 0, 100),)
    assert intersect(ALL, tcp) == tcp
    assert intersect(((None, 50, 200),), tcp) == ((Proto.TCP, 50, 100),)
    assert intersect(((Proto.UDP, 0, 65535),), tcp) == ()
    assert query_atoms(Headers(proto=Proto.TCP, port=80), ports=False) == ((Proto.TCP, 0, 65535),)
    assert candidates(((Proto.UDP, 53, 53), (None, 0, 65535))) == [
        Headers(proto=Proto.UDP, port=53),
        Headers(proto=Proto.TCP, port=80),
    ]
