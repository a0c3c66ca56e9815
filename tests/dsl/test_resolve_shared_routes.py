"""Route checks are done once per shared route object and node kind, yet never skip a node where it is wrong."""

from __future__ import annotations

from dataclasses import replace

from l2l3.dsl import parse
from l2l3.dsl.resolve import diagnose

SPEC = """\
segment lan 10.0.0.0/24
segment other 10.9.0.0/24
node a linux {
    nic eth0 ip 10.0.0.2/24 on lan
    route 10.1.0.0/24 via 10.0.0.3 dev eth0
    route 10.2.0.0/24 via 10.0.0.4 dev eth0
}
node b linux {
    nic eth0 ip 10.0.0.3/24 on lan
}
node c linux {
    nic eth0 ip 10.9.0.5/24 on other
}
"""


def _sharing(*names: str) -> list[str]:
    """Errors when the nodes ``names`` get node a's very route objects (as profiles share them)."""
    spec = parse(SPEC, validate=False)
    a = spec.nodes[0]
    nodes = tuple(replace(n, routes=a.routes) if n.name in names else n for n in spec.nodes)
    return [d.message for d in diagnose(replace(spec, nodes=nodes)) if d.severity == "error"]


def test_a_node_alike_passes_with_the_shared_routes() -> None:
    assert _sharing("b") == []


def test_a_node_with_other_prefixes_is_checked_again() -> None:
    """Node c has other on-link prefixes: the routes that passed on a and b fail on c, both reported."""
    errs = _sharing("b", "c")
    assert len(errs) == 2, errs
    assert all("node c" in e and "no connected prefix" in e for e in errs)


def test_a_node_without_the_device_is_checked_again() -> None:
    spec = parse(SPEC, validate=False)
    a = spec.nodes[0]
    renamed = replace(spec.nodes[1], nics=(replace(spec.nodes[1].nics[0], name="ens3"),), routes=a.routes)
    errs = [
        d.message for d in diagnose(replace(spec, nodes=(a, renamed, spec.nodes[2]))) if d.severity == "error"
    ]
    assert len(errs) == 2 and all("no such interface on node b" in e for e in errs), errs
