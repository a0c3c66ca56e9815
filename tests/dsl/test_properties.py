"""Hypothesis properties of the DSL: no input escapes as anything but SpecError,
and render/parse round-trip."""

from __future__ import annotations

import logging
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark, logger

from l2l3.dsl import parse, parser, render
from l2l3.dsl.transform import PROFILE_WORDS
from l2l3.errors import SpecError
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
    ContainerPort,
    Dnat,
    External,
    ExternalRef,
    Fdb,
    Filter,
    Headers,
    Isolated,
    LabelExpr,
    LabelRef,
    LabelSelector,
    NamespaceDecl,
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
    PodNsRef,
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
    SelectorOp,
    SelectorPeer,
    SourceNat,
    Spec,
    StackMode,
    Vxlan,
)


def fast(n: int) -> settings:
    """Settings for one property: ``n`` examples, no deadline."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _parses_or_spec_error(text: str) -> None:
    try:
        spec = parse(text, "fuzz.l2l3")
    except SpecError as e:
        assert e.diagnostics
        for d in e.diagnostics:
            assert d.span.file == "fuzz.l2l3" and d.span.line >= 1 and d.span.column >= 1
            d.render()
    else:
        assert isinstance(spec, Spec)


# ------------------------------------------------------------------ the grammar

names = st.sampled_from(["a", "b", "lan", "eth0", "cni0", "x.1", "web-1", "_n", "ip", "node", "on"])
ips = st.builds(lambda a: str(IPv4Address(a)), st.integers(0, 2**32 - 1)) | st.just("10.0.0.300")
cidrs = st.builds(lambda a, p: f"{IPv4Address(a)}/{p}", st.integers(0, 2**32 - 1), st.integers(0, 33))

TERMINALS = {
    "NAME": names,
    "PODREF": st.builds(lambda a, b: f"{a}/{b}", names, names),
    "LABEL": st.from_regex(r"[a-z]{1,3}=[a-z]{0,3}", fullmatch=True),
    "CIDR": cidrs,
    "HOSTPORT": st.builds(lambda a, p: f"{a}:{p}", ips, st.integers(0, 70000)),
    "IP": ips,
    "INT": st.integers(0, 70000).map(str),
    "MAC": st.sampled_from(["00:15:5d:aa:03:03", "00-15-5D-AA-03-04", "8e:00:00:00:00:01"]),
    "_SEP": st.sampled_from(["\n", ";", "  # c\n", "\n\n", "\r\n"]),
}


def test_grammar_has_no_lalr_conflicts() -> None:
    records: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Grab()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        Lark.open("../../l2l3/dsl/l2l3.lark", rel_to=__file__, parser="lalr", debug=True)
    finally:
        logger.setLevel(old)
        logger.removeHandler(handler)
    assert not [r for r in records if "conflict" in r.lower()]


@fast(200)
@given(from_lark(parser(), explicit=TERMINALS))
def test_grammar_strings_parse_or_raise_spec_error(text: str) -> None:
    _parses_or_spec_error(text)


@fast(300)
@given(st.text())
def test_arbitrary_text_parses_or_raises_spec_error(text: str) -> None:
    _parses_or_spec_error(text)


@fast(300)
@given(st.binary())
def test_arbitrary_bytes_parse_or_raise_spec_error(data: bytes) -> None:
    _parses_or_spec_error(data.decode("utf-8", "replace"))


WORDS = [
    "node",
    "a",
    "linux",
    "{",
    "}",
    "nic",
    "eth0",
    "ip",
    "10.0.0.1/24",
    "on",
    "lan",
    "pod",
    "segment",
    "10.0.0.0/24",
    "check",
    "c:",
    "reach",
    "->",
    "a/p",
    "\n",
    ";",
    "#",
    "labels",
    "k=v",
    "k!=v",
    "!k",
    "k",
    "in",
    "notin",
    "(a,b)",
    "{}",
    "select",
    "namespaces",
    "all-pods",
    "ports",
    "80/sctp=m",
    "sctp",
    "tcp",
    "80-90",
    ",",
    "cluster",
    "cni",
    "policy",
    "namespace",
    "ingress",
    "from",
    "pods",
    "route",
    "via",
    "10.0.0.1",
    "mac",
]


@fast(300)
@given(st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join))
def test_keyword_soup_parses_or_raises_spec_error(text: str) -> None:
    _parses_or_spec_error(text)


# ------------------------------------------------------------------ round trip

addr = st.integers(0, 2**32 - 1).map(IPv4Address)
net = st.builds(lambda a, p: IPv4Network((a, p), strict=False), addr, st.integers(0, 32))
iface = st.builds(lambda a, p: IPv4Interface((a, p)), addr, st.integers(0, 32))
mac = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
port = st.integers(1, 65535)
label_key = st.sampled_from(["app", "tier", "app.kubernetes.io/name", "k-8", "0x"])
labels = st.dictionaries(label_key, st.sampled_from(["", "web", "a.b", "v-1", "0"]), max_size=3).map(
    lambda d: tuple(sorted(d.items()))
)
opt = st.none
small = {"max_size": 2}

label_value = st.sampled_from(["web", "a.b", "v-1", "0"])
exprs = st.one_of(
    st.builds(
        LabelExpr,
        key=label_key,
        op=st.sampled_from([SelectorOp.IN, SelectorOp.NOT_IN]),
        values=st.lists(label_value, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(LabelExpr, key=label_key, op=st.sampled_from([SelectorOp.EXISTS, SelectorOp.DOES_NOT_EXIST])),
    st.builds(LabelExpr, key=label_key, op=st.just(SelectorOp.NOT_IN), values=st.just(("",))),
)
selectors = st.builds(LabelSelector, match=labels, exprs=st.lists(exprs, max_size=3).map(tuple))
ns_selectors = selectors | st.builds(
    lambda v: LabelSelector(match=(("kubernetes.io/metadata.name", v),)), label_value | names
)
port_names = st.sampled_from(["http", "metrics", "dns-tcp", "a1"])
container_ports = st.builds(
    ContainerPort,
    port=port,
    proto=st.sampled_from([Proto.TCP, Proto.UDP, Proto.SCTP]),
    name=opt() | port_names,
)

routes = st.builds(
    lambda p, via, dev, onlink: Route(
        prefix=p, via=via, dev=dev if dev or via is None else None, onlink=onlink
    ),
    net,
    st.none() | addr,
    st.none() | names,
    st.booleans(),
).map(
    lambda r: (
        r if r.via is not None or r.dev is not None else Route(prefix=r.prefix, dev="eth0", onlink=r.onlink)
    )
)


@st.composite
def pods(draw: st.DrawFn) -> Pod:
    mode = draw(st.sampled_from(list(StackMode)))
    if mode is StackMode.HOST_NETWORK:
        return Pod(name=draw(names), mode=mode, namespace=draw(names), labels=draw(labels))
    bare = draw(st.booleans())
    ip = IPv4Interface(draw(addr)) if bare else draw(iface)
    return Pod(
        name=draw(names),
        ip=ip,
        ip_has_prefix=not bare,
        mac=draw(opt() | mac),
        bridge=draw(opt() | names),
        mode=mode,
        namespace=draw(names),
        labels=draw(labels),
        ports=tuple(draw(st.lists(container_ports, **small))),
        routes=tuple(draw(st.lists(routes, **small))),
    )


nodes = st.builds(
    Node,
    name=names,
    os=st.sampled_from(list(OS)),
    nics=st.lists(st.builds(Nic, name=names, ip=iface, mac=opt() | mac, segment=names), **small).map(tuple),
    bridges=st.lists(
        st.builds(
            Bridge,
            name=names,
            kind=st.sampled_from(list(BridgeKind)),
            ip=opt() | iface,
            mac=opt() | mac,
            uplink=opt() | names,
            hairpin=st.booleans(),
            isolated_ports=st.booleans(),
        ),
        **small,
    ).map(tuple),
    pods=st.lists(pods(), **small).map(tuple),
    routes=st.lists(routes, **small).map(tuple),
    snats=st.lists(
        st.builds(
            SourceNat,
            source=net,
            to=opt() | addr,
            exceptions=st.lists(net, **small).map(tuple),
            out=opt() | names,
        ),
        **small,
    ).map(tuple),
    outbound_nats=st.lists(
        st.builds(OutboundNat, bridge=names, exceptions=st.lists(net, **small).map(tuple)), **small
    ).map(tuple),
    dnats=st.lists(
        st.builds(
            Dnat,
            vip=addr,
            proto=st.sampled_from([None, Proto.TCP, Proto.UDP, Proto.SCTP]),
            port=opt() | port,
            backends=st.lists(st.builds(Backend, ip=addr, port=opt() | port), min_size=1, max_size=2).map(
                tuple
            ),
        ),
        **small,
    ).map(tuple),
    routes_to_host=st.lists(st.builds(RouteToHost, bridge=names, prefix=net), **small).map(tuple),
    vxlans=st.lists(
        st.builds(
            Vxlan,
            name=names,
            vni=st.integers(0, 16777215),
            port=port,
            local=addr,
            mac=opt() | mac,
            ip=opt() | iface,
        ),
        **small,
    ).map(tuple),
    fdbs=st.lists(st.builds(Fdb, mac=mac, dst=addr, dev=names), **small).map(tuple),
    neighbors=st.lists(st.builds(Neighbor, ip=addr, mac=mac, dev=names), **small).map(tuple),
    proxy_arps=st.lists(st.builds(ProxyArp, dev=names), **small).map(tuple),
    filters=st.lists(
        st.builds(
            Filter,
            action=st.sampled_from(list(Action)),
            in_dev=opt() | names,
            out_dev=opt() | names,
            source=opt() | net,
            dest=opt() | net,
            proto=opt() | st.sampled_from(list(Proto)),
            port=opt() | port,
        ),
        **small,
    ).map(tuple),
    forwarding=st.booleans(),
    enforce_policy=st.booleans(),
)
shorthand = st.builds(lambda ip, seg, sub: {"ip": ip, "segment": seg, "subnet": sub}, addr, names, net)
nodes_maybe_short = st.builds(lambda n, s: replace(n, **s) if s else n, nodes, st.none() | shorthand)

peers = st.one_of(
    st.builds(SelectorPeer, pods=selectors),
    st.builds(SelectorPeer, pods=opt() | selectors, namespaces=ns_selectors),
    st.builds(CidrPeer, cidr=net, exceptions=st.lists(net, **small).map(tuple)),
    st.just(AnyPeer()),
)
l4 = st.sampled_from([Proto.TCP, Proto.UDP, Proto.SCTP])
ports = st.one_of(
    st.builds(PortSpec, proto=st.just(Proto.ICMP)),
    st.builds(PortSpec, proto=l4, port=opt() | port | port_names),
    st.builds(lambda proto, a, b: PortSpec(proto=proto, port=min(a, b), end_port=max(a, b)), l4, port, port),
)
rules = st.builds(
    PolicyRule, peers=st.lists(peers, max_size=3).map(tuple), ports=st.lists(ports, **small).map(tuple)
)
policies = st.builds(
    Policy,
    name=names,
    namespace=names,
    select=selectors,
    ingress=st.lists(rules, **small).map(tuple),
    egress=st.lists(rules, **small).map(tuple),
    types=st.none()
    | st.sampled_from([frozenset({"ingress"}), frozenset({"egress"}), frozenset({"ingress", "egress"})]),
)

endpoints = st.one_of(
    st.builds(PodRef, node=names, pod=names),
    st.builds(PodNsRef, namespace=names, name=names),
    st.builds(NodeRef, node=names),
    st.builds(NamespaceRef, namespace=names),
    st.builds(LabelRef, selector=selectors, namespace=opt() | names),
    st.builds(ExternalRef, name=names),
    st.builds(AddressRef, prefix=net),
)
headers = st.one_of(
    st.builds(Headers, proto=st.sampled_from([None, Proto.TCP, Proto.UDP, Proto.SCTP]), port=opt() | port),
    st.just(Headers(proto=Proto.ICMP)),
)
queries = st.one_of(
    st.builds(
        Reach,
        src=endpoints,
        dst=endpoints,
        negated=st.booleans(),
        headers=headers,
        via_mac=st.booleans(),
        nat=st.sampled_from(list(NatMode)),
    ),
    st.builds(Isolated, a=endpoints, b=endpoints, headers=headers),
    st.builds(NatAs, src=endpoints, dst=endpoints, ip=addr, headers=headers),
    st.builds(NetnsIsolation, node=opt() | names),
    st.just(NoLoops()),
)
cluster_keys = names.filter(lambda w: w not in PROFILE_WORDS and w not in ("cni",))
clusters = st.builds(
    Cluster,
    name=names,
    pod_cidr=opt() | net,
    service_cidr=opt() | net,
    cni=st.one_of(
        st.just(()),
        st.builds(
            lambda first, rest: (first, *rest),
            names,
            st.lists(st.sampled_from(sorted(PROFILE_WORDS)), max_size=2),
        ),
    ),
    options=st.lists(st.tuples(cluster_keys, names | st.integers(0, 9999).map(str)), **small).map(tuple),
)

specs = st.builds(
    Spec,
    cluster=opt() | clusters,
    namespaces=st.lists(st.builds(NamespaceDecl, name=names, labels=labels), **small).map(tuple),
    segments=st.lists(st.builds(Segment, name=names, prefix=net, gateway=opt() | addr), **small).map(tuple),
    externals=st.lists(st.builds(External, name=names, prefix=net, via=names), **small).map(tuple),
    nodes=st.lists(nodes_maybe_short, **small).map(tuple),
    policies=st.lists(policies, **small).map(tuple),
    checks=st.lists(st.builds(Check, name=names, query=queries), **small).map(tuple),
)


@fast(150)
@given(specs)
def test_render_then_parse_round_trips_generated_specs(spec: Spec) -> None:
    text = render(spec)
    again = parse(text, spec.file, expand=False, validate=False)
    assert again == spec, text
    assert render(again) == text
