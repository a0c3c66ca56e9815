"""SpecTransformer binds lark's v_args callbacks once per instance."""

from __future__ import annotations

from l2l3.dsl import parse
from l2l3.dsl.transform import _CALLBACKS, SpecTransformer
from tests.dsl.helpers import BASE


def test_callbacks_are_found_and_bound_once() -> None:
    # If a lark upgrade renamed the wrapper attribute, _CALLBACKS would be
    # empty and every tree node would rebuild its wrapper again (silently slow).
    names = {name for name, _ in _CALLBACKS}
    assert {"node", "pod", "route", "policy"} <= names, sorted(names)
    t = SpecTransformer("t.l2l3", [])
    assert all(getattr(t, name) is getattr(t, name) for name in names)
    other = SpecTransformer("u.l2l3", [])
    assert other.node is not t.node  # bound to its own instance


def test_bound_callbacks_report_the_instance_file() -> None:
    # Two transformers alive at once must each stamp spans with their own file.
    a = parse(BASE, "a.l2l3")
    b = parse(BASE, "b.l2l3")
    assert {n.span.file for n in a.nodes} == {"a.l2l3"}
    assert {n.span.file for n in b.nodes} == {"b.l2l3"}
