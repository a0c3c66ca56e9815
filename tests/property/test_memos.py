"""Memo equals fresh: every memo l2l3 keeps answers as a fresh computation would.

The memos live on the object that owns their lifetime — the network (L2
peers, governing and compiled policy rules, pod endpoints, effective
routes), the policy screen (guards, refusals), the engine (route, ARP and
policy terms) and the checker that holds them. Queries answered in a row
by one checker share all of them; the same queries each answered by a
fresh network and checker share none. The verdicts, the pair counts and
whether a witness is shown must be the same (which packet a witness is may
differ: the solver's model depends on what it was asked before), and so
must each network-level memo read against its uncached computation.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2l3.checking import Checker
from l2l3.errors import QueryError
from l2l3.model.network import Network
from l2l3.model.policy import Direction, _governing_rules, governing_rules
from l2l3.model.types import Spec
from tests.property.test_checker_vs_brute import checker_networks, queries


def _answers(checker: Checker, qs: list[object]) -> list[tuple[str, str, object]]:
    out: list[tuple[str, str, object]] = []
    for q in qs:
        try:
            r = checker.evaluate(q)  # type: ignore[arg-type]
        except QueryError as e:
            out.append(("input error", str(e), None))
            continue
        # the verdict and whether it has a witness; which packet the witness is
        # may differ (the solver's model depends on what it was asked before),
        # and every witness is replayed before it is shown
        out.append((r.status.value, r.witness is not None, r.pairs))
    return out


def _rule_meaning(rules: object) -> object:
    """A governing rule list as comparable data (compiled rules compare by identity)."""
    if rules is None:
        return None
    return tuple((r.policy.name, r.policy.namespace, r.peers, r.ports) for r in rules)  # type: ignore[attr-defined]


def _compare(spec: Spec, data: st.DataObject) -> None:
    net = Network(spec)
    qs = data.draw(queries(net))
    shared = _answers(Checker(net), qs)
    fresh = [_answers(Checker(Network(spec)), [q])[0] for q in qs]
    for q, a, b in zip(qs, shared, fresh, strict=True):
        assert a == b, f"{q}: with memos {a}, fresh {b}"
    # the network-level memos, now warm from the queries, against their uncached form
    cold = Network(spec)
    for pid, info in sorted(net.pods.items()):
        for d in (Direction.INGRESS, Direction.EGRESS):
            assert _rule_meaning(governing_rules(net, info, d)) == _rule_meaning(
                _governing_rules(cold, cold.pods[pid], d)
            ), (pid, d)
    for st_ in net.stacks.values():
        for iface in st_.ifaces.values():
            assert [(i.stack, i.name) for i in net.l2_peers(iface)] == [
                (i.stack, i.name) for i in cold._l2_peers(cold.stacks[iface.stack].ifaces[iface.name])
            ]


@settings(max_examples=8)
@given(checker_networks(), st.data())
def test_memos_equal_fresh_computation(spec: Spec, data: st.DataObject) -> None:
    _compare(spec, data)


@pytest.mark.slow
@settings(max_examples=80)
@given(checker_networks(), st.data())
def test_memos_equal_fresh_computation_long(spec: Spec, data: st.DataObject) -> None:
    _compare(spec, data)
