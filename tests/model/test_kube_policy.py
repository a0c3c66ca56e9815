"""Kubernetes NetworkPolicy constructs, one rule per test, in BOTH engines.

Each test names its source: the Kubernetes API reference (networking.k8s.io/v1
NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, LabelSelector), the
NetworkPolicy concept page (kubernetes.io/docs/concepts/services-networking/
network-policies), or an upstream e2e test of test/e2e/network/netpol (the
truth tables of tests/kube/e2e). Every verdict is asked of the simulator (a
concrete packet, :func:`l2l3.trace`) and of the z3 engine (the checker's
``reach``), and the two must agree.
"""

from __future__ import annotations

import pytest

import l2l3
from l2l3.checking import Verdict
from l2l3.errors import QueryError
from l2l3.model.endpoints import resolve
from l2l3.model.network import Network
from l2l3.model.types import PodNsRef, PodRef, Proto

#: one enforcing node; pods x/a x/b y/a y/b z/a (label pod=NAME), y/b also tier=db
CLUSTER = """
segment lan 10.0.0.0/24
namespace x labels team=red
namespace y labels team=blue env=prod
node n linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br linux ip 10.244.1.1/24
    pod xa ip 10.244.1.10/24 on br namespace x labels pod=a ports 80/tcp=http, 81/tcp, 5000/sctp=metrics
    pod xb ip 10.244.1.11/24 on br namespace x labels pod=b ports 8080/tcp=http, 81/udp=dns
    pod ya ip 10.244.1.12/24 on br namespace y labels pod=a
    pod yb ip 10.244.1.13/24 on br namespace y labels pod=b tier=db
    pod za ip 10.244.1.14/24 on br namespace z labels pod=a
    pod agent host-network namespace x labels pod=a
    enforce-policy on
}
"""
PODS = {"x/a": "n/xa", "x/b": "n/xb", "y/a": "n/ya", "y/b": "n/yb", "z/a": "n/za"}
IPS = {
    "n/xa": "10.244.1.10",
    "n/xb": "10.244.1.11",
    "n/ya": "10.244.1.12",
    "n/yb": "10.244.1.13",
    "n/za": "10.244.1.14",
}


def net_with(policies: str, extra: str = "") -> Network:
    return l2l3.Network(l2l3.loads(CLUSTER + extra + policies, "t.l2l3"))


def reach(net: Network, src: str, dst: str, proto: Proto = Proto.TCP, port: int = 80) -> bool:
    """Whether ``src`` reaches ``dst`` (NODE/POD) with one packet, asked of both engines (they must agree)."""
    traces = l2l3.trace(net, src, IPS[dst], proto, port)
    sim = any(t.delivered and t.delivered_to == dst for t in traces)
    words = f"{proto}" + (f" port {port}" if proto is not Proto.ICMP else "")
    res = l2l3.evaluate(net, f"reach {src} -> {dst} {words}")
    assert res.status in (Verdict.HOLDS, Verdict.VIOLATED), res.explanation
    eng = res.status is Verdict.HOLDS
    assert sim == eng, (src, dst, proto, port, sim, eng, res.explanation)
    return sim


def into(net: Network, dst: str, **kw: object) -> set[str]:
    """The pods (as x/a …) that reach ``dst``."""
    return {name for name, pid in PODS.items() if pid != dst and reach(net, pid, dst, **kw)}  # type: ignore[arg-type]


ALL = set(PODS)


def deny_into_xa(rules: str, types: str = "") -> str:
    return f"policy p namespace x {{\n    select pod=a\n{rules}{types}}}\n"


# --------------------------------------------------------------------- peers


def test_pod_selector_alone_means_the_policy_namespace() -> None:
    # API reference, NetworkPolicyPeer.podSelector: "If namespaceSelector is also set [...]
    # Otherwise it selects the pods matching podSelector in the policy's own namespace."
    net = net_with(deny_into_xa("    ingress from pods pod=b\n"))
    assert into(net, "n/xa") == {"x/b"}  # not y/b


def test_namespace_selector_alone_means_every_pod_of_those_namespaces() -> None:
    # API reference, NetworkPolicyPeer.namespaceSelector: "selects namespaces [...] If podSelector
    # is also set [...] Otherwise it selects all pods in the namespaces selected";
    # e2e "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector"
    net = net_with(deny_into_xa("    ingress from namespaces team=blue\n"))
    assert into(net, "n/xa") == {"y/a", "y/b"}


def test_pod_and_namespace_selector_in_one_peer_is_and() -> None:
    # e2e "should enforce policy based on PodSelector and NamespaceSelector" (one peer, both
    # selectors: matching pods of matching namespaces); the concept page's "namespaceSelector
    # and podSelector" example.
    net = net_with(deny_into_xa("    ingress from namespaces team=blue pods pod=b\n"))
    assert into(net, "n/xa") == {"y/b"}


def test_two_peers_are_or() -> None:
    # e2e "should enforce policy based on PodSelector or NamespaceSelector": two peers of one rule.
    net = net_with(deny_into_xa("    ingress from namespaces team=blue, pods pod=b\n"))
    assert into(net, "n/xa") == {"y/a", "y/b", "x/b"}


def test_empty_namespace_selector_is_every_namespace() -> None:
    # e2e "should enforce policy to allow ingress traffic from pods in all namespaces"
    # (namespaceSelector: {}); `all-pods` and `namespaces {}` say the same.
    for peer in ("all-pods", "namespaces", "namespaces {}", "namespaces {} pods"):
        net = net_with(deny_into_xa(f"    ingress from {peer}\n"))
        assert into(net, "n/xa") == ALL - {"x/a"}, peer


def test_namespace_label_kubernetes_io_metadata_name_is_implicit() -> None:
    # e2e "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels
    # using default ns label" (kubernetes.io/metadata.name, set by the API server on every
    # namespace); `namespace NS` is that selector.
    a = net_with(deny_into_xa("    ingress from namespaces kubernetes.io/metadata.name=y\n"))
    b = net_with(deny_into_xa("    ingress from namespace y\n"))
    assert into(a, "n/xa") == into(b, "n/xa") == {"y/a", "y/b"}


def test_undeclared_namespace_has_only_its_name_label() -> None:
    # z is used by a pod but never declared: it exists with kubernetes.io/metadata.name=z only,
    # so `team` does not exist on it (DoesNotExist holds) and its name selects it.
    net = net_with(deny_into_xa("    ingress from namespaces !team\n"))
    assert into(net, "n/xa") == {"z/a"}
    net = net_with(deny_into_xa("    ingress from namespaces kubernetes.io/metadata.name in (z)\n"))
    assert into(net, "n/xa") == {"z/a"}


def test_match_expressions_in_notin_exists_doesnotexist() -> None:
    # API reference, LabelSelectorRequirement: In, NotIn, Exists, DoesNotExist; e2e "should
    # enforce policy to allow traffic only from a different namespace, based on
    # NamespaceSelector with MatchExpressions" and "... based on PodSelector with MatchExpressions".
    cases = {
        "namespaces team in (blue,green)": {"y/a", "y/b"},
        # NotIn holds where the key is absent (z has no team label)
        "namespaces team notin (blue)": {"x/b", "z/a"},
        "namespaces team!=blue": {"x/b", "z/a"},
        "namespaces env": {"y/a", "y/b"},
        "namespaces {} pods tier": {"y/b"},
        "namespaces {} pods !tier,pod=b": {"x/b"},
        "namespaces {} pods pod in (a,b),tier notin (db)": ALL - {"x/a", "y/b"},
    }
    for peer, want in cases.items():
        net = net_with(deny_into_xa(f"    ingress from {peer}\n"))
        assert into(net, "n/xa") == want, peer


def test_select_with_expressions() -> None:
    # API reference, NetworkPolicySpec.podSelector: a LabelSelector (expressions included).
    net = net_with("policy p namespace y {\n    select tier notin (web),pod\n}\n")
    assert into(net, "n/ya") == set() and into(net, "n/yb") == set()  # both selected, no rule
    net = net_with("policy p namespace y {\n    select !tier\n}\n")
    assert into(net, "n/ya") == set() and into(net, "n/yb") == ALL - {"y/b"}


def test_ipblock_matches_pod_addresses() -> None:
    # e2e "should allow egress access to server in CIDR block" (ipBlock: the server pod's /32),
    # e2e "should enforce except clause while egress access to server in CIDR block".
    net = net_with("policy p namespace x {\n    select pod=a\n    egress to cidr 10.244.1.12/32\n}\n")
    assert {d for d in PODS.values() if d != "n/xa" and reach(net, "n/xa", d)} == {"n/ya"}
    net = net_with(
        "policy p namespace x {\n    select pod=a\n    egress to cidr 10.244.1.0/24 except 10.244.1.12/31\n}\n"
    )
    assert {d for d in PODS.values() if d != "n/xa" and reach(net, "n/xa", d)} == {"n/xb", "n/za"}


def test_host_network_pods_are_never_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    # concept page: host-network pods are outside NetworkPolicy ("behavior ... undefined"); l2l3
    # leaves them out of every selector, as before: the agent (pod=a in x) is neither governed
    # by `select pod=a` nor a peer of `pods pod=a`. The agent shares xa's node, whose own
    # packets no policy refuses (model.policy.FROM_RESIDENT_NODE_ALLOWED): off here, so the
    # peer rule alone decides.
    monkeypatch.setattr("l2l3.model.policy.FROM_RESIDENT_NODE_ALLOWED", False)
    net = net_with(deny_into_xa("    ingress from pods pod=a\n"))
    traces = l2l3.trace(net, "n/agent", IPS["n/xa"], Proto.TCP, 80)
    assert not any(t.delivered_to == "n/xa" for t in traces)


# --------------------------------------------------------------------- ports


def test_named_port_resolves_per_destination_pod() -> None:
    # e2e "should allow ingress access on one named port"; API reference NetworkPolicyPort.port:
    # "a numerical or named port on a pod". "http" is 80 on x/a and 8080 on x/b.
    net = net_with("policy p namespace x {\n    select\n    ingress tcp http\n}\n")
    assert reach(net, "n/ya", "n/xa", Proto.TCP, 80) and not reach(net, "n/ya", "n/xa", Proto.TCP, 8080)
    assert reach(net, "n/ya", "n/xb", Proto.TCP, 8080) and not reach(net, "n/ya", "n/xb", Proto.TCP, 80)


def test_named_port_needs_its_protocol_and_a_pod_that_has_it() -> None:
    # a named port resolves against the destination's containers[].ports[] by name AND protocol;
    # a pod without it admits nothing on that rule.
    net = net_with("policy p namespace x {\n    select\n    ingress udp http, tcp dns\n}\n")
    for port in (80, 81, 8080):
        for proto in (Proto.TCP, Proto.UDP):
            assert not reach(net, "n/ya", "n/xa", proto, port) and not reach(net, "n/ya", "n/xb", proto, port)
    net = net_with("policy p namespace x {\n    select\n    ingress udp dns\n}\n")
    assert reach(net, "n/ya", "n/xb", Proto.UDP, 81) and not reach(net, "n/ya", "n/xa", Proto.UDP, 81)


def test_egress_named_port_resolves_at_the_destination() -> None:
    # e2e "should allow egress access on one named port": egress `tcp http` from y/a admits
    # x/a on 80 and x/b on 8080; y/b declares no http port and gets nothing.
    net = net_with("policy p namespace y {\n    select pod=a\n    egress tcp http\n}\n")
    assert reach(net, "n/ya", "n/xa", Proto.TCP, 80) and reach(net, "n/ya", "n/xb", Proto.TCP, 8080)
    assert not reach(net, "n/ya", "n/xa", Proto.TCP, 8080) and not reach(net, "n/ya", "n/yb", Proto.TCP, 80)


def test_end_port_makes_a_range() -> None:
    # API reference NetworkPolicyPort.endPort: "the range of ports from port to endPort, inclusive".
    net = net_with(deny_into_xa("    ingress tcp 80-81\n"))
    assert reach(net, "n/ya", "n/xa", Proto.TCP, 80) and reach(net, "n/ya", "n/xa", Proto.TCP, 81)
    assert not reach(net, "n/ya", "n/xa", Proto.TCP, 79) and not reach(net, "n/ya", "n/xa", Proto.TCP, 82)
    assert not reach(net, "n/ya", "n/xa", Proto.UDP, 80)


def test_sctp_is_a_protocol_of_its_own() -> None:
    # e2e (SCTP context) "should not allow access by TCP when a policy specifies only SCTP" and
    # "should enforce policy based on Ports" with protocol SCTP; named SCTP port `metrics`.
    net = net_with(deny_into_xa("    ingress sctp 80, sctp metrics\n"))
    assert reach(net, "n/ya", "n/xa", Proto.SCTP, 80) and reach(net, "n/ya", "n/xa", Proto.SCTP, 5000)
    assert not reach(net, "n/ya", "n/xa", Proto.TCP, 80) and not reach(net, "n/ya", "n/xa", Proto.UDP, 80)
    assert not reach(net, "n/ya", "n/xa", Proto.SCTP, 81)


def test_protocol_without_port_is_every_port_of_it() -> None:
    # e2e "should enforce policy to allow ingress traffic for a target on any port of one protocol"
    net = net_with(deny_into_xa("    ingress udp\n"))
    assert reach(net, "n/ya", "n/xa", Proto.UDP, 53) and not reach(net, "n/ya", "n/xa", Proto.TCP, 80)


# --------------------------------------------------------------------- rules and types


def test_rule_without_peers_and_ports_allows_everything() -> None:
    # e2e "should support allow-all policy" (ingress: [{}]).
    net = net_with(deny_into_xa("    ingress\n"))
    assert into(net, "n/xa") == ALL - {"x/a"}


def test_selected_with_no_rule_denies_the_direction() -> None:
    # e2e "should support a 'default-deny-ingress' policy"; types ingress, egress with no egress
    # rule denies all egress (e2e "should support a 'default-deny-all' policy").
    net = net_with(deny_into_xa(""))
    assert into(net, "n/xa") == set() and reach(net, "n/xa", "n/ya")
    net = net_with(deny_into_xa("    ingress\n", "    types ingress, egress\n"))
    assert into(net, "n/xa") == ALL - {"x/a"} and not reach(net, "n/xa", "n/ya")


def test_policy_types_default_as_the_api_server() -> None:
    # API reference NetworkPolicySpec.policyTypes: Ingress always; Egress only when there are
    # egress rules. An egress-only `types egress` leaves ingress open.
    p = l2l3.loads(CLUSTER + deny_into_xa("    egress to pods pod=b\n"), "t.l2l3").policies[0]
    assert p.directions == frozenset({"ingress", "egress"})
    net = net_with(deny_into_xa("    egress to pods pod=b\n", "    types egress\n"))
    assert (
        into(net, "n/xa") == ALL - {"x/a"} and reach(net, "n/xa", "n/xb") and not reach(net, "n/xa", "n/ya")
    )


# --------------------------------------------------------------------- pods by namespace


TWINS = """
segment lan 10.0.0.0/24
node n linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br linux ip 10.244.1.1/24
    pod db-0 ip 10.244.1.10/24 on br namespace shop
    pod db-0 ip 10.244.1.11/24 on br namespace dev
    pod web ip 10.244.1.12/24 on br namespace shop
}
check a: reach pod shop/db-0 -> pod dev/db-0
check b: reach n/web -> namespace shop pods {}
"""


def test_pods_are_named_per_namespace() -> None:
    # ObjectMeta.name is unique within a namespace: db-0 of shop and of dev on one node are two
    # pods (ids NODE/NS/NAME), `pod NS/NAME` names each, NODE/NAME stays for unique names.
    net = l2l3.Network(l2l3.loads(TWINS, "t.l2l3"))
    assert sorted(net.pods) == ["n/dev/db-0", "n/shop/db-0", "n/web"]
    assert [e.pod for e in resolve(net, PodNsRef(namespace="dev", name="db-0"))] == ["n/dev/db-0"]
    assert [e.pod for e in resolve(net, PodRef(node="n", pod="web"))] == ["n/web"]
    with pytest.raises(QueryError, match="in namespaces dev, shop"):
        resolve(net, PodRef(node="n", pod="db-0"))
    assert [r.status for r in l2l3.check(net.spec).results] == [Verdict.HOLDS, Verdict.HOLDS]
    assert l2l3.trace(net, "pod shop/db-0", "10.244.1.11")[0].delivered_to == "n/dev/db-0"


def test_namespace_pods_endpoint_is_both_conditions() -> None:
    net = net_with("")
    got = [e.pod for e in resolve(net, l2l3.parse_endpoint("namespace y pods pod=b"))]
    assert got == ["n/yb"]
    got = [e.pod for e in resolve(net, l2l3.parse_endpoint("pods pod=a,!tier"))]
    assert got == ["n/agent", "n/xa", "n/ya", "n/za"]  # an endpoint is not a policy: host-network too


def test_node_ns_pod_is_the_id_of_a_namesake_pod() -> None:
    # traces name a namesake pod NODE/NS/POD; that text is an endpoint too
    net = l2l3.Network(l2l3.loads(TWINS + "check c: reach n/dev/db-0 -> n/shop/web\n", "t.l2l3"))
    assert [e.pod for e in resolve(net, l2l3.parse_endpoint("n/dev/db-0"))] == ["n/dev/db-0"]
    assert [e.pod for e in resolve(net, l2l3.parse_endpoint("n/shop/web"))] == ["n/web"]
    assert [r.status for r in l2l3.check(net.spec).results][-1] is Verdict.HOLDS
