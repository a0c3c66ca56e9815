"""The policy screen's per-class memo answers as a fresh screen does.

The screen keeps one verdict per (sender facts, destination key) and lets
every destination with the same key share it (l2l3.checking.screen
``_DestKey``: which of the senders' egress rules meet its addresses, its
binding ingress rules, whether a DNAT targets it, its container ports when a
named port is in play). Here one warm screen answers many sender sets and
headers in a row, and each destination is asked again of a fresh network and
screen, alone; the refusals must be the same. A key that forgets which egress
rules meet the destination (so a kube-dns pod and an ordinary one look alike
to a DNS-only sender) makes the comparison fail.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network

import pytest
from hypothesis import given, settings

import l2l3
from l2l3.checking.screen import PolicyScreen, _DestKey
from l2l3.model.endpoints import Endpoint, pod_endpoint
from l2l3.model.network import Network
from l2l3.model.types import Cluster, Headers, Spec
from tests.checking.test_screen_egress_ports import SPEC
from tests.property.test_screen_ports import HEADERS, port_networks


def _groups(net: Network) -> list[list[str]]:
    pods = sorted(net.pods)
    out = [[p] for p in pods]
    for ns in sorted({i.pod.namespace for i in net.pods.values()}):
        out.append([p for p in pods if net.pods[p].pod.namespace == ns])
    return [*out, pods]


def mismatches(
    spec: Spec, groups: list[list[str]] | None = None, headers: tuple[Headers, ...] = HEADERS
) -> list[str]:
    """Where one warm screen's refusals differ from a fresh screen's, destination by destination."""
    net = Network(spec)
    screen = PolicyScreen(net)
    dsts = sorted(net.pods)
    out = []
    for h in headers:
        for group in groups if groups is not None else _groups(net):
            shared = screen.refusals(
                [pod_endpoint(net, p) for p in group], [pod_endpoint(net, p) for p in dsts], h
            )
            for i, d in enumerate(dsts):
                cold = Network(spec)
                srcs: list[Endpoint] = [pod_endpoint(cold, p) for p in group]
                fresh = PolicyScreen(cold).refusals(srcs, [pod_endpoint(cold, d)], h).get(0)
                if shared.get(i) != fresh:
                    out.append(f"{group} -> {d} ({h or 'any'}): memo {shared.get(i)}, fresh {fresh}")
    return out


@settings(max_examples=4, deadline=None)
@given(port_networks())
def test_the_screen_memo_equals_a_fresh_screen(spec: Spec) -> None:
    assert not mismatches(spec)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(port_networks())
def test_the_screen_memo_equals_a_fresh_screen_long(spec: Spec) -> None:
    assert not mismatches(spec)


class _NoMeets(_DestKey):
    """A too-coarse key: destinations alike but for which egress rules meet their addresses."""

    __slots__ = ()

    def _coarse(self) -> tuple[object, ...]:
        return (self.binds, self.ingress, self.dnat, self.ports)

    def __hash__(self) -> int:
        return hash(self._coarse())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NoMeets) and self._coarse() == other._coarse()


def test_a_key_without_the_egress_memberships_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # n1/a may only send DNS to kube-dns: n1/dns is open to it, n2/c (no ingress policy either) is not
    spec = replace(l2l3.loads(SPEC), cluster=Cluster(name="c", pod_cidr=IPv4Network("10.1.0.0/16")))
    groups = [["n1/a"]]
    assert not mismatches(spec, groups, (Headers(),))
    real = PolicyScreen._dest_key

    def coarse(self: PolicyScreen, d: Endpoint, ss: object) -> _DestKey | None:
        k = real(self, d, ss)  # type: ignore[arg-type]
        return None if k is None else _NoMeets(*k)

    monkeypatch.setattr(PolicyScreen, "_dest_key", coarse)
    got = mismatches(spec, groups, (Headers(),))
    assert any("n2/c" in m or "n1/dns" in m for m in got), got
