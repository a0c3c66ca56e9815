"""Rule callbacks of label selectors (kubectl syntax) and ``namespace`` declarations.

A selector is written as kubectl writes one: ``app=web,env in (prod,qa),
tier!=db,!legacy,team`` (``{}``: the empty selector); terms are joined by
commas or spaces and all must hold. Policies (``select``, peers) and check
endpoints (``pods SEL``) read selectors through these callbacks.
"""

from __future__ import annotations

from typing import Any

from lark import Token

from l2l3.dsl.transform.base import SelTerm, SelTerms, TransformerBase
from l2l3.model.types import LabelExpr, NamespaceDecl, SelectorOp


class SelectorRules(TransformerBase):
    """Selector terms and lists, and the top-level ``namespace`` declaration."""

    def st_eq(self, meta: Any, children: list[Token]) -> SelTerm:
        """Term ``k=v`` (matchLabels)."""
        key, _, value = str(children[0]).partition("=")
        return SelTerm((key, value), children[0])

    def st_ne(self, meta: Any, children: list[Token]) -> SelTerm:
        """Term ``k!=v``: NotIn with one value."""
        key, _, value = str(children[0]).partition("!=")
        return SelTerm(LabelExpr(key=key, op=SelectorOp.NOT_IN, values=(value,)), children[0])

    def st_absent(self, meta: Any, children: list[Token]) -> SelTerm:
        """Term ``!k``: DoesNotExist."""
        return SelTerm(LabelExpr(key=str(children[0])[1:], op=SelectorOp.DOES_NOT_EXIST), children[0])

    def st_exists(self, meta: Any, children: list[Token]) -> SelTerm:
        """Term ``k``: Exists."""
        return SelTerm(LabelExpr(key=str(children[0]), op=SelectorOp.EXISTS), children[0])

    def st_in(self, meta: Any, children: list[Any], op: SelectorOp = SelectorOp.IN) -> SelTerm:
        """Term ``k in (a,b)``."""
        key, values = children
        return SelTerm(LabelExpr(key=str(key), op=op, values=values), key)

    def st_notin(self, meta: Any, children: list[Any]) -> SelTerm:
        """Term ``k notin (a,b)``."""
        return self.st_in(meta, children, SelectorOp.NOT_IN)

    def sel_values(self, meta: Any, children: list[Token]) -> tuple[str, ...]:
        """The ``(a,b,…)`` of ``in`` / ``notin``."""
        return tuple(str(c) for c in children)

    def sel_terms(self, meta: Any, children: list[SelTerm]) -> SelTerms:
        """Selector terms, joined by commas or spaces."""
        return SelTerms(tuple(children))

    def sel_empty(self, meta: Any, children: list[Token]) -> SelTerms:
        """``{}``: the empty selector (everything)."""
        return SelTerms((), empty=True)

    def namespace_decl(self, meta: Any, children: list[Any]) -> NamespaceDecl:
        """``namespace NAME [labels K=V …]``."""
        return NamespaceDecl(name=str(children[0]), labels=children[1] or (), span=self.span(meta))
