"""The engine's memo of policy-rule formulas hands out what a fresh encoding builds (issue 15).

``Delivery._rule_term`` builds a rule's peer and port formula once per
(rule, peer term, protocol term, port term, named-port resolution). Every
memo answer must be the formula built afresh; the last test shows the check
catches a key that leaves out any of those parts.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, collapse_addresses

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

import l2l3
from l2l3.model.base import NOWHERE
from l2l3.model.network import Network
from l2l3.model.policy import CompiledRule, PeerSet
from l2l3.model.types import ContainerPort, Pod, Policy, PortSpec, Proto
from l2l3.solver.encode import address_ranges, conj, in_any, in_ranges, ip_const, truth, val
from l2l3.solver.engine import Engine

SPEC = """
segment lan 10.0.0.0/24
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
}
"""

_POLICY = Policy(name="p", namespace="ns")
RULES = [
    CompiledRule(
        PeerSet(
            ips=frozenset({IPv4Address("10.1.0.5"), IPv4Address("10.1.0.6")}),
            blocks=((IPv4Network("10.2.0.0/16"), (IPv4Network("10.2.1.0/24"),)),),
        ),
        (PortSpec(proto=Proto.TCP, port="http"), PortSpec(proto=Proto.UDP, port=53)),
        _POLICY,
        NOWHERE,
    ),
    CompiledRule(PeerSet(any=True), (PortSpec(proto=Proto.TCP, port=80, end_port=90),), _POLICY, NOWHERE),
    CompiledRule(PeerSet(ips=frozenset({IPv4Address("10.1.0.5")})), (), _POLICY, NOWHERE),
]
#: named port "http" at 80, at 8080, and not at all (and no pod: an external)
DESTS = [
    Pod(name="web", ports=(ContainerPort(port=80, name="http"),)),
    Pod(name="alt", ports=(ContainerPort(port=8080, name="http"),)),
    Pod(name="bare"),
    None,
]


def _mismatches(eng: Engine) -> int:
    """How many memo answers differ from the formula built afresh, over every combination twice."""
    peers = [eng.src0, eng.dst0, ip_const(IPv4Address("10.1.0.5")), ip_const(IPv4Address("10.2.1.7"))]
    headers = [(eng.proto0, eng.dport0), (eng.proto0, val(8080, 16)), (val(int(Proto.TCP), 8), eng.dport0)]
    combos = [(r, p, h, d) for r in RULES for p in peers for h in headers for d in DESTS]
    bad = 0
    for r, peer, (proto, dport), dest in combos + combos[::-1]:
        got = eng._rule_term(r, peer, proto, dport, dest)
        fresh = conj(eng._peers(r.peers, peer), eng._ports(r.ports, proto, dport, dest))
        bad += not got.eq(fresh)
    return bad


def _engine(cls: type[Engine] = Engine) -> Engine:
    return cls(Network(l2l3.loads(SPEC)))


def test_the_rule_memo_hands_out_the_fresh_formula_and_reuses_it() -> None:
    eng = _engine()
    assert _mismatches(eng) == 0
    r, dest = RULES[0], DESTS[0]
    first = eng._rule_term(r, eng.src0, eng.proto0, eng.dport0, dest)
    assert eng._rule_term(r, eng.src0, eng.proto0, eng.dport0, dest) is first  # built once


@pytest.mark.parametrize("dropped", [1, 2, 3, 4])
def test_a_key_without_any_one_of_its_parts_is_caught(dropped: int) -> None:
    """Leaving out the peer, protocol, port or named-port resolution gives stale formulas."""

    class Coarse(Engine):
        @staticmethod
        def _rule_key(*args):  # type: ignore[no-untyped-def]
            key = Engine._rule_key(*args)
            return (*key[:dropped], *key[dropped + 1 :])

    assert _mismatches(_engine(Coarse)) > 0


@settings(max_examples=40)
@given(st.sets(st.integers(0, 40), max_size=20), st.integers(0, 40))
def test_an_address_set_as_ranges_means_the_set(offsets: set[int], probe: int) -> None:
    """``in_ranges`` over ``address_ranges`` holds exactly for the set's addresses, symbolic or literal."""
    base = int(IPv4Address("10.1.0.250"))  # the window crosses a /24 boundary
    ips = frozenset(IPv4Address(base + o) for o in offsets)
    x = z3.BitVec("x", 32)
    s = z3.Solver()
    prefixes = collapse_addresses(IPv4Network(a) for a in ips)  # the encoding before ranges
    s.add(in_ranges(x, address_ranges(ips)) != in_any(x, prefixes))
    assert s.check() == z3.unsat
    literal = in_ranges(ip_const(IPv4Address(base + probe)), address_ranges(ips))
    assert literal is truth(probe in offsets)
