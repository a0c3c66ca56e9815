"""The z3 engine and the concrete simulator agree on random small networks.

The simulator exhausts a header domain that covers every class of packet the
generated networks can distinguish (see netgen.header_domain); the engine
searches the whole 2^32 × ports space symbolically. For every sender and every
receiving stack, both must agree on: is anything delivered; is anything
delivered via mac; which source addresses arrive (NAT).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from l2l3.model.goal import Goal, PacketSpace
from l2l3.model.network import Network
from l2l3.model.packet import Disposition, Packet
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import NatMode, Proto, Spec, StackMode
from l2l3.solver.engine import Engine
from tests.property.netgen import header_domain, networks, rich_networks

STATS = {"networks": 0, "pairs": 0}


def _senders(net: Network) -> list[tuple[str, str | None]]:
    out = []
    for pid, info in sorted(net.pods.items()):
        if info.pod.mode is not StackMode.HOST_NETWORK:
            out.append((info.stack, pid))
    return out


def _sim_outcomes(net: Network, stack: str, pod: str):  # type: ignore[no-untyped-def]
    info = net.pods[pod]
    assert info.pod.ip is not None
    src = info.pod.ip.ip
    res = []
    for dst, proto, dport in header_domain(net):
        pkt = Packet(src=src, dst=dst, proto=proto, sport=0 if proto == Proto.ICMP else 40000, dport=dport)
        res.extend(simulate(net, Origin(stack=stack, pod=pod), pkt))
    return res


def agree_on_goals(spec: Spec) -> None:
    """For every goal form a query builds, the engine finds a packet iff the simulator does."""
    net = Network(spec)
    eng = Engine(net)
    STATS["networks"] += 1
    targets = sorted({s for s in net.stacks} | {f"external {e}" for e in net.externals})
    for stack, pod in _senders(net):
        traces = _sim_outcomes(net, stack, pod)
        src = net.pods[pod].pod.ip.ip  # type: ignore[union-attr]
        origin, space = Origin(stack=stack, pod=pod), PacketSpace(src=src)
        for target in targets:
            if target == stack:
                continue
            STATS["pairs"] += 1
            there = frozenset({target})
            arrived = {t.final.src for t in traces if Goal(receivers=there).met_by(t) and t.final}
            goals = [
                Goal(receivers=there),
                Goal(receivers=there, via_mac=True),
                Goal(receivers=there, nat=NatMode.WITH),
                Goal(receivers=there, nat=NatMode.WITHOUT),
                # every arriving source the simulator sees, the engine finds too, and no other
                *[Goal(receivers=there, src_not=frozenset(arrived - {a})) for a in arrived],
                Goal(receivers=there, src_not=frozenset(arrived)),
            ]
            for goal in goals:
                found = eng.search(origin, goal, space)
                expected = [t for t in traces if goal.met_by(t)]
                assert (found is not None) == bool(expected), (target, goal, found, expected[:1])


def agree_on_loops(spec: Spec) -> None:
    """The engine finds a looping packet iff the simulator does."""
    net = Network(spec)
    eng = Engine(net)
    for stack, pod in _senders(net):
        traces = _sim_outcomes(net, stack, pod)
        looped = any(t.disposition is Disposition.LOOPED for t in traces)
        src = net.pods[pod].pod.ip.ip  # type: ignore[union-attr]
        found = eng.search(
            Origin(stack=stack, pod=pod), Goal(disposition=Disposition.LOOPED), PacketSpace(src=src)
        )
        assert (found is not None) == looped


# everyday: a few examples; `slow` (run by .ci/run): many more


@settings(max_examples=12)
@given(networks() | rich_networks())
def test_engine_and_simulator_agree_on_reach_via_mac_and_nat(spec: Spec) -> None:
    agree_on_goals(spec)


@pytest.mark.slow
@settings(max_examples=150)
@given(networks() | rich_networks())
def test_engine_and_simulator_agree_on_reach_via_mac_and_nat_long(spec: Spec) -> None:
    agree_on_goals(spec)


@settings(max_examples=12)
@given(networks() | rich_networks())
def test_engine_and_simulator_agree_on_loops(spec: Spec) -> None:
    agree_on_loops(spec)


@pytest.mark.slow
@given(networks() | rich_networks())
def test_engine_and_simulator_agree_on_loops_long(spec: Spec) -> None:
    agree_on_loops(spec)
