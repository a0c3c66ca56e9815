"""The z3 engine and the concrete simulator agree on random small networks.

The simulator exhausts a header domain that covers every class of packet the
generated networks can distinguish (see netgen.header_domain); the engine
searches the whole 2^32 × ports space symbolically. For every sender and every
receiving stack, both must agree on: is anything delivered; is anything
delivered via mac; which source addresses arrive (NAT).
"""

from __future__ import annotations

from hypothesis import given

from l2l3.model.network import Network
from l2l3.model.packet import Disposition, Packet
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import Proto, StackMode
from l2l3.solver.encode import TRUE, ip_const
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


@given(networks() | rich_networks())
def test_engine_and_simulator_agree_on_reach_via_mac_and_nat(spec) -> None:  # type: ignore[no-untyped-def]
    net = Network(spec)
    eng = Engine(net)
    STATS["networks"] += 1
    targets = sorted({s for s in net.stacks} | {f"external {e}" for e in net.externals})
    for stack, pod in _senders(net):
        traces = _sim_outcomes(net, stack, pod)
        src = net.pods[pod].pod.ip.ip  # type: ignore[union-attr]
        for target in targets:
            if target == stack:
                continue
            STATS["pairs"] += 1
            delivered = [
                t for t in traces if t.disposition is Disposition.DELIVERED and t.delivered_to == target
            ]

            def hit(leaf, target=target):  # type: ignore[no-untyped-def]
                ok = leaf.disposition is Disposition.DELIVERED and leaf.to == target
                return TRUE if ok else None

            found = eng.search(stack=stack, pod=pod, external=None, src=src, constraints=[], goal=hit)
            assert bool(found) == bool(delivered), (target, found, [str(t.packet) for t in delivered[:3]])

            def hit_l2(leaf, target=target):  # type: ignore[no-untyped-def]
                ok = (
                    leaf.disposition is Disposition.DELIVERED
                    and leaf.to == target
                    and not leaf.routed
                    and leaf.sent_macs == (leaf.pkt.smac, leaf.pkt.dmac)
                )
                return TRUE if ok else None

            found_l2 = eng.search(stack=stack, pod=pod, external=None, src=src, constraints=[], goal=hit_l2)
            assert bool(found_l2) == any(t.via_mac for t in delivered), target

            # every source address the simulator sees arrive, the engine finds too, and no other
            arrived = {t.final.src for t in delivered if t.final is not None}
            for a in arrived:

                def with_src(leaf, target=target, a=a):  # type: ignore[no-untyped-def]
                    ok = leaf.disposition is Disposition.DELIVERED and leaf.to == target
                    return (leaf.pkt.src == ip_const(a)) if ok else None

                assert eng.search(stack=stack, pod=pod, external=None, src=src, constraints=[], goal=with_src)
            if delivered:

                def other_src(leaf, target=target, arrived=arrived):  # type: ignore[no-untyped-def]
                    ok = leaf.disposition is Disposition.DELIVERED and leaf.to == target
                    if not ok:
                        return None
                    from z3 import And

                    return And([leaf.pkt.src != ip_const(a) for a in arrived])

                assert not eng.search(
                    stack=stack, pod=pod, external=None, src=src, constraints=[], goal=other_src
                )


@given(networks() | rich_networks())
def test_engine_and_simulator_agree_on_loops(spec) -> None:  # type: ignore[no-untyped-def]
    net = Network(spec)
    eng = Engine(net)
    for stack, pod in _senders(net):
        traces = _sim_outcomes(net, stack, pod)
        looped = any(t.disposition is Disposition.LOOPED for t in traces)
        src = net.pods[pod].pod.ip.ip  # type: ignore[union-attr]
        found = eng.search(
            stack=stack,
            pod=pod,
            external=None,
            src=src,
            constraints=[],
            goal=lambda leaf: TRUE if leaf.disposition is Disposition.LOOPED else None,
        )
        assert bool(found) == looped
