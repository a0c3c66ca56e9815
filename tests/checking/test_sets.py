"""Positive set queries by classes (l2l3.checking.sets): answers, explanations, the fallback."""

from __future__ import annotations

import pytest

import l2l3
from l2l3.checking import Checker, Verdict, sets
from l2l3.generate import generate
from l2l3.model.network import Network
from l2l3.model.types import NamespaceRef, Reach
from tests.property.test_sets_vs_brute import by_classes


def _net(extra: str = "", **kw: object) -> Network:
    text = generate(4, 4, cni="calico bgp", namespaces=2, pairs="none", netns_check=False, **kw)  # type: ignore[arg-type]
    return Network(l2l3.loads(text + extra))


def _pairwise(net: Network, q: Reach) -> Verdict:
    """The answer asked pair by pair (the class path off)."""
    old = sets.MIN_PAIRS
    sets.MIN_PAIRS = 10**12
    try:
        return Checker(net).evaluate(q).status
    finally:
        sets.MIN_PAIRS = old


def _reach(a: str, b: str) -> Reach:
    return Reach(src=NamespaceRef(namespace=a), dst=NamespaceRef(namespace=b))


def test_a_namespace_reaching_itself_is_answered_by_classes() -> None:
    net = _net()
    q = _reach("ns0", "ns0")
    with by_classes():
        r = Checker(net).evaluate(q)
    assert r.status is Verdict.HOLDS is _pairwise(net, q)
    assert r.pairs == 8 * 7
    assert "answered by classes: 2 classes, 2 representative queries" in r.explanation
    assert "8 self pairs" in r.explanation
    assert r.witness is not None and r.witness.delivered


def test_small_queries_keep_the_pair_path() -> None:
    r = Checker(_net()).evaluate(_reach("ns0", "ns0"))  # 56 pairs, below MIN_PAIRS
    assert r.status is Verdict.HOLDS
    assert "classes" not in r.explanation


def test_a_failing_class_pair_names_a_concrete_pair_and_its_dying_packet() -> None:
    net = _net()
    with by_classes():
        r = Checker(net).evaluate(_reach("ns0", "ns1"))
    assert r.status is Verdict.VIOLATED
    assert r.explanation.startswith("no packet from n")
    assert "a typical one dies" in r.explanation and "ns1/iso" in r.explanation
    assert "answered by classes" in r.explanation
    assert r.witness is not None and not r.witness.delivered


def test_a_member_the_classes_wrongly_merge_is_caught_by_its_confirmation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every pod put in one class (a signature that forgets everything): the
    filter on n2 that drops packets to one ns0 pod makes that member's
    confirming packet die, and the pair-by-pair fallback finds the failing pair."""
    plain = _net("", policies_per_namespace=0)
    victim = next(
        p for p in sorted(plain.pods) if plain.pods[p].node == "n2" and plain.pods[p].pod.namespace == "ns0"
    )
    ip = plain.pods[victim].pod.ip
    assert ip is not None
    text = generate(
        4, 4, cni="calico bgp", namespaces=2, policies_per_namespace=0, pairs="none", netns_check=False
    )
    lines = text.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("node n2 "))
    lines.insert(at + 1, f"    filter deny to {ip.ip}/32")
    net = Network(l2l3.loads("\n".join(lines) + "\n"))
    monkeypatch.setattr(sets, "pod_classes", lambda n: (1, dict.fromkeys(n.pods, 0)))
    q = _reach("ns0", "ns0")
    with by_classes():
        r = Checker(net).evaluate(q)
    assert r.status is Verdict.VIOLATED is _pairwise(net, q)
    assert "checked pair by pair" in r.explanation
    assert victim in r.explanation


@pytest.mark.parametrize("confirm", [True, False])
def test_an_snat_the_classes_forget_is_caught_only_by_the_confirmations(
    monkeypatch: pytest.MonkeyPatch, confirm: bool
) -> None:
    """n1/p0's packets leave with source 172.16.0.250, which ns0/iso does not
    admit. With classes that forget the SNAT (one class per namespace) the
    member confirmations find it; without them the lift reports a false holds."""
    text = generate(
        3, 4, cni="calico bgp", namespaces=2, policies_per_namespace=1, pairs="none", netns_check=False
    )
    lines = text.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("node n1 "))
    lines.insert(at + 1, "    snat from 10.128.1.3/32 to 172.16.0.250")
    net = Network(l2l3.loads("\n".join(lines) + "\n"))
    assert net.pods["n1/p0"].pod.namespace == "ns0"
    by_ns = {p: int(i.pod.namespace[2:]) for p, i in net.pods.items()}
    monkeypatch.setattr(sets, "pod_classes", lambda n: (2, by_ns))
    if not confirm:
        monkeypatch.setattr(sets, "_confirm", lambda *a: [])
    q = _reach("ns0", "ns0")
    with by_classes():
        r = Checker(net).evaluate(q)
    assert _pairwise(net, q) is Verdict.VIOLATED
    assert r.status is (Verdict.VIOLATED if confirm else Verdict.HOLDS), r.explanation
    if confirm:
        assert "n1/p0" in r.explanation and "checked pair by pair" in r.explanation
