"""The egress- and port-aware policy screen only ever refuses what no packet does.

l2l3.checking.screen refuses a (senders, destination, headers) triple when
the headers the senders' egress rules admit towards the destination's
addresses, those its ingress rules admit from the arriving sources and the
query's headers have nothing in common. Here every refusal, on random
networks with egress policies (default deny, DNS-style allows, ipBlocks with
exceptions), numbered, ranged and named ports, SNAT, port-rewriting DNAT and
kube-proxy Services, is checked two independent ways: every packet of a
complete header domain simulated from every address the sender may use
(tests.property.brute), and the z3 engine's full search. Neither may deliver
anything into the refused destination.

Breaking the DNAT condition (the query's port kept although a DNAT can
rewrite it) makes ``test_screen_refuses_only_what_nothing_delivers`` and the
Service variant fail: a packet sent to a VIP on the query's port arrives on
the target port, which the ingress rule admits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from ipaddress import IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2l3.checking import Checker
from l2l3.model.endpoints import Endpoint, pod_endpoint
from l2l3.model.goal import Goal, PacketSpace
from l2l3.model.network import Network
from l2l3.model.packet import Disposition, Packet
from l2l3.model.simulate import simulate
from l2l3.model.types import (
    CidrPeer,
    Headers,
    LabelSelector,
    Policy,
    PolicyRule,
    PortSpec,
    Proto,
    SelectorPeer,
    Spec,
)
from tests.kernel.kgen_services import service_clusters
from tests.property.brute import Brute
from tests.property.test_checker_vs_brute import checker_networks

N = IPv4Network
SEEN: Counter[str] = Counter()

#: query headers: none, the ports the generators' rules and DNATs name, a protocol alone
HEADERS = (
    Headers(),
    Headers(proto=Proto.TCP, port=80),
    Headers(proto=Proto.TCP, port=443),
    Headers(proto=Proto.TCP, port=8080),
    Headers(proto=Proto.UDP, port=53),
    Headers(proto=Proto.SCTP),
    Headers(proto=Proto.ICMP),
    Headers(proto=Proto.UDP),
)

_PORTS = [
    (),
    (PortSpec(proto=Proto.UDP, port=53), PortSpec(proto=Proto.TCP, port=53)),
    (PortSpec(proto=Proto.TCP, port=443),),
    (PortSpec(proto=Proto.TCP, port=8080),),
    (PortSpec(proto=Proto.TCP, port="http"),),
    (PortSpec(proto=Proto.TCP, port=440, end_port=450),),
    (PortSpec(proto=Proto.SCTP),),
]
_PEERS = [
    (),
    (SelectorPeer(pods=LabelSelector(match=(("app", "s"),))),),
    (SelectorPeer(pods=LabelSelector(match=(("app", "a"),)), namespaces=LabelSelector()),),
    (CidrPeer(cidr=N("0.0.0.0/0"), exceptions=(N("10.0.0.0/8"),)),),
    (CidrPeer(cidr=N("10.0.0.0/8"), exceptions=(N("10.1.1.0/24"),)),),
]


@st.composite
def _rules(draw: st.DrawFn, max_size: int) -> tuple[PolicyRule, ...]:
    rule = st.builds(PolicyRule, peers=st.sampled_from(_PEERS), ports=st.sampled_from(_PORTS))
    return tuple(draw(st.lists(rule, max_size=max_size)))


@st.composite
def _extra_policies(draw: st.DrawFn, namespaces: list[str]) -> tuple[Policy, ...]:
    """Egress policies (default deny, DNS-style, ipBlock), and ingress rules on ports."""
    out = []
    for k in range(draw(st.integers(0, 3))):
        ns = draw(st.sampled_from(namespaces))
        types = draw(st.sampled_from([{"egress"}, {"ingress"}, {"ingress", "egress"}]))
        out.append(
            Policy(
                name=f"x{k}",
                namespace=ns,
                select=LabelSelector(match=draw(st.sampled_from([(), (("app", "s"),), (("app", "t"),)]))),
                ingress=draw(_rules(2)) if "ingress" in types else (),
                egress=draw(_rules(2)) if "egress" in types else (),
                types=frozenset(types),
            )
        )
    return tuple(out)


@st.composite
def port_networks(draw: st.DrawFn) -> Spec:
    """checker_networks (SNAT, OutBoundNAT, DNAT 80 -> 443, VXLAN, l2bridge) with egress and port policies."""
    spec = draw(checker_networks())
    if draw(st.booleans()):
        spec = replace(spec, nodes=tuple(replace(n, enforce_policy=True) for n in spec.nodes))
    extra = draw(_extra_policies(["ns0", "ns1"]))
    return replace(spec, policies=(*spec.policies, *extra))


@st.composite
def service_networks(draw: st.DrawFn) -> Spec:
    """Clusters with kube-proxy Services (port 80 -> target 8080 or ``http``), enforcing policy."""
    spec = draw(
        service_clusters(max_nodes=2, max_pods=2, max_services=2).filter(
            lambda sp: sum(len(n.pods) for n in sp.nodes) > 1  # a pair to ask about
        )
    )
    nodes = tuple(replace(n, enforce_policy=True) for n in spec.nodes)
    # the backends admit their target port (a number or the name): a screen that kept the
    # query's Service port would refuse what the Service delivers
    target = draw(
        st.sampled_from([PortSpec(proto=Proto.TCP, port=8080), PortSpec(proto=Proto.TCP, port="http")])
    )
    backends = Policy(name="backends", namespace="shop", ingress=(PolicyRule(ports=(target,)),))
    return replace(spec, nodes=nodes, policies=(backends, *draw(_extra_policies(["shop"]))))


def _senders(net: Network) -> list[Endpoint]:
    return [pod_endpoint(net, p) for p in sorted(net.pods)]


def _destinations(net: Network) -> list[Endpoint]:
    return [pod_endpoint(net, p) for p in sorted(net.pods)]


def _delivers(
    brute: Brute, checker: Checker, s: Endpoint, d: Endpoint, h: Headers, engine: bool
) -> str | None:
    """How a packet from ``s`` within ``h`` gets into ``d``'s stack, or None.

    The simulator sends every packet of the brute-force domain's protocols and
    ports to every address that can lead into ``d``: its own, and every
    address some DNAT rewrites (only DNAT changes a destination), from every
    source ``s`` may use; the ports are the domain's and every port a DNAT
    matches (Service and node ports). With ``engine``, the z3 engine's full
    search must find nothing either (seconds per search on a cluster with
    Services, so the everyday variants leave it to the slow ones).
    """
    assert d.stack is not None
    net = checker.net
    targets = set(net.stacks[d.stack].local_addrs) | {x.vip for st_ in net.stacks.values() for x in st_.dnats}
    dnat_ports = {x.port for st_ in net.stacks.values() for x in st_.dnats if x.port is not None}
    headers = sorted(
        {(proto, port) for _, proto, port in brute.dom}
        | {(proto, port) for proto in (Proto.TCP, Proto.UDP, Proto.SCTP) for port in dnat_ports}
    )
    for dst in sorted(targets):
        for proto, port in headers:
            if h.proto is not None and proto is not h.proto:
                continue
            if h.port is not None and (proto is Proto.ICMP or port != h.port):
                continue
            for src in brute._sources(s, dst):
                pkt = Packet(
                    src=src, dst=dst, proto=proto, sport=0 if proto is Proto.ICMP else 40000, dport=port
                )
                for t in simulate(net, s.origin, pkt):
                    if t.disposition is Disposition.DELIVERED and t.delivered_to == d.stack:
                        return f"the simulator delivers {t.packet}"
    if not engine:
        return None
    space = PacketSpace(src=s.src, proto=h.proto, dport=h.port)
    found = checker.engine.search(s.origin, Goal(receivers=frozenset({d.stack})), space)
    return None if found is None else f"the engine finds {found.packet}"


def _check(spec: Spec, engine: int = 10**9) -> None:
    """Every refusal against the simulator; the first ``engine`` of them also against the engine."""
    net = Network(spec)
    checker = Checker(net)
    brute = Brute(net, [])
    senders, dsts = _senders(net), _destinations(net)
    done: set[tuple[str, str, Headers]] = set()
    for h in HEADERS:
        # one sender at a time, then every sender of a namespace at once (no reach's form)
        groups = [[s] for s in senders]
        for ns in sorted({net.pods[p].pod.namespace for p in net.pods}):
            groups.append([s for s in senders if s.pod and net.pods[s.pod].pod.namespace == ns])
        for srcs in groups:
            refused = checker.screen.refusals(srcs, dsts, h)
            SEEN["asked"] += len(dsts)
            for i, kind in sorted(refused.items()):
                d = dsts[i]
                SEEN[kind] += 1
                SEEN["with headers" if h != Headers() else "no headers"] += 1
                for s in srcs:
                    if s.same_as(d) or (s.label, d.label, h) in done:
                        continue
                    done.add((s.label, d.label, h))
                    how = _delivers(brute, checker, s, d, h, len(done) <= engine)
                    assert how is None, (
                        f"screen refused {s.label} -> {d.label} ({h or 'any'}, {kind}), but {how}"
                    )


@settings(max_examples=4, deadline=None)
@given(port_networks())
def test_screen_refuses_only_what_nothing_delivers(spec: Spec) -> None:
    _check(spec)


@settings(max_examples=3, deadline=None)
@given(service_networks())
def test_screen_refuses_only_what_nothing_delivers_through_services(spec: Spec) -> None:
    _check(spec, engine=0)


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@given(port_networks())
def test_screen_refuses_only_what_nothing_delivers_long(spec: Spec) -> None:
    _check(spec)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(service_networks())
def test_screen_refuses_only_what_nothing_delivers_through_services_long(spec: Spec) -> None:
    _check(spec, engine=4)  # the engine takes seconds per search on these clusters


def test_screen_was_exercised() -> None:
    """Runs after the properties above (file order): egress/port refusals, with and without headers."""
    if not SEEN["policy"]:
        test_screen_refuses_only_what_nothing_delivers()
    assert SEEN["policy"] > 0, SEEN
    assert SEEN["with headers"] > 0 and SEEN["no headers"] > 0, SEEN
