"""``connect`` / ``no connect``: the checker and the engine against brute force.

Brute force here is the concrete simulator alone: every request of the
complete small header domain (tests.property.brute) from every sender
address, every fate of each delivered request's answer
(:func:`l2l3.model.simulate.simulate_answer`, conntrack), and LANGUAGE.md
§8 read again over those traces — the answer delivered into the source's
stack with the request's addresses and ports swapped, ``via mac`` on both
halves, ``with``/``without nat`` over either — written here without
:class:`~l2l3.model.goal.ConnectGoal`.

The networks are the checker property test's (NAT, DNAT, filters, policy,
VXLAN, l2bridge), with some filters made ``established`` and an
``allow established`` rule put first on some nodes, so answers meet both
rule forms.

Breaking the engine's reverse NAT (solver/connect.py ``_visit`` yielding the
answer un-rewritten where the request was SNATed) made
``test_engine_connect_agrees_with_the_simulator`` fail within 6 examples;
breaking the undoing of DNAT (``_undnat`` leaving the source as it is), or the
VFP-port reversal, makes ``test_engine_undoes_dnat_and_snat_where_they_were_applied``
fail every day (random networks rarely DNAT a request that is then answered).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2l3.checking import Checker, Verdict
from l2l3.errors import QueryError
from l2l3.model.endpoints import Endpoint
from l2l3.model.goal import ConnectGoal, Goal, PacketSpace
from l2l3.model.network import Network
from l2l3.model.packet import Packet, Trace
from l2l3.model.simulate import Origin, simulate, simulate_answer
from l2l3.model.types import Action, Connect, Filter, Headers, NatMode, PodRef, Proto, Spec, StackMode
from l2l3.solver.engine import Engine
from tests.property.brute import Brute, query_prefixes
from tests.property.netgen import header_domain
from tests.property.test_checker_vs_brute import _endpoints, checker_networks

SEEN: Counter[str] = Counter()


@st.composite
def connect_networks(draw: st.DrawFn) -> Spec:
    """checker_networks with ``established`` filters: some rules become answer-only, and
    some nodes accept answers first."""
    spec = draw(checker_networks())
    nodes = []
    for n in spec.nodes:
        fs = [replace(f, established=draw(st.integers(0, 3)) == 0) for f in n.filters]
        if draw(st.integers(0, 2)) == 0:
            fs.insert(0, Filter(action=Action.ALLOW, established=True))
        nodes.append(replace(n, filters=tuple(fs)))
    return replace(spec, nodes=tuple(nodes))


def _taken(sent: Packet, req: Trace, ans: Trace, sender: str, via_mac: bool, nat: NatMode) -> bool:
    """LANGUAGE.md §8 on one request trace and one answer trace, read directly."""
    f = ans.final
    if not ans.delivered or ans.delivered_to != sender or f is None:
        return False
    if (f.proto, f.src, f.sport, f.dst, f.dport) != (sent.proto, sent.dst, sent.dport, sent.src, sent.sport):
        return False
    if via_mac and not (req.via_mac and ans.via_mac):
        return False
    natted = req.nat or ans.nat
    return not (nat is NatMode.WITH and not natted or nat is NatMode.WITHOUT and natted)


def _place(s: Endpoint) -> str:
    return s.stack if s.stack is not None else f"external {s.external}"


class ConnectBrute(Brute):
    """Brute force with answers: does some request of a pair get its answer taken?"""

    def connects(self, s: Endpoint, d: Endpoint, q: Connect) -> bool:
        for t in self.traces(s, q.headers):
            if not self._arrives(t, d, q.via_mac, NatMode.ANY):
                continue
            for a in simulate_answer(self.net, t):
                if _taken(t.packet, t, a, _place(s), q.via_mac, q.nat):
                    return True
        return False

    def connect_verdict(self, q: Connect) -> Verdict:
        got = [self.connects(s, d, q) for s, d in self._pairs(q.src, q.dst)]
        ok = all(got) if not q.negated else not any(got)
        return Verdict.HOLDS if ok else Verdict.VIOLATED


@st.composite
def connect_queries(draw: st.DrawFn, net: Network) -> list[Connect]:
    ends = _endpoints(net)
    pods = [e for e in ends if isinstance(e, PodRef)] or ends
    headers = st.sampled_from([Headers(), Headers(proto=Proto.TCP, port=80), Headers(proto=Proto.UDP)])
    out = []
    for _ in range(draw(st.integers(2, 5))):
        single = draw(st.booleans())
        out.append(
            Connect(
                src=draw(st.sampled_from(pods if single else ends)),
                dst=draw(st.sampled_from(pods if single else ends)),
                negated=draw(st.booleans()),
                headers=draw(headers),
                via_mac=draw(st.integers(0, 4)) == 0,
                nat=draw(st.sampled_from([NatMode.ANY, NatMode.ANY, NatMode.WITH, NatMode.WITHOUT])),
            )
        )
    return out


def _compare_checker(spec: Spec, data: st.DataObject) -> None:
    net = Network(spec)
    checker = Checker(net)
    qs = data.draw(connect_queries(net))
    brute = ConnectBrute(net, [p for q in qs for p in query_prefixes(q)])
    for q in qs:
        try:
            got = checker.evaluate(q)
        except QueryError:
            SEEN["input error"] += 1
            continue
        if got.status is Verdict.UNKNOWN:
            SEEN["unknown"] += 1
            continue
        want = brute.connect_verdict(q)
        SEEN[f"{'no connect' if q.negated else 'connect'} {want.value}"] += 1
        assert got.status is want, (
            f"{q}: checker says {got.status.value} ({got.explanation}), brute {want.value}"
        )


def _compare_engine(spec: Spec) -> None:
    """Per pod sender and receiving stack: the engine's connect search finds a request
    iff some request of the header domain has its answer taken (all flag forms)."""
    net = Network(spec)
    eng = Engine(net)
    dom = header_domain(net)
    targets = sorted(net.stacks) + [f"external {e}" for e in sorted(net.externals)]
    for pid, info in sorted(net.pods.items()):
        if info.pod.mode is StackMode.HOST_NETWORK or info.pod.ip is None:
            continue
        src, origin = info.pod.ip.ip, Origin(stack=info.stack, pod=pid)
        pairs = []  # (request, answer) of every packet, memoised per sender
        for dst, proto, port in dom:
            pkt = Packet(src=src, dst=dst, proto=proto, sport=0 if proto is Proto.ICMP else 40000, dport=port)
            for t in simulate(net, origin, pkt):
                for a in simulate_answer(net, t) if t.delivered else []:
                    pairs.append((t, a))
        for target in targets:
            there = frozenset({target})
            for via_mac, nat in (
                (False, NatMode.ANY),
                (True, NatMode.ANY),
                (False, NatMode.WITH),
                (False, NatMode.WITHOUT),
            ):
                goal = ConnectGoal(
                    request=Goal(receivers=there, via_mac=via_mac),
                    sender=info.stack,
                    via_mac=via_mac,
                    nat=nat,
                )
                want = any(
                    t.delivered_to == target
                    and (not via_mac or t.via_mac)
                    and _taken(t.packet, t, a, info.stack, via_mac, nat)
                    for t, a in pairs
                )
                found = eng.search_connect(origin, goal, PacketSpace(src=src))
                SEEN[f"engine {want}"] += 1
                assert (found is not None) == want, (pid, target, via_mac, nat, found and found.packet)


def test_engine_undoes_dnat_and_snat_where_they_were_applied() -> None:
    """The engine alone (no concrete fast path) on the hand specs of tests/checking/test_connect.py:
    the router's DNAT and the node's masquerade are undone on the answer; an asymmetric return is not."""
    import l2l3
    from tests.checking.test_connect import ROUTED

    def found(spec: Spec, sender: str, pod: str, src: str, dst: str, target: str) -> bool:
        eng = Engine(Network(spec))
        goal = ConnectGoal(request=Goal(receivers=frozenset({target})), sender=sender)
        space = PacketSpace(src=IPv4Address(src), dst=IPv4Address(dst), proto=Proto.TCP, dport=80)
        return eng.search_connect(Origin(stack=sender, pod=pod), goal, space) is not None

    routed = l2l3.loads(ROUTED.format(back="10.0.0.3", b_extra=""))
    assert found(routed, "a/p", "a/p", "10.1.0.2", "10.96.0.10", "b/r")
    asym = l2l3.loads(ROUTED.format(back="10.0.0.1", b_extra=""))
    assert not found(asym, "a/p", "a/p", "10.1.0.2", "10.96.0.10", "b/r")
    masq = l2l3.load("examples/bridge-ipmasq.l2l3")
    assert found(masq, "lin1/a", "lin1/a", "10.244.1.5", "10.244.2.7", "lin2/b")
    from tests.model.test_services import CLUSTER, web  # a Windows pod's answer un-NATed at its VFP port

    svc = l2l3.loads(
        CLUSTER.format(podcidr="pod-cidr 10.244.0.0/16")
        + web("type clusterip").replace(" node-port 30080", "")
    )
    eng = Engine(Network(svc))
    goal = ConnectGoal(request=Goal(receivers=frozenset({"n1/web-1", "n2/web-2"})), sender="w1/iis")
    space = PacketSpace(
        src=IPv4Address("10.244.3.4"), dst=IPv4Address("10.96.0.20"), proto=Proto.TCP, dport=80
    )
    assert eng.search_connect(Origin(stack="w1/iis", pod="w1/iis"), goal, space) is not None


# everyday: a few examples; `slow` (run by .ci/run): many more


@settings(max_examples=6, deadline=None)
@given(connect_networks(), st.data())
def test_checker_connect_agrees_with_brute_force(spec: Spec, data: st.DataObject) -> None:
    _compare_checker(spec, data)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(connect_networks(), st.data())
def test_checker_connect_agrees_with_brute_force_long(spec: Spec, data: st.DataObject) -> None:
    _compare_checker(spec, data)


@settings(max_examples=3, deadline=None)  # every sender x place x flag form: the heavy one
@given(connect_networks())
def test_engine_connect_agrees_with_the_simulator(spec: Spec) -> None:
    _compare_engine(spec)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(connect_networks())
def test_engine_connect_agrees_with_the_simulator_long(spec: Spec) -> None:
    _compare_engine(spec)
