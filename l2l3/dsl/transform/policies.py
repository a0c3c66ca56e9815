"""Rule callbacks of ``policy`` blocks (LANGUAGE.md §3): selectors, peers,
ports and the ingress/egress rules."""

from __future__ import annotations

from typing import Any

from lark import Token, v_args

from l2l3.dsl.transform.base import Opt, PeerItem, TransformerBase, meta_token
from l2l3.model.types import (
    AnyPeer,
    CidrPeer,
    NamespacePeer,
    PodPeer,
    Policy,
    PolicyRule,
    PortSpec,
    Proto,
)


@v_args(meta=True)
class PolicyRules(TransformerBase):
    """A ``policy`` block and its rules."""

    # ------------------------------------------------------------ policies

    def select(self, meta: Any, children: list[Any]) -> Opt:
        """``select [K=V,…]`` (empty: every pod of the namespace)."""
        return Opt("select", children[0] or (), meta_token(meta, "select"))

    def pi_pods(self, meta: Any, children: list[Token]) -> PeerItem:
        """Peer item ``pods [K=V…]``."""
        return PeerItem("pods", list(children), None)

    def pi_label(self, meta: Any, children: list[Token]) -> PeerItem:
        """Peer item ``K=V``: a further label of the ``pods`` before it."""
        return PeerItem("label", children[0], children[0])

    def pi_namespace(self, meta: Any, children: list[Any]) -> PeerItem:
        # children: NAME, then the LABELs of an optional "pods" (None if absent)
        """Peer item ``namespace NS [pods K=V…]``."""
        labels = [c for c in children[1:] if isinstance(c, Token)]
        return PeerItem("namespace", str(children[0]), children[0], labels)

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

    def peer_items(self, meta: Any, children: list[PeerItem]) -> tuple[Any, ...]:
        """Group the flat list: labels join the `pods` before, CIDRs an `except`."""
        groups: list[list[Any]] = []  # [kind, value, labels-or-exceptions]
        for item in children:
            last = groups[-1] if groups else None
            if item.kind == "label":
                if last is not None and last[0] in ("pods", "namespace-pods"):
                    last[2].append(item.value)
                else:
                    assert item.token is not None
                    self.error(self.tok_span(item.token), f"label {item.value} must follow `pods`")
            elif item.kind == "bare-cidr":
                if last is not None and last[0] == "cidr" and last[2] is not None:
                    last[2].append(item.value)
                else:
                    groups.append(["cidr", item.value, None])
            elif item.kind == "pods":
                groups.append(["pods", None, list(item.value)])
            elif item.kind == "namespace":
                kind = "namespace-pods" if item.extra else "namespace"
                groups.append([kind, item.value, list(item.extra or [])])
            elif item.kind == "cidr":
                groups.append(["cidr", item.value, item.extra])
            else:
                groups.append(["all", None, None])
        peers: list[Any] = []
        for kind, value, more in groups:
            if kind == "pods":
                peers.append(PodPeer(labels=self.labels(more)))
            elif kind in ("namespace", "namespace-pods"):
                peers.append(NamespacePeer(namespace=value, labels=self.labels(more)))
            elif kind == "cidr":
                peers.append(CidrPeer(cidr=value, exceptions=tuple(more or ())))
            else:
                peers.append(AnyPeer())
        return tuple(peers)

    def port_item(self, meta: Any, children: list[Any]) -> PortSpec:
        """``tcp|udp|icmp [port] [N]`` of a policy rule."""
        proto, port = children
        if port is not None and proto is Proto.ICMP:
            self.error(self.tok_span(port), "icmp has no ports")
        return PortSpec(proto=proto, port=self.port(port) if port is not None else None)

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
        return Opt("types", frozenset(children), meta_token(meta, "types"))

    def policy(self, meta: Any, children: list[Any]) -> Policy:
        """``policy NAME namespace NS { … }``."""
        name, ns = str(children[0]), str(children[1])
        body = children[2:]
        opts = self.options([c for c in body if isinstance(c, Opt)], f"policy {name}")
        rules = [c for c in body if isinstance(c, tuple)]
        return Policy(
            name=name,
            namespace=ns,
            select=opts["select"].value if "select" in opts else (),
            ingress=tuple(r for d, r in rules if d == "ingress"),
            egress=tuple(r for d, r in rules if d == "egress"),
            types=opts["types"].value if "types" in opts else None,
            span=self.span(meta),
        )
