"""Rule callbacks of ``check`` statements (LANGUAGE.md §4): endpoints, header
modifiers and the queries."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Any

from lark import Token

from l2l3.dsl.transform.base import Mod, TransformerBase, brief, meta_token
from l2l3.model.types import (
    AddressRef,
    Check,
    Connect,
    ExternalRef,
    Headers,
    Isolated,
    LabelRef,
    NamespaceRef,
    NatAs,
    NatMode,
    NetnsIsolation,
    NodeRef,
    NoLoops,
    PodNsRef,
    PodRef,
    Proto,
    Reach,
    Span,
)


class CheckRules(TransformerBase):
    """A ``check`` statement: its endpoints, modifiers and query."""

    # ------------------------------------------------------------ checks

    def ep_pod(self, meta: Any, children: list[Token]) -> PodRef:
        """Endpoint ``NODE/POD`` (or ``NODE/NS/POD``, the id of one of two namesake pods of a node)."""
        node, _, pod = str(children[0]).partition("/")
        return PodRef(node=node, pod=pod)

    def ep_pod_ns(self, meta: Any, children: list[Token]) -> PodNsRef:
        """Endpoint ``pod NS/NAME``: a pod by namespace and name."""
        ns, _, name = str(children[0]).partition("/")
        if "/" in name:
            self.error(self.tok_span(children[0]), f"pod {brief(str(children[0]))}: write `pod NS/NAME`")
        return PodNsRef(namespace=ns, name=name)

    def ep_node(self, meta: Any, children: list[Token]) -> NodeRef:
        """Endpoint ``node NODE``: the node's stack."""
        return NodeRef(node=str(children[0]))

    def ep_namespace(self, meta: Any, children: list[Token]) -> NamespaceRef:
        """Endpoint ``namespace NS``."""
        return NamespaceRef(namespace=str(children[0]))

    def ep_namespace_pods(self, meta: Any, children: list[Any]) -> LabelRef:
        """Endpoint ``namespace NS pods SEL``: the pods of NS that SEL selects."""
        return LabelRef(selector=self.label_selector(children[1].terms), namespace=str(children[0]))

    def ep_pods(self, meta: Any, children: list[Any]) -> LabelRef:
        """Endpoint ``pods SEL``: the pods of every namespace that SEL selects."""
        return LabelRef(selector=self.label_selector(children[0].terms))

    def ep_external(self, meta: Any, children: list[Token]) -> ExternalRef:
        """Endpoint ``external NAME``."""
        return ExternalRef(name=str(children[0]))

    def ep_address(self, meta: Any, children: list[Token]) -> AddressRef:
        """Endpoint ``IP`` or ``CIDR``: an address literal."""
        tok = children[0]
        if tok.type == "CIDR":
            return AddressRef(prefix=self.network(tok))
        return AddressRef(prefix=IPv4Network(self.ip(tok)))

    def mod_proto(self, meta: Any, children: list[Any]) -> Mod:
        """Header modifier ``tcp|udp|sctp|icmp``."""
        return Mod("proto", children[0], meta_token(meta))

    def mod_port(self, meta: Any, children: list[Token]) -> Mod:
        """Header modifier ``port N``."""
        return Mod("port", self.port(children[0]), children[0])

    def mod_via_mac(self, meta: Any, children: list[Any]) -> Mod:
        """Reach modifier ``via mac``."""
        return Mod("via mac", True, meta_token(meta))

    def mod_with_nat(self, meta: Any, children: list[Any]) -> Mod:
        """Reach modifier ``with nat``."""
        return Mod("nat", NatMode.WITH, meta_token(meta))

    def mod_without_nat(self, meta: Any, children: list[Any]) -> Mod:
        """Reach modifier ``without nat``."""
        return Mod("nat", NatMode.WITHOUT, meta_token(meta))

    def _mods(self, mods: list[Mod], what: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for m in mods:
            if m.key in found:
                if m.token is not None:
                    word = "`with nat` / `without nat`" if m.key == "nat" else f"`{m.key}`"
                    self.error(self.tok_span(m.token), f"{what}: {word} given twice")
                continue
            found[m.key] = m.value
        if found.get("proto") is Proto.ICMP and "port" in found:
            self.error(self._mod_span(mods, "port"), f"{what}: icmp has no ports")
        return found

    def _mod_span(self, mods: list[Mod], key: str) -> Span:
        tok = next(m.token for m in mods if m.key == key)
        return self.tok_span(tok) if tok is not None else Span(self.file, 1, 1)

    def _headers(self, found: dict[str, Any]) -> Headers:
        return Headers(proto=found.get("proto"), port=found.get("port"))

    def reach(self, meta: Any, children: list[Any], negated: bool = False) -> Reach:
        """``reach A -> B [MODS]`` (and, ``negated``, ``no reach``)."""
        src, dst, *mods = children
        found = self._mods(mods, "no reach" if negated else "reach")
        return Reach(
            src=src,
            dst=dst,
            negated=negated,
            headers=self._headers(found),
            via_mac=found.get("via mac", False),
            nat=found.get("nat", NatMode.ANY),
        )

    def no_reach(self, meta: Any, children: list[Any]) -> Reach:
        """``no reach A -> B [MODS]``."""
        return self.reach(meta, children, negated=True)

    def connect(self, meta: Any, children: list[Any], negated: bool = False) -> Connect:
        """``connect A -> B [MODS]`` (and, ``negated``, ``no connect``): LANGUAGE.md §8."""
        r = self.reach(meta, children, negated)
        return Connect(src=r.src, dst=r.dst, negated=negated, headers=r.headers, via_mac=r.via_mac, nat=r.nat)

    def no_connect(self, meta: Any, children: list[Any]) -> Connect:
        """``no connect A -> B [MODS]``."""
        return self.connect(meta, children, negated=True)

    def isolated(self, meta: Any, children: list[Any]) -> Isolated:
        """``isolated A <-> B [MODS]``."""
        a, b, *mods = children
        return Isolated(a=a, b=b, headers=self._headers(self._mods(mods, "isolated")))

    def nat_as(self, meta: Any, children: list[Any]) -> NatAs:
        """``nat A -> B [MODS] as IP [MODS]``."""
        src, dst, *rest = children
        ip_tok = next(c for c in rest if isinstance(c, Token))
        mods = [c for c in rest if isinstance(c, Mod)]
        return NatAs(src=src, dst=dst, ip=self.ip(ip_tok), headers=self._headers(self._mods(mods, "nat")))

    def netns_isolation(self, meta: Any, children: list[Any]) -> NetnsIsolation:
        """``netns-isolation [on NODE]``."""
        return NetnsIsolation(node=str(children[0]) if children[0] is not None else None)

    def no_loops(self, meta: Any, children: list[Any]) -> NoLoops:
        """``no loops``."""
        return NoLoops()

    def check(self, meta: Any, children: list[Any]) -> Check:
        """``check NAME: QUERY``."""
        return Check(name=str(children[0]), query=children[1], span=self.span(meta))
