"""SpecTransformer: one callback per grammar rule, run inline by the LALR
parser, spread over one module per grammar area."""

from __future__ import annotations

from pathlib import Path

import pytest

import l2l3.dsl
from l2l3.dsl import parse, parser
from l2l3.dsl.transform import SpecTransformer, inline
from l2l3.dsl.transform.checks import CheckRules
from l2l3.dsl.transform.cluster import ClusterRules
from l2l3.dsl.transform.policies import PolicyRules
from l2l3.dsl.transform.primitives import PrimitiveRules
from tests.dsl.helpers import BASE


def _rule_names() -> set[str]:
    """The names lark gives the tree nodes of the grammar (rule or alias)."""
    names: set[str] = set()
    for rule in parser().rules:
        name = str(rule.alias or rule.origin.name)
        if name.startswith("_") or (rule.options.expand1 and not rule.alias):
            continue  # inlined: no tree node, no callback
        names.add(name)
    return names


def _callbacks(klass: type) -> set[str]:
    """The rule callbacks a class defines itself: its public methods."""
    return {name for name, attr in vars(klass).items() if callable(attr) and not name.startswith("_")}


def test_every_rule_has_exactly_one_callback() -> None:
    # A callback lost in the split would make inline.callbacks refuse the
    # grammar; a public helper in an area class would pass for a rule.
    areas = [k for k in SpecTransformer.__mro__ if k.__module__.startswith("l2l3.dsl.transform")]
    found = [name for k in areas if k.__name__ != "TransformerBase" for name in _callbacks(k)]
    assert set(found) == _rule_names()
    assert len(found) == len(set(found))
    assert len(inline.callbacks(parser(), SpecTransformer("t.l2l3", []))) == len(parser().rules)


@pytest.mark.parametrize(
    ("area", "rules"),
    [
        (PrimitiveRules, {"segment", "node", "pod", "route", "vxlan", "filter", "opt_ip", "label_list"}),
        (ClusterRules, {"cluster", "cni", "cl_option", "pod_cidr", "service_cidr"}),
        (PolicyRules, {"policy", "ingress", "egress", "peer_items", "port_item", "select"}),
        (CheckRules, {"check", "reach", "no_reach", "isolated", "nat_as", "ep_pod", "mod_port"}),
    ],
)
def test_each_area_module_holds_its_rules(area: type, rules: set[str]) -> None:
    own = _callbacks(area)
    assert rules <= own
    for other in (PrimitiveRules, ClusterRules, PolicyRules, CheckRules):
        if other is not area:
            assert not own & set(vars(other)), (area, other)


def test_dsl_modules_stay_small() -> None:
    root = Path(l2l3.dsl.__file__).parent
    sizes = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert "transform/__init__.py" in sizes
    assert max(sizes.values()) <= 600, sizes


def test_bound_callbacks_report_the_instance_file() -> None:
    # Two transformers alive at once must each stamp spans with their own file.
    a = parse(BASE, "a.l2l3")
    b = parse(BASE, "b.l2l3")
    assert {n.span.file for n in a.nodes} == {"a.l2l3"}
    assert {n.span.file for n in b.nodes} == {"b.l2l3"}
