"""The engine's cost-saving forms answer exactly as the plain ones (issue 15).

A pinned source enters the search as a constant; here the same source is
also given as a one-member set, which keeps it a z3 variable constrained to
that address: every verdict must be the same either way.
"""

from __future__ import annotations

from hypothesis import given, settings

from l2l3.model.goal import Goal, PacketSpace
from l2l3.model.network import Network
from l2l3.model.simulate import Origin
from l2l3.model.types import Proto, Spec, StackMode
from l2l3.solver.encode import value_of
from l2l3.solver.engine import Engine
from tests.property.netgen import rich_networks


def _queries(net: Network):  # type: ignore[no-untyped-def]
    """(origin, goal, packet space with a pinned source): every pod to every other pod's stack."""
    pods = [
        (pid, i)
        for pid, i in sorted(net.pods.items())
        if i.pod.mode is not StackMode.HOST_NETWORK and i.pod.ip is not None
    ]
    for pid, info in pods:
        assert info.pod.ip is not None
        origin, src = Origin(stack=info.stack, pod=pid), info.pod.ip.ip
        for _other, dest in pods:
            if dest.stack != info.stack:
                yield origin, Goal(receivers=frozenset({dest.stack})), PacketSpace(src=src, proto=Proto.TCP)


@settings(max_examples=4)
@given(rich_networks())
def test_a_pinned_source_as_a_constant_answers_as_a_constrained_variable(spec: Spec) -> None:
    net = Network(spec)
    eng = Engine(net)
    for origin, goal, space in _queries(net):
        assert space.src is not None
        as_constant = eng.search(origin, goal, space)
        symbolic = PacketSpace(proto=space.proto, srcs=frozenset({space.src}))
        as_variable = eng.search(origin, goal, symbolic)
        assert (as_constant is None) == (as_variable is None), (origin, goal, space)
        if as_constant is not None:
            assert as_constant.packet.src == space.src
            if not as_constant.leaf.nat:  # it arrived with the source it was sent from
                assert value_of(as_constant.leaf.pkt.src) == int(space.src)
