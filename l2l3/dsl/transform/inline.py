"""The LALR parse with the rule callbacks run inline: no parse tree is built.

lark's LALR parser reduces a rule by calling one callback with the values of
the rule's symbols: the tokens it shifted and the values its sub-rules
returned. :func:`parse` gives it our rule callbacks (``SpecTransformer``'s
methods, through lark's own child filters: anonymous keywords dropped, the
``[optional]`` placeholders filled with None, ``_inline`` rules spliced), so
a statement becomes its model object the moment it is reduced and no tree
of 770,000 nodes (at 150,000 pods) is ever held.

``Lark(..., transformer=…)`` would do the same but hands a callback no
position (``v_args(meta=True)`` is refused there, and ``propagate_positions``
only places positions on Tree nodes). A rule's position is the first token
it consumed, filtered keywords included (``pod`` of ``pod p1 ip …``), which is
what ``propagate_positions`` gave. That is kept here, beside lark's value
stack: a stack holding the first token of every sub-rule value not yet
consumed. A reduce pops the entries of its sub-rules (its symbols say which
values are tokens and which are sub-rules), takes the first token among its
own tokens and those entries, hands it to the callback as ``meta`` (it has
``line`` and ``column``; None for a rule that consumed nothing) and pushes it.

Everything that touches lark's internals (the tree builder's wrappers, the
LALR parse loop) is in this module; tests/dsl/test_inline_spans.py compares
every statement's span with the tree-based parse.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from lark import Lark, Token, Tree
from lark.lexer import ContextualLexer, LexerThread
from lark.parsers.lalr_analysis import Reduce
from lark.parsers.lalr_parser import _Parser

__all__ = ["callbacks", "parse"]

Callback = Callable[[list[Any]], Any]


def parse(lark: Lark, text: str, rules: object, start: str = "start") -> Any:
    """Parse ``text`` with ``lark``'s tables, reducing every rule by ``rules``' method of its name.

    A method is called as ``method(meta, children)``: ``meta`` is the rule's
    first token (or None), ``children`` the values lark's tree builder would
    have given the tree node. Syntax errors raise as from ``lark.parse``.
    """
    prep = _prepare(lark)
    lalr = _Parser(prep.table, _callbacks(prep, rules))
    frontend: Any = lark.parser
    thread_class = _Tokens if isinstance(frontend.lexer, ContextualLexer) else LexerThread
    return lalr.parse(thread_class.from_text(frontend.lexer, text), start)


def callbacks(lark: Lark, rules: object) -> dict[Any, Callback]:
    """One reduce callback per grammar rule, calling ``rules``' method of the rule's name.

    A rule without a method is an error, except the ones lark inlines
    (``_name`` rules, spliced into their parent, and ``?rule`` alternatives
    with one child, which pass that child on): those build a lark Tree as
    lark would, for the parent's child filter to splice.
    """
    return _callbacks(_prepare(lark), rules)


class _Rule:
    """A grammar rule as the parse loop reads it, hashed and compared by identity.

    The loop looks a reduced rule's callback up by the rule; lark's own Rule
    hashes and compares in Python, twice per reduce.
    """

    __slots__ = ("alias", "expansion", "options", "origin")

    def __init__(self, rule: Any) -> None:
        self.origin, self.expansion, self.alias, self.options = (
            rule.origin,
            rule.expansion,
            rule.alias,
            rule.options,
        )


@dataclass(frozen=True)
class _Prepared:
    """What every parse with one Lark instance shares: its table and rules, with identity rules."""

    table: Any
    rules: tuple[tuple[_Rule, str, tuple[Any, ...], tuple[bool, ...]], ...]  # rule, name, wrappers, kinds


_PREPARED: weakref.WeakKeyDictionary[Lark, _Prepared] = weakref.WeakKeyDictionary()


def _prepare(lark: Lark) -> _Prepared:
    got = _PREPARED.get(lark)
    if got is not None:
        return got
    builder: Any = lark._parse_tree_builder
    if builder.propagate_positions:
        raise ValueError("the inline parse keeps positions itself: build lark without propagate_positions")
    own = {rule: _Rule(rule) for rule, _ in builder.rule_builders}
    table = copy.copy(lark.parser.parser.parser.parse_table)  # type: ignore[attr-defined]
    table.states = {
        state: {t: (a, own[arg]) if a is Reduce else (a, arg) for t, (a, arg) in actions.items()}
        for state, actions in table.states.items()
    }
    rules = tuple(
        (
            own[rule],
            rule.alias or rule.options.template_source or rule.origin.name,
            tuple(chain),
            tuple(sym.is_term for sym in rule.expansion),
        )
        for rule, chain in builder.rule_builders
    )
    got = _PREPARED[lark] = _Prepared(table, rules)
    return got


def _callbacks(prep: _Prepared, rules: object) -> dict[Any, Callback]:
    starts: list[Token | None] = []  # the first token of every sub-rule value not yet reduced into its parent
    cell: list[Token | None] = [None]  # the first token of the rule being reduced
    out: dict[Any, Callback] = {}
    for rule, name, chain, kinds in prep.rules:
        method = None if name.startswith("_") else getattr(rules, name, None)  # _x: helpers, not rules
        f: Callback
        if method is not None:
            f = partial(_call, method, cell)
        elif name.startswith("_") or (rule.options.expand1 and not rule.alias):
            f = partial(Tree, name)
        else:
            raise LookupError(f"no callback for grammar rule {name}")
        for wrapper in chain:
            f = wrapper(f)
        out[rule] = _tracking(f, kinds, starts, cell)
    return out


def _call(method: Callable[[Any, list[Any]], Any], cell: list[Token | None], children: list[Any]) -> Any:
    return method(cell[0], children)


def _tracking(
    f: Callback, kinds: tuple[bool, ...], starts: list[Token | None], cell: list[Token | None]
) -> Callback:
    """``f`` reducing a rule whose symbols are terminals where ``kinds`` is True, with its position kept."""
    subs = kinds.count(False)
    if not kinds:

        def empty(values: list[Any]) -> Any:
            cell[0] = None
            value = f(values)
            starts.append(None)
            return value

        return empty
    if kinds[0]:  # starts with a token: that is the rule's position

        def from_token(values: list[Any]) -> Any:
            if subs:
                del starts[-subs:]
            cell[0] = first = values[0]
            value = f(values)
            starts.append(first)
            return value

        return from_token

    def from_rule(values: list[Any]) -> Any:
        own = starts[-subs:]
        del starts[-subs:]
        first = None
        k = 0
        for is_term, v in zip(kinds, values, strict=True):
            if is_term:
                first = v
                break
            first = own[k]
            k += 1
            if first is not None:
                break
        cell[0] = first
        value = f(values)
        starts.append(first)
        return value

    return from_rule


def _scan(basic: Any) -> tuple[Any, ...]:
    """What lexing in one parser state reads: patterns, keyword callbacks, ignored and multi-line kinds."""
    mres = basic.scanner._mres  # builds basic.callback too
    return (mres, basic.callback, basic.ignore_types, basic.newline_types)


class _Tokens(LexerThread):
    """lark's contextual lexing with its per-token steps in one loop.

    The same terminals in the same order per parser state (lark's own
    scanners), the same keyword re-typing (lark's callbacks), the same
    positions. Where no terminal of the state matches, lark's own lexer takes
    over at that place and raises what it always raised.
    """

    def lex(self, parser_state: Any) -> Iterator[Token]:
        lexer: Any = self.lexer
        state: Any = self.state
        text, end = state.text.text, state.text.end
        ctr = state.line_ctr
        pos, line, line_start = ctr.char_pos, ctr.line, ctr.line_start_pos
        stack = parser_state.state_stack
        by_state: dict[int, tuple[Any, ...]] = {}
        new_token = Token._future_new  # Token(...) without its check for a deprecated keyword
        while pos < end:
            here = stack[-1]
            scan = by_state.get(here)
            if scan is None:
                scan = by_state[here] = _scan(lexer.lexers[here])
            mres, callback, ignore, newline = scan
            for mre in mres:
                m = mre.match(text, pos, end)
                if m is not None:
                    break
            else:
                ctr.char_pos, ctr.line, ctr.line_start_pos = pos, line, line_start
                ctr.column = pos - line_start + 1
                yield from lexer.lex(state, parser_state)  # raises lark's error for this place
                return
            value = m.group(0)
            kind = m.lastgroup
            after = pos + len(value)
            first_line, column = line, pos - line_start + 1
            if kind in newline:
                n = value.count("\n")
                if n:
                    line += n
                    line_start = pos + value.rindex("\n") + 1
            if kind in ignore and kind not in callback:
                pos = after
                continue
            t = new_token(kind, value, pos, first_line, column, line, after - line_start + 1, after)
            pos = after
            if kind in callback:
                t = callback[kind](t)
            if kind in ignore:
                continue
            state.last_token = t
            yield t
        ctr.char_pos, ctr.line, ctr.line_start_pos = pos, line, line_start
        ctr.column = pos - line_start + 1
