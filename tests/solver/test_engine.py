"""Unit tests of the solver layer: encodings, limits, replay."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

import l2l3
from l2l3.checking import Checker, Verdict
from l2l3.checking.plan import preimage
from l2l3.errors import ReplayMismatch
from l2l3.model.types import NamespaceRef, PodRef, Reach
from l2l3.solver.encode import in_any, in_prefix, ip_const, one_of
from l2l3.solver.engine import Engine

SPEC = """
segment lan 10.0.0.0/24
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge cni0 linux ip 10.244.1.1/24
    pod x ip 10.244.1.2/24 on cni0 namespace one
    route 10.244.2.0/24 via 10.0.0.2
    route 10.244.0.0/16 via 10.0.0.3
    route 10.244.2.128/25 via 10.0.0.2
    dnat 10.96.0.1 tcp port 80 to 10.244.2.2:8080
}
node b linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge cni0 linux ip 10.244.2.1/24
    pod y ip 10.244.2.2/24 on cni0 namespace two
    route 10.244.1.0/24 via 10.0.0.1
}
"""

prefixes = st.builds(
    lambda a, n: IPv4Network((a, n), strict=False), st.integers(0, 2**32 - 1), st.integers(0, 32)
)


@given(prefixes, st.integers(0, 2**32 - 1))
def test_in_prefix_agrees_with_ipaddress(net: IPv4Network, x: int) -> None:
    sym = z3.BitVec("x", 32)
    s = z3.Solver()
    s.add(sym == x)
    s.add(in_prefix(sym, net))
    assert (s.check() == z3.sat) == (IPv4Address(x) in net)
    # and the literal short-cut says the same
    assert z3.is_true(z3.simplify(in_prefix(ip_const(IPv4Address(x)), net))) == (IPv4Address(x) in net)


def test_route_cases_partition_the_address_space() -> None:
    """Exactly one case (a route or 'no route') holds for every destination."""
    net = l2l3.Network(l2l3.loads(SPEC))
    eng = Engine(net)
    dst = z3.BitVec("d", 32)
    cases = [c for _, c in eng._route_cases(net.stacks["a"], dst)]
    s = z3.Solver()
    exactly_one = z3.PbEq([(c, 1) for c in cases], 1)
    s.add(z3.Not(exactly_one))
    assert s.check() == z3.unsat


def test_route_cases_follow_longest_prefix() -> None:
    net = l2l3.Network(l2l3.loads(SPEC))
    eng = Engine(net)
    dst = z3.BitVec("d", 32)
    for r, cond in eng._route_cases(net.stacks["a"], dst):
        s = z3.Solver()
        s.add(cond)
        if s.check() != z3.sat:
            continue
        v = IPv4Address(s.model().eval(dst, model_completion=True).as_long())
        assert net.lookup(net.stacks["a"], v) == r


def test_one_of_and_in_any_on_literals_need_no_solver() -> None:
    a = ip_const(IPv4Address("10.0.0.7"))
    assert z3.is_true(one_of(a, [IPv4Address("10.0.0.7")]))
    assert z3.is_false(in_any(a, [IPv4Network("10.1.0.0/16")]))


def test_a_search_cut_short_is_unknown_never_holds() -> None:
    net = l2l3.Network(l2l3.loads(SPEC))
    r = Checker(net, budget=1).evaluate(
        Reach(src=PodRef(node="a", pod="x"), dst=PodRef(node="b", pod="y"), negated=True)
    )
    assert r.status is Verdict.UNKNOWN


def test_the_destination_preimage_includes_vips_that_land_there() -> None:
    net = l2l3.Network(l2l3.loads(SPEC))
    pre = preimage(net, {"b/y"})
    assert IPv4Address("10.96.0.1") in pre and IPv4Address("10.244.2.2") in pre


def test_no_reach_finds_the_vip_path(capsys: pytest.CaptureFixture[str]) -> None:
    net = l2l3.Network(l2l3.loads(SPEC))
    r = Checker(net).evaluate(
        Reach(src=NamespaceRef(namespace="one"), dst=NamespaceRef(namespace="two"), negated=True)
    )
    assert r.status is Verdict.VIOLATED and r.witness is not None and r.witness.delivered


def test_a_witness_the_simulator_does_not_confirm_is_a_loud_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import l2l3.checking.checker as check_mod

    net = l2l3.Network(l2l3.loads(SPEC))
    monkeypatch.setattr(check_mod, "simulate", lambda *a, **k: [])
    with pytest.raises(ReplayMismatch):
        Checker(net).evaluate(
            Reach(src=PodRef(node="a", pod="x"), dst=PodRef(node="b", pod="y"), negated=True)
        )
