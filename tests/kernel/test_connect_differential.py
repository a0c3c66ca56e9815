"""``connect`` on the Linux kernel: real TCP handshakes, UDP and ICMP exchanges through conntrack.

Hand-written specs under ``connect/`` (each file says why, in its comments)
are realized and every check in them is judged as a ``connect`` of the same
request (:func:`l2l3.kernel.verdict.connect_verdict`): the kernel's verdict
must be the one worked out by hand, and the exchanges must fail in the half
the comment says.
"""

from __future__ import annotations

import time
from ipaddress import IPv4Address as A
from pathlib import Path

import pytest

from l2l3.kernel.exchange import ExchangeAnswer
from l2l3.kernel.probes import Probe

from .conftest import new_prefix

pytestmark = pytest.mark.kernel

HERE = Path(__file__).parent / "connect"

#: check name -> the kernel's connect verdict, worked out by hand (see each file's comments)
HAND: dict[str, dict[str, str]] = {
    "dnat-asymmetric.l2l3": {
        "vip-tcp": "violated",
        "vip-udp": "violated",
        "vip-icmp": "violated",
        "vip-node": "violated",
        "no-vip": "holds",
        "direct": "holds",
    },
    "dnat-masquerade.l2l3": {"vip": "holds", "vip-with-nat": "holds", "vip-no-nat": "violated"},
    "masquerade-inbound.l2l3": {
        "out-masqueraded": "holds",
        "out-clean": "violated",
        "in-clean": "holds",
        "in-node": "holds",
    },
    "filter-answer.l2l3": {"tcp": "violated", "udp": "holds", "icmp": "holds", "no-tcp": "holds"},
    "asymmetric-route.l2l3": {"a-b": "holds", "b-a": "holds"},
    "asymmetric-masquerade.l2l3": {"a-b-tcp": "violated", "a-b-udp": "violated", "a-b-icmp": "holds"},
    "shared-stack-source.l2l3": {"pod-bound": "violated", "node": "holds"},
}


def measure(path: Path) -> tuple[dict[str, str], dict[str, list[tuple[Probe, ExchangeAnswer]]]]:
    """Realize ``path``; judge each of its checks as a connect. Returns verdicts and exchanges per check."""
    from l2l3.dsl import load
    from l2l3.kernel.exchange import run_exchanges
    from l2l3.kernel.realization import teardown
    from l2l3.kernel.realize import realize
    from l2l3.kernel.verdict import check_probes, connect_verdict

    spec = load(path)
    p = new_prefix()
    try:
        rz = realize(spec, p)
        measured = {c.name: check_probes(rz, c.query, exchanges=True) for c in spec.checks}
        probes = sorted({pr for m in measured.values() for _s, _d, prs in m for pr in prs}, key=str)
        answers = run_exchanges(rz, probes)
    finally:
        teardown(p)
    verdicts = {
        n: connect_verdict(c.query, measured[n], answers).status
        for n, c in zip(measured, spec.checks, strict=True)
    }
    seen = {n: [(pr, answers[pr]) for _s, _d, prs in m for pr in prs] for n, m in measured.items()}
    return verdicts, seen


@pytest.fixture(scope="module")
def hand(kernel_ok: None) -> dict[str, tuple[dict[str, str], dict[str, list[tuple[Probe, ExchangeAnswer]]]]]:
    t0 = time.monotonic()
    out = {name: measure(HERE / name) for name in HAND}
    checks = sum(len(v) for v in HAND.values())
    print(f"\nconnect hand specs: {len(out)} files, {checks} checks, {time.monotonic() - t0:.1f}s")
    return out


@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_verdicts(hand: dict, name: str) -> None:  # type: ignore[type-arg]
    verdicts, seen = hand[name]
    wrong = {
        c: (verdicts[c], "\n    ".join(f"{p}: {a}" for p, a in seen[c]))
        for c, want in HAND[name].items()
        if verdicts[c] != want
    }
    assert not wrong, "\n".join(
        f"{name} {c}: kernel says {v}, by hand {HAND[name][c]}\n    {ex}" for c, (v, ex) in wrong.items()
    )


def test_asymmetric_dnat_dies_in_the_answer(hand: dict) -> None:  # type: ignore[type-arg]
    """The request reaches the backend un-masqueraded; its answer comes from the backend's address."""
    _v, seen = hand["dnat-asymmetric.l2l3"]
    for check in ("vip-tcp", "vip-udp", "vip-icmp"):
        for _p, a in seen[check]:
            assert not a.connected
            assert {(e.to, e.src, e.dst, e.answer_src) for e in a.exchanges} == {
                ("n2/b", A("10.1.3.5"), A("10.1.2.5"), A("10.1.2.5"))
            }, a


def test_conntrack_undoes_the_nat(hand: dict) -> None:  # type: ignore[type-arg]
    """Through the masquerading DNAT node the backend sees n1's address and c hears back from the VIP."""
    _v, seen = hand["dnat-masquerade.l2l3"]
    for _p, a in seen["vip"]:
        assert a.connected, a
        assert {(e.to, e.src, e.answer_src) for e in a.exchanges} == {("n2/b", A("10.0.0.1"), A("10.96.0.1"))}


def test_stateless_filter_drops_the_answer(hand: dict) -> None:  # type: ignore[type-arg]
    _v, seen = hand["filter-answer.l2l3"]
    (_p, a), *_ = seen["tcp"]
    assert a.delivered and not a.connected
    assert all(e.to == "n2/b" and not e.answered for e in a.exchanges), a


def test_answer_masqueraded_by_a_node_that_missed_the_request(hand: dict) -> None:  # type: ignore[type-arg]
    _v, seen = hand["asymmetric-masquerade.l2l3"]
    for check in ("a-b-tcp", "a-b-udp"):
        (_p, a), *_ = seen[check]
        assert {(e.to, e.answer_src, e.ok) for e in a.exchanges} == {("n2/b", A("10.0.0.3"), False)}, a


def test_shared_stack_unbound_sends_from_the_route_source(hand: dict) -> None:  # type: ignore[type-arg]
    """Issue 14 behaviour 6 on the kernel: bound to the pod address the request is filtered;
    an unbound socket in the same stack sends from n2's eth0 address and completes."""
    _v, seen = hand["shared-stack-source.l2l3"]
    (_p, bound), *_ = seen["pod-bound"]
    assert not bound.delivered
    unbound = [a for p, a in seen["node"] if not p.bound]
    assert unbound and all(a.connected and a.sent_from == A("10.0.0.2") for a in unbound)
