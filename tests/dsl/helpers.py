"""Small helpers shared by the DSL tests."""

from __future__ import annotations

import pytest

from l2l3.dsl import parse
from l2l3.errors import Diagnostic, SpecError
from l2l3.model.types import Spec


def errors(text: str, *, file: str = "t.l2l3", expand: bool = False) -> list[Diagnostic]:
    """The diagnostics of ``text`` (fails the test if it parses)."""
    with pytest.raises(SpecError) as info:
        parse(text, file, expand=expand)
    return info.value.diagnostics


def one_error(text: str, **kw: object) -> Diagnostic:
    """The single diagnostic of ``text``."""
    diags = errors(text, **kw)  # type: ignore[arg-type]
    assert len(diags) == 1, "\n".join(d.render() for d in diags)
    return diags[0]


def assert_rendered(d: Diagnostic) -> None:
    """The rendered diagnostic shows its source line and a caret under the column."""
    text = d.render()
    head, line, caret = text.split("\n")
    assert head.startswith(f"{d.span}: {d.severity}: ")
    assert line.strip() == d.line_text.strip() and d.line_text
    assert caret.rstrip().endswith("^")
    assert len(caret.rstrip()) - 4 == d.span.column  # 4 = indentation of the excerpt


def ok(text: str, **kw: object) -> Spec:
    return parse(text, "t.l2l3", **kw)  # type: ignore[arg-type]


#: A small valid network to build error cases on (two nodes, one LAN).
BASE = """\
segment lan 10.0.0.0/24 gateway 10.0.0.1
external internet 0.0.0.0/0 via lan
node a linux {
    nic eth0 ip 10.0.0.11/24 on lan
    bridge cni0 linux ip 10.244.1.1/24
    pod web ip 10.244.1.5/24 on cni0 namespace shop labels app=web
    route 0.0.0.0/0 via 10.0.0.1 dev eth0
}
node b windows {
    nic eth0 ip 10.0.0.12/24 on lan
    bridge cbr0 l2bridge ip 10.244.2.2/24 uplink eth0
    pod iis ip 10.244.2.4/24 on cbr0 namespace shop
}
"""
