"""Validation: one test per rule, each asserting file:line:col and the rendered form."""

from __future__ import annotations

from l2l3.dsl import parse
from l2l3.errors import Diagnostic
from tests.dsl.corpus import PROFILES
from tests.dsl.helpers import BASE, assert_rendered, errors, ok, one_error


def at(text: str, needle: str, nth: int = 1, line_has: str = "") -> str:
    """``t.l2l3:LINE:COL`` of the nth line containing ``needle`` (and ``line_has``), at the needle."""
    seen = 0
    for no, line in enumerate(text.split("\n"), 1):
        if needle in line and line_has in line:
            seen += 1
            if seen == nth:
                return f"t.l2l3:{no}:{line.index(needle) + 1}"
    raise AssertionError(f"{needle!r} not in text")


def check(d: Diagnostic, text: str, needle: str, words: str, nth: int = 1, line_has: str = "") -> None:
    assert str(d.span) == at(text, needle, nth, line_has), d.render()
    assert words in d.message, d.message
    assert_rendered(d)


def add_to_a(stmt: str) -> str:
    return BASE.replace(
        "    route 0.0.0.0/0 via 10.0.0.1 dev eth0\n",
        f"    route 0.0.0.0/0 via 10.0.0.1 dev eth0\n    {stmt}\n",
    )


# ------------------------------------------------------------------ duplicates


def test_resolve_duplicate_segment() -> None:
    text = BASE + "segment lan 10.9.0.0/24\n"
    check(one_error(text), text, "lan 10.9", "duplicate segment lan (first defined at t.l2l3:1)")


def test_resolve_duplicate_external() -> None:
    text = BASE + "external internet 10.9.0.0/24 via lan\n"
    check(one_error(text), text, "internet 10.9", "duplicate external internet")


def test_resolve_duplicate_node() -> None:
    text = BASE + "node a linux\n"
    check(one_error(text), text, "a linux", "duplicate node a", nth=2)


def test_resolve_duplicate_pod_in_node() -> None:
    text = add_to_a("pod web ip 10.244.1.7/24 on cni0 namespace shop")
    check(one_error(text), text, "web ip 10.244.1.7", "duplicate pod web in namespace shop on node a")


def test_resolve_same_pod_name_in_two_namespaces_of_one_node_is_fine() -> None:
    # Kubernetes names pods per namespace (ObjectMeta.name is unique within a namespace):
    # db-0 of shop and db-0 of dev may run on one node.
    ok(add_to_a("pod web ip 10.244.1.7/24 on cni0 namespace dev"))


def test_resolve_duplicate_namespace_declaration() -> None:
    text = BASE + "namespace shop labels a=b\nnamespace shop\n"
    d = one_error(text)
    assert str(d.span) == f"t.l2l3:{text.count(chr(10))}:11" and "duplicate namespace shop" in d.message


def test_resolve_duplicate_interface_across_kinds() -> None:
    text = add_to_a("vxlan cni0 vni 1 local 10.0.0.11")
    check(one_error(text), text, "cni0 vni", "duplicate interface cni0 on node a")


def test_resolve_duplicate_policy_in_namespace() -> None:
    text = BASE + "policy p namespace shop {\n}\npolicy p namespace shop {\n}\npolicy p namespace dev {\n}\n"
    check(one_error(text), text, "p namespace shop", "duplicate policy p in namespace shop", nth=2)


def test_resolve_duplicate_check() -> None:
    text = BASE + "check c: no loops\ncheck c: no loops\n"
    check(one_error(text), text, "c: no", "duplicate check c", nth=2)


# ------------------------------------------------------------------ unknown names


def test_resolve_unknown_segment_of_nic() -> None:
    text = BASE.replace("ip 10.0.0.12/24 on lan", "ip 10.0.0.12/24 on lam")
    check(one_error(text), text, "lam", "unknown segment lam (segments: lan)")


def test_resolve_unknown_segment_of_external() -> None:
    text = BASE.replace("0.0.0.0/0 via lan", "0.0.0.0/0 via wan")
    check(one_error(text), text, "wan", "unknown segment wan")


def test_resolve_unknown_segment_of_shorthand() -> None:
    text = PROFILES.replace("on lan subnet 10.244.1.0/24", "on wan subnet 10.244.1.0/24")
    check(one_error(text), text, "wan", "unknown segment wan")


def test_resolve_pod_on_unknown_bridge() -> None:
    text = BASE.replace("on cni0 namespace", "on br9 namespace")
    check(one_error(text), text, "br9", "unknown bridge br9 on node a (bridges: cni0)")


def test_resolve_pod_on_bridge_of_another_node() -> None:
    text = BASE.replace("on cni0 namespace", "on cbr0 namespace")
    check(one_error(text), text, "cbr0 namespace", "bridge cbr0 belongs to node b, not to node a")


def test_resolve_bridge_uplink_not_a_nic() -> None:
    text = BASE.replace("uplink eth0", "uplink eth1")
    check(one_error(text), text, "eth1", "uplink eth1 is not a nic of node b")


def test_resolve_route_dev_unknown() -> None:
    text = BASE.replace("via 10.0.0.1 dev eth0", "via 10.0.0.1 dev eth7")
    check(one_error(text), text, "eth7", "route dev eth7: no such interface on node a")


def test_resolve_pod_route_dev_not_eth0() -> None:
    text = BASE.replace("labels app=web", "labels app=web {\n        route 0.0.0.0/0 dev net1\n    }")
    check(one_error(text), text, "net1", "a pod's only interface is eth0")


def test_resolve_filter_interfaces_unknown() -> None:
    text = add_to_a("filter deny in eth5 out eth6")
    d1, d2 = errors(text)
    check(d1, text, "eth5", "filter in eth5")
    check(d2, text, "eth6", "filter out eth6")


def test_resolve_masquerade_out_unknown() -> None:
    text = add_to_a("masquerade from 10.244.1.0/24 out wlan0")
    check(one_error(text), text, "wlan0", "out wlan0: no such interface")


def test_resolve_neighbor_dev_unknown() -> None:
    text = add_to_a("neighbor 10.0.0.12 lladdr 00:00:00:00:00:01 dev tun0")
    check(one_error(text), text, "tun0", "neighbor dev tun0")


def test_resolve_proxy_arp_unknown() -> None:
    text = add_to_a("proxy-arp cali0")
    check(one_error(text), text, "cali0", "proxy-arp cali0")


def test_resolve_fdb_dev_not_a_vxlan() -> None:
    text = add_to_a("fdb 00:00:00:00:00:01 dst 10.0.0.12 dev eth0")
    check(one_error(text), text, "eth0", "fdb dev eth0 is not a vxlan of node a", line_has="fdb")


def test_resolve_outbound_nat_unknown_bridge() -> None:
    text = BASE.replace("namespace shop\n}", "namespace shop\n    outbound-nat cbr9\n}")
    check(one_error(text), text, "cbr9", "no bridge cbr9 on node b")


def test_resolve_route_to_host_needs_l2bridge() -> None:
    text = add_to_a("route-to-host cni0 10.96.0.0/12")
    check(
        one_error(text),
        text,
        "cni0 10.96",
        "route-to-host applies to an l2bridge, but cni0 is a linux bridge",
    )


# ------------------------------------------------------------------ addresses


def test_resolve_route_gateway_not_connected() -> None:
    text = BASE.replace("via 10.0.0.1 dev eth0", "via 10.0.9.1 dev eth0")
    check(one_error(text), text, "10.0.9.1", "gateway 10.0.9.1 is in no connected prefix of eth0 of node a")


def test_resolve_route_gateway_onlink_is_fine() -> None:
    ok(BASE.replace("via 10.0.0.1 dev eth0", "via 10.0.9.1 dev eth0 onlink"))


def test_resolve_route_gateway_via_device_route_is_fine() -> None:
    ok(add_to_a("route 169.254.1.1/32 dev cni0\n    route 10.9.0.0/16 via 169.254.1.1"))


def test_resolve_pod_route_gateway_not_connected() -> None:
    text = BASE.replace("labels app=web", "labels app=web {\n        route 0.0.0.0/0 via 10.244.9.1\n    }")
    check(one_error(text), text, "10.244.9.1", "of pod a/web")


def test_resolve_segment_gateway_outside_prefix() -> None:
    text = BASE.replace("gateway 10.0.0.1", "gateway 10.0.1.1")
    diags = errors(text)
    check(diags[0], text, "10.0.1.1", "gateway 10.0.1.1 is outside segment lan's prefix 10.0.0.0/24")


def test_resolve_host_bits_where_a_network_is_expected() -> None:
    text = BASE.replace("route 0.0.0.0/0", "route 10.9.0.5/16")
    check(one_error(text), text, "10.9.0.5/16", "did you mean 10.9.0.0/16?")


def test_resolve_host_bits_in_every_network_position() -> None:
    text = (
        "cluster c {\n    pod-cidr 10.244.0.1/16\n    service-cidr 10.96.0.1/12\n    cni bridge\n}\n"
        "segment lan 10.0.0.1/24\n"
        "external x 1.2.3.4/24 via lan\n"
        "policy p namespace n {\n    ingress from cidr 10.0.0.1/8 except 10.1.0.1/16\n}\n"
        "check q: reach 10.0.0.5/8 -> 10.0.0.0/8\n"
    )
    diags = errors(text)
    assert [d.span.line for d in diags] == [2, 3, 6, 7, 9, 9, 11]
    assert all("host bits" in d.message for d in diags)


def test_resolve_two_pods_with_one_address() -> None:
    text = add_to_a("pod db ip 10.244.1.5/24 on cni0")
    check(one_error(text), text, "10.244.1.5/24", "which pod a/web already has (t.l2l3:6)", line_has="pod db")


# ------------------------------------------------------------------ pods


def test_resolve_pod_needs_ip_and_bridge_without_profile() -> None:
    text = add_to_a("pod lone namespace shop")
    check(one_error(text), text, "lone", "pod lone needs `ip CIDR` and `on BRIDGE`")


def test_resolve_pod_without_prefix_needs_profile() -> None:
    text = add_to_a("pod db ip 10.244.1.6 on cni0")
    check(one_error(text), text, "10.244.1.6", "needs a prefix length here, like 10.244.1.6/24")


def test_resolve_host_network_pod_with_ip() -> None:
    text = add_to_a("pod agent host-network ip 10.0.0.11/24 on cni0")
    check(
        one_error(text),
        text,
        "ip 10.0.0.11/24 on cni0",
        "pod agent is host-network: it has no endpoint, so no `ip`, `on`",
    )


def test_resolve_pod_under_profile_needs_no_bridge() -> None:
    spec = ok(PROFILES, expand=False)
    assert spec.nodes[0].pods[0].bridge is None


# ------------------------------------------------------------------ shorthand


def test_resolve_shorthand_needs_cluster() -> None:
    text = PROFILES.split("}\n", 1)[1]
    diags = errors(text)
    shorthand = [d for d in diags if "node shorthand needs a cluster block" in d.message]
    assert [str(d.span) for d in shorthand] == [at(text, "ip 10.127.130.37"), at(text, "ip 10.127.130.38")]
    assert_rendered(shorthand[0])


# ------------------------------------------------------------------ checks


def test_resolve_check_unknown_node_of_pod() -> None:
    text = BASE + "check c: reach zz/web -> a/web\n"
    check(one_error(text), text, "zz/web", "unknown node zz (nodes: a, b)")


def test_resolve_check_unknown_pod() -> None:
    text = BASE + "check c: reach a/web -> b/nope\n"
    check(one_error(text), text, "b/nope", "node b has no pod nope (pods: iis)")


def test_resolve_check_unknown_node_ref() -> None:
    text = BASE + "check c: reach node q -> a/web\n"
    check(one_error(text), text, "q ->", "unknown node q")


def test_resolve_check_unknown_external() -> None:
    text = BASE + "check c: reach a/web -> external intranet\n"
    check(one_error(text), text, "intranet", "unknown external intranet (externals: internet)")


def _one_warning(text: str) -> Diagnostic:
    from l2l3.dsl import parse_with_warnings

    _spec, warns = parse_with_warnings(text, "t.l2l3")
    (w,) = warns
    assert w.severity == "warning"
    return w


def test_resolve_check_namespace_selecting_no_pod_is_a_warning() -> None:
    """LANGUAGE.md §4 quantifies over the endpoints: an empty set is vacuous, not invalid."""
    text = BASE + "check c: isolated namespace shop <-> namespace dev\n"
    check(_one_warning(text), text, "dev", "namespace dev selects no pod", line_has="check")


def test_resolve_check_labels_selecting_no_pod_is_a_warning() -> None:
    text = BASE + "check c: no reach pods app=db -> a/web\n"
    check(_one_warning(text), text, "pods app=db", "pods app=db selects no pod")


def test_resolve_netns_isolation_unknown_node() -> None:
    text = BASE + "check c: netns-isolation on zz\n"
    check(one_error(text), text, "zz", "unknown node zz")


# ------------------------------------------------------------------ all at once


def test_resolve_reports_every_problem_at_once() -> None:
    text = (
        BASE.replace("on cni0 namespace", "on br9 namespace").replace("uplink eth0", "uplink eth1")
        + "check c: reach zz/web -> external nope\n"
    )
    diags = errors(text)
    assert len(diags) == 4
    assert [d.span.line for d in diags] == sorted(d.span.line for d in diags)


def test_resolve_validate_accepts_what_parse_produced() -> None:
    from l2l3.dsl import validate

    validate(parse(BASE, "t.l2l3"))


# ------------------------------------------------------------------ shared profile routes


def test_resolve_checks_a_shared_peer_route_on_every_node_that_holds_it() -> None:
    """calico bgp routes a peer's block via its node IP, which must be on-link
    (BIRD's direct routes need L2 adjacency, CNI-SEMANTICS §7(d)). The profile
    gives n2 and n3 the same route object about n1: passing on n2 (same
    segment) must not let it pass on n3 (another segment), whichever comes first."""
    nodes = {
        "n1": "node n1 linux ip 10.0.1.10 on a subnet 10.244.1.0/24 {\n    pod p ip 10.244.1.5 namespace x\n}\n",
        "n2": "node n2 linux ip 10.0.1.11 on a subnet 10.244.2.0/24 {\n    pod p ip 10.244.2.5 namespace x\n}\n",
        "n3": "node n3 linux ip 10.0.2.10 on b subnet 10.244.3.0/24 {\n    pod p ip 10.244.3.5 namespace x\n}\n",
    }
    head = (
        "cluster c {\n    pod-cidr 10.244.0.0/16\n    service-cidr 10.96.0.0/12\n    cni calico bgp\n}\n"
        "segment a 10.0.1.0/24 gateway 10.0.1.1\nsegment b 10.0.2.0/24 gateway 10.0.2.1\n"
    )
    for order in (["n1", "n2", "n3"], ["n3", "n1", "n2"]):
        text = head + "".join(nodes[k] for k in order)
        found = sorted(
            (d.message.split()[1], d.message.split(" of node ")[1].split()[0])
            for d in errors(text, expand=True)
            if "is in no connected prefix" in d.message
        )
        assert found == [
            ("10.0.1.10", "n3"),
            ("10.0.1.11", "n3"),
            ("10.0.2.10", "n1"),
            ("10.0.2.10", "n2"),
        ], (order, found)
