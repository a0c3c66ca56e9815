"""The inline parse (no tree, positions kept beside lark's value stack) gives
every statement the span the tree-based parse gave it.

The reference is lark itself: the same grammar parsed with
``propagate_positions=True`` into a tree, whose statement nodes carry
``meta.line``/``meta.column`` (the position the transformer used to read).
Every object with a span in the raw Spec (before profile expansion) is
matched against the tree's statement nodes of its kind: the bundled
examples, every spec file of the test-suite, generated clusters (plain,
Windows, the realistic policy mix with peers, ports, ipBlocks) and a
hand-written spec with services and every node statement.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lark import Lark, Tree

import l2l3.dsl
from l2l3.dsl import parse
from l2l3.dsl.grammar_cache import cached_lark
from l2l3.dsl.transform import SpecTransformer, inline
from l2l3.generate import plan, spec_text
from l2l3.generate_mix import mix_plan, mix_spec

ROOT = Path(__file__).resolve().parents[2]

#: tree node (rule or alias) → the model class the transformer makes of it
STATEMENTS = {
    "segment": "Segment",
    "external": "External",
    "node": "Node",
    "nic": "Nic",
    "bridge": "Bridge",
    "pod": "Pod",
    "route": "Route",
    "masquerade": "SourceNat",
    "snat": "SourceNat",
    "outbound_nat": "OutboundNat",
    "dnat": "Dnat",
    "route_to_host": "RouteToHost",
    "vxlan": "Vxlan",
    "fdb": "Fdb",
    "neighbor": "Neighbor",
    "proxy_arp": "ProxyArp",
    "filter": "Filter",
    "cluster": "Cluster",
    "namespace_decl": "NamespaceDecl",
    "policy": "Policy",
    "ingress": "PolicyRule",
    "egress": "PolicyRule",
    "service": "Service",
    "svc_port": "ServicePort",
    "svc_endpoint": "ServiceEndpoint",
    "check": "Check",
}

HAND = """\
namespace shop labels team=a, tier=web
segment lan 172.16.0.0/16 gateway 172.16.0.1
external net 0.0.0.0/0 via lan
node a linux {
    nic eth0 ip 172.16.0.10/16 mac 00:15:5d:aa:03:03 on lan
    bridge br0 linux ip 10.1.0.1/24 hairpin
    pod web ip 10.1.0.5/24 on br0 namespace shop labels app=web ports 80/tcp=http {
        route 0.0.0.0/0 via 10.1.0.1
    }
    pod db ip 10.1.0.6/24 on br0 no-netns
      route 10.2.0.0/16 via 172.16.0.11 dev eth0 onlink
    masquerade from 10.1.0.0/24 except 10.0.0.0/8, 192.168.0.0/16 out eth0
    snat from 10.1.0.0/24 to 172.16.0.10
    dnat 10.96.0.1 tcp port 443 to 10.1.0.5:8443, 10.1.0.6
    vxlan vx0 vni 4096 port 4789 local 172.16.0.10 mac 00:15:5d:aa:03:04 ip 10.3.0.0/32
    fdb 00:15:5d:aa:03:05 dst 172.16.0.11 dev vx0
    neighbor 10.3.1.0 lladdr 00:15:5d:aa:03:05 dev vx0
    proxy-arp eth0;  forwarding on
    enforce-policy on
    filter deny in eth0 from 10.9.0.0/16 tcp port 22
}
node w windows {
    nic eth0 ip 172.16.0.11/16 on lan
    bridge l2 l2bridge uplink eth0
    outbound-nat l2 except 10.0.0.0/8
    route-to-host l2 10.4.0.0/24
}
policy p namespace shop {
    select app=web
    types ingress, egress
    ingress from pods app=api, tier in (a,b), namespaces team=a pods {} tcp port 80, udp 53-60
    ingress from cidr 10.0.0.0/8 except 10.1.0.0/16, 10.2.0.0/16
       egress to namespace kube-system pods k8s-app=kube-dns udp port dns
}
service shop/web ip 10.96.0.10 type nodeport {
    port http 80 tcp target http node-port 30080
    select app=web
}
service shop/db headless { port 5432; endpoint 10.1.0.6 port 5432 }
check c1: reach a/web -> a/db tcp port 80
check c2:   no reach namespace shop -> external net
check c3: isolated pod shop/web <-> node w
check c4: nat a/web -> 10.9.9.9 tcp as 172.16.0.10
check c5: netns-isolation on a
  cluster k { pod-cidr 10.0.0.0/8; cni calico bgp }
"""


@pytest.fixture(scope="module")
def tree_parser() -> Lark:
    """The grammar with lark's own position propagation: the reference."""
    grammar = Path(l2l3.dsl.__file__).with_name("l2l3.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True)


def _tree_spans(tree: Tree) -> Counter[tuple[str, int, int]]:
    out: Counter[tuple[str, int, int]] = Counter()
    for t in tree.iter_subtrees():
        kind = STATEMENTS.get(str(t.data))
        if kind is not None:
            out[(kind, t.meta.line, t.meta.column)] += 1
    return out


def _spec_spans(obj: Any, out: Counter[tuple[str, int, int]]) -> Counter[tuple[str, int, int]]:
    if isinstance(obj, tuple | list | frozenset):
        for x in obj:
            _spec_spans(x, out)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        span = getattr(obj, "span", None)
        if span is not None and type(obj).__name__ in STATEMENTS.values():
            out[(type(obj).__name__, span.line, span.column)] += 1
        for f in dataclasses.fields(obj):
            if f.name not in ("span", "source"):
                _spec_spans(getattr(obj, f.name), out)
    return out


def _texts() -> list[tuple[str, str]]:
    files = sorted({*ROOT.glob("examples/*.l2l3"), *ROOT.glob("tests/**/*.l2l3")})
    texts = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in files]
    texts.append(("hand", HAND))
    texts.append(("generated", spec_text(plan(4, 5, "calico bgp", 3, 3, 0.0, 0, "all"))))
    texts.append(("generated-windows", spec_text(plan(4, 3, "flannel vxlan", 2, 1, 0.5, 1, "ring"))))
    texts.append(("mix", mix_spec(mix_plan(4, 6, 6, 24, seed=3))))
    return texts


def test_every_statement_has_the_tree_based_span(tree_parser: Lark) -> None:
    compared = 0
    for name, text in _texts():
        try:
            tree = tree_parser.parse(text.replace("\r\n", "\n"))
        except Exception:
            continue  # a spec of the suite that is bad on purpose: the error tests cover it
        spec = parse(text, name, expand=False, validate=False)
        expected = _tree_spans(tree)
        assert _spec_spans(spec, Counter()) == expected, name
        compared += sum(expected.values())
    assert compared > 500  # the comparison did see the statements


def test_hand_spec_covers_every_statement_kind(tree_parser: Lark) -> None:
    # The hand-written spec above is the one with every kind of statement, and
    # statements that do not start at the line's first column or line.
    kinds = {k for k, _, _ in _tree_spans(tree_parser.parse(HAND))}
    assert kinds == set(STATEMENTS.values())
    spans = _spec_spans(parse(HAND, "h", expand=False, validate=False), Counter())
    assert ("Route", 8, 9) in spans and ("Check", 40, 1) in spans
    assert ("PolicyRule", 33, 8) in spans and ("Cluster", 45, 3) in spans  # indented by hand


def test_a_rule_without_callback_is_refused() -> None:
    class Partial:
        def start(self, meta: Any, children: list[Any]) -> Any:
            return children

    with pytest.raises(LookupError, match="no callback for grammar rule"):
        inline.callbacks(l2l3.dsl.parser(), Partial())


def test_positions_are_not_propagated_twice(tree_parser: Lark) -> None:
    with pytest.raises(ValueError, match="propagate_positions"):
        inline.callbacks(tree_parser, SpecTransformer("t", []))


def test_tables_read_back_from_the_grammar_cache_parse_alike(tmp_path: Path) -> None:
    grammar = Path(l2l3.dsl.__file__).with_name("l2l3.lark").read_text(encoding="utf-8")
    built = cached_lark(grammar, tmp_path, parser="lalr")
    assert list(tmp_path.glob("grammar-*.lark"))  # written
    loaded = cached_lark(grammar, tmp_path, parser="lalr")  # read back (Lark.load)
    assert loaded is not built
    want = _spec_spans(parse(HAND, "h", expand=False, validate=False), Counter())
    for lark in (built, loaded):
        spec = inline.parse(lark, HAND, SpecTransformer("h", HAND.splitlines()))
        assert _spec_spans(spec, Counter()) == want
