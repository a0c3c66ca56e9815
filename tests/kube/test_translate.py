"""Kubernetes objects -> the spec model (l2l3.kube.translate), field by field.

Each test reads a small ``kind: List`` (tests/kube/manifests.py) through the
readers and checks the raw spec the translation makes, the notes it says,
and that the result expands and builds (profiles, validation, Network).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest

from l2l3.dsl.resolve import diagnose
from l2l3.errors import SpecError
from l2l3.kube import load_text
from l2l3.kube.cni import CniChoice
from l2l3.kube.translate import Translation, translate
from l2l3.model.network import Network
from l2l3.model.profiles import expand
from l2l3.model.types import (
    OS,
    CidrPeer,
    ContainerPort,
    LabelExpr,
    LabelSelector,
    PortSpec,
    Proto,
    Segment,
    SelectorOp,
    SelectorPeer,
    StackMode,
)
from tests.kube.manifests import cluster_json, namespace, node, pod, policy

FILE = "cluster.json"
CALICO = CniChoice(words=("calico", "bgp"))


def tr(*objs: Any, cni: CniChoice = CALICO, segments: tuple[Segment, ...] = ()) -> Translation:
    return translate(load_text(cluster_json(*objs), FILE), cni, segments)


def notes(t: Translation, code: str | None = None) -> str:
    return "\n".join(n.message for n in t.notes if code is None or n.code == code)


def built(t: Translation) -> Network:
    """The translation expands, validates and builds, as a hand-written spec does."""
    spec, _ = expand(t.spec)
    errors = [d for d in diagnose(spec) if d.severity == "error"]
    assert not errors, [d.render() for d in errors]
    return Network(spec)


TWO_NODES = (
    node("n1", "10.0.0.11", "10.244.1.0/24"),
    node("n2", "10.0.0.12", "10.244.2.0/24"),
)


# ---------------------------------------------------------------- namespaces, nodes, pods


def test_namespaces_keep_their_labels_but_the_implicit_one() -> None:
    t = tr(namespace("shop", team="storefront"), namespace("dev"), *TWO_NODES)
    assert [(d.name, d.labels) for d in t.spec.namespaces] == [
        ("shop", (("team", "storefront"),)),
        ("dev", ()),
    ]
    assert t.spec.namespaces[0].span.file == FILE and t.spec.namespaces[0].span.line > 0


def test_namespaces_no_object_declares_are_not_written() -> None:
    t = tr(*TWO_NODES, pod("a", "batch", "n1", "10.244.1.5"))
    assert t.spec.namespaces == ()
    assert "namespace batch has no Namespace object" in notes(t)


def test_nodes_become_shorthand_nodes() -> None:
    t = tr(*TWO_NODES, node("w1", "10.0.0.13", "10.244.3.0/24", os="windows"))
    got = [(n.name, n.os, n.ip, n.segment, n.subnet) for n in t.spec.nodes]
    assert got == [
        ("n1", OS.LINUX, IPv4Address("10.0.0.11"), "underlay", IPv4Network("10.244.1.0/24")),
        ("n2", OS.LINUX, IPv4Address("10.0.0.12"), "underlay", IPv4Network("10.244.2.0/24")),
        ("w1", OS.WINDOWS, IPv4Address("10.0.0.13"), "underlay", IPv4Network("10.244.3.0/24")),
    ]
    assert all(n.span.file == FILE and n.span.line > 0 for n in t.spec.nodes)


def test_node_without_os_label_is_linux_by_assumption() -> None:
    t = tr(node("n1", "10.0.0.11", "10.244.1.0/24", os=None))
    assert t.spec.nodes[0].os is OS.LINUX
    assert "no kubernetes.io/os label: linux assumed" in notes(t, "assumed")


def test_node_without_internal_ip_is_skipped_with_its_pods() -> None:
    t = tr(node("n1", None, "10.244.1.0/24"), pod("a", "default", "n1", "10.244.1.5"))
    assert t.spec.nodes == ()
    assert "no IPv4 InternalIP: skipped with its 1 pods" in notes(t)


def test_pods_with_their_fields() -> None:
    t = tr(
        *TWO_NODES,
        pod(
            "web",
            "shop",
            "n1",
            "10.244.1.5",
            {"app": "web", "tier": "fe"},
            [(8080, "TCP", "http"), (53, "UDP", None), (9, "SCTP", "s")],
        ),
        pod("agent", "kube-system", "n2", "10.0.0.12", {"app": "agent"}, host=True),
    )
    web = t.spec.nodes[0].pods[0]
    assert (web.name, web.namespace, web.labels, str(web.ip.ip), web.ip_has_prefix) == (
        "web",
        "shop",
        (("app", "web"), ("tier", "fe")),
        "10.244.1.5",
        False,
    )
    assert web.ports == (
        ContainerPort(port=8080, proto=Proto.TCP, name="http"),
        ContainerPort(port=53, proto=Proto.UDP),
        ContainerPort(port=9, proto=Proto.SCTP, name="s"),
    )
    agent = t.spec.nodes[1].pods[0]
    assert agent.mode is StackMode.HOST_NETWORK and agent.ip is None
    assert web.span.line > 0 and web.span.line != agent.span.line
    built(t)


def test_two_pods_of_one_name_in_two_namespaces_on_one_node() -> None:
    t = tr(*TWO_NODES, pod("web", "a", "n1", "10.244.1.5"), pod("web", "b", "n1", "10.244.1.6"))
    assert [(p.namespace, p.name) for p in t.spec.nodes[0].pods] == [("a", "web"), ("b", "web")]
    built(t)


def test_pod_on_an_unknown_node_is_skipped() -> None:
    t = tr(*TWO_NODES, pod("a", "default", "n9", "10.244.9.5"), pod("b", "default", "n9", "10.244.9.6"))
    assert all(not n.pods for n in t.spec.nodes)
    assert "2 pods on node n9 skipped: no Node n9 among the inputs" in notes(t, "skipped-pod")


def test_ipv6_only_pod_is_skipped() -> None:
    t = tr(*TWO_NODES, pod("six", "default", "n1", "fd00::5"))
    assert not t.spec.nodes[0].pods
    assert "no IPv4 address" in notes(t, "skipped-pod")


def test_fields_read_but_not_modelled_are_counted_notes() -> None:
    dual = pod("d", "default", "n1", "10.244.1.7", ports=[(80, "TCP", "http")])
    dual["status"]["podIPs"] = [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}]
    dual["spec"]["containers"][0]["ports"][0]["hostPort"] = 8080
    dual["spec"]["containers"][0]["ports"][0]["hostIP"] = "10.0.0.11"
    n1 = node("n1", "10.0.0.11", "10.244.1.0/24")
    n1["status"]["addresses"].append({"type": "ExternalIP", "address": "203.0.113.5"})
    t = tr(n1, dual)
    text = notes(t, "unread-field")
    assert "1 pod with more than one address (dual-stack): only the IPv4 one is modelled" in text
    assert "1 pod with a hostIP" in text and "1 node with an ExternalIP" in text
    assert str(t.spec.nodes[0].pods[0].ip.ip) == "10.244.1.7"
    assert t.spec.nodes[0].pods[0].ports[0].host_port == 8080  # programmed as portmap does


def test_finished_and_unscheduled_pods_are_the_readers_notes() -> None:
    done = pod("job", "default", "n1", "10.244.1.9")
    done["status"]["phase"] = "Succeeded"
    t = tr(*TWO_NODES, done)
    assert not t.spec.nodes[0].pods and "finished (phase Succeeded)" in notes(t)


# ---------------------------------------------------------------- node subnets


def test_subnet_inferred_without_pod_cidr_widened_to_a_block() -> None:
    t = tr(
        node("n1", "10.0.0.11"),
        pod("a", "default", "n1", "10.48.7.66"),
        pod("b", "default", "n1", "10.48.7.70"),
    )
    assert t.spec.nodes[0].subnet == IPv4Network("10.48.7.64/26")
    assert "inferred from its pods' addresses (it has no podCIDR)" in notes(t, "assumed")
    built(t)


def test_subnet_inferred_when_pods_lie_outside_the_pod_cidr() -> None:
    """Calico's IPAM does not use the node's podCIDR."""
    t = tr(
        node("n1", "10.0.0.11", "10.244.1.0/24"),
        node("n2", "10.0.0.12", "10.244.2.0/24"),
        pod("a", "default", "n1", "192.168.5.1"),
        pod("b", "default", "n2", "192.168.5.70"),
    )
    subnets = [n.subnet for n in t.spec.nodes]
    assert subnets == [IPv4Network("192.168.5.0/26"), IPv4Network("192.168.5.64/26")]
    assert "does not hold all its pods" in notes(t, "assumed")
    built(t)


def test_inferred_subnets_are_not_widened_into_each_other() -> None:
    t = tr(
        node("n1", "10.0.0.11"),
        node("n2", "10.0.0.12"),
        pod("a", "default", "n1", "10.48.0.1"),
        pod("b", "default", "n2", "10.48.0.9"),
    )
    a, b = (n.subnet for n in t.spec.nodes)
    assert a is not None and b is not None and not a.overlaps(b)
    built(t)


def test_ipam_subnet_of_the_config_for_a_node_without_pod_cidr() -> None:
    t = tr(
        node("n1", "10.0.0.11"),
        pod("a", "default", "n1", "10.88.0.5"),
        cni=CniChoice(words=("bridge",), ipam_subnet=IPv4Network("10.88.0.0/16")),
    )
    assert t.spec.nodes[0].subnet == IPv4Network("10.88.0.0/16")
    assert "the CNI config's IPAM subnet" in notes(t, "assumed")


def test_node_with_no_subnet_at_all_is_written_with_primitives() -> None:
    t = tr(*TWO_NODES, node("cp", "10.0.0.10"), pod("etcd", "kube-system", "cp", "10.0.0.10", host=True))
    cp = t.spec.nodes[2]
    assert cp.subnet is None and cp.ip is None and [n.name for n in cp.nics] == ["eth0"]
    assert str(cp.nics[0].ip) == "10.0.0.10/29" and cp.routes[0].via == IPv4Address("10.0.0.9")
    assert "without a pod subnet" in notes(t)
    built(t)


# ---------------------------------------------------------------- underlay


def test_nodes_on_the_segment_of_a_spec_file() -> None:
    lan = Segment(name="lan", prefix=IPv4Network("10.0.0.0/24"), gateway=IPv4Address("10.0.0.1"))
    wide = Segment(name="wide", prefix=IPv4Network("10.0.0.0/16"))
    t = tr(*TWO_NODES, node("far", "10.9.0.1", "10.244.3.0/24"), segments=(wide, lan))
    assert [n.segment for n in t.spec.nodes] == ["lan", "lan", "underlay"]  # the longest prefix wins
    assert [s.name for s in t.spec.segments] == ["underlay"]
    assert "node far (10.9.0.1)" in notes(t, "assumed")


def test_assumed_segment_covers_the_nodes_and_has_a_free_gateway() -> None:
    t = tr(*TWO_NODES)
    (seg,) = t.spec.segments
    assert (seg.prefix, seg.gateway) == (IPv4Network("10.0.0.8/29"), IPv4Address("10.0.0.9"))
    assert "one L2 segment underlay 10.0.0.8/29" in notes(t, "assumed")


def test_assumed_segment_of_one_node_is_widened_for_the_gateway() -> None:
    t = tr(node("n1", "10.0.0.11", "10.244.1.0/24"))
    (seg,) = t.spec.segments
    assert (seg.prefix, seg.gateway) == (IPv4Network("10.0.0.8/30"), IPv4Address("10.0.0.9"))
    assert "widened from 10.0.0.11/32" in notes(t, "assumed")


def test_assumed_segment_name_does_not_clash() -> None:
    used = Segment(name="underlay", prefix=IPv4Network("172.16.0.0/24"))
    t = tr(*TWO_NODES, segments=(used,))
    assert [s.name for s in t.spec.segments] == ["underlay2"]


# ---------------------------------------------------------------- NetworkPolicy


def pol(spec: dict[str, Any], *more: Any) -> Any:
    t = tr(*TWO_NODES, policy("p", "shop", spec), *more)
    (p,) = t.spec.policies
    return p


def test_policy_types_as_the_api_server_defaults_them() -> None:
    assert pol({"podSelector": {}}).directions == frozenset({"ingress"})
    assert pol({"podSelector": {}, "egress": [{}]}).directions == frozenset({"ingress", "egress"})
    assert pol({"podSelector": {}, "egress": []}).directions == frozenset({"ingress"})
    p = pol({"podSelector": {}, "policyTypes": ["Egress"]})
    assert p.types == frozenset({"egress"}) and p.directions == frozenset({"egress"})
    p = pol({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert p.directions == frozenset({"ingress", "egress"}) and p.ingress == p.egress == ()


def test_absent_empty_and_allow_all_rules() -> None:
    assert pol({"podSelector": {}}).ingress == ()
    assert pol({"podSelector": {}, "ingress": []}).ingress == ()
    (rule,) = pol({"podSelector": {}, "ingress": [{}]}).ingress
    assert rule.peers == () and rule.ports == ()
    (rule,) = pol({"podSelector": {}, "ingress": [{"from": []}]}).ingress  # from: [] is every peer too
    assert rule.peers == ()


def test_selectors_match_labels_and_expressions() -> None:
    p = pol(
        {
            "podSelector": {
                "matchLabels": {"b": "2", "a": "1"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "qa"]},
                    {"key": "tier", "operator": "NotIn", "values": ["db"]},
                    {"key": "team", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            }
        }
    )
    assert p.select == LabelSelector(
        match=(("a", "1"), ("b", "2")),
        exprs=(
            LabelExpr(key="env", op=SelectorOp.IN, values=("prod", "qa")),
            LabelExpr(key="tier", op=SelectorOp.NOT_IN, values=("db",)),
            LabelExpr(key="team", op=SelectorOp.EXISTS),
            LabelExpr(key="legacy", op=SelectorOp.DOES_NOT_EXIST),
        ),
    )


def test_peers_pod_namespace_both_and_ip_block() -> None:
    (rule,) = pol(
        {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"app": "api"}}},
                        {"namespaceSelector": {}},
                        {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {}},
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.0.0/16"]}},
                    ]
                }
            ],
        }
    ).ingress
    assert rule.peers == (
        SelectorPeer(pods=LabelSelector(match=(("app", "api"),))),
        SelectorPeer(namespaces=LabelSelector()),
        SelectorPeer(pods=LabelSelector(), namespaces=LabelSelector(match=(("team", "a"),))),
        CidrPeer(
            cidr=IPv4Network("10.0.0.0/8"),
            exceptions=(IPv4Network("10.1.0.0/16"), IPv4Network("10.2.0.0/16")),
        ),
    )
    assert rule.span.line > 0


def test_ipv6_ip_blocks_are_left_out_with_a_note() -> None:
    p = pol(
        {
            "podSelector": {},
            "egress": [
                {"to": [{"ipBlock": {"cidr": "fd00::/8"}}, {"ipBlock": {"cidr": "10.0.0.0/8"}}]},
                {"to": [{"ipBlock": {"cidr": "fd00::/8"}}]},
            ],
        }
    )
    (rule,) = p.egress  # the IPv6-only rule admits nothing in an IPv4 model
    assert rule.peers == (CidrPeer(cidr=IPv4Network("10.0.0.0/8")),)
    assert p.directions == frozenset({"ingress", "egress"})  # still isolates egress


def test_ports_protocols_named_and_ranges() -> None:
    (rule,) = pol(
        {
            "podSelector": {},
            "ingress": [
                {
                    "ports": [
                        {"port": 80},
                        {"protocol": "UDP", "port": 53},
                        {"protocol": "SCTP"},
                        {"port": "http"},
                        {"protocol": "TCP", "port": 8000, "endPort": 8100},
                    ]
                }
            ],
        }
    ).ingress
    assert rule.ports == (
        PortSpec(proto=Proto.TCP, port=80),
        PortSpec(proto=Proto.UDP, port=53),
        PortSpec(proto=Proto.SCTP),
        PortSpec(proto=Proto.TCP, port="http"),
        PortSpec(proto=Proto.TCP, port=8000, end_port=8100),
    )


def test_policies_build_and_are_enforced_under_calico() -> None:
    t = tr(
        *TWO_NODES,
        pod("web", "shop", "n1", "10.244.1.5", {"app": "web"}, [(8080, "TCP", "http")]),
        pod("api", "shop", "n2", "10.244.2.5", {"app": "api"}),
        policy(
            "web",
            "shop",
            {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"ports": [{"port": "http"}]}]},
        ),
    )
    net = built(t)
    from l2l3.api import evaluate

    assert evaluate(net, "reach pod shop/api -> pod shop/web tcp port 8080").status.value == "holds"
    assert evaluate(net, "no reach pod shop/api -> pod shop/web tcp port 80").status.value == "holds"


# ---------------------------------------------------------------- CNI extras and other kinds


def test_windows_routes_to_host_from_the_cni_config() -> None:
    span = load_text(cluster_json(), FILE).notes  # any span will do
    del span
    from l2l3.kube.errors import Span as KSpan

    at = KSpan("win-bridge.conf", 3, 5)
    cni = CniChoice(
        words=("win-bridge",),
        windows_routes=((IPv4Network("10.0.0.13/32"), at), (IPv4Network("10.200.0.0/16"), at)),
    )
    t = tr(
        node("w1", "10.0.0.13", "10.244.3.0/24", os="windows"),
        node("w2", "10.0.0.14", "10.244.4.0/24", os="windows"),
        cni=cni,
    )
    for n in t.spec.nodes:  # the node's own /32 is the profile's; the other prefix is extra
        assert [(r.bridge, str(r.prefix)) for r in n.routes_to_host] == [("cbr0", "10.200.0.0/16")]
        assert n.routes_to_host[0].span.file == "win-bridge.conf"
    built(t)


def test_overlay_gets_each_nodes_own_address() -> None:
    from l2l3.kube.errors import Span as KSpan

    cni = CniChoice(words=("win-overlay",), windows_routes=((IPv4Network("10.0.0.13/32"), KSpan("c", 1, 1)),))
    t = tr(
        node("w1", "10.0.0.13", "10.244.3.0/24", os="windows"),
        node("w2", "10.0.0.14", "10.244.4.0/24", os="windows"),
        cni=cni,
    )
    assert [str(n.routes_to_host[0].prefix) for n in t.spec.nodes] == ["10.0.0.13/32", "10.0.0.14/32"]
    assert all(r.bridge == "vxlan0" for n in t.spec.nodes for r in n.routes_to_host)
    built(t)


def test_services_are_translated() -> None:
    """Services are translated (tests/kube/test_services_in.py has the details); one without a
    selector or EndpointSlice has no endpoint, and the note says so."""
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"ports": [{"port": 80}], "clusterIP": "10.96.0.10"},
    }
    t = tr(*TWO_NODES, svc)
    (got,) = t.spec.services
    assert (got.namespace, got.name, str(got.ip), got.endpoints) == ("shop", "web", "10.96.0.10", ())
    assert "Service shop/web has no selector and no EndpointSlice: it has no endpoint" in notes(t)


def test_cluster_block_from_the_choice() -> None:
    cni = CniChoice(
        words=("flannel", "vxlan"),
        options=(("vni", "4096"),),
        pod_cidr=IPv4Network("10.244.0.0/16"),
        service_cidr=IPv4Network("10.96.0.0/12"),
    )
    block = tr(*TWO_NODES, cni=cni).spec.cluster
    assert block is not None
    assert (block.cni, block.options, block.pod_cidr, block.service_cidr) == (
        ("flannel", "vxlan"),
        (("vni", "4096"),),
        IPv4Network("10.244.0.0/16"),
        IPv4Network("10.96.0.0/12"),
    )


def test_pod_cidr_that_does_not_hold_the_nodes_is_left_out() -> None:
    cni = CniChoice(words=("flannel", "host-gw"), pod_cidr=IPv4Network("10.32.0.0/16"))
    t = tr(*TWO_NODES, cni=cni)
    assert t.spec.cluster is not None and t.spec.cluster.pod_cidr is None
    assert "pod-cidr left out" in notes(t, "assumed")
    built(t)


@pytest.mark.parametrize(
    "words",
    [
        ("calico", "bgp"),
        ("calico", "ipip"),
        ("calico", "vxlan"),
        ("flannel", "host-gw"),
        ("flannel", "vxlan"),
        ("kindnet",),
        ("antrea",),
        ("bridge",),
    ],
)
def test_every_linux_profile_builds(words: tuple[str, ...]) -> None:
    t = tr(
        *TWO_NODES,
        pod("a", "x", "n1", "10.244.1.5"),
        pod("b", "y", "n2", "10.244.2.5"),
        cni=CniChoice(words=words),
    )
    built(t)


def test_duplicate_pod_address_is_an_input_error_at_the_pod() -> None:
    t = tr(*TWO_NODES, pod("a", "x", "n1", "10.244.1.5"), pod("b", "x", "n1", "10.244.1.5"))
    spec, _ = expand(t.spec)
    errors = [d for d in diagnose(spec) if d.severity == "error"]
    assert errors and all(d.span.file == FILE for d in errors)
    with pytest.raises(SpecError):
        from l2l3.dsl.resolve import validate

        validate(spec)
