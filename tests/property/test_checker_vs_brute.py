"""Soundness where verdicts are decided: Checker.evaluate against brute force.

Every verdict the checker reaches without a replayable witness — a
``holds`` of ``no reach``/``isolated``/``nat … as``, the policy screen,
source classes, the pre-image split, self pairs, vacuous cases — is
compared here with :mod:`tests.property.brute`, which simulates every
packet of a complete small header domain from every sender address. The
networks are richer than the engine-level tests': several subnets on one
bridge, pods that share labels (so source classes form), host-network and
no-netns pods, CIDR policy peers, externals, NAT, filters, VXLAN and
Windows l2bridge (from netgen.rich_networks).

Restoring the old source-class key (node, bridge, written routes,
namespace, labels, prefix length — not the subnet) makes
``test_checker_agrees_with_brute_force`` fail within its CI examples; so
does a policy screen that refuses every policy-guarded pod (a third of the
networks enforce policy everywhere, with peers naming the labels pods
carry, so guarded pods that senders do reach are common).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2l3.checking import Checker, Verdict
from l2l3.errors import QueryError
from l2l3.model.network import Network
from l2l3.model.types import (
    AddressRef,
    CidrPeer,
    External,
    ExternalRef,
    Headers,
    Isolated,
    LabelRef,
    LabelSelector,
    NamespaceRef,
    NatAs,
    NatMode,
    NetnsIsolation,
    NodeRef,
    NoLoops,
    Pod,
    PodRef,
    PolicyRule,
    Proto,
    Reach,
    SelectorPeer,
    Spec,
    StackMode,
)
from tests.property.brute import Brute, query_prefixes
from tests.property.netgen import rich_networks

A, N = IPv4Address, IPv4Network
LABELS = ((("app", "s"),), (("app", "t"),))
SEEN: Counter[str] = Counter()


@st.composite
def checker_networks(draw: st.DrawFn) -> Spec:
    """rich_networks with shared labels, a second subnet on a bridge, host-network pods and CIDR peers."""
    spec = draw(rich_networks())
    nodes = []
    for node in spec.nodes:
        i = int(node.name[1:])
        pods = [replace(p, labels=draw(st.sampled_from(LABELS))) for p in node.pods]
        if draw(st.booleans()) and node.bridges:
            # pods of another subnet on the same bridge; the first often alike its
            # neighbour p0 (same namespace and labels), so a source class could join them
            for j in range(draw(st.integers(1, 2))):
                twin = j == 0 and pods and draw(st.integers(0, 3)) > 0
                pods.append(
                    Pod(
                        name=f"q{j}",
                        ip=IPv4Interface(f"10.2.{i}.{j + 2}/24"),
                        bridge=node.bridges[0].name,
                        namespace=pods[0].namespace if twin else draw(st.sampled_from(["ns0", "ns1"])),
                        labels=pods[0].labels if twin else draw(st.sampled_from(LABELS)),
                        mode=StackMode.NETNS if draw(st.integers(0, 3)) else StackMode.NO_NETNS,
                    )
                )
        if draw(st.integers(0, 3)) == 0:
            pods.append(Pod(name="h", mode=StackMode.HOST_NETWORK, namespace="ns0", labels=LABELS[0]))
        nodes.append(replace(node, pods=tuple(pods)))
    # guarded pods that some senders may reach: where the policy screen acts.
    # rich_networks' selector peers name labels (app=aJ) that the relabelling
    # above removed, so a peer naming the labels pods now carry is added, and
    # policy is enforced on every node of such a network
    guarded = draw(st.integers(0, 2)) == 0
    if guarded:
        nodes = [replace(n, enforce_policy=True) for n in nodes]
    policies = []
    for pol in spec.policies:
        if draw(st.booleans()):
            cidr = CidrPeer(
                cidr=N("10.1.0.0/16"), exceptions=draw(st.sampled_from([(), (N("10.1.1.0/24"),)]))
            )
            pol = replace(pol, ingress=(*pol.ingress, PolicyRule(peers=(cidr,))))
        if guarded or draw(st.integers(0, 3)) == 0:
            peer = SelectorPeer(pods=LabelSelector(match=draw(st.sampled_from(LABELS))))
            pol = replace(pol, ingress=(*pol.ingress, PolicyRule(peers=(peer,))))
        select = draw(st.sampled_from([(), *LABELS]))
        policies.append(replace(pol, select=LabelSelector(match=select)))
    externals = spec.externals
    if externals and draw(st.booleans()):
        externals = (*externals, External(name="doc", prefix=N("198.51.100.0/24"), via="lan"))
    return replace(spec, nodes=tuple(nodes), policies=tuple(policies), externals=externals)


def _endpoints(net: Network) -> list[object]:
    out: list[object] = []
    for pid in sorted(net.pods):
        node, pod = pid.split("/", 1)
        out.append(PodRef(node=node, pod=pod))
    out += [NodeRef(node=n) for n, s in sorted(net.stacks.items()) if s.kind == "node"]
    out += [
        NamespaceRef(namespace="ns0"),
        NamespaceRef(namespace="ns1"),
        *[LabelRef(selector=LabelSelector(match=lb)) for lb in LABELS],
        LabelRef(selector=LabelSelector(match=LABELS[0]), namespace="ns1"),
    ]
    out += [ExternalRef(name=e) for e in sorted(net.externals)]
    out += [AddressRef(prefix=N(f"{a}/32")) for a in sorted(net.owners)[:6]]
    out += [AddressRef(prefix=N(p)) for p in ("10.1.0.0/16", "10.2.1.0/24", "8.8.8.8/32", "10.96.0.1/32")]
    return out


@st.composite
def queries(draw: st.DrawFn, net: Network) -> list[object]:
    ends = _endpoints(net)
    pick = st.sampled_from(ends)
    headers = st.sampled_from(
        [
            Headers(),
            Headers(proto=Proto.TCP, port=80),
            Headers(proto=Proto.UDP),
            Headers(proto=Proto.ICMP),
            Headers(proto=Proto.SCTP),
        ]
    )
    # one set of senders towards every pod: where source classes and the screen act
    group = draw(st.sampled_from([e for e in ends if isinstance(e, NamespaceRef | LabelRef)]))
    headers0 = draw(headers)
    out: list[object] = [
        Reach(src=group, dst=e, negated=True, headers=headers0) for e in ends if isinstance(e, PodRef)
    ]
    for _ in range(draw(st.integers(3, 7))):
        kind = draw(st.sampled_from(["reach", "no reach", "no reach", "isolated", "nat", "netns", "loops"]))
        if kind in ("reach", "no reach"):
            # set sources towards one pod are where source classes act
            sets = [e for e in ends if isinstance(e, NamespaceRef | LabelRef)]
            pods = [e for e in ends if isinstance(e, PodRef)]
            second = [e for e in pods if isinstance(e, PodRef) and e.pod.startswith("q")]
            pods = second if second and draw(st.booleans()) else pods  # the second subnet's pods
            shaped = kind == "no reach" and pods and draw(st.integers(0, 2)) > 0
            out.append(
                Reach(
                    src=draw(st.sampled_from(sets)) if shaped else draw(pick),
                    dst=draw(st.sampled_from(pods)) if shaped else draw(pick),
                    negated=kind == "no reach",
                    headers=draw(headers),
                    via_mac=draw(st.integers(0, 4)) == 0,
                    nat=draw(st.sampled_from([NatMode.ANY, NatMode.ANY, NatMode.WITH, NatMode.WITHOUT])),
                )
            )
        elif kind == "isolated":
            out.append(Isolated(a=draw(pick), b=draw(pick), headers=draw(headers)))
        elif kind == "nat":
            ip = draw(st.sampled_from(sorted(net.owners)))
            out.append(NatAs(src=draw(pick), dst=draw(pick), ip=ip, headers=draw(headers)))
        elif kind == "netns":
            nodes = [n for n, s in net.stacks.items() if s.kind == "node"]
            out.append(NetnsIsolation(node=draw(st.sampled_from([None, *sorted(nodes)]))))
        else:
            out.append(NoLoops())
    return out


def _compare(spec: Spec, data: st.DataObject) -> None:
    net = Network(spec)
    checker = Checker(net)
    qs = data.draw(queries(net))
    brute = Brute(net, [p for q in qs for p in query_prefixes(q)])  # type: ignore[arg-type]
    for q in qs:
        try:
            got = checker.evaluate(q)  # type: ignore[arg-type]
        except QueryError:
            with pytest.raises(QueryError):
                brute.verdict(q)  # type: ignore[arg-type]
            SEEN["input error"] += 1
            continue
        if got.status is Verdict.UNKNOWN:
            SEEN["unknown"] += 1
            continue
        want = brute.verdict(q)  # type: ignore[arg-type]
        SEEN[f"{type(q).__name__} {want.value}"] += 1
        assert got.status is want, (
            f"{q}: checker says {got.status.value} ({got.explanation}), brute force {want.value}"
        )


@settings(max_examples=30)
@given(checker_networks(), st.data())
def test_checker_agrees_with_brute_force(spec: Spec, data: st.DataObject) -> None:
    _compare(spec, data)


@pytest.mark.slow
@settings(max_examples=300)
@given(checker_networks(), st.data())
def test_checker_agrees_with_brute_force_long(spec: Spec, data: st.DataObject) -> None:
    _compare(spec, data)


def test_source_class_regression_two_subnets_on_one_bridge() -> None:
    """The false ``holds`` of issue 11: a class of a (10.1.0.2/24) and b (10.2.0.2/24)."""
    import l2l3

    spec = l2l3.loads(
        """
segment lan 10.0.0.0/24
node n linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.1.0.1/24
    pod a ip 10.1.0.2/24 on br0 namespace x labels app=s
    pod b ip 10.2.0.2/24 on br0 namespace x labels app=s
    pod c ip 10.2.0.3/24 on br0 namespace x labels app=c
    forwarding off
}
"""
    )
    net = l2l3.Network(spec)
    one = l2l3.evaluate(net, "no reach n/b -> n/c")
    assert one.status is Verdict.VIOLATED
    both = l2l3.evaluate(net, "no reach pods app=s -> n/c")
    assert both.status is Verdict.VIOLATED, both.explanation
    assert both.witness is not None and both.witness.packet.src == IPv4Address("10.2.0.2")
