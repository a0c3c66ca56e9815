"""The inline parse's lexer loop and address conversion against lark's and
ipaddress's own: the same tokens (type, text, every position) on good specs,
the same error at the same place on broken ones, the same addresses or the
same refusal."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lark import Token
from lark.exceptions import UnexpectedInput
from lark.lexer import LexerThread

from l2l3.dsl import parser
from l2l3.dsl.transform import inline
from l2l3.dsl.transform.base import address
from tests.dsl.test_inline_spans import _texts


def _tok(t: Token) -> tuple[Any, ...]:
    return (t.type, str(t), t.start_pos, t.line, t.column, t.end_line, t.end_column, t.end_pos)


def _run(thread: type[LexerThread], text: str) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """The tokens lark's parse loop received through ``thread``, and the error it raised."""
    frontend: Any = parser().parser
    seen: list[tuple[Any, ...]] = []

    class Recording(thread):  # type: ignore[valid-type,misc]
        def lex(self, parser_state: Any) -> Any:
            for t in super().lex(parser_state):
                seen.append(_tok(t))
                yield t

    try:
        frontend.parser.parser.parse(Recording.from_text(frontend.lexer, text), "start")
    except UnexpectedInput as e:
        token = getattr(e, "token", None)
        return seen, (
            type(e).__name__,
            e.line,
            e.column,
            sorted(getattr(e, "expected", None) or ()),
            sorted(getattr(e, "allowed", None) or ()),
            _tok(token) if token is not None else None,
        )
    return seen, None


def _broken(text: str, step: int) -> list[str]:
    out = []
    for i in range(0, len(text), step):
        out.append(text[:i] + text[i + 1 :])  # a character lost
        out.append(text[:i] + "@" + text[i:])  # a character no terminal starts with
        out.append(text[:i] + "} " + text[i:])  # a block closed too early
    return out


def test_tokens_equal_larks_on_good_specs() -> None:
    total = 0
    for name, text in _texts():
        ours = _run(inline._Tokens, text)
        assert ours == _run(LexerThread, text), name
        total += len(ours[0])
    assert total > 5000


@pytest.mark.parametrize(
    ("name", "places"), [("examples/policy-enforced.l2l3", 30), ("hand", 40), ("mix", 10)]
)
def test_errors_equal_larks_on_broken_specs(name: str, places: int) -> None:
    text = dict(_texts())[name]
    cases = _broken(text, max(1, len(text) // places))
    errors = 0
    for bad in cases:
        ours = _run(inline._Tokens, bad)
        assert ours == _run(LexerThread, bad), bad
        errors += ours[1] is not None
    assert errors > len(cases) // 3  # most of the mutations are errors, of both kinds


@given(st.text(alphabet="0123456789.٠ x/", max_size=18))
@example("010.0.0.1")
@example("256.1.1.1")
@example("1.2.3")
@example("1.2.3.4.5")
@example("٠.0.0.0")
@example("255.255.255.255")
@example("0.0.0.0")
def test_address_is_ipaddress(text: str) -> None:
    try:
        expected: IPv4Address | str = IPv4Address(text)
    except ValueError:
        expected = "refused"
    try:
        got: IPv4Address | str = address(text)
    except ValueError:
        got = "refused"
    assert got == expected
