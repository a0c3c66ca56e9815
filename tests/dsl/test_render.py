"""render: canonical text that parses back to an equal Spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2l3.dsl import parse, render
from tests.dsl.corpus import CHECKS, POLICIES, PRIMITIVES, PROFILES
from tests.dsl.helpers import BASE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.l2l3"))

DEV_POD = "node dev1 linux {\n    nic eth0 ip 10.127.130.50/24 on lan\n    bridge br linux ip 10.250.0.1/24\n    pod d ip 10.250.0.2/24 on br namespace dev\n}\n"

CORPUS = {
    "primitives": PRIMITIVES,
    "profiles": PROFILES,
    "policies": POLICIES,
    "checks": PRIMITIVES + DEV_POD + CHECKS,
    "base": BASE,
    "extensions": (
        "cluster c {\n    pod-cidr 10.244.0.0/16\n    cni bridge ipmasq off\n    mtu 1450\n}\n"
        "segment lan 10.0.0.0/24\n"
        "node a linux ip 10.0.0.2 on lan subnet 10.244.1.0/24 {\n"
        "    pod p ip 10.244.1.9 labels app.kubernetes.io/name=x\n"
        "}\n"
        "node b linux {\n"
        "    nic eth0 ip 10.0.0.1/24 on lan\n"
        "    bridge mv macvlan uplink eth0 hairpin isolated-ports\n"
        "    vxlan flannel.1 vni 4096 port 4789 local 10.0.0.1 mac 8e:00:00:00:00:01 ip 10.244.9.0/32\n"
        "    fdb 8e:00:00:00:00:02 dst 10.0.0.2 dev flannel.1\n"
        "    neighbor 10.244.2.0 lladdr 8E-00-00-00-00-02 dev flannel.1\n"
        "    proxy-arp eth0\n"
        "    snat from 10.244.1.0/24 out eth0 to 10.0.0.1 except 10.244.0.0/16\n"
        "    dnat 10.96.0.10 udp port 53 to 10.244.1.9:5353, 10.244.1.10\n"
        "    filter deny tcp in eth0 port 22 from 10.0.0.0/8 to 10.244.1.0/24 out mv\n"
        "    forwarding off\n"
        "    enforce-policy on\n"
        "}\n"
        "policy p namespace default {\n"
        "    ingress from pods a=b, c=d, namespace m pods x=y, cidr 10.0.0.0/8 except 10.1.0.0/16, "
        "cidr 10.2.0.0/16, all tcp 80, udp\n"
        "    egress\n"
        "    types egress, ingress\n"
        "}\n"
        "check q: reach node a -> 10.96.0.10 udp port 53 with nat\n"
        "check r: nat pods app.kubernetes.io/name=x -> 10.0.0.0/8 tcp port 8 as 10.0.0.1\n"
        "check s: isolated a/p <-> 10.0.0.1 icmp\n"
        "check t: no loops\n"
        "check u: netns-isolation\n"
    ),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_render_round_trips_corpus(name: str) -> None:
    spec = parse(CORPUS[name], "x.l2l3", expand=False)
    again = parse(render(spec), "x.l2l3", expand=False)
    assert again == spec


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_render_round_trips_project_examples(example: Path) -> None:
    spec = parse(example.read_text(), str(example), expand=False)
    assert parse(render(spec), str(example), expand=False) == spec


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_render_is_a_fixed_point(name: str) -> None:
    text = render(parse(CORPUS[name], expand=False))
    assert render(parse(text, expand=False)) == text


def test_render_empty_spec_is_empty_text() -> None:
    assert render(parse("")) == ""


def test_render_canonical_layout() -> None:
    text = render(
        parse("segment lan 10.0.0.0/24 ; node a linux { nic eth0 ip 10.0.0.1/24 on lan }", expand=False)
    )
    assert text == "segment lan 10.0.0.0/24\n\nnode a linux {\n    nic eth0 ip 10.0.0.1/24 on lan\n}\n"


def test_render_bare_pod_address_stays_bare() -> None:
    text = render(parse(PROFILES, expand=False))
    assert "pod web ip 10.244.1.5 namespace shop labels app=web" in text
