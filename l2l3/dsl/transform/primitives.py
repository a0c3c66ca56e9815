"""Rule callbacks of the primitives (LANGUAGE.md §1): the values shared by
every area, segments and externals, the statements of a node, and nodes."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any

from lark import Token

from l2l3.dsl.transform.base import (
    PORT_NAME_RULE,
    VNI_MAX,
    Opt,
    TransformerBase,
    brief,
    first_token,
    mac_text,
    meta_token,
    opt_rule,
    port_name_ok,
)
from l2l3.model.types import (
    OS,
    Action,
    Backend,
    Bridge,
    BridgeKind,
    ContainerPort,
    Dnat,
    External,
    Fdb,
    Filter,
    Neighbor,
    Nic,
    Node,
    OutboundNat,
    Pod,
    Proto,
    ProxyArp,
    Route,
    RouteToHost,
    Segment,
    SourceNat,
    StackMode,
    Vxlan,
)


class PrimitiveRules(TransformerBase):
    """Segments, externals, nodes and everything inside a node block."""

    # ------------------------------------------------------------ options

    opt_ip = opt_rule("ip", lambda self, t: self.interface(t))
    opt_mac = opt_rule("mac", lambda self, t: mac_text(t))
    opt_on = opt_rule("on", lambda self, t: self.word(t))
    opt_uplink = opt_rule("uplink", lambda self, t: self.word(t))
    opt_hairpin = opt_rule("hairpin")
    opt_isolated_ports = opt_rule("isolated-ports")
    opt_namespace = opt_rule("namespace", lambda self, t: self.word(t))
    opt_via = opt_rule("via", lambda self, t: self.ip(t))
    opt_dev = opt_rule("dev", lambda self, t: self.word(t))
    opt_onlink = opt_rule("onlink")
    opt_out = opt_rule("out", lambda self, t: self.word(t))
    opt_in = opt_rule("in", lambda self, t: self.word(t))
    opt_to = opt_rule("to", lambda self, t: self.ip(t))
    opt_from = opt_rule("from", lambda self, t: self.network(t))
    opt_to_cidr = opt_rule("to", lambda self, t: self.network(t))
    opt_port = opt_rule("port", lambda self, t: self.port(t))
    opt_established = opt_rule("established")
    opt_vni = opt_rule("vni", lambda self, t: self.int_in(t, 0, VNI_MAX, "VNI"))
    opt_local = opt_rule("local", lambda self, t: self.ip(t))

    def opt_ip_bare(self, meta: Any, children: list[Any]) -> Opt:
        """``ip IP`` of a pod under a profile: no prefix length."""
        tok = children[0]
        return Opt("ip", IPv4Interface((int(self.ip(tok)), 32)), meta_token(meta), bare=True)

    def opt_netns(self, meta: Any, children: list[Any]) -> Opt:
        """Pod option ``netns``."""
        return Opt("mode", StackMode.NETNS, first_token(meta, children))

    def opt_no_netns(self, meta: Any, children: list[Any]) -> Opt:
        """Pod option ``no-netns``."""
        return Opt("mode", StackMode.NO_NETNS, first_token(meta, children))

    def opt_host_network(self, meta: Any, children: list[Any]) -> Opt:
        """Pod option ``host-network``."""
        return Opt("mode", StackMode.HOST_NETWORK, first_token(meta, children))

    def opt_labels(self, meta: Any, children: list[Any]) -> Opt:
        """Pod option ``labels K=V …``."""
        return Opt("labels", children[0], meta_token(meta))

    def opt_except(self, meta: Any, children: list[Any]) -> Opt:
        """Option ``except CIDR, …``."""
        return Opt("except", children[0], meta_token(meta))

    def opt_proto(self, meta: Any, children: list[Any]) -> Opt:
        """Option ``tcp|udp|sctp[|icmp]`` (dnat, filter)."""
        return Opt("proto", children[0], meta_token(meta))

    def opt_ports(self, meta: Any, children: list[Any]) -> Opt:
        """Pod option ``ports N[/PROTO][=NAME], …``: its container ports."""
        return Opt("ports", children[0], meta_token(meta))

    def cport_list(self, meta: Any, children: list[Token]) -> tuple[ContainerPort, ...]:
        """``[HOSTPORT:]N[/tcp|udp|sctp][=NAME][,] …`` (TCP when no protocol is written)."""
        out: list[ContainerPort] = []
        for tok in children:
            host_text, colon, _ = str(tok).partition(":")
            host = self.port(Token("INT", host_text, line=tok.line, column=tok.column)) if colon else None
            if colon:
                rest, col = str(tok)[len(host_text) + 1 :], (tok.column or 1) + len(host_text) + 1
                tok = Token(tok.type, rest, line=tok.line, column=col)
            text, _, name = str(tok).partition("=")
            num, _, proto_text = text.partition("/")
            proto = Proto.TCP
            if proto_text:
                if proto_text not in ("tcp", "udp", "sctp"):
                    self.error(
                        self.tok_span(tok, len(num) + 1),
                        f"{brief(proto_text)} is not a container port protocol: expected tcp, udp or sctp",
                    )
                else:
                    proto = Proto[proto_text.upper()]
            port = self.port(Token("INT", num, line=tok.line, column=tok.column))
            if name and not port_name_ok(name):
                self.error(
                    self.tok_span(tok, len(text) + 1), f"{brief(name)} is not a port name: {PORT_NAME_RULE}"
                )
            out.append(ContainerPort(port=port, proto=proto, name=name or None, host_port=host))
        return tuple(out)

    def label_list(self, meta: Any, children: list[Token]) -> tuple[tuple[str, str], ...]:
        """``K=V[,] K=V …``."""
        return self.labels(children)

    def cidr_list(self, meta: Any, children: list[Token]) -> tuple[IPv4Network, ...]:
        """``CIDR, CIDR, …`` (networks)."""
        return tuple(self.network(t) for t in children)

    def os(self, meta: Any, children: list[Token]) -> OS:
        """``linux|windows``."""
        return OS(str(children[0]))

    def bridge_kind(self, meta: Any, children: list[Token]) -> BridgeKind:
        """``linux|l2bridge|ovs|macvlan|veth``."""
        return BridgeKind(str(children[0]))

    def onoff(self, meta: Any, children: list[Token]) -> bool:
        """``on|off``."""
        return str(children[0]) == "on"

    def action(self, meta: Any, children: list[Token]) -> Action:
        """``allow|deny``."""
        return Action(str(children[0]))

    def proto(self, meta: Any, children: list[Token]) -> Proto:
        """``tcp|udp|sctp|icmp`` (``l4``: ``tcp|udp|sctp``)."""
        return Proto[str(children[0]).upper()]

    l4 = proto

    def direction(self, meta: Any, children: list[Token]) -> str:
        """``ingress|egress``."""
        return str(children[0])

    # ------------------------------------------------------------ underlay

    def segment(self, meta: Any, children: list[Any]) -> Segment:
        """``segment NAME CIDR [gateway IP]``."""
        name, cidr, gw = children
        return Segment(
            name=str(name),
            prefix=self.network(cidr),
            gateway=self.ip(gw) if gw is not None else None,
            span=self.span(meta),
        )

    def external(self, meta: Any, children: list[Any]) -> External:
        """``external NAME CIDR via SEGMENT``."""
        name, cidr, via = children
        return External(name=str(name), prefix=self.network(cidr), via=str(via), span=self.span(meta))

    # ------------------------------------------------------------ node statements

    def nic(self, meta: Any, children: list[Any]) -> Nic:
        """``nic IF ip CIDR [mac MAC] on SEGMENT``."""
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
        """``bridge NAME KIND [ip CIDR] [mac MAC] [uplink IF] [hairpin] [isolated-ports]``."""
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
        """``{ route … }`` of a pod."""
        return tuple(children)

    def pod(self, meta: Any, children: list[Any]) -> Pod:
        """``pod NAME [ip CIDR|IP] [mac MAC] [on BRIDGE] [netns|no-netns|host-network] [namespace NS] [labels …] [{ … }]``."""
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
            ports=opts["ports"].value if "ports" in opts else (),
            routes=block or (),
            span=self.span(meta),
        )

    def route(self, meta: Any, children: list[Any]) -> Route:
        """``route CIDR [via IP] [dev IF] [onlink]``."""
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
        """``masquerade from CIDR [except CIDR, …] [out IF]``."""
        return self._snat(meta, children, "masquerade")

    def snat(self, meta: Any, children: list[Any]) -> SourceNat:
        """``snat from CIDR to IP [except CIDR, …] [out IF]``."""
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
        """``outbound-nat BRIDGE [except CIDR, …]``."""
        return OutboundNat(bridge=str(children[0]), exceptions=children[1] or (), span=self.span(meta))

    def backend(self, meta: Any, children: list[Token]) -> Backend:
        """A DNAT backend ``IP`` or ``IP:PORT``."""
        tok = children[0]
        if tok.type == "HOSTPORT":
            addr, _, port = str(tok).rpartition(":")
            ip_tok = Token("IP", addr, line=tok.line, column=tok.column)
            port_tok = Token("INT", port, line=tok.line, column=(tok.column or 1) + len(addr) + 1)
            return Backend(ip=self.ip(ip_tok), port=self.port(port_tok))
        return Backend(ip=self.ip(tok))

    def dnat(self, meta: Any, children: list[Any]) -> Dnat:
        """``dnat IP [tcp|udp] [port N] to BACKEND, …``."""
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
        """``route-to-host BRIDGE CIDR``."""
        return RouteToHost(bridge=str(children[0]), prefix=self.network(children[1]), span=self.span(meta))

    def vxlan(self, meta: Any, children: list[Any]) -> Vxlan:
        """``vxlan IF vni N [port N] local IP [mac MAC] [ip CIDR]``."""
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
        """``fdb MAC dst IP dev IF``."""
        mac, dst, dev = children
        return Fdb(mac=mac_text(mac), dst=self.ip(dst), dev=str(dev), span=self.span(meta))

    def neighbor(self, meta: Any, children: list[Any]) -> Neighbor:
        """``neighbor IP lladdr MAC dev IF``."""
        ip, mac, dev = children
        return Neighbor(ip=self.ip(ip), mac=mac_text(mac), dev=str(dev), span=self.span(meta))

    def proxy_arp(self, meta: Any, children: list[Any]) -> ProxyArp:
        """``proxy-arp IF``."""
        return ProxyArp(dev=str(children[0]), span=self.span(meta))

    def forwarding(self, meta: Any, children: list[Any]) -> Opt:
        """``forwarding on|off``: a flag of the node."""
        return Opt("forwarding", children[0], meta_token(meta))

    def enforce_policy(self, meta: Any, children: list[Any]) -> Opt:
        """``enforce-policy on|off``: a flag of the node."""
        return Opt("enforce-policy", children[0], meta_token(meta))

    def filter(self, meta: Any, children: list[Any]) -> Filter:
        """``filter allow|deny [in IF] [out IF] [from CIDR] [to CIDR] [PROTO] [port N] [established]``."""
        opts = self.options(children[1:], "filter")
        return Filter(
            action=children[0],
            in_dev=opts["in"].value if "in" in opts else None,
            out_dev=opts["out"].value if "out" in opts else None,
            source=opts["from"].value if "from" in opts else None,
            dest=opts["to"].value if "to" in opts else None,
            proto=opts["proto"].value if "proto" in opts else None,
            port=opts["port"].value if "port" in opts else None,
            established="established" in opts,
            span=self.span(meta),
        )

    # ------------------------------------------------------------ nodes

    def node_short(self, meta: Any, children: list[Any]) -> tuple[IPv4Address, str, IPv4Network]:
        """``ip IP on SEGMENT subnet CIDR``: the profile shorthand of a node."""
        ip, seg, subnet = children
        return self.ip(ip), str(seg), self.network(subnet)

    def node_block(self, meta: Any, children: list[Any]) -> list[Any]:
        """``{ … }``: the statements of a node."""
        return list(children)

    def node(self, meta: Any, children: list[Any]) -> Node:
        """``node NAME OS [SHORTHAND] [{ … }]``."""
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
