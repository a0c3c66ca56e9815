"""LANGUAGE.md §2's example through the DSL: parse -> expand -> render -> parse."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from l2l3 import dsl
from l2l3.model.network import Network
from l2l3.model.profiles import expand
from l2l3.model.types import BridgeKind

EXAMPLE = """\
cluster demo {
    pod-cidr 10.244.0.0/16
    service-cidr 10.96.0.0/12
    cni flannel host-gw          # flannel on Linux = bridge + host-gw routes; on Windows = win-bridge
}
segment lan 10.127.130.0/24 gateway 10.127.130.1
node lin1 linux ip 10.127.130.37 on lan subnet 10.244.1.0/24 {
    pod web ip 10.244.1.5 namespace shop labels app=web
}
node win1 windows ip 10.127.130.38 on lan subnet 10.244.3.0/24 {
    pod iis ip 10.244.3.4 namespace shop
}
"""


def _parse(text: str):  # type: ignore[no-untyped-def]
    return dsl.parse(text, "ex.l2l3")


def test_language_section_2_example_expands() -> None:
    spec = _parse(EXAMPLE)
    lin1 = next(n for n in spec.nodes if n.name == "lin1")
    win1 = next(n for n in spec.nodes if n.name == "win1")
    assert lin1.cni == "flannel host-gw" and win1.cni == "win-bridge (flannel host-gw)"
    assert lin1.bridges[0].name == "cni0" and lin1.bridges[0].ip == IPv4Interface("10.244.1.1/24")
    assert win1.bridges[0].kind is BridgeKind.L2BRIDGE and win1.bridges[0].ip == IPv4Interface(
        "10.244.3.2/24"
    )
    assert lin1.pods[0].ip == IPv4Interface("10.244.1.5/24") and lin1.pods[0].bridge == "cni0"
    assert any(
        r.prefix == IPv4Network("10.244.3.0/24") and r.via == IPv4Address("10.127.130.38")
        for r in lin1.routes
    )
    assert win1.outbound_nats[0].exceptions == (
        IPv4Network("10.244.0.0/16"),
        IPv4Network("10.96.0.0/12"),
        IPv4Network("10.127.130.0/24"),
    )
    Network(spec)


@pytest.mark.parametrize("cni", ["flannel host-gw", "flannel vxlan", "calico bgp", "calico vxlan", "antrea"])
def test_expansion_round_trips_through_render(cni: str) -> None:
    spec = _parse(EXAMPLE.replace("cni flannel host-gw", f"cni {cni}"))
    again = dsl.parse(dsl.render(spec), "ex.l2l3")
    assert again == spec
    assert expand(spec)[0] == spec  # idempotent


@pytest.mark.parametrize("cni", ["bridge ipmasq off", "kindnet", "calico ipip"])
def test_linux_only_profiles_round_trip(cni: str) -> None:
    text = EXAMPLE.replace("cni flannel host-gw", f"cni {cni}").replace("win1 windows", "lin2 linux")
    spec = _parse(text)
    assert dsl.parse(dsl.render(spec), "ex.l2l3") == replace(spec)
