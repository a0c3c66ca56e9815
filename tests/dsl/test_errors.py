"""Syntax and value errors: positions, "expected …" wording, several at once, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2l3.dsl import load, load_with_warnings, parse, parse_with_warnings
from l2l3.errors import Diagnostic, SpecError
from l2l3.model.types import Span, Spec
from tests.dsl.helpers import BASE, assert_rendered, errors, one_error


def test_errors_expected_cidr_in_words() -> None:
    d = one_error("segment lan 10.0.0.1\n")
    assert str(d.span) == "t.l2l3:1:13"
    assert d.message == "expected a CIDR like 10.0.0.0/24, found `10.0.0.1`"
    assert_rendered(d)


def test_errors_missing_value_at_end_of_line() -> None:
    d = one_error("segment lan\n")
    assert str(d.span) == "t.l2l3:1:12"
    assert "expected a CIDR like 10.0.0.0/24, found end of line" in d.message


def test_errors_unknown_statement_suggests_keyword() -> None:
    d = one_error("node a linux {\n    brige cni0 linux\n}\n")
    assert str(d.span) == "t.l2l3:2:5"
    assert "`bridge`" in d.message and "did you mean `bridge`?" in d.message
    assert_rendered(d)


def test_errors_missing_closing_brace() -> None:
    d = one_error("node a linux {\n    forwarding on\n")
    assert d.span.line == 2
    assert "expected `}` to close the open block, found end of file" in d.message


def test_errors_several_syntax_errors_reported() -> None:
    text = "segment lan 10.0.0.0/24 gatewy 10.0.0.1\nnode a linux {\n    brige x linux\n    route 1.0.0.0/8 via\n}\nnode b\n"
    diags = errors(text)
    assert [str(d.span) for d in diags] == ["t.l2l3:1:25", "t.l2l3:3:5", "t.l2l3:4:24", "t.l2l3:6:7"]
    for d in diags:
        assert_rendered(d)


def test_errors_bad_octet_at_the_address() -> None:
    d = one_error("segment lan 10.0.0.0/24 gateway 10.0.0.300\n")
    assert str(d.span) == "t.l2l3:1:33" and "10.0.0.300 is not an IPv4 address" in d.message


def test_errors_prefix_length_out_of_range_at_the_number() -> None:
    d = one_error("segment lan 10.0.0.0/33\n")
    assert str(d.span) == "t.l2l3:1:22"
    assert d.message == "prefix length 33 is out of range: expected 0 to 32"


def test_errors_port_out_of_range_at_the_number() -> None:
    text = BASE + "check c: reach a/web -> b/iis tcp port 0\n"
    d = one_error(text)
    assert str(d.span) == "t.l2l3:14:40" and "port 0 is out of range: expected 1 to 65535" in d.message


def test_errors_vni_out_of_range() -> None:
    d = one_error("node a linux {\n    vxlan v vni 16777216 local 10.0.0.1\n}\n")
    assert (
        str(d.span) == "t.l2l3:2:17" and "VNI 16777216 is out of range: expected 0 to 16777215" in d.message
    )


def test_errors_option_given_twice() -> None:
    d = one_error("node a linux {\n    vxlan v vni 1 vni 2 local 10.0.0.1\n}\n")
    assert str(d.span) == "t.l2l3:2:19" and "`vni` given twice" in d.message


def test_errors_required_option_missing() -> None:
    d = one_error("node a linux {\n    vxlan v vni 1\n}\n")
    assert str(d.span) == "t.l2l3:2:5" and "vxlan v needs `local IP`" in d.message


def test_errors_route_needs_via_or_dev() -> None:
    d = one_error("node a linux {\n    route 10.0.0.0/8 onlink\n}\n")
    assert "route needs `via IP` or `dev IF`" in d.message


def test_errors_query_modifier_twice() -> None:
    d = one_error("check c: reach 1.1.1.1 -> 2.2.2.2 with nat without nat\n")
    assert str(d.span) == "t.l2l3:1:44" and "given twice" in d.message


def test_errors_second_cluster() -> None:
    d = one_error("cluster a { cni bridge }\ncluster b { cni bridge }\n")
    assert d.span.line == 2 and "at most one" in d.message


def test_errors_cni_option_without_value() -> None:
    d = one_error("cluster a {\n    cni bridge ipmasq\n}\n")
    assert str(d.span) == "t.l2l3:2:16" and "needs a value" in d.message


def test_errors_huge_input_refused() -> None:
    with pytest.raises(SpecError) as info:
        parse("#" * (20 * 1024 * 1024 + 1))
    assert "larger than 20 MB" in str(info.value)


def test_errors_garbage_is_a_spec_error() -> None:
    for text in [
        "\x00\x01\x02",
        "{" * 5000,
        "}}}}",
        "node " * 1000,
        "check x: reach " + "pods a=b," * 2000,
        "é ∀ 🙂",
    ]:
        with pytest.raises(SpecError):
            parse(text)


def test_errors_sorted_by_position() -> None:
    diags = errors("segment a 10.0.0.1/8\nsegment b 10.0.0.1/8\n")
    assert [d.span.line for d in diags] == [1, 2]


# ------------------------------------------------------------------ load


def test_load_reads_a_file(tmp_path: Path) -> None:
    f = tmp_path / "x.l2l3"
    f.write_text(BASE)
    spec = load(f)
    assert spec.file == str(f) and spec.nodes[0].span.file == str(f)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load(tmp_path / "nope.l2l3")
    (d,) = info.value.diagnostics
    assert d.span == Span(str(tmp_path / "nope.l2l3"), 1, 1) and "cannot read" in d.message


def test_load_binary_file(tmp_path: Path) -> None:
    f = tmp_path / "x.l2l3"
    f.write_bytes(b"\x7fELF\x00\x00")
    with pytest.raises(SpecError) as info:
        load(f)
    assert info.value.diagnostics[0].span == Span(str(f), 1, 1)
    assert "binary" in info.value.diagnostics[0].message


def test_load_non_utf8_file(tmp_path: Path) -> None:
    f = tmp_path / "x.l2l3"
    f.write_bytes(b"segment l\xe4n 10.0.0.0/24\n")
    with pytest.raises(SpecError) as info:
        load(f)
    assert (
        info.value.diagnostics[0].span == Span(str(f), 1, 1) and "UTF-8" in info.value.diagnostics[0].message
    )


def test_load_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError):
        load(tmp_path)


def test_load_with_bom_and_crlf(tmp_path: Path) -> None:
    f = tmp_path / "x.l2l3"
    f.write_bytes(b"\xef\xbb\xbf" + BASE.replace("\n", "\r\n").encode())
    assert load_with_warnings(f)[0].nodes[1].name == "b"


# ------------------------------------------------------------------ expansion plumbing


def test_parse_with_warnings_returns_expansion_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    import l2l3.model.profiles as profiles

    calls: list[Spec] = []

    def fake_expand(spec: Spec) -> tuple[Spec, list[Diagnostic]]:
        calls.append(spec)
        return spec, [Diagnostic(spec.cluster.span, "a warning", "cluster c { cni bridge }")]  # type: ignore[union-attr]

    monkeypatch.setattr(profiles, "expand", fake_expand)
    spec, warnings = parse_with_warnings("cluster c { cni bridge }\n", "t.l2l3")
    assert len(calls) == 1 and [w.message for w in warnings] == ["a warning"]
    assert parse("cluster c { cni bridge }\n") == spec.__class__(file="<spec>", cluster=spec.cluster)
    _, none = parse_with_warnings("cluster c { cni bridge }\n", "t.l2l3", expand=False)
    assert none == [] and len(calls) == 2


def test_parse_without_validation_accepts_dangling_names() -> None:
    spec = parse("check q: reach a/b -> c/d\n", validate=False)
    assert spec.checks[0].name == "q"
