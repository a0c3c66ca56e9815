"""The lark tree of a spec, reshaped into :mod:`l2l3.model.types`.

The Transformer only reshapes and normalises: MACs to lower-case colon form,
addresses to ``ipaddress`` objects, a :class:`Span` on every object. Values the
grammar cannot rule out (an octet of 300, port 0, a prefix with host bits set
where a network is expected, an option given twice) become diagnostics in
``SpecTransformer.diagnostics``; it never raises for user input. Whether names
refer to anything is :mod:`l2l3.dsl.resolve`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from lark import Token, Transformer, v_args

from l2l3.errors import Diagnostic
from l2l3.model.types import (
    OS,
    Action,
    AddressRef,
    AnyPeer,
    Backend,
    Bridge,
    BridgeKind,
    Check,
    CidrPeer,
    Cluster,
    Dnat,
    External,
    ExternalRef,
    Fdb,
    Filter,
    Headers,
    Isolated,
    LabelRef,
    NamespacePeer,
    NamespaceRef,
    NatAs,
    NatMode,
    Neighbor,
    NetnsIsolation,
    Nic,
    Node,
    NodeRef,
    NoLoops,
    OutboundNat,
    Pod,
    PodPeer,
    PodRef,
    Policy,
    PolicyRule,
    PortSpec,
    Proto,
    ProxyArp,
    Reach,
    Route,
    RouteToHost,
    Segment,
    SourceNat,
    Span,
    Spec,
    StackMode,
    Vxlan,
)

#: Words of ``cni …`` that name a profile or a profile mode. After the first
#: word that is not one of these, the rest are ``KEY VALUE`` options.
PROFILE_WORDS = frozenset(
    {
        "bridge",
        "win-bridge",
        "win-overlay",
        "flannel",
        "calico",
        "antrea",
        "kindnet",
        "macvlan",
        "host-gw",
        "vxlan",
        "bgp",
        "ipip",
    }
)


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


def _mac(tok: Token) -> str:
    return str(tok).replace("-", ":").lower()


def _opt(key: str, convert: Any = None) -> Any:
    """A callback for the option rule ``opt_KEY``."""

    def method(self: SpecTransformer, meta: Any, children: list[Any]) -> Opt:
        tok = children[0] if children else None
        value: Any = True
        if tok is not None:
            value = convert(self, tok) if convert else str(tok)
        return Opt(key, value, _meta_token(meta, key))

    return v_args(meta=True)(method)


@v_args(meta=True)
class SpecTransformer(Transformer[Token, Spec]):
    """Turns the parse tree of one file into a raw :class:`Spec`."""

    def __init__(self, file: str, lines: list[str]) -> None:
        super().__init__()
        self.file = file
        self.lines = lines
        self.diagnostics: list[Diagnostic] = []
        #: True when some value could not be converted (a placeholder stands
        #: in for it, so name resolution would only add noise).
        self.hard_errors = False
        # lark's v_args wrapper builds a new bound wrapper at every attribute
        # lookup, i.e. once per tree node (1.4 million at 150,000 pods): bind
        # each callback once, as an instance attribute that shadows it.
        for name, attr in _CALLBACKS:
            setattr(self, name, attr.__get__(self, type(self)))

    # ------------------------------------------------------------ helpers

    def span(self, meta: Any) -> Span:
        line = getattr(meta, "line", None) or 1
        col = getattr(meta, "column", None) or 1
        return Span(self.file, line, col)

    def tok_span(self, tok: Token, offset: int = 0) -> Span:
        return Span(self.file, tok.line or 1, (tok.column or 1) + offset)

    def error(self, span: Span, message: str, *, hard: bool = True) -> None:
        text = self.lines[span.line - 1] if 0 < span.line <= len(self.lines) else ""
        self.diagnostics.append(Diagnostic(span, message, text))
        self.hard_errors = self.hard_errors or hard

    def ip(self, tok: Token) -> IPv4Address:
        try:
            return IPv4Address(str(tok))
        except ValueError:
            self.error(
                self.tok_span(tok), f"{tok} is not an IPv4 address (four numbers 0-255, like 10.0.0.1)"
            )
            return IPv4Address(0)

    def _split_cidr(self, tok: Token) -> tuple[IPv4Address, int] | None:
        addr_text, _, plen_text = str(tok).partition("/")
        try:
            addr = IPv4Address(addr_text)
        except ValueError:
            self.error(
                self.tok_span(tok), f"{addr_text} is not an IPv4 address (four numbers 0-255, like 10.0.0.1)"
            )
            return None
        plen = int(plen_text)
        if plen > 32 or (len(plen_text) > 1 and plen_text.startswith("0")):
            self.error(
                self.tok_span(tok, len(addr_text) + 1),
                f"prefix length {plen_text} is out of range: expected 0 to 32",
            )
            return None
        return addr, plen

    def network(self, tok: Token) -> IPv4Network:
        """A CIDR where a network is expected: host bits must be zero."""
        parts = self._split_cidr(tok)
        if parts is None:
            return IPv4Network("0.0.0.0/0")
        addr, plen = parts
        net = IPv4Network((addr, plen), strict=False)
        if net.network_address != addr:
            self.error(
                self.tok_span(tok),
                f"{tok} has host bits set where a network is expected; did you mean {net}?",
                hard=False,
            )
        return net

    def interface(self, tok: Token) -> IPv4Interface:
        """A CIDR that is an address plus its prefix length (``10.244.1.5/24``)."""
        parts = self._split_cidr(tok)
        if parts is None:
            return IPv4Interface("0.0.0.0/32")
        return IPv4Interface(f"{parts[0]}/{parts[1]}")

    def int_in(self, tok: Token, low: int, high: int, what: str) -> int:
        text = str(tok)
        value = int(text) if len(text) < 12 else high + 1
        if not low <= value <= high:
            self.error(
                self.tok_span(tok), f"{what} {text} is out of range: expected {low} to {high}", hard=False
            )
            return low
        return value

    def port(self, tok: Token) -> int:
        return self.int_in(tok, 1, 65535, "port")

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
        if key in opts:
            return opts[key].value
        self.error(self.span(meta), f"{what} needs `{example}`")
        return None

    # ------------------------------------------------------------ options

    opt_ip = _opt("ip", lambda self, t: self.interface(t))
    opt_mac = _opt("mac", lambda self, t: _mac(t))
    opt_on = _opt("on")
    opt_uplink = _opt("uplink")
    opt_hairpin = _opt("hairpin")
    opt_isolated_ports = _opt("isolated-ports")
    opt_namespace = _opt("namespace")
    opt_via = _opt("via", lambda self, t: self.ip(t))
    opt_dev = _opt("dev")
    opt_onlink = _opt("onlink")
    opt_out = _opt("out")
    opt_in = _opt("in")
    opt_to = _opt("to", lambda self, t: self.ip(t))
    opt_from = _opt("from", lambda self, t: self.network(t))
    opt_to_cidr = _opt("to", lambda self, t: self.network(t))
    opt_port = _opt("port", lambda self, t: self.port(t))
    opt_vni = _opt("vni", lambda self, t: self.int_in(t, 0, 16777215, "VNI"))
    opt_local = _opt("local", lambda self, t: self.ip(t))

    def opt_ip_bare(self, meta: Any, children: list[Any]) -> Opt:
        tok = children[0]
        return Opt("ip", IPv4Interface(f"{self.ip(tok)}/32"), _meta_token(meta, "ip"), bare=True)

    def opt_netns(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("mode", StackMode.NETNS, _first_token(meta, children))

    def opt_no_netns(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("mode", StackMode.NO_NETNS, _first_token(meta, children))

    def opt_host_network(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("mode", StackMode.HOST_NETWORK, _first_token(meta, children))

    def opt_labels(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("labels", children[0], _meta_token(meta, "labels"))

    def opt_except(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("except", children[0], _meta_token(meta, "except"))

    def opt_proto(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("proto", children[0], _meta_token(meta, "proto"))

    def label_list(self, meta: Any, children: list[Token]) -> tuple[tuple[str, str], ...]:
        return self.labels(children)

    def labels(self, toks: list[Token]) -> tuple[tuple[str, str], ...]:
        seen: dict[str, str] = {}
        for tok in toks:
            key, _, value = str(tok).partition("=")
            if key in seen:
                self.error(self.tok_span(tok), f"label key {key} given twice")
                continue
            seen[key] = value
        return tuple(sorted(seen.items()))

    def cidr_list(self, meta: Any, children: list[Token]) -> tuple[IPv4Network, ...]:
        return tuple(self.network(t) for t in children)

    def os(self, meta: Any, children: list[Token]) -> OS:
        return OS(str(children[0]))

    def bridge_kind(self, meta: Any, children: list[Token]) -> BridgeKind:
        return BridgeKind(str(children[0]))

    def onoff(self, meta: Any, children: list[Token]) -> bool:
        return str(children[0]) == "on"

    def action(self, meta: Any, children: list[Token]) -> Action:
        return Action(str(children[0]))

    def proto(self, meta: Any, children: list[Token]) -> Proto:
        return Proto[str(children[0]).upper()]

    l4 = proto

    def direction(self, meta: Any, children: list[Token]) -> str:
        return str(children[0])

    # ------------------------------------------------------------ underlay

    def segment(self, meta: Any, children: list[Any]) -> Segment:
        name, cidr, gw = children
        return Segment(
            name=str(name),
            prefix=self.network(cidr),
            gateway=self.ip(gw) if gw is not None else None,
            span=self.span(meta),
        )

    def external(self, meta: Any, children: list[Any]) -> External:
        name, cidr, via = children
        return External(name=str(name), prefix=self.network(cidr), via=str(via), span=self.span(meta))

    # ------------------------------------------------------------ node statements

    def nic(self, meta: Any, children: list[Any]) -> Nic:
        name = str(children[0])
        opts = self.options(children[1:], f"nic {name}")
        ip = self.need(opts, "ip", meta, f"nic {name}", "ip CIDR")
        seg = self.need(opts, "on", meta, f"nic {name}", "on SEGMENT")
        return Nic(
            name=name,
            ip=ip or IPv4Interface("0.0.0.0/32"),
            mac=opts["mac"].value if "mac" in opts else None,
            segment=seg or "",
            span=self.span(meta),
        )

    def bridge(self, meta: Any, children: list[Any]) -> Bridge:
        name, kind = str(children[0]), children[1]
        opts = self.options(children[2:], f"bridge {name}")
        return Bridge(
            name=name,
            kind=kind,
            ip=opts["ip"].value if "ip" in opts else None,
            mac=opts["mac"].value if "mac" in opts else None,
            uplink=opts["uplink"].value if "uplink" in opts else None,
            hairpin="hairpin" in opts,
            isolated_ports="isolated-ports" in opts,
            span=self.span(meta),
        )

    def pod_block(self, meta: Any, children: list[Any]) -> tuple[Route, ...]:
        return tuple(children)

    def pod(self, meta: Any, children: list[Any]) -> Pod:
        name = str(children[0])
        block = children[-1]
        opts = self.options(children[1:-1], f"pod {name}")
        ip_opt = opts.get("ip")
        return Pod(
            name=name,
            ip=ip_opt.value if ip_opt else None,
            ip_has_prefix=ip_opt is None or not ip_opt.bare,
            mac=opts["mac"].value if "mac" in opts else None,
            bridge=opts["on"].value if "on" in opts else None,
            mode=opts["mode"].value if "mode" in opts else StackMode.NETNS,
            namespace=opts["namespace"].value if "namespace" in opts else "default",
            labels=opts["labels"].value if "labels" in opts else (),
            routes=block or (),
            span=self.span(meta),
        )

    def route(self, meta: Any, children: list[Any]) -> Route:
        opts = self.options(children[1:], "route")
        if "via" not in opts and "dev" not in opts:
            self.error(self.span(meta), "route needs `via IP` or `dev IF`")
        return Route(
            prefix=self.network(children[0]),
            via=opts["via"].value if "via" in opts else None,
            dev=opts["dev"].value if "dev" in opts else None,
            onlink="onlink" in opts,
            span=self.span(meta),
        )

    def masquerade(self, meta: Any, children: list[Any]) -> SourceNat:
        return self._snat(meta, children, "masquerade")

    def snat(self, meta: Any, children: list[Any]) -> SourceNat:
        return self._snat(meta, children, "snat")

    def _snat(self, meta: Any, children: list[Any], what: str) -> SourceNat:
        opts = self.options(children[1:], what)
        to = None
        if what == "snat":
            to = self.need(opts, "to", meta, what, "to IP")
        return SourceNat(
            source=self.network(children[0]),
            to=to,
            exceptions=opts["except"].value if "except" in opts else (),
            out=opts["out"].value if "out" in opts else None,
            span=self.span(meta),
        )

    def outbound_nat(self, meta: Any, children: list[Any]) -> OutboundNat:
        return OutboundNat(bridge=str(children[0]), exceptions=children[1] or (), span=self.span(meta))

    def backend(self, meta: Any, children: list[Token]) -> Backend:
        tok = children[0]
        if tok.type == "HOSTPORT":
            addr, _, port = str(tok).rpartition(":")
            ip_tok = Token("IP", addr, line=tok.line, column=tok.column)
            port_tok = Token("INT", port, line=tok.line, column=(tok.column or 1) + len(addr) + 1)
            return Backend(ip=self.ip(ip_tok), port=self.port(port_tok))
        return Backend(ip=self.ip(tok))

    def dnat(self, meta: Any, children: list[Any]) -> Dnat:
        vip = self.ip(children[0])
        opts = self.options([c for c in children[1:] if isinstance(c, Opt)], "dnat")
        return Dnat(
            vip=vip,
            proto=opts["proto"].value if "proto" in opts else None,
            port=opts["port"].value if "port" in opts else None,
            backends=tuple(c for c in children[1:] if isinstance(c, Backend)),
            span=self.span(meta),
        )

    def route_to_host(self, meta: Any, children: list[Any]) -> RouteToHost:
        return RouteToHost(bridge=str(children[0]), prefix=self.network(children[1]), span=self.span(meta))

    def vxlan(self, meta: Any, children: list[Any]) -> Vxlan:
        name = str(children[0])
        opts = self.options(children[1:], f"vxlan {name}")
        vni = self.need(opts, "vni", meta, f"vxlan {name}", "vni N")
        local = self.need(opts, "local", meta, f"vxlan {name}", "local IP")
        return Vxlan(
            name=name,
            vni=vni if vni is not None else 0,
            port=opts["port"].value if "port" in opts else 8472,
            local=local if local is not None else IPv4Address(0),
            mac=opts["mac"].value if "mac" in opts else None,
            ip=opts["ip"].value if "ip" in opts else None,
            span=self.span(meta),
        )

    def fdb(self, meta: Any, children: list[Any]) -> Fdb:
        mac, dst, dev = children
        return Fdb(mac=_mac(mac), dst=self.ip(dst), dev=str(dev), span=self.span(meta))

    def neighbor(self, meta: Any, children: list[Any]) -> Neighbor:
        ip, mac, dev = children
        return Neighbor(ip=self.ip(ip), mac=_mac(mac), dev=str(dev), span=self.span(meta))

    def proxy_arp(self, meta: Any, children: list[Any]) -> ProxyArp:
        return ProxyArp(dev=str(children[0]), span=self.span(meta))

    def forwarding(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("forwarding", children[0], _meta_token(meta, "forwarding"))

    def enforce_policy(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("enforce-policy", children[0], _meta_token(meta, "enforce-policy"))

    def filter(self, meta: Any, children: list[Any]) -> Filter:
        opts = self.options(children[1:], "filter")
        return Filter(
            action=children[0],
            in_dev=opts["in"].value if "in" in opts else None,
            out_dev=opts["out"].value if "out" in opts else None,
            source=opts["from"].value if "from" in opts else None,
            dest=opts["to"].value if "to" in opts else None,
            proto=opts["proto"].value if "proto" in opts else None,
            port=opts["port"].value if "port" in opts else None,
            span=self.span(meta),
        )

    # ------------------------------------------------------------ nodes

    def node_short(self, meta: Any, children: list[Any]) -> tuple[IPv4Address, str, IPv4Network]:
        ip, seg, subnet = children
        return self.ip(ip), str(seg), self.network(subnet)

    def node_block(self, meta: Any, children: list[Any]) -> list[Any]:
        return list(children)

    def node(self, meta: Any, children: list[Any]) -> Node:
        name, os_, short, body = children
        body = body or []
        by_type: dict[type, list[Any]] = {}
        for stmt in body:
            if not isinstance(stmt, Opt):
                by_type.setdefault(type(stmt), []).append(stmt)
        flags = self.options([s for s in body if isinstance(s, Opt)], f"node {name}")

        def of(t: type) -> tuple[Any, ...]:
            return tuple(by_type.get(t, ()))

        snats = of(SourceNat)
        return Node(
            name=str(name),
            os=os_,
            nics=of(Nic),
            bridges=of(Bridge),
            pods=of(Pod),
            routes=of(Route),
            snats=snats,
            outbound_nats=of(OutboundNat),
            dnats=of(Dnat),
            routes_to_host=of(RouteToHost),
            vxlans=of(Vxlan),
            fdbs=of(Fdb),
            neighbors=of(Neighbor),
            proxy_arps=of(ProxyArp),
            filters=of(Filter),
            forwarding=flags["forwarding"].value if "forwarding" in flags else True,
            enforce_policy=flags["enforce-policy"].value if "enforce-policy" in flags else False,
            ip=short[0] if short else None,
            segment=short[1] if short else None,
            subnet=short[2] if short else None,
            span=self.span(meta),
        )

    # ------------------------------------------------------------ cluster

    def pod_cidr(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("pod-cidr", self.network(children[0]), children[0])

    def service_cidr(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("service-cidr", self.network(children[0]), children[0])

    def cni(self, meta: Any, children: list[Token]) -> Opt:
        words = [str(c) for c in children]
        profile = words[:1]
        rest = words[1:]
        while rest and rest[0] in PROFILE_WORDS:
            profile.append(rest.pop(0))
        if len(rest) % 2:
            self.error(
                self.tok_span(children[-1]), f"cni option {rest[-1]} needs a value, like `{rest[-1]} on`"
            )
            rest = rest[:-1]
        pairs = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
        return Opt("cni", (tuple(profile), pairs), children[0])

    def cl_option(self, meta: Any, children: list[Token]) -> tuple[str, str]:
        return (str(children[0]), str(children[1]))

    def cluster(self, meta: Any, children: list[Any]) -> Cluster:
        name = str(children[0])
        opts = self.options([c for c in children[1:] if isinstance(c, Opt)], f"cluster {name}")
        cni, options = opts["cni"].value if "cni" in opts else ((), ())
        extra = tuple(c for c in children[1:] if isinstance(c, tuple))
        return Cluster(
            name=name,
            pod_cidr=opts["pod-cidr"].value if "pod-cidr" in opts else None,
            service_cidr=opts["service-cidr"].value if "service-cidr" in opts else None,
            cni=cni,
            options=options + extra,
            span=self.span(meta),
        )

    # ------------------------------------------------------------ policies

    def select(self, meta: Any, children: list[Any]) -> Opt:
        return Opt("select", children[0] or (), _meta_token(meta, "select"))

    def pi_pods(self, meta: Any, children: list[Token]) -> PeerItem:
        return PeerItem("pods", list(children), None)

    def pi_label(self, meta: Any, children: list[Token]) -> PeerItem:
        return PeerItem("label", children[0], children[0])

    def pi_namespace(self, meta: Any, children: list[Any]) -> PeerItem:
        # children: NAME, then the LABELs of an optional "pods" (None if absent)
        labels = [c for c in children[1:] if isinstance(c, Token)]
        return PeerItem("namespace", str(children[0]), children[0], labels)

    def pi_cidr(self, meta: Any, children: list[Any]) -> PeerItem:
        cidr, exc = children
        return PeerItem("cidr", self.network(cidr), cidr, [self.network(exc)] if exc is not None else None)

    def pi_bare_cidr(self, meta: Any, children: list[Token]) -> PeerItem:
        return PeerItem("bare-cidr", self.network(children[0]), children[0])

    def pi_all(self, meta: Any, children: list[Any]) -> PeerItem:
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
        proto, port = children
        if port is not None and proto is Proto.ICMP:
            self.error(self.tok_span(port), "icmp has no ports")
        return PortSpec(proto=proto, port=self.port(port) if port is not None else None)

    def port_items(self, meta: Any, children: list[PortSpec]) -> tuple[PortSpec, ...]:
        return tuple(children)

    def ingress(self, meta: Any, children: list[Any], direction: str = "ingress") -> tuple[str, PolicyRule]:
        peers, ports = children
        return (direction, PolicyRule(peers=peers or (), ports=ports or (), span=self.span(meta)))

    def egress(self, meta: Any, children: list[Any]) -> tuple[str, PolicyRule]:
        return self.ingress(meta, children, "egress")

    def types(self, meta: Any, children: list[str]) -> Opt:
        return Opt("types", frozenset(children), _meta_token(meta, "types"))

    def policy(self, meta: Any, children: list[Any]) -> Policy:
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

    # ------------------------------------------------------------ checks

    def ep_pod(self, meta: Any, children: list[Token]) -> PodRef:
        node, _, pod = str(children[0]).partition("/")
        return PodRef(node=node, pod=pod)

    def ep_node(self, meta: Any, children: list[Token]) -> NodeRef:
        return NodeRef(node=str(children[0]))

    def ep_namespace(self, meta: Any, children: list[Token]) -> NamespaceRef:
        return NamespaceRef(namespace=str(children[0]))

    def ep_pods(self, meta: Any, children: list[Token]) -> LabelRef:
        return LabelRef(labels=self.labels(children))

    def ep_external(self, meta: Any, children: list[Token]) -> ExternalRef:
        return ExternalRef(name=str(children[0]))

    def ep_address(self, meta: Any, children: list[Token]) -> AddressRef:
        tok = children[0]
        if tok.type == "CIDR":
            return AddressRef(prefix=self.network(tok))
        return AddressRef(prefix=IPv4Network(self.ip(tok)))

    def mod_proto(self, meta: Any, children: list[Any]) -> Mod:
        return Mod("proto", children[0], _meta_token(meta, str(children[0])))

    def mod_port(self, meta: Any, children: list[Token]) -> Mod:
        return Mod("port", self.port(children[0]), children[0])

    def mod_via_mac(self, meta: Any, children: list[Any]) -> Mod:
        return Mod("via mac", True, _meta_token(meta, "via"))

    def mod_with_nat(self, meta: Any, children: list[Any]) -> Mod:
        return Mod("nat", NatMode.WITH, _meta_token(meta, "with"))

    def mod_without_nat(self, meta: Any, children: list[Any]) -> Mod:
        return Mod("nat", NatMode.WITHOUT, _meta_token(meta, "without"))

    def mods(self, mods: list[Mod], what: str) -> dict[str, Any]:
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

    def headers(self, found: dict[str, Any]) -> Headers:
        return Headers(proto=found.get("proto"), port=found.get("port"))

    def reach(self, meta: Any, children: list[Any], negated: bool = False) -> Reach:
        src, dst, *mods = children
        found = self.mods(mods, "no reach" if negated else "reach")
        return Reach(
            src=src,
            dst=dst,
            negated=negated,
            headers=self.headers(found),
            via_mac=found.get("via mac", False),
            nat=found.get("nat", NatMode.ANY),
        )

    def no_reach(self, meta: Any, children: list[Any]) -> Reach:
        return self.reach(meta, children, negated=True)

    def isolated(self, meta: Any, children: list[Any]) -> Isolated:
        a, b, *mods = children
        return Isolated(a=a, b=b, headers=self.headers(self.mods(mods, "isolated")))

    def nat_as(self, meta: Any, children: list[Any]) -> NatAs:
        src, dst, *rest = children
        ip_tok = next(c for c in rest if isinstance(c, Token))
        mods = [c for c in rest if isinstance(c, Mod)]
        return NatAs(src=src, dst=dst, ip=self.ip(ip_tok), headers=self.headers(self.mods(mods, "nat")))

    def netns_isolation(self, meta: Any, children: list[Any]) -> NetnsIsolation:
        return NetnsIsolation(node=str(children[0]) if children[0] is not None else None)

    def no_loops(self, meta: Any, children: list[Any]) -> NoLoops:
        return NoLoops()

    def check(self, meta: Any, children: list[Any]) -> Check:
        return Check(name=str(children[0]), query=children[1], span=self.span(meta))

    # ------------------------------------------------------------ the file

    def start(self, meta: Any, children: list[Any]) -> Spec:
        clusters = [c for c in children if isinstance(c, Cluster)]
        for extra in clusters[1:]:
            self.error(extra.span, f"a second cluster block ({extra.name}); a file has at most one")
        return Spec(
            file=self.file,
            cluster=clusters[0] if clusters else None,
            segments=tuple(c for c in children if isinstance(c, Segment)),
            externals=tuple(c for c in children if isinstance(c, External)),
            nodes=tuple(c for c in children if isinstance(c, Node)),
            policies=tuple(c for c in children if isinstance(c, Policy)),
            checks=tuple(c for c in children if isinstance(c, Check)),
        )


def _first_token(meta: Any, children: list[Any]) -> Token | None:
    for c in children:
        if isinstance(c, Token):
            return c
    return _meta_token(meta, "")


def _meta_token(meta: Any, text: str) -> Token | None:
    """A stand-in token at the start of a rule, to place a diagnostic there."""
    line = getattr(meta, "line", None)
    if line is None:
        return None
    return Token("KEYWORD", text, line=line, column=getattr(meta, "column", 1))


#: SpecTransformer's v_args-wrapped callbacks (see SpecTransformer.__init__)
_CALLBACKS = [
    (name, attr)
    for klass in reversed(SpecTransformer.__mro__)
    for name, attr in vars(klass).items()
    if not name.startswith("_") and hasattr(attr, "visit_wrapper")
]
