"""The policy screen (l2l3.checking.screen) only ever refuses what no packet does.

The screen proves ``no reach`` without a search when a destination's ingress
policy admits none of the source addresses a packet can arrive with. Here,
on random networks with policies, NAT and tunnels, every pair it refuses is
checked two independent ways: the simulator over a header domain covering
every packet class (netgen.header_domain) and the z3 engine's full search.
"""

from __future__ import annotations

from hypothesis import given

from l2l3.checking import Checker
from l2l3.model.endpoints import pod_endpoint
from l2l3.model.goal import Goal, PacketSpace
from l2l3.model.network import Network
from l2l3.model.packet import Disposition
from l2l3.model.types import StackMode
from tests.property.netgen import rich_networks
from tests.property.test_engine_vs_simulator import _sim_outcomes

SEEN = {"refused": 0, "pairs": 0}


@given(rich_networks())
def test_screen_refuses_only_pairs_nothing_connects(spec) -> None:  # type: ignore[no-untyped-def]
    net = Network(spec)
    checker = Checker(net)
    pods = sorted(p for p, i in net.pods.items() if i.pod.mode is not StackMode.HOST_NETWORK)
    ends = {p: pod_endpoint(net, p) for p in pods}
    for a in pods:
        traces = None
        for b in pods:
            if a == b:
                continue
            SEEN["pairs"] += 1
            s, d = ends[a], ends[b]
            if not checker.screen.refused([s], [d]):
                continue
            SEEN["refused"] += 1
            if traces is None:
                traces = _sim_outcomes(net, s.stack, a)  # type: ignore[arg-type]
            got = [t for t in traces if t.disposition is Disposition.DELIVERED and t.delivered_to == d.stack]
            assert not got, f"screen refused {a} -> {b}, but the simulator delivers {got[0].packet}"

            assert d.stack is not None
            found = checker.engine.search(
                s.origin, Goal(receivers=frozenset({d.stack})), PacketSpace(src=s.src)
            )
            assert found is None, f"screen refused {a} -> {b}, but the engine finds {found.packet}"


def test_screen_was_exercised() -> None:
    """Runs after the property above (file order): it must have refused some pairs."""
    if SEEN["pairs"] == 0:
        test_screen_refuses_only_pairs_nothing_connects()
    assert SEEN["refused"] > 0, SEEN
