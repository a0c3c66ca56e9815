"""Each UNVERIFIED choice is one switch (l2l3/model/choices.py): flipping it
changes the model, and the two engines still agree under the flipped setting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings

import l2l3
import tests.property.test_engine_vs_simulator as agreement
from l2l3.model import choices, policy
from tests.model.test_semantics import WIN_AND_LINUX, one
from tests.property.netgen import rich_networks

FLIPS = [
    ("L2BRIDGE_MAC_REWRITE", False),
    ("OUTBOUND_NAT_AT", "egress"),
    ("WINDOWS_ARP_ANY_LOCAL", True),
    ("OUTBOUND_NAT_ICMP", True),
    ("WINDOWS_HOST_VIA_OVERLAY", True),
    ("FROM_RESIDENT_NODE_ALLOWED", False),
]


#: switches that live beside the rule they govern rather than in choices.py
HOMES = {"FROM_RESIDENT_NODE_ALLOWED": policy}


@contextmanager
def flipped(name: str, value: object) -> Iterator[None]:
    home = HOMES.get(name, choices)
    old = getattr(home, name)
    setattr(home, name, value)
    try:
        yield
    finally:
        setattr(home, name, old)


def test_mac_rewrite_switch_changes_what_the_far_side_sees() -> None:
    net = l2l3.Network(l2l3.loads(WIN_AND_LINUX, "t.l2l3"))
    assert one(l2l3.trace(net, "win1/flat", "10.127.130.37")).final.smac == "00:15:5d:01:00:38"  # type: ignore[union-attr]
    with flipped("L2BRIDGE_MAC_REWRITE", False):
        net = l2l3.Network(l2l3.loads(WIN_AND_LINUX, "t.l2l3"))
        t = one(l2l3.trace(net, "win1/flat", "10.127.130.37"))
        assert t.final is not None and t.final.smac == "00:15:5d:aa:03:50" and t.via_mac


def _agree_flipped(name: str, value: object, examples: int) -> None:
    @settings(max_examples=examples, deadline=None)
    @given(rich_networks())
    def run(spec) -> None:  # type: ignore[no-untyped-def]
        with flipped(name, value):
            agreement.agree_on_goals(spec)

    run()


@pytest.mark.parametrize(("name", "value"), FLIPS, ids=[f[0] for f in FLIPS])
def test_engines_agree_with_the_switch_flipped(name: str, value: object) -> None:
    _agree_flipped(name, value, 4)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "value"), FLIPS, ids=[f[0] for f in FLIPS])
def test_engines_agree_with_the_switch_flipped_long(name: str, value: object) -> None:
    _agree_flipped(name, value, 40)
