"""Parsing: the LANGUAGE.md contract and the syntax decisions of docs/language.md."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from l2l3.dsl import parse
from l2l3.model.types import (
    OS,
    Action,
    AddressRef,
    AnyPeer,
    Backend,
    BridgeKind,
    CidrPeer,
    ExternalRef,
    Headers,
    Isolated,
    LabelRef,
    LabelSelector,
    NamespaceRef,
    NatAs,
    NatMode,
    NetnsIsolation,
    NodeRef,
    NoLoops,
    PodRef,
    PortSpec,
    Proto,
    Reach,
    SelectorPeer,
    Span,
    StackMode,
)
from tests.dsl.corpus import CHECKS, POLICIES, PRIMITIVES, PROFILES
from tests.dsl.helpers import BASE, errors, ok

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.l2l3"))

DEV_POD = "node dev1 linux {\n    nic eth0 ip 10.127.130.50/24 on lan\n    bridge br linux ip 10.250.0.1/24\n    pod d ip 10.250.0.2/24 on br namespace dev\n}\n"


# ------------------------------------------------------------------ contract examples


def test_parse_language_primitives_example() -> None:
    spec = ok(PRIMITIVES)
    assert [s.name for s in spec.segments] == ["lan"]
    assert spec.segments[0].gateway == IPv4Address("10.127.130.1")
    assert [e.name for e in spec.externals] == ["web", "internet"]
    lin1, win1 = spec.nodes
    assert lin1.os is OS.LINUX and win1.os is OS.WINDOWS
    assert lin1.nics[0].mac == "52:54:00:00:00:37"
    web = lin1.pods[0]
    assert web.ip == IPv4Interface("10.244.1.5/24") and web.bridge == "cni0"
    assert web.namespace == "shop" and web.labels == (("app", "web"),)
    assert web.routes[0].via == IPv4Address("10.244.1.1")
    assert lin1.pods[1].mode is StackMode.HOST_NETWORK and lin1.pods[1].namespace == "kube-system"
    assert lin1.snats[0].to is None
    assert lin1.snats[0].exceptions == (IPv4Network("10.244.0.0/16"), IPv4Network("224.0.0.0/4"))
    assert win1.bridges[0].kind is BridgeKind.L2BRIDGE and win1.bridges[0].uplink == "eth0"
    assert win1.pods[1].mode is StackMode.NO_NETNS
    assert win1.outbound_nats[0].bridge == "cbr0" and len(win1.outbound_nats[0].exceptions) == 3
    assert win1.routes_to_host[0].prefix == IPv4Network("10.96.0.0/12")


def test_parse_language_profiles_example() -> None:
    spec = ok(PROFILES, expand=False)
    c = spec.cluster
    assert c is not None and c.name == "demo" and c.cni == ("flannel", "host-gw")
    assert c.pod_cidr == IPv4Network("10.244.0.0/16") and c.service_cidr == IPv4Network("10.96.0.0/12")
    lin1 = spec.nodes[0]
    assert (lin1.ip, lin1.segment, lin1.subnet) == (
        IPv4Address("10.127.130.37"),
        "lan",
        IPv4Network("10.244.1.0/24"),
    )
    web = lin1.pods[0]
    assert web.ip == IPv4Interface("10.244.1.5/32") and not web.ip_has_prefix and web.bridge is None


def test_parse_language_policies_example() -> None:
    (pol,) = ok(POLICIES).policies
    assert (pol.name, pol.namespace, pol.select) == (
        "web-ingress",
        "shop",
        LabelSelector(match=(("app", "web"),)),
    )
    first, second = pol.ingress
    assert first.peers == (SelectorPeer(pods=LabelSelector(match=(("app", "api"),))),)
    assert first.ports == (PortSpec(proto=Proto.TCP, port=8080),)
    assert second.peers == (SelectorPeer(namespaces=_ns_is("monitoring")),)
    (eg,) = pol.egress
    assert eg.peers == (CidrPeer(cidr=IPv4Network("0.0.0.0/0"), exceptions=(IPv4Network("10.0.0.0/8"),)),)
    assert pol.types is None


def test_parse_language_checks_example() -> None:
    spec = ok(PRIMITIVES + DEV_POD + CHECKS)
    q = {c.name: c.query for c in spec.checks}
    assert q["same-node-l2"] == Reach(
        src=PodRef(node="win1", pod="iis"),
        dst=PodRef(node="win1", pod="legacy"),
        via_mac=True,
        nat=NatMode.WITHOUT,
    )
    assert q["cross-node"] == Reach(
        src=PodRef(node="win1", pod="iis"),
        dst=PodRef(node="lin1", pod="web"),
        headers=Headers(proto=Proto.TCP, port=80),
    )
    assert q["no-mac-across"] == Reach(
        src=PodRef(node="win1", pod="iis"), dst=PodRef(node="lin1", pod="web"), negated=True, via_mac=True
    )
    assert q["egress-nat"] == NatAs(
        src=PodRef(node="win1", pod="iis"), dst=ExternalRef(name="web"), ip=IPv4Address("10.127.130.38")
    )
    assert q["tenants"] == Isolated(a=NamespaceRef(namespace="shop"), b=NamespaceRef(namespace="dev"))
    assert q["stacks"] == NetnsIsolation(node="win1")


def test_parse_language_checks_example_warns_that_dev_has_no_pod() -> None:
    from l2l3.dsl import parse_with_warnings

    _spec, warns = parse_with_warnings(PRIMITIVES + CHECKS, "t.l2l3")
    assert any("namespace dev selects no pod" in w.message for w in warns)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_parse_project_examples(example: Path) -> None:
    assert parse(example.read_text(), str(example)).nodes


# ------------------------------------------------------------------ layout


def test_parse_empty_text_is_an_empty_spec() -> None:
    spec = ok("")
    assert spec.nodes == () and spec.checks == () and spec.cluster is None
    assert ok("# just a comment\n\n   \n# another") == spec


def test_parse_crlf_and_tabs() -> None:
    text = PRIMITIVES.replace("    ", "\t").replace("\n", "\r\n")
    assert ok(text) == ok(PRIMITIVES)


def test_parse_semicolons_separate_statements() -> None:
    text = "segment lan 10.0.0.0/24; node a linux { nic eth0 ip 10.0.0.1/24 on lan; bridge b linux ip 10.1.0.1/24 }"
    spec = ok(text)
    assert [x.name for x in spec.nodes[0].nics] == ["eth0"] and spec.nodes[0].bridges[0].name == "b"


def test_parse_pod_block_on_one_line() -> None:
    spec = ok(BASE.replace("labels app=web", "labels app=web { route 0.0.0.0/0 via 10.244.1.1 }"))
    assert spec.nodes[0].pods[0].routes[0].prefix == IPv4Network("0.0.0.0/0")


def test_parse_spans_point_at_statements() -> None:
    spec = ok(BASE)
    assert spec.segments[0].span == Span("t.l2l3", 1, 1)
    assert spec.nodes[1].span == Span("t.l2l3", 9, 1)
    assert spec.nodes[0].pods[0].span == Span("t.l2l3", 6, 5)


def test_parse_keywords_are_reserved_only_where_they_fit() -> None:
    spec = ok("segment node 10.0.0.0/24\nnode linux linux {\n    nic ip ip 10.0.0.1/24 on node\n}\n")
    assert spec.nodes[0].name == "linux" and spec.nodes[0].nics[0].name == "ip"


def test_parse_keywords_are_case_sensitive() -> None:
    (d,) = errors("Segment lan 10.0.0.0/24\n")
    assert "did you mean `segment`" in d.message


# ------------------------------------------------------------------ statements


def test_parse_mac_normalised_from_windows_form() -> None:
    spec = ok(BASE.replace("on cbr0 namespace", "mac 00-15-5D-AA-03-03 on cbr0 namespace"))
    assert spec.nodes[1].pods[0].mac == "00:15:5d:aa:03:03"


def test_parse_pod_options_in_any_order() -> None:
    a = ok(BASE)
    b = ok(
        BASE.replace(
            "pod web ip 10.244.1.5/24 on cni0 namespace shop labels app=web",
            "pod web labels app=web namespace shop on cni0 ip 10.244.1.5/24",
        )
    )
    assert a == b


def test_parse_labels_sorted_and_kubernetes_style() -> None:
    spec = ok(BASE.replace("labels app=web", "labels tier=front, app.kubernetes.io/name=web app=web"))
    assert spec.nodes[0].pods[0].labels == (
        ("app", "web"),
        ("app.kubernetes.io/name", "web"),
        ("tier", "front"),
    )


def test_parse_node_extensions() -> None:
    spec = ok(
        "segment lan 10.0.0.0/24\n"
        "node a linux {\n"
        "    nic eth0 ip 10.0.0.1/24 on lan\n"
        "    bridge mv macvlan uplink eth0 hairpin isolated-ports\n"
        "    vxlan flannel.1 vni 4096 port 4789 local 10.0.0.1 mac 8e:00:00:00:00:01 ip 10.244.1.0/32\n"
        "    fdb 8e:00:00:00:00:02 dst 10.0.0.2 dev flannel.1\n"
        "    neighbor 10.244.2.0 lladdr 8E-00-00-00-00-02 dev flannel.1\n"
        "    proxy-arp eth0\n"
        "    snat from 10.244.1.0/24 out eth0 to 10.0.0.1 except 10.244.0.0/16\n"
        "    dnat 10.96.0.10 udp port 53 to 10.244.1.9:5353, 10.244.1.10\n"
        "    filter deny tcp in eth0 port 22 from 10.0.0.0/8 to 10.244.1.0/24 out mv\n"
        "    forwarding off\n"
        "    enforce-policy on\n"
        "}\n"
    )
    n = spec.nodes[0]
    assert n.bridges[0].kind is BridgeKind.MACVLAN and n.bridges[0].hairpin and n.bridges[0].isolated_ports
    v = n.vxlans[0]
    assert (v.vni, v.port, v.local, v.ip) == (
        4096,
        4789,
        IPv4Address("10.0.0.1"),
        IPv4Interface("10.244.1.0/32"),
    )
    assert n.neighbors[0].mac == "8e:00:00:00:00:02"
    assert n.snats[0].to == IPv4Address("10.0.0.1") and n.snats[0].out == "eth0"
    d = n.dnats[0]
    assert d.proto is Proto.UDP and d.port == 53
    assert d.backends == (
        Backend(ip=IPv4Address("10.244.1.9"), port=5353),
        Backend(ip=IPv4Address("10.244.1.10")),
    )
    f = n.filters[0]
    assert (f.action, f.in_dev, f.out_dev, f.proto, f.port) == (Action.DENY, "eth0", "mv", Proto.TCP, 22)
    assert f.source == IPv4Network("10.0.0.0/8") and f.dest == IPv4Network("10.244.1.0/24")
    assert not n.forwarding and n.enforce_policy


def test_parse_vxlan_default_port() -> None:
    spec = ok("node a linux {\n    vxlan v vni 1 local 10.0.0.1\n}\n")
    assert spec.nodes[0].vxlans[0].port == 8472


def test_parse_cluster_cni_words_and_options() -> None:
    spec = ok("cluster c {\n    cni bridge ipmasq off\n    mtu 1450\n}\n", expand=False)
    assert spec.cluster is not None
    assert spec.cluster.cni == ("bridge",)
    assert spec.cluster.options == (("ipmasq", "off"), ("mtu", "1450"))
    spec = ok("cluster c { cni calico vxlan }", expand=False)
    assert spec.cluster is not None and spec.cluster.cni == ("calico", "vxlan")


def _ns_is(name: str) -> LabelSelector:
    return LabelSelector(match=(("kubernetes.io/metadata.name", name),))


def test_parse_policy_peers_and_ports() -> None:
    spec = ok(
        "policy p namespace shop {\n"
        "    select app=web, tier=front\n"
        "    ingress from pods app=api, role=x, namespace mon pods team=a, cidr 10.0.0.0/8 except 10.1.0.0/16, "
        "10.2.0.0/16, cidr 192.168.0.0/16, all tcp port 80, udp 53, icmp\n"
        "    egress\n"
        "    types ingress, egress\n"
        "}\n"
    )
    pol = spec.policies[0]
    assert pol.select == LabelSelector(match=(("app", "web"), ("tier", "front")))
    (rule,) = pol.ingress
    assert rule.peers == (
        SelectorPeer(pods=LabelSelector(match=(("app", "api"), ("role", "x")))),
        SelectorPeer(pods=LabelSelector(match=(("team", "a"),)), namespaces=_ns_is("mon")),
        CidrPeer(
            cidr=IPv4Network("10.0.0.0/8"),
            exceptions=(IPv4Network("10.1.0.0/16"), IPv4Network("10.2.0.0/16")),
        ),
        CidrPeer(cidr=IPv4Network("192.168.0.0/16")),
        AnyPeer(),
    )
    assert rule.ports == (
        PortSpec(proto=Proto.TCP, port=80),
        PortSpec(proto=Proto.UDP, port=53),
        PortSpec(proto=Proto.ICMP),
    )
    assert pol.egress[0].peers == () and pol.types == frozenset({"ingress", "egress"})


def test_parse_policy_empty_select() -> None:
    assert ok("policy p namespace shop {\n    select\n}\n").policies[0].select == LabelSelector()
    assert ok("policy p namespace shop {\n}\n").policies[0].select == LabelSelector()
    assert ok("policy p namespace shop {\n    select {}\n}\n").policies[0].select == LabelSelector()


def test_parse_query_forms() -> None:
    spec = parse(
        "check a: reach node n1 -> 10.96.0.10 udp port 53 with nat\n"
        "check b: no reach pods app=web,tier=x -> 10.0.0.0/8\n"
        "check c: nat namespace shop -> external web tcp as 1.2.3.4 port 443\n"
        "check d: netns-isolation\n"
        "check e: no loops\n"
        "check f: reach a/b -> c/d without nat port 80 tcp via mac\n",
        validate=False,
    )
    q = [c.query for c in spec.checks]
    assert q[0] == Reach(
        src=NodeRef(node="n1"),
        dst=AddressRef(prefix=IPv4Network("10.96.0.10/32")),
        headers=Headers(proto=Proto.UDP, port=53),
        nat=NatMode.WITH,
    )
    assert q[1] == Reach(
        src=LabelRef(selector=LabelSelector(match=(("app", "web"), ("tier", "x")))),
        dst=AddressRef(prefix=IPv4Network("10.0.0.0/8")),
        negated=True,
    )
    assert q[2] == NatAs(
        src=NamespaceRef(namespace="shop"),
        dst=ExternalRef(name="web"),
        ip=IPv4Address("1.2.3.4"),
        headers=Headers(proto=Proto.TCP, port=443),
    )
    assert q[3] == NetnsIsolation() and q[4] == NoLoops()
    assert q[5] == Reach(
        src=PodRef(node="a", pod="b"),
        dst=PodRef(node="c", pod="d"),
        headers=Headers(proto=Proto.TCP, port=80),
        via_mac=True,
        nat=NatMode.WITHOUT,
    )


def test_parse_source_and_file_are_kept() -> None:
    spec = ok(BASE)
    assert spec.file == "t.l2l3" and spec.source == BASE
