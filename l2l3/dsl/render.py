"""A Spec back to canonical text.

``parse(render(s), expand=False) == s`` for every Spec that ``parse`` produced
(spans aside). The output is deterministic: cluster, namespaces, segments,
externals, nodes, policies, checks, each in the order of the Spec; inside a node one
kind of statement after another, in the order of the Node's fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from l2l3.dsl.render_services import service_lines
from l2l3.model.types import (
    NAMESPACE_NAME_LABEL,
    AnyPeer,
    Backend,
    Bridge,
    CidrPeer,
    Cluster,
    ContainerPort,
    Dnat,
    Filter,
    Labels,
    LabelSelector,
    NamespaceDecl,
    Nic,
    Node,
    Peer,
    Pod,
    Policy,
    PolicyRule,
    PortSpec,
    Route,
    SelectorPeer,
    SourceNat,
    Spec,
    StackMode,
    Vxlan,
)

__all__ = ["render"]

INDENT = "    "


Comments = Mapping[tuple[object, ...], str]


def render(spec: Spec, comments: Comments | None = None) -> str:
    """The canonical text of ``spec``.

    ``comments`` (from :func:`l2l3.model.profiles.expand_with_comments`)
    annotates generated lines: ``(node,)`` the node, ``(node, FIELD, i)`` the
    i-th entry of ``Node.FIELD``, ``(node, "pods", i, "routes", j)`` a pod
    route. Comments never change what the text parses to.
    """
    cm: Comments = comments or {}
    blocks: list[str] = []
    if spec.cluster is not None:
        blocks.append(_cluster(spec.cluster))
    if spec.namespaces:
        blocks.append("\n".join(_namespace(d) for d in spec.namespaces))
    underlay = [_segment_line(s) for s in spec.segments] + [
        f"external {e.name} {e.prefix} via {e.via}" for e in spec.externals
    ]
    if underlay:
        blocks.append("\n".join(underlay))
    blocks += [_node(n, cm) for n in spec.nodes]
    blocks += [_policy(p) for p in spec.policies]
    blocks += ["\n".join(service_lines(s)) for s in spec.services]
    if spec.checks:
        blocks.append("\n".join(f"check {c.name}: {c.query}" for c in spec.checks))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _segment_line(s: object) -> str:
    gw = f" gateway {s.gateway}" if s.gateway is not None else ""  # type: ignore[attr-defined]
    return f"segment {s.name} {s.prefix}{gw}"  # type: ignore[attr-defined]


def _cluster(c: Cluster) -> str:
    lines = [f"cluster {c.name} {{"]
    if c.pod_cidr is not None:
        lines.append(f"{INDENT}pod-cidr {c.pod_cidr}")
    if c.service_cidr is not None:
        lines.append(f"{INDENT}service-cidr {c.service_cidr}")
    if c.cni:
        lines.append(f"{INDENT}cni {' '.join(c.cni)}")
    lines += [f"{INDENT}{k} {v}" for k, v in c.options]
    lines.append("}")
    return "\n".join(lines)


def _namespace(d: NamespaceDecl) -> str:
    return f"namespace {d.name}" + (f" labels {_labels(d.labels)}" if d.labels else "")


def _labels(labels: Labels, sep: str = " ") -> str:
    return sep.join(f"{k}={v}" for k, v in labels)


def _cidrs(nets: Iterable[object]) -> str:
    return ", ".join(str(n) for n in nets)


def _nic(x: Nic) -> str:
    mac = f" mac {x.mac}" if x.mac else ""
    return f"nic {x.name} ip {x.ip}{mac} on {x.segment}"


def _bridge(b: Bridge) -> str:
    words = [f"bridge {b.name} {b.kind.value}"]
    if b.ip is not None:
        words.append(f"ip {b.ip}")
    if b.mac:
        words.append(f"mac {b.mac}")
    if b.uplink:
        words.append(f"uplink {b.uplink}")
    if b.hairpin:
        words.append("hairpin")
    if b.isolated_ports:
        words.append("isolated-ports")
    return " ".join(words)


def _route(r: Route) -> str:
    words = [f"route {r.prefix}"]
    if r.via is not None:
        words.append(f"via {r.via}")
    if r.dev:
        words.append(f"dev {r.dev}")
    if r.onlink:
        words.append("onlink")
    return " ".join(words)


def _pod(p: Pod, indent: str, cm: Comments | None = None, key: tuple[object, ...] = ()) -> str:
    words = [f"pod {p.name}"]
    if p.mode is StackMode.HOST_NETWORK:
        words.append("host-network")
    if p.ip is not None:
        words.append(f"ip {p.ip}" if p.ip_has_prefix else f"ip {p.ip.ip}")
    if p.mac:
        words.append(f"mac {p.mac}")
    if p.bridge:
        words.append(f"on {p.bridge}")
    if p.mode is StackMode.NO_NETNS:
        words.append("no-netns")
    if p.namespace != "default":
        words.append(f"namespace {p.namespace}")
    if p.labels:
        words.append(f"labels {_labels(p.labels)}")
    if p.ports:
        words.append("ports " + ", ".join(_cport(c) for c in p.ports))
    cm = cm or {}
    head = " ".join(words)
    if not p.routes:
        return head + _note(cm, key)
    body = "".join(
        f"{indent}{INDENT}{_route(r)}{_note(cm, (*key, 'routes', j))}\n" for j, r in enumerate(p.routes)
    )
    return f"{head} {{{_note(cm, key)}\n{body}{indent}}}"


def _cport(c: ContainerPort) -> str:
    host = f"{c.host_port}:" if c.host_port is not None else ""
    return f"{host}{c.port}/{c.proto}" + (f"={c.name}" if c.name else "")


def _snat(s: SourceNat) -> str:
    words = [f"snat from {s.source} to {s.to}" if s.to is not None else f"masquerade from {s.source}"]
    if s.exceptions:
        words.append(f"except {_cidrs(s.exceptions)}")
    if s.out:
        words.append(f"out {s.out}")
    return " ".join(words)


def _backend(b: Backend) -> str:
    return f"{b.ip}:{b.port}" if b.port is not None else str(b.ip)


def _dnat(d: Dnat) -> str:
    words = [f"dnat {d.vip}"]
    if d.proto is not None:
        words.append(str(d.proto))
    if d.port is not None:
        words.append(f"port {d.port}")
    words.append("to " + ", ".join(_backend(b) for b in d.backends))
    return " ".join(words)


def _vxlan(v: Vxlan) -> str:
    words = [f"vxlan {v.name} vni {v.vni}"]
    if v.port != 8472:
        words.append(f"port {v.port}")
    words.append(f"local {v.local}")
    if v.mac:
        words.append(f"mac {v.mac}")
    if v.ip is not None:
        words.append(f"ip {v.ip}")
    return " ".join(words)


def _filter(f: Filter) -> str:
    words = [f"filter {f.action.value}"]
    if f.in_dev:
        words.append(f"in {f.in_dev}")
    if f.out_dev:
        words.append(f"out {f.out_dev}")
    if f.source is not None:
        words.append(f"from {f.source}")
    if f.dest is not None:
        words.append(f"to {f.dest}")
    if f.proto is not None:
        words.append(str(f.proto))
    if f.port is not None:
        words.append(f"port {f.port}")
    if f.established:
        words.append("established")
    return " ".join(words)


def _node(n: Node, cm: Comments) -> str:
    head = f"node {n.name} {n.os.value}"
    if n.ip is not None or n.segment is not None or n.subnet is not None:
        head += f" ip {n.ip} on {n.segment} subnet {n.subnet}"

    def lines(field: str, items: Iterable[object], fmt: Callable[[Any], str]) -> list[str]:
        return [fmt(x) + _note(cm, (n.name, field, i)) for i, x in enumerate(items)]

    body: list[str] = []
    body += lines("nics", n.nics, _nic)
    body += lines("bridges", n.bridges, _bridge)
    body += lines("vxlans", n.vxlans, _vxlan)
    body += [_pod(p, INDENT, cm, (n.name, "pods", i)) for i, p in enumerate(n.pods)]
    body += lines("routes", n.routes, _route)
    body += lines("snats", n.snats, _snat)
    body += lines(
        "outbound_nats",
        n.outbound_nats,
        lambda o: f"outbound-nat {o.bridge}" + (f" except {_cidrs(o.exceptions)}" if o.exceptions else ""),
    )
    body += lines("dnats", n.dnats, _dnat)
    body += lines("routes_to_host", n.routes_to_host, lambda r: f"route-to-host {r.bridge} {r.prefix}")
    body += lines("fdbs", n.fdbs, lambda f: f"fdb {f.mac} dst {f.dst} dev {f.dev}")
    body += lines("neighbors", n.neighbors, lambda x: f"neighbor {x.ip} lladdr {x.mac} dev {x.dev}")
    body += lines("proxy_arps", n.proxy_arps, lambda p: f"proxy-arp {p.dev}")
    body += lines("filters", n.filters, _filter)
    if not n.forwarding:
        body.append("forwarding off")
    if n.enforce_policy:
        body.append("enforce-policy on" + _note(cm, (n.name, "enforce_policy")))
    if not body:
        return head
    what = cm.get((n.name,)) or n.cni
    comment = f"    # cni: {what}" if what else ""
    return f"{head} {{{comment}\n" + "".join(f"{INDENT}{line}\n" for line in body) + "}"


def _note(cm: Comments, key: tuple[object, ...]) -> str:
    text = cm.get(key)
    return f"    # {text}" if text else ""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def _peer(p: Peer) -> str:
    if isinstance(p, SelectorPeer):
        return _selector_peer(p)
    if isinstance(p, CidrPeer):
        return f"cidr {p.cidr}" + (f" except {_cidrs(p.exceptions)}" if p.exceptions else "")
    assert isinstance(p, AnyPeer)
    return "all"


def _selector_peer(p: SelectorPeer) -> str:
    """``pods SEL``, ``namespace NS [pods SEL]``, ``namespaces SEL [pods SEL]`` or ``all-pods``."""
    pods = "" if p.pods is None else ("pods" if p.pods.empty else f"pods {p.pods}")
    ns = p.namespaces
    if ns is None:
        return pods or "pods"
    name = _only_name(ns)
    if name is not None:
        head = f"namespace {name}"
    elif ns.empty:
        head = "all-pods" if p.pods is None else "namespaces {}"
    else:
        head = f"namespaces {ns}"
    return f"{head} {pods}" if pods else head


def _only_name(sel: LabelSelector) -> str | None:
    """NS when ``sel`` is exactly ``kubernetes.io/metadata.name=NS`` and NS can be written as a name."""
    if sel.exprs or len(sel.match) != 1 or sel.match[0][0] != NAMESPACE_NAME_LABEL:
        return None
    name = sel.match[0][1]
    return name if _NAME.fullmatch(name) else None


def _port(s: PortSpec) -> str:
    if s.port is None:
        return str(s.proto)
    if s.end_port is not None:
        return f"{s.proto} {s.port}-{s.end_port}"
    return f"{s.proto} {s.port}"


def _rule(direction: str, r: PolicyRule) -> str:
    words = [direction]
    if r.peers:
        words.append(("from " if direction == "ingress" else "to ") + ", ".join(_peer(p) for p in r.peers))
    if r.ports:
        words.append(", ".join(_port(s) for s in r.ports))
    return " ".join(words)


def _policy(p: Policy) -> str:
    lines = [f"policy {p.name} namespace {p.namespace} {{"]
    lines.append(f"{INDENT}select {p.select}" if not p.select.empty else f"{INDENT}select")
    lines += [f"{INDENT}{_rule('ingress', r)}" for r in p.ingress]
    lines += [f"{INDENT}{_rule('egress', r)}" for r in p.egress]
    if p.types is not None:
        order = [d for d in ("ingress", "egress") if d in p.types]
        lines.append(f"{INDENT}types {', '.join(order)}")
    lines.append("}")
    return "\n".join(lines)
