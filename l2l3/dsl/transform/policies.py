"""Rule callbacks of ``policy`` blocks (LANGUAGE.md §3): selectors, peers,
ports and the ingress/egress rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

from lark import Token

from l2l3.dsl.transform.base import (
    PORT_NAME_RULE,
    Opt,
    PeerItem,
    SelTerm,
    SelTerms,
    TransformerBase,
    brief,
    meta_token,
    port_name_ok,
)
from l2l3.model.types import (
    NAMESPACE_NAME_LABEL,
    AnyPeer,
    CidrPeer,
    LabelSelector,
    Policy,
    PolicyRule,
    PortSpec,
    Proto,
    SelectorPeer,
)


def _terms(sel: SelTerms | None) -> list[SelTerm]:
    return list(sel.terms) if sel is not None else []


@dataclass
class _Group:
    """One peer being assembled from the flat item list."""

    kind: str  # "pods" | "namespaces" | "cidr" | "all"
    pods: list[SelTerm] | None = None
    ns: list[SelTerm] | None = None
    ns_name: str | None = None
    #: the selector bare terms continue: "pods", "ns" or None (none may follow)
    open: str | None = None
    cidr: IPv4Network | None = None
    exceptions: list[IPv4Network] | None = field(default=None)


class PolicyRules(TransformerBase):
    """A ``policy`` block and its rules."""

    def select(self, meta: Any, children: list[Any]) -> Opt:
        """``select [SEL]`` (empty: every pod of the namespace)."""
        sel = self.label_selector(children[0].terms) if children[0] is not None else LabelSelector()
        return Opt("select", sel, meta_token(meta))

    def pi_pods(self, meta: Any, children: list[Any]) -> PeerItem:
        """Peer item ``pods [SEL]``: pods of the policy's namespace."""
        return PeerItem("pods", _terms(children[0]), None)

    def pi_namespaces(self, meta: Any, children: list[Any]) -> PeerItem:
        """Peer item ``namespaces [SEL] [pods [SEL]]``: pods of the namespaces SEL selects."""
        return PeerItem("namespaces", _terms(children[0]), None, children[1])

    def pi_namespace(self, meta: Any, children: list[Any]) -> PeerItem:
        """Peer item ``namespace NS [pods [SEL]]``: pods of namespace NS."""
        return PeerItem("namespace", str(children[0]), children[0], children[1])

    def pi_terms(self, meta: Any, children: list[Any]) -> PeerItem:
        """Peer item ``TERM … [pods [SEL]]``: further terms of the selector written before it."""
        *terms, pods = children
        return PeerItem("terms", list(terms), terms[0].token, pods)

    def pods_part(self, meta: Any, children: list[Any]) -> list[SelTerm]:
        """``pods [SEL]`` after a namespace peer."""
        return _terms(children[0])

    def pi_cidr(self, meta: Any, children: list[Any]) -> PeerItem:
        """Peer item ``cidr CIDR [except CIDR]``."""
        cidr, exc = children
        return PeerItem("cidr", self.network(cidr), cidr, [self.network(exc)] if exc is not None else None)

    def pi_bare_cidr(self, meta: Any, children: list[Token]) -> PeerItem:
        """Peer item ``CIDR``: a further exception of the ``cidr … except`` before it, else a peer."""
        return PeerItem("bare-cidr", self.network(children[0]), children[0])

    def pi_all(self, meta: Any, children: list[Any]) -> PeerItem:
        """Peer item ``all``."""
        return PeerItem("all", None, None)

    def pi_all_pods(self, meta: Any, children: list[Any]) -> PeerItem:
        """Peer item ``all-pods``: every pod of every namespace."""
        return PeerItem("all-pods", None, None)

    def peer_items(self, meta: Any, children: list[PeerItem]) -> tuple[Any, ...]:
        """Group the flat list: bare terms join the selector written last, CIDRs an `except`."""
        groups: list[_Group] = []
        for item in children:
            last = groups[-1] if groups else None
            if item.kind == "terms":
                self._continue(last, item)
            elif item.kind == "bare-cidr":
                if last is not None and last.kind == "cidr" and last.exceptions is not None:
                    last.exceptions.append(item.value)
                else:
                    groups.append(_Group("cidr", cidr=item.value))
            elif item.kind == "pods":
                groups.append(_Group("pods", pods=list(item.value), open="pods"))
            elif item.kind in ("namespaces", "namespace"):
                g = _Group("namespaces", ns=list(item.value) if item.kind == "namespaces" else None)
                g.ns_name = item.value if item.kind == "namespace" else None
                g.pods = list(item.extra) if item.extra is not None else None
                g.open = "pods" if g.pods is not None else ("ns" if item.kind == "namespaces" else None)
                groups.append(g)
            elif item.kind == "cidr":
                groups.append(_Group("cidr", cidr=item.value, exceptions=item.extra))
            elif item.kind == "all-pods":
                groups.append(_Group("namespaces", ns=[]))
            else:
                groups.append(_Group("all"))
        return tuple(self._peer(g) for g in groups)

    def _continue(self, last: _Group | None, item: PeerItem) -> None:
        """Bare selector terms (and maybe ``pods …``) continue the selector written last."""
        terms, pods, tok = item.value, item.extra, item.token
        assert tok is not None
        if last is None or last.open is None:
            self.error(
                self.tok_span(tok),
                f"selector term {brief(str(tok))} must follow `pods` or `namespaces` "
                "(start a new peer with its keyword)",
            )
            return
        if last.open == "pods":
            assert last.pods is not None
            last.pods += terms
            if pods is not None:
                self.error(self.tok_span(tok), "`pods` given twice in one peer")
            return
        assert last.ns is not None
        last.ns += terms
        if pods is not None:
            last.pods, last.open = list(pods), "pods"

    def _peer(self, g: _Group) -> Any:
        if g.kind == "pods":
            return SelectorPeer(pods=self.label_selector(g.pods or []))
        if g.kind == "namespaces":
            if g.ns_name is not None:
                ns = LabelSelector(match=((NAMESPACE_NAME_LABEL, g.ns_name),))
            else:
                ns = self.label_selector(g.ns or [])
            pods = self.label_selector(g.pods) if g.pods is not None else None
            return SelectorPeer(pods=pods, namespaces=ns)
        if g.kind == "cidr":
            assert g.cidr is not None
            return CidrPeer(cidr=g.cidr, exceptions=tuple(g.exceptions or ()))
        return AnyPeer()

    def port_item(self, meta: Any, children: list[Any]) -> PortSpec:
        """``tcp|udp|sctp|icmp [port] [N | N-M | NAME]`` of a policy rule."""
        proto, value = children
        if value is None:
            return PortSpec(proto=proto)
        if proto is Proto.ICMP:
            self.error(self.tok_span(value), "icmp has no ports")
            return PortSpec(proto=proto)
        if value.type == "NAME":
            if not port_name_ok(str(value)):
                self.error(self.tok_span(value), f"{brief(str(value))} is not a port name: {PORT_NAME_RULE}")
            return PortSpec(proto=proto, port=str(value))
        if value.type == "PORTRANGE":
            lo_text, _, hi_text = str(value).partition("-")
            lo = self.port(Token("INT", lo_text, line=value.line, column=value.column))
            hi = self.port(
                Token("INT", hi_text, line=value.line, column=(value.column or 1) + len(lo_text) + 1)
            )
            if hi < lo:
                self.error(self.tok_span(value), f"port range {value} ends below its start")
            return PortSpec(proto=proto, port=lo, end_port=hi)
        return PortSpec(proto=proto, port=self.port(value))

    def port_value(self, meta: Any, children: list[Token]) -> Token:
        """``N``, ``N-M`` or ``NAME`` after a protocol."""
        return children[0]

    def port_items(self, meta: Any, children: list[PortSpec]) -> tuple[PortSpec, ...]:
        """The comma list of a rule's ports."""
        return tuple(children)

    def ingress(self, meta: Any, children: list[Any], direction: str = "ingress") -> tuple[str, PolicyRule]:
        """``ingress [from PEERS] [PORTS]`` (and, ``direction``, an egress rule)."""
        peers, ports = children
        return (direction, PolicyRule(peers=peers or (), ports=ports or (), span=self.span(meta)))

    def egress(self, meta: Any, children: list[Any]) -> tuple[str, PolicyRule]:
        """``egress [to PEERS] [PORTS]``."""
        return self.ingress(meta, children, "egress")

    def types(self, meta: Any, children: list[str]) -> Opt:
        """``types ingress|egress[, …]``."""
        return Opt("types", frozenset(children), meta_token(meta))

    def policy(self, meta: Any, children: list[Any]) -> Policy:
        """``policy NAME namespace NS { … }``."""
        name, ns = str(children[0]), str(children[1])
        body = children[2:]
        opts = self.options([c for c in body if isinstance(c, Opt)], f"policy {name}")
        rules = [c for c in body if isinstance(c, tuple)]
        return Policy(
            name=name,
            namespace=ns,
            select=opts["select"].value if "select" in opts else LabelSelector(),
            ingress=tuple(r for d, r in rules if d == "ingress"),
            egress=tuple(r for d, r in rules if d == "egress"),
            types=opts["types"].value if "types" in opts else None,
            span=self.span(meta),
        )
