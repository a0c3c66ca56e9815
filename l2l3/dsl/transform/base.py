"""What every grammar area of the transformer shares.

:class:`TransformerBase` holds the state of one transformation (file, lines,
diagnostics) and the helpers that turn tokens into values and report bad ones.
Its methods are plain helpers, not rule callbacks: the area classes
(:mod:`.primitives`, :mod:`.cluster`, :mod:`.policies`, :mod:`.checks`) hold
the callbacks, each ``method(meta, children)`` for the grammar rule (or alias)
of its name; ``meta`` is the rule's first token (see :mod:`.inline`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from lark import Token

from l2l3.errors import Diagnostic
from l2l3.model.types import LabelExpr, LabelSelector, Span

#: The ranges of numbers the grammar reads (a prefix length is 0 to 32).
PORT_MIN, PORT_MAX = 1, 65535
VNI_MAX = 2**24 - 1

#: Kubernetes IANA_SVC_NAME: what a named port may be called.
_PORT_NAME = re.compile(r"(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*")
PORT_NAME_RULE = (
    "at most 15 lower-case letters, digits and single inner hyphens, "
    "with at least one letter (Kubernetes IANA_SVC_NAME)"
)


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: a well-formed dotted quad: four octets 0-255 in ASCII digits, no leading zeros
_DOTTED = re.compile(r"\.".join([_OCTET] * 4))


def address(text: str) -> IPv4Address:
    """``IPv4Address(text)``, without ipaddress's octet-by-octet parse in the common case.

    A well-formed dotted quad (what ipaddress accepts) is converted from its
    four numbers; anything else goes to ``IPv4Address`` itself, which raises
    ValueError for it as before.
    """
    m = _DOTTED.fullmatch(text)
    if m is None:
        return IPv4Address(text)
    a, b, c, d = m.groups()
    return IPv4Address(int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d))


def port_name_ok(name: str) -> bool:
    """Whether ``name`` may name a container port (IANA_SVC_NAME)."""
    return _PORT_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class Opt:
    """One option of a statement (``ip 10.0.0.1/24``), kept with its token."""

    key: str
    value: Any
    token: Token | None
    bare: bool = False


@dataclass(frozen=True, slots=True)
class Mod:
    """One modifier of a query header (``tcp``, ``port 80``, ``via mac``…)."""

    key: str
    value: Any
    token: Token | None


@dataclass(frozen=True, slots=True)
class PeerItem:
    """One comma-separated item of a policy rule's peer list, before grouping."""

    kind: str
    value: Any
    token: Token | None
    extra: Any = None


@dataclass(frozen=True, slots=True)
class SelTerm:
    """One selector term: a ``matchLabels`` pair or an expression, with its token."""

    value: tuple[str, str] | LabelExpr
    token: Token


@dataclass(frozen=True, slots=True)
class SelTerms:
    """The terms of one written selector (``empty``: it was ``{}``)."""

    terms: tuple[SelTerm, ...]
    empty: bool = False


def mac_text(tok: Token) -> str:
    """A MAC token in lower-case colon form (``00-15-5D-…`` → ``00:15:5d:…``)."""
    return str(tok).replace("-", ":").lower()


def opt_rule(key: str, convert: Any = None) -> Any:
    """A callback for the option rule ``opt_KEY``."""

    def method(self: TransformerBase, meta: Any, children: list[Any]) -> Opt:
        tok = children[0] if children else None
        value: Any = True
        if tok is not None:
            value = convert(self, tok) if convert else str(tok)
        return Opt(key, value, meta_token(meta))

    return method


def brief(text: str, unit: str = "characters") -> str:
    """``text`` for a message: a huge token is cut short and its length given."""
    if len(text) <= 40:
        return text
    return f"{text[:20]}… ({len(text)} {unit})"


def first_token(meta: Any, children: list[Any]) -> Token | None:
    """The first token among ``children``, else a stand-in at the rule's start."""
    for c in children:
        if isinstance(c, Token):
            return c
    return meta_token(meta)


def meta_token(meta: Token | None) -> Token | None:
    """The token that places a diagnostic at the start of a rule: its first token.

    The inline parse hands every callback that token as ``meta`` (None for a
    rule that consumed nothing); only its position is read.
    """
    return meta


class TransformerBase:
    """State and value helpers of one transformation (no rule callbacks here)."""

    def __init__(self, file: str, lines: list[str]) -> None:
        self.file = file
        self.lines = lines
        self.diagnostics: list[Diagnostic] = []
        #: True when some value could not be converted (a placeholder stands
        #: in for it, so name resolution would only add noise).
        self.hard_errors = False
        # Address literals by their text: a spec repeats many (gateways, vias,
        # prefixes), and equal ipaddress objects can be one object. Only values
        # that raised no diagnostic are kept (a bad one is reported each time).
        self._ips: dict[str, IPv4Address] = {}
        self._nets: dict[str, IPv4Network] = {}
        self._ifaces: dict[str, IPv4Interface] = {}
        self._labels: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
        self._words: dict[str, str] = {}

    # ------------------------------------------------------------ places and errors

    def span(self, meta: Token | None) -> Span:
        """The span of a rule: where its first token is (see :mod:`.inline`)."""
        if meta is None:
            return Span(self.file, 1, 1)
        return Span(self.file, meta.line or 1, meta.column or 1)

    def tok_span(self, tok: Token, offset: int = 0) -> Span:
        """The span of a token, ``offset`` characters into it."""
        return Span(self.file, tok.line or 1, (tok.column or 1) + offset)

    def error(self, span: Span, message: str, *, hard: bool = True) -> None:
        """Record a diagnostic; ``hard`` ones stop name resolution."""
        text = self.lines[span.line - 1] if 0 < span.line <= len(self.lines) else ""
        self.diagnostics.append(Diagnostic(span, message, text))
        self.hard_errors = self.hard_errors or hard

    # ------------------------------------------------------------ values

    def ip(self, tok: Token) -> IPv4Address:
        """An IPv4 address token (a bad octet is a diagnostic)."""
        text = str(tok)
        got = self._ips.get(text)
        if got is None:
            got = self._address(tok, text)
            if got is None:
                return IPv4Address(0)
            self._ips[text] = got
        return got

    def _address(self, tok: Token, text: str) -> IPv4Address | None:
        """The address ``text`` (of ``tok``); a bad one is a diagnostic at the token, and None."""
        try:
            return address(text)
        except ValueError:
            self.error(
                self.tok_span(tok),
                f"{brief(text)} is not an IPv4 address (four numbers 0-255, like 10.0.0.1)",
            )
            return None

    def _split_cidr(self, tok: Token) -> tuple[IPv4Address, int] | None:
        addr_text, _, plen_text = str(tok).partition("/")
        addr = self._address(tok, addr_text)
        if addr is None:
            return None
        start = len(addr_text) + 1
        if len(plen_text) > 1 and plen_text.startswith("0"):
            self.error(
                self.tok_span(tok, start),
                f"prefix length {brief(plen_text, 'digits')} is out of range: expected 0 to 32",
            )
            return None
        plen = self.number(tok, 0, 32, "prefix length", start=start, hard=True)
        return None if plen is None else (addr, plen)

    def network(self, tok: Token) -> IPv4Network:
        """A CIDR where a network is expected: host bits must be zero."""
        text = str(tok)
        got = self._nets.get(text)
        if got is not None:
            return got
        parts = self._split_cidr(tok)
        if parts is None:
            return IPv4Network("0.0.0.0/0")
        addr, plen = parts
        net = IPv4Network((int(addr), plen), strict=False)
        if net.network_address != addr:
            self.error(
                self.tok_span(tok),
                f"{tok} has host bits set where a network is expected; did you mean {net}?",
                hard=False,
            )
        else:
            self._nets[text] = net
        return net

    def interface(self, tok: Token) -> IPv4Interface:
        """A CIDR that is an address plus its prefix length (``10.244.1.5/24``)."""
        text = str(tok)
        got = self._ifaces.get(text)
        if got is not None:
            return got
        parts = self._split_cidr(tok)
        if parts is None:
            return IPv4Interface("0.0.0.0/32")
        got = self._ifaces[text] = IPv4Interface((int(parts[0]), parts[1]))
        return got

    def number(
        self, tok: Token, low: int, high: int, what: str, *, start: int = 0, hard: bool = False
    ) -> int | None:
        """The number in ``tok`` from character ``start`` on, if within ``low..high``.

        The one conversion of every integer the grammar reads: the digits are
        measured before ``int()`` sees them, so a number of any length (even
        past Python's int max str digits) is a diagnostic ("… is out of range:
        expected LOW to HIGH") at its first digit, and None.
        """
        text = str(tok)[start:]
        digits = text.lstrip("0") or "0"
        value: int | None = None
        if text.isascii() and text.isdigit() and len(digits) <= len(str(high)):
            value = int(digits)
        if value is None or not low <= value <= high:
            self.error(
                self.tok_span(tok, start),
                f"{what} {brief(text, 'digits')} is out of range: expected {low} to {high}",
                hard=hard,
            )
            return None
        return value

    def int_in(self, tok: Token, low: int, high: int, what: str) -> int:
        """An integer token in ``low..high``; out of range is a (soft) diagnostic, and ``low``."""
        value = self.number(tok, low, high, what)
        return low if value is None else value

    def port(self, tok: Token) -> int:
        """A port number token (1-65535: port 0 means no port, not a packet's port)."""
        return self.int_in(tok, PORT_MIN, PORT_MAX, "port")

    def labels(self, toks: list[Token]) -> tuple[tuple[str, str], ...]:
        """``K=V`` tokens as sorted pairs; a key given twice is a diagnostic.

        Label lists repeat (every pod of an app): one tuple serves every equal
        list written the same way.
        """
        texts = tuple(map(str, toks))
        got = self._labels.get(texts)
        if got is not None:
            return got
        seen: dict[str, str] = {}
        for tok, text in zip(toks, texts, strict=True):
            key, _, value = text.partition("=")
            if key in seen:
                self.error(self.tok_span(tok), f"label key {key} given twice")
                continue
            seen[key] = value
        got = tuple(sorted(seen.items()))
        if len(seen) == len(texts):
            self._labels[texts] = got
        return got

    def word(self, tok: Token) -> str:
        """A name token as text, one string for every occurrence of the same name."""
        text = str(tok)
        return self._words.setdefault(text, text)

    def label_selector(self, terms: list[SelTerm] | tuple[SelTerm, ...]) -> LabelSelector:
        """The selector the terms make: pairs sorted by key (a key given twice is an error)."""
        match: dict[str, str] = {}
        exprs: list[LabelExpr] = []
        for t in terms:
            if isinstance(t.value, LabelExpr):
                exprs.append(t.value)
            elif t.value[0] in match:
                self.error(self.tok_span(t.token), f"label key {brief(t.value[0])} given twice")
            else:
                match[t.value[0]] = t.value[1]
        return LabelSelector(match=tuple(sorted(match.items())), exprs=tuple(exprs))

    # ------------------------------------------------------------ statements

    def options(self, opts: list[Any], what: str) -> dict[str, Opt]:
        """The options of one statement by key; a key given twice is an error."""
        found: dict[str, Opt] = {}
        for o in opts:
            if not isinstance(o, Opt):
                continue
            if o.key in found:
                where = self.tok_span(o.token) if o.token is not None else None
                if where is not None:
                    self.error(where, f"{what}: `{o.key}` given twice")
                continue
            found[o.key] = o
        return found

    def need(self, opts: dict[str, Opt], key: str, meta: Any, what: str, example: str) -> Any:
        """The value of a required option; missing is a diagnostic (and None)."""
        if key in opts:
            return opts[key].value
        self.error(self.span(meta), f"{what} needs `{example}`")
        return None
