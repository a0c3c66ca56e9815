"""Builders and probes shared by the profile expansion tests (test_profiles*.py).

``mk(cni)`` builds a two-node cluster spec from the model types directly, so
these tests do not depend on the DSL.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from l2l3.model.network import Network
from l2l3.model.packet import Packet
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import (
    OS,
    Cluster,
    Node,
    Pod,
    Proto,
    Segment,
    Span,
    Spec,
)

A = IPv4Address
N = IPv4Network
I = IPv4Interface  # noqa: E741

CLUSTER_SPAN = Span("t.l2l3", 1, 1)
SEG = Segment(name="lan", prefix=N("10.127.130.0/24"), gateway=A("10.127.130.1"))


def pod(name: str, ip: str, ns: str = "shop", line: int = 0) -> Pod:
    return Pod(name=name, ip=I(f"{ip}/32"), ip_has_prefix=False, namespace=ns, span=Span("t.l2l3", line, 5))


def mk(
    cni: str,
    *,
    win: bool = False,
    options: tuple[tuple[str, str], ...] = (),
    pod_cidr: str | None = "10.244.0.0/16",
    service: str | None = "10.96.0.0/12",
    segment: Segment = SEG,
) -> Spec:
    """Two nodes: lin1 (10.244.1.0/24, pods web .5 and db .6) and lin2/win1 (10.244.3.0/24, pod iis .4)."""
    second = "win1" if win else "lin2"
    return Spec(
        file="t.l2l3",
        cluster=Cluster(
            name="c",
            pod_cidr=N(pod_cidr) if pod_cidr else None,
            service_cidr=N(service) if service else None,
            cni=tuple(cni.split()),
            options=options,
            span=CLUSTER_SPAN,
        ),
        segments=(segment,),
        nodes=(
            Node(
                name="lin1",
                os=OS.LINUX,
                ip=A("10.127.130.37"),
                segment=segment.name,
                subnet=N("10.244.1.0/24"),
                pods=(pod("web", "10.244.1.5", line=11), pod("db", "10.244.1.6", line=12)),
                span=Span("t.l2l3", 10, 1),
            ),
            Node(
                name=second,
                os=OS.WINDOWS if win else OS.LINUX,
                ip=A("10.127.130.38"),
                segment=segment.name,
                subnet=N("10.244.3.0/24"),
                pods=(pod("iis", "10.244.3.4", line=21),),
                span=Span("t.l2l3", 20, 1),
            ),
        ),
    )


def node(spec: Spec, name: str) -> Node:
    return next(n for n in spec.nodes if n.name == name)


def the_pod(n: Node, name: str) -> Pod:
    return next(p for p in n.pods if p.name == name)


def bridge(n: Node, name: str):  # type: ignore[no-untyped-def]
    return next(b for b in n.bridges if b.name == name)


def routes(n: Node) -> set[tuple[str, str | None, str | None, bool]]:
    return {(str(r.prefix), str(r.via) if r.via else None, r.dev, r.onlink) for r in n.routes}


def snats(n: Node) -> list[tuple[str, tuple[str, ...], str | None]]:
    return [(str(s.source), tuple(map(str, s.exceptions)), s.out) for s in n.snats]


def send(net: Network, src: str, dst: str, proto: Proto = Proto.ICMP):  # type: ignore[no-untyped-def]
    if "/" in src:
        info = net.pods[src]
        assert info.pod.ip is not None
        ip, origin = info.pod.ip.ip, Origin(stack=info.stack, pod=src)
    else:
        st = net.stacks[src]
        r = net.lookup(st, A(dst))
        assert r is not None
        ip, origin = st.primary_addr(r.dev), Origin(stack=src)
    assert ip is not None
    traces = simulate(net, origin, Packet(src=ip, dst=A(dst), proto=proto))
    assert len(traces) == 1, [t.reason for t in traces]
    return traces[0]


def masq_matches(n: Node, src: str, dst: str) -> bool:
    """Would the node's masquerade lines rewrite src -> dst (first match, no out)?"""
    s, d = A(src), A(dst)
    return any(s in r.source and not any(d in e for e in r.exceptions) for r in n.snats)
