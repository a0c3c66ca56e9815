"""Loading runs with the cyclic collector off, and leaves it as it found it."""

from __future__ import annotations

import gc

import pytest

import l2l3
from l2l3.errors import SpecError
from l2l3.model.base import quiet_gc

SPEC = "segment lan 10.0.0.0/24\nnode n linux {\n    nic eth0 ip 10.0.0.1/24 on lan\n}\n"


def test_the_collector_is_off_inside_and_back_after_an_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), quiet_gc():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with quiet_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_parsing_and_building_leave_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = l2l3.model.network.Network._build

    def spy(self: l2l3.model.network.Network) -> None:
        seen.append(gc.isenabled())
        real(self)

    monkeypatch.setattr(l2l3.model.network.Network, "_build", spy)
    l2l3.Network(l2l3.loads(SPEC))
    assert seen == [False] and gc.isenabled()
    with pytest.raises(SpecError):
        l2l3.loads("node {")
    assert gc.isenabled()
