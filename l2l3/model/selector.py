"""Kubernetes label selectors: the one place selector semantics live.

A :class:`LabelSelector` is ``matchLabels`` (:attr:`LabelSelector.match`)
plus ``matchExpressions`` (:attr:`LabelSelector.exprs`); it matches a label
set when every pair and every expression does, so the empty selector matches
everything (Kubernetes API reference, "LabelSelector": "The requirements are
ANDed. An empty label selector matches all objects").

Its text form is kubectl's selector syntax (``app=web,env in (prod,qa),
tier!=db,!legacy,team``), which the spec language reads too; ``{}`` is the
empty selector. :func:`parse_selector` reads that text back.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["LabelExpr", "LabelSelector", "Labels", "SelectorOp", "parse_selector"]

#: Label pairs, sorted by key, each key once (``(("app", "web"),)``).
Labels = tuple[tuple[str, str], ...]


class SelectorOp(enum.Enum):
    """A ``matchExpressions`` operator; the value is how kubectl syntax writes it."""

    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelExpr:
    """One ``matchExpressions`` entry: ``key op (values…)``."""

    key: str
    op: SelectorOp
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Kubernetes meaning: ``NotIn`` and ``DoesNotExist`` hold when the key is absent."""
        if self.op is SelectorOp.IN:
            return self.key in labels and labels[self.key] in self.values
        if self.op is SelectorOp.NOT_IN:
            return self.key not in labels or labels[self.key] not in self.values
        if self.op is SelectorOp.EXISTS:
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        if self.op is SelectorOp.EXISTS:
            return self.key
        if self.op is SelectorOp.DOES_NOT_EXIST:
            return f"!{self.key}"
        if self.op is SelectorOp.NOT_IN and len(self.values) == 1:
            return f"{self.key}!={self.values[0]}"
        return f"{self.key} {self.op.value} ({','.join(self.values)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelector:
    """``matchLabels`` AND ``matchExpressions``; the empty selector matches everything."""

    match: Labels = ()
    exprs: tuple[LabelExpr, ...] = ()

    def matches(self, labels: Labels | dict[str, str]) -> bool:
        """Whether a pod or namespace with ``labels`` is selected."""
        have = labels if isinstance(labels, dict) else dict(labels)
        return all(have.get(k) == v for k, v in self.match) and all(e.matches(have) for e in self.exprs)

    @property
    def empty(self) -> bool:
        """True for ``{}``: every object is selected."""
        return not self.match and not self.exprs

    def keys(self) -> set[str]:
        """Every label key the selector looks at."""
        return {k for k, _ in self.match} | {e.key for e in self.exprs}

    def pairs(self) -> set[tuple[str, str]]:
        """Every (key, value) the selector compares a label with."""
        return set(self.match) | {(e.key, v) for e in self.exprs for v in e.values}

    def __str__(self) -> str:
        if self.empty:
            return "{}"
        return ",".join([f"{k}={v}" for k, v in self.match] + [str(e) for e in self.exprs])


#: One term of kubectl selector syntax.
_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<nkey>[^\s,=!()]+)"
    r"|(?P<key>[^\s,=!()]+)\s*(?:(?P<eq>==?|!=)\s*(?P<val>[^\s,=!()]*)"
    r"|\s+(?P<op>in|notin)\s*\((?P<vals>[^()]*)\))?)\s*(?:,|$)"
)


def parse_selector(text: str) -> LabelSelector:
    """kubectl selector text (``app=web,env in (a,b),!x``; ``{}`` or blank: empty) as a selector.

    ``k=v`` and ``k==v`` go to ``match`` (sorted; a key given twice is an
    error), ``k!=v`` is ``NotIn`` with one value, ``k`` is ``Exists`` and
    ``!k`` ``DoesNotExist``. Raises ValueError on anything else.
    """
    body = text.strip()
    if body in ("", "{}"):
        return LabelSelector()
    match: dict[str, str] = {}
    exprs: list[LabelExpr] = []
    pos = 0
    while pos < len(body):
        m = _TERM.match(body, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"bad selector term at {body[pos:]!r}")
        pos = m.end()
        if m["nkey"]:
            exprs.append(LabelExpr(key=m["nkey"], op=SelectorOp.DOES_NOT_EXIST))
        elif m["eq"] in ("=", "=="):
            if m["key"] in match:
                raise ValueError(f"label key {m['key']} given twice")
            match[m["key"]] = m["val"]
        elif m["eq"] == "!=":
            exprs.append(LabelExpr(key=m["key"], op=SelectorOp.NOT_IN, values=(m["val"],)))
        elif m["op"]:
            values = tuple(v.strip() for v in m["vals"].split(","))
            if not all(values):
                raise ValueError(f"empty value in {m['key']} {m['op']} (…)")
            exprs.append(LabelExpr(key=m["key"], op=SelectorOp(m["op"]), values=values))
        else:
            exprs.append(LabelExpr(key=m["key"], op=SelectorOp.EXISTS))
        if body[pos - 1 : pos] == "," and pos == len(body):
            raise ValueError("selector ends with a comma")
    return LabelSelector(match=tuple(sorted(match.items())), exprs=tuple(exprs))
