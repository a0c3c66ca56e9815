"""A `no-netns` pod shares its node's stack, so it sends as the node does (issue 14, fix 6).

In real namespaces: a filter on the destination node denies the pod subnet's
source; a TCP connect from the shared stack left unbound takes the route's
preferred source (the node's address) and is delivered, one bound to the
pod's own address is dropped. The model says the same, sender by sender.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address

import pytest

import l2l3
from l2l3.model.endpoints import resolve
from l2l3.model.network import Network
from l2l3.model.packet import Packet
from l2l3.model.simulate import simulate
from l2l3.model.types import Proto
from tests.model.test_six_fixes import SHARED_STACK

pytestmark = pytest.mark.kernel

POD, TARGET, PORT = "10.20.2.5", "10.20.1.10", 80


def _connect(ns: str, bind: str | None) -> str:
    """Connect from netns ``ns`` (bound to ``bind`` when given); the source seen, or why not."""
    from l2l3.kernel.netns import in_netns

    with in_netns(ns):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(2.0)
    try:
        if bind is not None:
            c.bind((bind, 0))
        c.connect((TARGET, PORT))
        return str(c.getsockname()[0])
    except OSError as e:
        return f"failed: {e}"
    finally:
        c.close()


def test_unbound_connect_from_the_shared_stack_uses_the_node_address(prefix: str) -> None:
    """Linux source selection (ip-route(8) "src": the preferred source of the route;
    bind(2) fixes another local address), seen in real namespaces; the model agrees
    (model.endpoints: a no-netns sender takes the route's source or binds its own)."""
    from l2l3.kernel.netns import in_netns
    from l2l3.kernel.realize import realize

    spec = l2l3.loads(SHARED_STACK)
    net = Network(spec)
    rz = realize(spec, prefix, net=net)
    with in_netns(rz.netns["n1/p0"]):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((TARGET, PORT))
    srv.listen(8)
    try:
        assert net.pods["n2/nn"].stack == "n2"  # nn's processes share the node's stack
        shared = rz.netns["n2"]
        unbound = _connect(shared, None)
        bound = _connect(shared, POD)
    finally:
        srv.close()
    assert unbound == "10.0.0.2"  # delivered, from the route's preferred source
    assert bound.startswith("failed")  # the SYN from 10.20.2.5 is dropped by n1's filter
    # the model, packet by packet, and as checks
    (sender,) = resolve(net, l2l3.parse_endpoint("n2/nn"))
    origin = sender.origin
    for src, fate in (("10.0.0.2", "delivered"), (POD, "dropped")):
        traces = simulate(
            net,
            origin,
            Packet(src=IPv4Address(src), dst=IPv4Address(TARGET), proto=Proto.TCP, sport=40000, dport=PORT),
        )
        assert [t.disposition.value for t in traces] == [fate], src
    assert l2l3.evaluate(net, f"reach n2/nn -> n1/p0 tcp port {PORT}").status.value == "holds"
    assert l2l3.evaluate(net, f"reach node n2 -> n1/p0 tcp port {PORT}").status.value == "holds"
