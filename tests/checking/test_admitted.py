"""Explanations name the policy rule that let a packet through, as drops name the one that stopped it."""

from __future__ import annotations

from pathlib import Path

from l2l3 import api
from l2l3.checking.admitted import admitted_by
from l2l3.model.packet import Disposition

EX = Path(__file__).resolve().parents[2] / "examples"


def _results(name: str):  # type: ignore[no-untyped-def]
    spec = api.load(EX / name)
    net = api.Network(spec)
    return net, {r.check.name: r for r in api.check(spec, network=net).results if r.check}


def test_a_holding_reach_names_the_ingress_rule_that_admitted_it_with_its_line() -> None:
    net, rs = _results("policy-enforced.l2l3")
    r = rs["scrape"]
    assert r.witness is not None and r.witness.disposition is Disposition.DELIVERED
    # line 26 of the example is the rule "ingress from namespace monitoring tcp 9090", not the policy's line
    line = (EX / "policy-enforced.l2l3").read_text().splitlines()[25].strip()
    assert line == "ingress from namespace monitoring tcp 9090"
    assert admitted_by(net, r.witness) == [
        f"ingress of cal/shop1 by shop/shop-ingress ({EX / 'policy-enforced.l2l3'}:26)"
    ]
    assert r.explanation.endswith("(policy: " + admitted_by(net, r.witness)[0] + ")")


def test_a_violated_no_reach_says_the_selecting_policy_is_not_enforced_there() -> None:
    net, rs = _results("policy-enforced.l2l3")
    r = rs["unenforced"]
    assert r.status.value == "violated"
    assert r.explanation.endswith(":29) selects it, but fla enforces no policy)")
    assert "ingress of fla/shop2: shop2/shop2-ingress" in r.explanation


def test_nothing_is_added_where_no_policy_selects_either_end() -> None:
    net, rs = _results("l2bridge-alone.l2l3")
    r = rs["with-routes"]
    assert r.witness is not None and r.witness.delivered
    assert admitted_by(net, r.witness) == [] and "policy" not in r.explanation


def test_a_dropped_trace_admits_nothing() -> None:
    net = api.Network(api.load(EX / "l2bridge-alone.l2l3"))
    (t,) = api.trace(net, "win1/a", "10.244.4.4")
    assert not t.delivered and admitted_by(net, t) == []
