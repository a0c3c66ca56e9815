"""Every integer the grammar reads goes through one guarded conversion.

A number of any length (4,301 digits and more is past Python's int max str
digits, where ``int()`` raises ValueError) is a spec error at its first digit,
with the range that was expected; so are ports, prefix lengths and VNIs out of
range, wherever they are written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2l3.cli import main
from l2l3.dsl import parse
from l2l3.errors import SpecError
from tests.dsl.helpers import assert_rendered, one_error

HUGE = "9" * 4301
SEG = "segment lan 10.0.0.0/24 gateway 10.0.0.1\n"

#: (where, a spec with N where the number goes, the expected range)
SLOTS = [
    ("segment prefix", "segment lan 10.0.0.0/N\n", "prefix length", "0 to 32"),
    ("route prefix", "node a linux {\n    route 10.0.0.0/N dev eth0\n}\n", "prefix length", "0 to 32"),
    ("pod address", "node a linux {\n    pod p ip 10.244.1.5/N on cni0\n}\n", "prefix length", "0 to 32"),
    ("policy cidr", "policy p namespace n {\n    egress to cidr 10.0.0.0/N\n}\n", "prefix length", "0 to 32"),
    ("check address", "check q: reach 10.0.0.1 -> 10.0.0.0/N\n", "prefix length", "0 to 32"),
    ("filter port", "node a linux {\n    filter allow tcp port N\n}\n", "port", "1 to 65535"),
    ("dnat port", "node a linux {\n    dnat 10.96.0.1 tcp port N to 10.0.0.2\n}\n", "port", "1 to 65535"),
    ("dnat backend", "node a linux {\n    dnat 10.96.0.1 to 10.0.0.2:N\n}\n", "port", "1 to 65535"),
    ("vxlan port", "node a linux {\n    vxlan v vni 1 port N local 10.0.0.1\n}\n", "port", "1 to 65535"),
    ("vxlan vni", "node a linux {\n    vxlan v vni N local 10.0.0.1\n}\n", "VNI", "0 to 16777215"),
    ("check port", "check q: reach 10.0.0.1 -> 10.0.0.2 tcp port N\n", "port", "1 to 65535"),
    ("policy port", "policy p namespace n {\n    ingress tcp N\n}\n", "port", "1 to 65535"),
    ("cni vni", SEG + "cluster c {\n    cni flannel vxlan vni N\n}\n", "VNI", "0 to 16777215"),
    ("cni port", SEG + "cluster c {\n    cni flannel vxlan port N\n}\n", "port", "1 to 65535"),
    ("cluster vni", SEG + "cluster c {\n    cni flannel vxlan\n    vni N\n}\n", "VNI", "0 to 16777215"),
    ("cni option", SEG + "cluster c {\n    cni bridge mtu N\n}\n", "cni option mtu", "0 to 4294967295"),
    ("cni word", SEG + "cluster c {\n    cni bridge N on\n}\n", "number", "0 to 4294967295"),
    (
        "cni cidr",
        SEG + "cluster c {\n    cni win-bridge outbound-nat-except 10.0.0.0/N\n}\n",
        "prefix length",
        "0 to 32",
    ),
]
IDS = [s[0] for s in SLOTS]


def _where(text: str) -> tuple[int, int]:
    """1-based line and column of the N in ``text``."""
    before = text[: text.index("N")]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


@pytest.mark.parametrize(("name", "text", "what", "expected"), SLOTS, ids=IDS)
@pytest.mark.parametrize("digits", [HUGE, "1" + "0" * 5000, "0" * 4400 + "7" * 4400])
def test_a_huge_number_is_a_spec_error_at_its_first_digit(
    name: str, text: str, what: str, expected: str, digits: str
) -> None:
    d = one_error(text.replace("N", digits), expand=True)
    assert (d.span.line, d.span.column) == _where(text)
    assert d.message.startswith(f"{what} ") and d.message.endswith(f"is out of range: expected {expected}")
    assert f"({len(digits)} digits)" in d.message and len(d.message) < 120  # not the 4,301 digits
    head, excerpt, caret = d.render().split("\n")
    assert head.startswith(f"{d.span}: error: ") and excerpt[caret.index("^")] == digits[0]


@pytest.mark.parametrize(("name", "text", "what", "expected"), SLOTS, ids=IDS)
def test_the_range_ends_are_exact(name: str, text: str, what: str, expected: str) -> None:
    low, high = (int(x) for x in expected.split(" to "))
    if low > 0:
        assert f"expected {expected}" in one_error(text.replace("N", str(low - 1)), expand=True).message
    d = one_error(text.replace("N", str(high + 1)), expand=True)
    assert d.message == f"{what} {high + 1} is out of range: expected {expected}"
    assert_rendered(d)
    try:  # the highest value is not refused here (the profile may refuse it later)
        parse(text.replace("N", str(high)), "t.l2l3", expand=False, validate=False)
    except SpecError as e:
        assert all("out of range" not in d.message for d in e.diagnostics), str(e)


@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=6000), slot=st.sampled_from(SLOTS))
@settings(max_examples=150, deadline=None)
def test_any_number_anywhere_parses_or_is_a_spec_error(digits: str, slot: tuple[str, str, str, str]) -> None:
    try:
        parse(slot[1].replace("N", digits), "t.l2l3")
    except SpecError as e:
        assert e.diagnostics


def test_the_cli_reports_a_huge_number_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "huge.l2l3"
    f.write_text(f"segment lan 10.0.0.0/{HUGE}\n")
    assert main(["check", str(f)]) == 2
    err = capsys.readouterr().err
    head, line, caret = err.rstrip("\n").split("\n")
    assert (
        head
        == f"{f}:1:22: error: prefix length 99999999999999999999… (4301 digits) is out of range: expected 0 to 32"
    )
    assert line.startswith("    segment lan 10.0.0.0/999") and caret.endswith("^")
    assert "Traceback" not in err
