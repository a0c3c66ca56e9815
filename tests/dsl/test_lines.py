"""One line-splitting rule for the parser and the diagnostics.

lark counts lines at ``\\n`` only; a diagnostic must show the line lark means,
even after a form feed, a lone ``\\r``, ``\\x1c`` or ``\\u2028`` in a comment
(characters :meth:`str.splitlines` would take for line ends).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2l3.dsl import parse, parser
from l2l3.errors import Diagnostic, SpecError, line_of, printable, source_lines
from l2l3.model.types import Span
from tests.dsl.helpers import BASE

#: What str.splitlines takes for line ends, besides "\n".
BREAKERS = "\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def test_source_lines_split_at_newline_only() -> None:
    text = "a\fb\x1cc\u2028d\x85e\vf\rg\u2029h\ni\n"
    assert source_lines(text) == ["a\fb\x1cc\u2028d\x85e\vf\rg\u2029h", "i", ""]
    assert text.splitlines() != source_lines(text)[:-1]  # the rule str.splitlines would get wrong


def test_source_lines_drop_the_cr_of_crlf_only() -> None:
    assert source_lines("a\r\nb\rc\r\n\r\n") == ["a", "b\rc", "", ""]


def test_line_of_follows_source_lines() -> None:
    text = "# one\fstill one\nsegment lan 10.0.0.0/24\r\n# x\u2028y\nlast"
    assert [line_of(text, n) for n in range(0, 6)] == [
        "",
        "# one\fstill one",
        "segment lan 10.0.0.0/24",
        "# x\u2028y",
        "last",
        "",
    ]


def test_rendered_excerpt_stays_on_one_line_with_the_caret_in_place() -> None:
    d = Diagnostic(Span("t.l2l3", 1, 11), "boom", "a\fb\rc\u2028d\te 10.0.0.0/33\r")
    head, excerpt, caret = d.render().split("\n")
    assert len(d.render().splitlines()) == 3  # no stray line break left in the excerpt
    assert excerpt == "    " + "a\ufffdb\ufffdc\ufffdd\te 10.0.0.0/33".expandtabs()
    assert excerpt[caret.index("^")] == "1"  # column 11 = the "1" of the prefix, after the tab
    assert printable("ok\u202eevil") == "ok\ufffdevil"  # a bidi override does not reorder the excerpt


# ---------------------------------------------------------------- property

#: (the statements of a spec, index of the statement in error, what the error says)
CASES = [
    (BASE.splitlines() + ["segment wan 10.1.0.0/24 gatewy 10.1.0.1"], -1, "expected"),  # syntax
    (BASE.splitlines() + ["segment wan 10.1.0.0/33"], -1, "prefix length"),  # value
    (BASE.splitlines() + ["external web 198.51.100.0/24 via nolan"], -1, "nolan"),  # name resolution
    (  # profile expansion: reported at the cluster block
        [
            "segment lan 10.0.0.0/24 gateway 10.0.0.1",
            "cluster c {",
            "    pod-cidr 10.244.0.0/16",
            "    cni bridge",
            "    bogus 1",
            "}",
            "node a linux ip 10.0.0.11 on lan subnet 10.244.1.0/24 {",
            "    pod web ip 10.244.1.5",
            "}",
        ],
        1,
        "unknown option",
    ),
    (  # profile expansion: reported at a pod
        [
            "segment lan 10.0.0.0/24 gateway 10.0.0.1",
            "cluster c {",
            "    pod-cidr 10.244.0.0/16",
            "    cni bridge",
            "}",
            "node a linux ip 10.0.0.11 on lan subnet 10.244.1.0/24 {",
            "    pod web ip 10.244.1.5",
            "    pod far ip 10.244.9.5",
            "}",
        ],
        7,
        "outside",
    ),
]

comment_text = st.text(alphabet=st.sampled_from(BREAKERS + "ab \t#;{}\r"), max_size=8)


@st.composite
def specs_with_odd_comments(draw: st.DrawFn) -> tuple[str, int, str]:
    """A spec with one error and odd characters in comments; (text, line of the error, what)."""
    stmts, bad, what = draw(st.sampled_from(CASES))
    bad %= len(stmts)
    out: list[str] = []
    bad_line = 0
    for i, stmt in enumerate(stmts):
        for _ in range(draw(st.integers(0, 2))):  # whole-line comments before the statement
            out.append("#" + draw(comment_text))
        if i == bad:
            bad_line = len(out) + 1
        trailing = draw(st.one_of(st.just(""), comment_text.map(lambda t: "  # " + t)))
        out.append(stmt + trailing)
    return "\n".join(out) + "\n", bad_line, what


def _lark_line(text: str, line: int) -> str:
    """The text lark means by ``line``: from a token's start_pos and column."""
    tok = next(t for t in parser().lex(text) if t.line == line and t.type != "_SEP")
    assert tok.start_pos is not None and tok.column is not None
    start = tok.start_pos - (tok.column - 1)
    end = text.find("\n", tok.start_pos)
    return text[start : end if end >= 0 else len(text)]


@given(specs_with_odd_comments())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_shown_line_is_the_line_lark_means(case: tuple[str, int, str]) -> None:
    text, bad_line, what = case
    try:
        parse(text, "odd.l2l3")
    except SpecError as e:
        diags = e.diagnostics
    else:  # pragma: no cover - every case has an error
        raise AssertionError("no error")
    d = next(d for d in diags if what in d.message)
    assert d.span.line == bad_line
    lark_line = _lark_line(text.replace("\r\n", "\n"), d.span.line).removesuffix("\r")
    assert d.line_text == lark_line
    _, excerpt, caret = d.render().split("\n")
    assert excerpt == "    " + printable(lark_line).expandtabs()
    assert len(d.render().splitlines()) == 3
    assert caret.index("^") - 4 == len(lark_line[: d.span.column - 1].expandtabs())
