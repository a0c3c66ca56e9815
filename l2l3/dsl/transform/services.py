"""Rule callbacks of the ``service`` statement and the ``service NS/NAME`` endpoint (LANGUAGE.md §9).

::

    service kube-system/kube-dns ip 10.96.0.10 [type clusterip|nodeport|loadbalancer]
            [external-traffic cluster|local] [internal-traffic cluster|local] [external-ip IP] {
        port dns 53 udp target 53
        port dns-tcp 53 tcp target dns-tcp node-port 30053
        select k8s-app=kube-dns                  # the pods of the namespace it picks
        endpoint 10.244.1.5 dns=53 dns-tcp=53    # or explicit (ready) endpoints
    }
    service shop/db headless { port 5432; select app=db }
"""

from __future__ import annotations

from typing import Any

from lark import Token

from l2l3.dsl.transform.base import Opt, TransformerBase, brief, port_name_ok
from l2l3.model.services import Service, ServiceEndpoint, ServicePort, ServiceRef, ServiceType, TrafficPolicy
from l2l3.model.types import LabelSelector, Proto

_TYPES = {t.value.lower(): t for t in ServiceType}
_POLICIES = {p.value.lower(): p for p in TrafficPolicy}


class ServiceRules(TransformerBase):
    """``service NS/NAME …  { port …; select …; endpoint … }`` and the check endpoint."""

    def _word(self, tok: Token, table: dict[str, Any], what: str) -> Any:
        got = table.get(str(tok).lower())
        if got is None:
            self.error(self.tok_span(tok), f"{what} {brief(str(tok))}: expected {' or '.join(table)}")
        return got

    def svc_ip(self, meta: Any, children: list[Token]) -> Opt:
        """Option ``ip IP``: the cluster IP."""
        return Opt("ip", self.ip(children[0]), children[0])

    def svc_headless(self, meta: Any, children: list[Token]) -> Opt:
        """Option ``headless``: no cluster IP."""
        return Opt("headless", True, None)

    def svc_type(self, meta: Any, children: list[Token]) -> Opt:
        """Option ``type clusterip|nodeport|loadbalancer``."""
        return Opt("type", self._word(children[0], _TYPES, "service type"), children[0])

    def svc_external_traffic(self, meta: Any, children: list[Token]) -> Opt:
        """Option ``external-traffic cluster|local`` (externalTrafficPolicy)."""
        return Opt("external-traffic", self._word(children[0], _POLICIES, "external-traffic"), children[0])

    def svc_internal_traffic(self, meta: Any, children: list[Token]) -> Opt:
        """Option ``internal-traffic cluster|local`` (internalTrafficPolicy)."""
        return Opt("internal-traffic", self._word(children[0], _POLICIES, "internal-traffic"), children[0])

    def svc_external_ip(self, meta: Any, children: list[Token]) -> Any:
        """Option ``external-ip IP`` (externalIPs, load-balancer ingress IPs)."""
        return ("external-ip", self.ip(children[0]))

    def svc_target(self, meta: Any, children: list[Token]) -> Opt:
        """Port option ``target N``."""
        return Opt("target", self.port(children[0]), children[0])

    def svc_target_name(self, meta: Any, children: list[Token]) -> Opt:
        """Port option ``target NAME``: a container port name, resolved per endpoint pod."""
        tok = children[0]
        if not port_name_ok(str(tok)):
            self.error(self.tok_span(tok), f"target port name {brief(str(tok))} is not a container port name")
        return Opt("target", str(tok), tok)

    def svc_node_port(self, meta: Any, children: list[Token]) -> Opt:
        """Port option ``node-port N``."""
        return Opt("node-port", self.port(children[0]), children[0])

    def svc_port(self, meta: Any, children: list[Any]) -> ServicePort:
        """``port [NAME] N [tcp|udp|sctp] [target N|NAME] [node-port N]``."""
        name_tok, num, proto_tok, *rest = children
        opts = self.options(rest, "port")
        proto = proto_tok if isinstance(proto_tok, Proto) else Proto.TCP
        if name_tok is not None and not port_name_ok(str(name_tok)):
            self.error(self.tok_span(name_tok), f"port name {brief(str(name_tok))} is not a valid port name")
        return ServicePort(
            name=str(name_tok) if name_tok is not None else None,
            port=self.port(num),
            proto=proto,
            target=opts["target"].value if "target" in opts else None,
            node_port=opts["node-port"].value if "node-port" in opts else None,
            span=self.span(meta),
        )

    def svc_select(self, meta: Any, children: list[Any]) -> LabelSelector:
        """``select SEL``: the pods of the Service's namespace it picks."""
        return self.label_selector(children[0].terms)

    def svc_ep_named(self, meta: Any, children: list[Token]) -> tuple[str, int]:
        """Endpoint port ``NAME=N``: the endpoint's number for the Service port NAME."""
        tok = children[0]
        name, _, num = str(tok).partition("=")
        if not num.isdigit():
            self.error(self.tok_span(tok), f"endpoint port {brief(str(tok))}: expected NAME=NUMBER")
            return name, 1
        return name, self._num(tok, len(name) + 1)

    def _num(self, tok: Token, start: int) -> int:
        got = self.number(tok, 1, 65535, "port", start=start)
        return 1 if got is None else got

    def svc_endpoint(self, meta: Any, children: list[Any]) -> ServiceEndpoint:
        """``endpoint IP [port N] [NAME=N …]``."""
        ports: dict[str, int] = {}
        for c in children[1:]:
            key, num = ("", c.value) if isinstance(c, Opt) else c
            if key in ports:
                self.error(self.span(meta), f"endpoint: port {key or '(unnamed)'} given twice")
            ports[key] = num
        return ServiceEndpoint(
            ip=self.ip(children[0]), ports=tuple(sorted(ports.items())), span=self.span(meta)
        )

    def service(self, meta: Any, children: list[Any]) -> Service:
        """``service NS/NAME [ip IP|headless] [type T] … [{ … }]``."""
        tok = children[0]
        ns, _, name = str(tok).partition("/")
        if "/" in name:
            self.error(self.tok_span(tok), f"service {brief(str(tok))}: write `service NS/NAME`")
        opts = self.options([c for c in children[1:] if isinstance(c, Opt)], "service")
        span = self.span(meta)
        if "ip" in opts and "headless" in opts:
            self.error(span, f"service {ns}/{name}: `ip` and `headless` exclude each other")
        if "ip" not in opts and "headless" not in opts:
            self.error(span, f"service {ns}/{name} needs `ip IP` (its cluster IP) or `headless`")
        ports = tuple(c for c in children[1:] if isinstance(c, ServicePort))
        selectors = [c for c in children[1:] if isinstance(c, LabelSelector)]
        eps = tuple(c for c in children[1:] if isinstance(c, ServiceEndpoint))
        if len(selectors) > 1:
            self.error(span, f"service {ns}/{name}: one `select` at most")
        if selectors and eps:
            self.error(span, f"service {ns}/{name}: `select` or `endpoint` lines, not both")
        return Service(
            namespace=ns,
            name=name,
            ip=opts["ip"].value if "ip" in opts else None,
            type=opts["type"].value if "type" in opts and opts["type"].value else ServiceType.CLUSTER_IP,
            ports=ports,
            selector=selectors[0] if selectors else None,
            endpoints=eps if eps or not selectors else None,
            external_policy=_opt(opts, "external-traffic", TrafficPolicy.CLUSTER),
            internal_policy=_opt(opts, "internal-traffic", TrafficPolicy.CLUSTER),
            external_ips=tuple(c[1] for c in children[1:] if isinstance(c, tuple) and c[0] == "external-ip"),
            span=span,
        )

    def ep_service(self, meta: Any, children: list[Token]) -> ServiceRef:
        """Endpoint ``service NS/NAME``: a Service as a destination (section 9)."""
        ns, _, name = str(children[0]).partition("/")
        if "/" in name:
            self.error(
                self.tok_span(children[0]), f"service {brief(str(children[0]))}: write `service NS/NAME`"
            )
        return ServiceRef(namespace=ns, name=name)


def _opt(opts: dict[str, Opt], key: str, default: TrafficPolicy) -> TrafficPolicy:
    got = opts[key].value if key in opts else None
    return got if isinstance(got, TrafficPolicy) else default
