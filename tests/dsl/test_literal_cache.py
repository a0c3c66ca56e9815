"""Literals kept by their text during one parse: equal addresses, prefixes,
label lists and names are one object each, and a bad literal is still
reported at every place it is written."""

from __future__ import annotations

from l2l3.dsl import parse
from tests.dsl.helpers import errors

TWO_PODS = """\
segment lan 10.0.0.0/24
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.1.0.1/24
    pod p ip 10.1.0.5/24 on br0 namespace shop labels app=web, tier=a {
        route 0.0.0.0/0 via 10.1.0.1
    }
    pod q ip 10.1.0.6/24 on br0 namespace shop labels app=web, tier=a {
        route 0.0.0.0/0 via 10.1.0.1
    }
}
"""


def test_equal_literals_are_one_object() -> None:
    (node,) = parse(TWO_PODS, "t", expand=False, validate=False).nodes
    p, q = node.pods
    assert p.labels is q.labels and p.labels == (("app", "web"), ("tier", "a"))
    assert p.namespace is q.namespace and p.bridge is q.bridge
    assert p.routes[0].prefix is q.routes[0].prefix
    assert p.routes[0].via is q.routes[0].via
    assert p.ip != q.ip and p.ip is not None and str(p.ip) == "10.1.0.5/24"


def test_a_bad_literal_is_reported_where_each_is_written() -> None:
    bad = (
        TWO_PODS.replace("via 10.1.0.1", "via 10.1.0.300")
        .replace("app=web, tier=a", "app=web, app=x")
        .replace("route 0.0.0.0/0", "route 10.9.0.1/16")
    )
    found = [(d.span.line, d.span.column, d.message) for d in errors(bad)]
    for line in (6, 9):  # the two pods' routes
        assert (line, 31, "10.1.0.300 is not an IPv4 address (four numbers 0-255, like 10.0.0.1)") in found
        assert any(ln == line and "has host bits set" in m for ln, _, m in found)
    for line in (5, 8):  # the two pods' labels
        assert (line, 64, "label key app given twice") in found


def test_a_label_list_written_otherwise_is_its_own() -> None:
    text = TWO_PODS.replace(
        "labels app=web, tier=a {\n        route 0.0.0.0/0 via 10.1.0.1\n    }\n    pod q",
        "labels tier=a app=web {\n        route 0.0.0.0/0 via 10.1.0.1\n    }\n    pod q",
        1,
    )
    p, q = parse(text, "t", expand=False, validate=False).nodes[0].pods
    assert p.labels == q.labels  # sorted pairs either way
