"""Positive set queries answered by classes (l2l3.checking.sets) against brute force.

A ``holds`` of ``reach A -> B`` by classes simulates only O(|A| + |B|) of
the |A|·|B| pairs; the rest is lifted. These tests force that path on
(``MIN_PAIRS`` = 1) and compare every verdict with
:mod:`tests.property.brute`, which simulates every packet of a complete
header domain for every pair. The networks are generated clusters (every
CNI profile; so classes have many members) with perturbations that break
the symmetry for some pods only: a filter on one pod's address, a pod
relabelled, a policy that admits one label from another, an SNAT of one
pod, a stray route to one pod, no-netns pods; and the rich random
networks of test_checker_vs_brute.

A signature that forgets the pods' labels, with the member confirmations
turned off, makes ``test_set_reach_agrees_with_brute_force`` fail (see the
report of issue 15); with the confirmations on, the same broken signature
is caught by the confirmations and the fallback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import l2l3
from l2l3.checking import Checker, Verdict, sets
from l2l3.generate import generate
from l2l3.model.network import Network
from l2l3.model.types import Headers, LabelRef, LabelSelector, NamespaceRef, Proto, Reach, Spec
from tests.property.brute import Brute
from tests.property.test_checker_vs_brute import checker_networks

SEEN: Counter[str] = Counter()
CNIS = ["calico bgp", "calico vxlan", "flannel host-gw", "flannel vxlan", "antrea", "kindnet", "bridge"]
HEADERS = [Headers(), Headers(proto=Proto.TCP, port=80), Headers(proto=Proto.UDP), Headers(proto=Proto.ICMP)]


@contextmanager
def by_classes() -> Iterator[None]:
    """Every set query of pods through the class path, however few its pairs."""
    old = sets.MIN_PAIRS
    sets.MIN_PAIRS = 1
    try:
        yield
    finally:
        sets.MIN_PAIRS = old


@st.composite
def clusters(draw: st.DrawFn, max_nodes: int = 3, max_pods: int = 3) -> str:
    """A generated cluster, perturbed for a few pods."""
    nodes, pods = draw(st.integers(2, max_nodes)), draw(st.integers(2, max_pods))
    text = generate(
        nodes,
        pods,
        cni=draw(st.sampled_from(CNIS)),
        namespaces=draw(st.integers(1, 2)),
        policies_per_namespace=draw(st.integers(0, 2)),
        seed=draw(st.integers(0, 3)),
        pairs="none",
        netns_check=False,
    )
    lines = text.splitlines()
    pod_lines = [i for i, x in enumerate(lines) if x.startswith("    pod ")]
    node_ends = [i for i, x in enumerate(lines) if x == "}" and _node_of(lines, i)]
    extra: dict[int, list[str]] = {}  # line index of a node's "}" -> lines before it
    top: list[str] = []
    for kind in draw(
        st.lists(st.sampled_from(["filter", "relabel", "policy", "snat", "route", "nonetns"]), max_size=2)
    ):
        at = draw(st.sampled_from(pod_lines))
        ip = lines[at].split()[3]
        home = next(e for e in node_ends if e > at)  # the pod's own node
        end = draw(st.sampled_from([home, *node_ends]))
        if kind == "filter":
            what = draw(st.sampled_from(["from", "to"]))
            extra.setdefault(end, []).append(f"    filter deny {what} {ip}/32")
        elif kind == "relabel":
            lines[at] = lines[at].rsplit("app=", 1)[0] + "app=a9"
        elif kind == "policy":
            ns = draw(st.sampled_from(["ns0", "ns1"]))
            top += [
                f"policy pp{len(top)} namespace {ns} {{",
                "    select app=a1",
                "    ingress from pods app=a0",
                "}",
            ]
        elif kind == "snat":
            extra.setdefault(home, []).append(f"    snat from {ip}/32 to 172.16.0.250")
        elif kind == "route":
            extra.setdefault(end, []).append(f"    route {ip}/32 via 172.16.0.99 dev eth0")
        elif " no-netns " not in lines[at]:
            lines[at] = lines[at].replace(" namespace ", " no-netns namespace ", 1)
    out = []
    for i, x in enumerate(lines):
        out += extra.get(i, [])
        out.append(x)
    return "\n".join(out + top) + "\n"


def _node_of(lines: list[str], end: int) -> bool:
    """Whether the ``}`` at ``end`` closes a node block."""
    i = end - 1
    while i >= 0 and lines[i].startswith("    "):
        i -= 1
    return i >= 0 and lines[i].startswith("node ")


def _set_queries(net: Network, draw: st.DrawFn) -> list[Reach]:
    namespaces = sorted({i.pod.namespace for i in net.pods.values()})
    if not namespaces:
        return []
    refs: list[object] = [NamespaceRef(namespace=ns) for ns in namespaces]
    refs += [LabelRef(selector=LabelSelector(match=(("app", "a0"),)))]
    refs += [LabelRef(selector=LabelSelector(match=(("app", "a1"),)), namespace=namespaces[0])]
    pick = st.sampled_from(refs)
    return [
        Reach(src=draw(pick), dst=draw(pick), headers=draw(st.sampled_from(HEADERS)))  # type: ignore[arg-type]
        for _ in range(draw(st.integers(2, 4)))
    ]


def _compare(net: Network, qs: list[Reach]) -> None:
    brute = Brute(net, [])
    checker = Checker(net)
    with by_classes():
        for q in qs:
            got = checker.evaluate(q)
            if got.status is Verdict.UNKNOWN:
                SEEN["unknown"] += 1
                continue
            want = brute.verdict(q)
            by = "answered by classes" in got.explanation
            SEEN[f"{'classes' if by else 'pairs'} {want.value}"] += 1
            assert got.status is want, (
                f"{q}: by classes {got.status.value} ({got.explanation}), brute force {want.value}"
            )
            if got.status is Verdict.HOLDS and got.pairs:
                assert got.witness is not None and got.witness.delivered


def _draw_queries(net: Network, data: st.DataObject) -> list[Reach]:
    return data.draw(st.composite(lambda draw: _set_queries(net, draw))())


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(clusters(), st.data())
def test_set_reach_agrees_with_brute_force(text: str, data: st.DataObject) -> None:
    net = Network(l2l3.loads(text))
    _compare(net, _draw_queries(net, data))


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(checker_networks(), st.data())
def test_set_reach_on_rich_networks_agrees_with_brute_force(spec: Spec, data: st.DataObject) -> None:
    net = Network(spec)
    _compare(net, _draw_queries(net, data))


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(clusters(max_nodes=4, max_pods=4), st.data())
def test_set_reach_agrees_with_brute_force_long(text: str, data: st.DataObject) -> None:
    net = Network(l2l3.loads(text))
    _compare(net, _draw_queries(net, data))


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(checker_networks(), st.data())
def test_set_reach_on_rich_networks_long(spec: Spec, data: st.DataObject) -> None:
    net = Network(spec)
    _compare(net, _draw_queries(net, data))
