"""The checker's stated meanings: self pairs, vacuity, unowned sources, why a flag fails."""

from __future__ import annotations

import pytest

import l2l3
from l2l3.checking import Verdict
from l2l3.errors import SpecError

SPEC = """
segment lan 10.0.0.0/24 gateway 10.0.0.254
external web 198.51.100.0/24 via lan
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.1.0.1/24
    pod p ip 10.1.0.2/24 on br0 namespace x
    pod q ip 10.1.0.3/24 on br0 namespace x
    route 10.2.0.0/24 via 10.0.0.2 dev eth0
    route 0.0.0.0/0 via 10.0.0.254 dev eth0
    masquerade from 10.1.0.0/24 except 10.1.0.0/16
}
node b linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge br0 linux ip 10.2.0.1/24
    pod r ip 10.2.0.2/24 on br0 namespace y
    route 10.1.0.0/24 via 10.0.0.1 dev eth0
}
"""


@pytest.fixture(scope="module")
def net() -> l2l3.Network:
    return l2l3.Network(l2l3.loads(SPEC))


def test_a_pod_reaches_itself_and_no_reach_to_itself_is_violated(net: l2l3.Network) -> None:
    """LANGUAGE.md section 4: a self pair is not skipped silently; a packet to one's own address is delivered locally."""
    yes = l2l3.evaluate(net, "reach a/p -> a/p")
    no = l2l3.evaluate(net, "no reach a/p -> a/p")
    assert yes.status is Verdict.HOLDS and no.status is Verdict.VIOLATED
    assert yes.witness is not None and yes.witness.delivered_to == "a/p" and yes.witness.entered_by is None


def test_set_queries_leave_self_pairs_out_and_say_so(net: l2l3.Network) -> None:
    r = l2l3.evaluate(net, "reach namespace x -> namespace x")
    assert r.status is Verdict.HOLDS and r.pairs == 2
    assert "2 self pairs" in r.explanation


def test_a_check_of_only_self_pairs_is_vacuous_and_warns() -> None:
    spec = l2l3.loads(SPEC + "check v: no reach namespace y -> namespace y\n")
    report = l2l3.check(spec)
    (r,) = report.results
    assert r.status is Verdict.HOLDS and "vacuously" in r.explanation
    assert any("check v: vacuous" in w for w in report.warnings)


def test_an_unowned_source_address_is_an_input_error_at_its_check() -> None:
    spec = l2l3.loads(
        SPEC.replace("external web 198.51.100.0/24 via lan\n", "") + "check u: reach 203.0.113.9 -> a/p\n"
    )
    with pytest.raises(SpecError) as e:
        l2l3.check(spec)
    (d,) = e.value.diagnostics
    assert d.span.line == SPEC.count("\n") and "cannot be a source" in d.message


def test_a_failing_via_mac_names_the_routing_hop(net: l2l3.Network) -> None:
    r = l2l3.evaluate(net, "reach a/p -> b/r via mac")
    assert r.status is Verdict.VIOLATED
    assert "routed at a" in r.explanation and "<spec>:" in r.explanation, r.explanation


def test_a_failing_without_nat_names_the_nat_rule(net: l2l3.Network) -> None:
    r = l2l3.evaluate(net, "reach a/p -> external web without nat")
    assert r.status is Verdict.VIOLATED
    assert (
        "masquerade" in r.explanation
        and f"<spec>:{SPEC.splitlines().index('    masquerade from 10.1.0.0/24 except 10.1.0.0/16') + 1}"
        in r.explanation
    ), r.explanation


def test_a_time_limit_gives_unknown_never_holds(net: l2l3.Network) -> None:
    from l2l3.checking import Checker
    from l2l3.model.types import NamespaceRef, Reach

    q = Reach(src=NamespaceRef(namespace="x"), dst=NamespaceRef(namespace="y"), negated=True)
    assert Checker(net, time_limit=0.0).evaluate(q).status is Verdict.UNKNOWN
    assert Checker(net, time_limit=60.0).evaluate(q).status is not Verdict.UNKNOWN
