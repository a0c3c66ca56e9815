"""l2l3.matrix.views: counting shared peer routes gives the classes reading every entry gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

import l2l3
from l2l3.generate import generate
from l2l3.matrix import classes, views
from l2l3.matrix.signature import Canon
from l2l3.model.network import Network
from l2l3.model.types import Spec
from tests.bench.test_matrix import CNIS, _perturbed
from tests.property.netgen import networks


@contextmanager
def slow_views() -> Iterator[None]:
    old = views.FAST
    views.FAST = False
    try:
        yield
    finally:
        views.FAST = old


def _partition(net: Network) -> list[tuple[str, ...]]:
    return sorted(c.members for c in classes(net)[0])


def _assert_same(net: Network) -> None:
    fast = _partition(net)
    with slow_views():
        slow = _partition(net)
    assert fast == slow


def _standard(net: Network) -> int:
    """How many nodes the fast path counts as standard (see l2l3.matrix.views)."""
    seen: list[int] = []
    real = views.PeerViews.__init__

    def spy(self, *a, **kw):  # type: ignore[no-untyped-def]
        real(self, *a, **kw)
        seen.append(self.standard())

    views.PeerViews.__init__ = spy  # type: ignore[method-assign]
    try:
        classes(net)
    finally:
        views.PeerViews.__init__ = real  # type: ignore[method-assign]
    return seen[0]


@pytest.mark.parametrize("cni", CNIS)
def test_generated_clusters_give_the_same_classes_both_ways(cni: str) -> None:
    net = Network(l2l3.loads(generate(5, 3, cni=cni, namespaces=2, policies_per_namespace=2, seed=1)))
    _assert_same(net)


def test_uniform_calico_nodes_are_counted_not_read() -> None:
    net = Network(l2l3.loads(generate(6, 2, cni="calico bgp", namespaces=2)))
    # the first node tokenises the shared routes, the second the first node's; the rest count
    assert _standard(net) == 4
    _assert_same(net)


def test_a_node_missing_or_doubling_a_shared_route_is_read_entry_by_entry() -> None:
    spec = l2l3.loads(generate(6, 2, cni="calico bgp", namespaces=2))
    nodes = list(spec.nodes)
    shared = [r for r in nodes[4].routes if any(r is x for x in nodes[5].routes)]
    assert shared
    nodes[4] = replace(nodes[4], routes=tuple(r for r in nodes[4].routes if r is not shared[0]))
    nodes[5] = replace(nodes[5], routes=(*nodes[5].routes, shared[1]))
    net = Network(replace(spec, nodes=tuple(nodes)))
    assert _standard(net) == 2
    _assert_same(net)
    cz = Canon(net)
    assert cz.peer_pool == {}  # filled only while classes are computed


@pytest.mark.parametrize(
    ("node_lines", "top"),
    [
        ({"n1": ["filter deny from 10.128.0.3/32"]}, []),
        ({"n0": ["route 10.128.2.0/25 via 172.16.0.13 dev eth0"]}, []),
        ({"n2": ["pod shared ip 10.128.2.200 no-netns namespace ns0 labels app=a0"]}, []),
        ({}, ["policy cidr namespace ns1 {", "    select", "    egress to cidr 10.128.0.0/23", "}"]),
    ],
)
def test_perturbed_clusters_give_the_same_classes_both_ways(
    node_lines: dict[str, list[str]], top: list[str]
) -> None:
    _assert_same(_perturbed(node_lines, top))


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(networks(max_nodes=3, max_pods=3))
def test_random_networks_give_the_same_classes_both_ways(spec: Spec) -> None:
    _assert_same(Network(spec))
