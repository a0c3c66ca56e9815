"""The shared peer block (l2l3.model.peerblock) against per-node copies.

A profile hands every node its own routes and one shared block of routes
about all peers, minus the node's own entry; validation checks the block
once and the network indexes it once. These tests build the same spec a
second time with every node's routes as a plain tuple made *here* (the
block without the entry whose prefix is the node's own subnet, found
independently of ``WithPeers.skip``), and require the same diagnostics, the
same routing tables and the same answer to every lookup.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2l3.dsl import parse
from l2l3.dsl.render import render
from l2l3.dsl.resolve import diagnose
from l2l3.errors import source_lines
from l2l3.generate import generate
from l2l3.model.network import Network
from l2l3.model.peerblock import PeerBlock, WithPeers
from l2l3.model.profiles import expand
from l2l3.model.types import OS, Node, Route, Span, Spec

SPAN = Span("t.l2l3", 1, 1)
PROFILES = [
    "calico bgp",
    "calico ipip",
    "calico vxlan",
    "flannel host-gw",
    "flannel vxlan",
    "kindnet",
    "antrea",
]


def _raw(nodes: int, pods: int, cni: str) -> Spec:
    return parse(generate(nodes, pods, cni, namespaces=2), "t.l2l3", expand=False, validate=False)


def _probes(net: Network) -> list[IPv4Address]:
    """Every route's first, last and next-after address, and every stack address."""
    out: set[int] = set()
    for s in net.stacks.values():
        for r in s.routes:
            lo, hi = int(r.prefix.network_address), int(r.prefix.broadcast_address)
            out |= {lo, hi, (lo - 1) % 2**32, (hi + 1) % 2**32, (lo + hi) // 2}
    out |= {int(a) for a in net.owners}
    return [IPv4Address(x) for x in sorted(out)]


def _same_network(shared: Network, plain: Network) -> None:
    assert shared.stacks.keys() == plain.stacks.keys()
    probes = _probes(plain)
    for sid, a in shared.stacks.items():
        b = plain.stacks[sid]
        for ip in probes:
            assert shared.lookup(a, ip) == plain.lookup(b, ip), (sid, ip)
        assert a.routes == b.routes, sid  # the table the solver and the kernel realisation read


def _flatten_profile(raw: Spec, spec: Spec) -> Spec:
    """``spec`` with every shared field a tuple, the node's entry found by its subnet."""
    subnet = {n.name: n.subnet for n in raw.nodes}
    nodes = []
    for n in spec.nodes:
        kw: dict[str, object] = {}
        for f in ("routes", "neighbors", "fdbs"):
            v = getattr(n, f)
            if isinstance(v, WithPeers):
                items = v.block.items
                if f == "routes":
                    mine = [i for i, r in enumerate(items) if r.prefix == subnet[n.name]]
                    assert len(mine) == 1, (n.name, mine)
                    keep = [r for i, r in enumerate(items) if i != mine[0]]
                else:
                    keep = [x for i, x in enumerate(items) if i != v.skip]
                kw[f] = (*v.head, *keep, *v.tail)
        nodes.append(replace(n, **kw))  # type: ignore[arg-type]
    return replace(spec, nodes=tuple(nodes))


@pytest.mark.parametrize("cni", PROFILES)
def test_profile_networks_with_the_shared_block_route_as_per_node_copies(cni: str) -> None:
    raw = _raw(4, 3, cni)
    spec, _ = expand(raw)
    assert all(isinstance(n.routes, WithPeers) for n in spec.nodes), "the profile no longer shares its block"
    blocks = {id(n.routes.block) for n in spec.nodes if isinstance(n.routes, WithPeers)}
    assert len(blocks) == 1, "every node holds the one block"
    flat = _flatten_profile(raw, spec)
    _same_network(Network(spec), Network(flat))
    lines = source_lines(spec.source)
    assert diagnose(spec, lines, has_cluster=True) == diagnose(flat, lines, has_cluster=True)
    assert render(spec) == render(flat)  # `l2l3 expand` prints the same lines


def test_a_block_that_keeps_the_nodes_own_entry_routes_differently() -> None:
    """The check above has teeth: the node's own subnet entry, if kept, answers inside its subnet."""
    raw = _raw(3, 2, "calico bgp")
    spec, _ = expand(raw)
    kept = replace(
        spec,
        nodes=tuple(
            replace(n, routes=WithPeers(n.routes.head, n.routes.block, -1, n.routes.tail))
            if isinstance(n.routes, WithPeers)
            else n
            for n in spec.nodes
        ),
    )
    with pytest.raises(AssertionError):
        _same_network(Network(kept), Network(_flatten_profile(raw, spec)))


# ---------------------------------------------------------------- random blocks

_PREFIXES = [
    IPv4Network(p)
    for p in (
        "0.0.0.0/0",
        "10.0.0.0/8",
        "10.244.0.0/16",
        "10.244.1.0/24",
        "10.244.2.0/24",
        "10.244.1.0/25",
        "10.244.1.128/25",
        "10.244.2.7/32",
        "192.168.0.0/16",
    )
]
_VIAS = [None, IPv4Address("10.127.130.7"), IPv4Address("10.127.130.9"), IPv4Address("172.16.0.1")]


@st.composite
def _route(draw: st.DrawFn) -> Route:
    via = draw(st.sampled_from(_VIAS))
    return Route(
        prefix=draw(st.sampled_from(_PREFIXES)),
        via=via,
        dev=draw(st.sampled_from(["eth0", "eth0", None])) if via is not None else "eth0",
        onlink=draw(st.booleans()),
        span=SPAN,
    )


_routes = st.lists(_route(), max_size=4)


@given(
    block=st.lists(_route(), min_size=1, max_size=8),
    own=st.lists(st.tuples(_routes, _routes), min_size=2, max_size=2),
    skips=st.lists(st.integers(-1, 7), min_size=2, max_size=2),
)
def test_random_blocks_answer_as_per_node_copies(
    block: list[Route], own: list[tuple[list[Route], list[Route]]], skips: list[int]
) -> None:
    """Duplicate prefixes in the block, own routes tying with block routes, gateways off-link, no skip."""
    raw = _raw(2, 2, "calico bgp")
    spec, _ = expand(raw)
    blk = PeerBlock(block)
    shared, plain = [], []
    for n, (head, tail), skip in zip(spec.nodes, own, skips, strict=True):
        assert isinstance(n.routes, WithPeers)
        skip = min(skip, len(block) - 1)
        routes = WithPeers((*n.routes.head, *head), blk, skip, tail)
        copy = (*n.routes.head, *head, *(r for i, r in enumerate(block) if i != skip), *tail)
        assert routes == copy and len(routes) == len(copy) and list(routes) == list(copy)
        assert all(routes[i] == copy[i] for i in range(-len(copy), len(copy)))
        shared.append(replace(n, routes=routes))
        plain.append(replace(n, routes=copy))
    a, b = replace(spec, nodes=tuple(shared)), replace(spec, nodes=tuple(plain))
    lines = source_lines(spec.source)
    assert diagnose(a, lines, has_cluster=True) == diagnose(b, lines, has_cluster=True)
    _same_network(Network(a), Network(b))


def test_with_peers_is_a_tuple_to_its_readers() -> None:
    r = [Route(prefix=p, via=None, dev="eth0", span=SPAN) for p in _PREFIXES[:4]]
    w = WithPeers((r[0],), PeerBlock(r[1:3]), 0, (r[3],))
    t = (r[0], r[2], r[3])
    assert w == t and t == w and hash(w) == hash(t) and not (w != t)
    assert w[1:] == t[1:] and w + (r[1],) == t + (r[1],) and (r[1],) + w == (r[1],) + t
    assert r[2] in w and r[1] not in w and len(w) == 3 and bool(w)
    assert w != list(t) and repr(w) == repr(t)
    with pytest.raises(IndexError):
        w[3]
    n = Node(name="n", os=OS.LINUX)
    assert replace(n, routes=w) == replace(n, routes=t)
