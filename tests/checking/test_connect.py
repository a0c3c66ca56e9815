"""``connect`` / ``no connect`` (LANGUAGE.md §8) on hand-worked specs with known answers.

Each spec is small enough to work out by hand: which NAT rewrote the request,
which stacks the answer passes, whether conntrack there undoes the rewrite.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

import l2l3
from l2l3.checking import Verdict
from l2l3.dsl import render
from l2l3.errors import QueryError
from l2l3.report.json import render_json
from l2l3.report.junit import render_junit
from l2l3.report.sarif import render_sarif
from l2l3.report.text import render_text

# a/p -> VIP 10.96.0.10 tcp 80 is DNATed on router r to b/r:8080. With b's
# route back to 10.1.0.0/24 via r (ROUTE_BACK) the answer passes r, which
# undoes the DNAT; via a directly it does not (asymmetric return).
ROUTED = """
segment lan 10.0.0.0/24
node a linux {{
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.1.0.1/24
    pod p ip 10.1.0.2/24 on br0
    pod q ip 10.1.0.3/24 on br0
    route 10.96.0.0/12 via 10.0.0.3 dev eth0
    route 10.2.0.0/24 via 10.0.0.2 dev eth0
}}
node b linux {{
    nic eth0 ip 10.0.0.2/24 on lan
    bridge br0 linux ip 10.2.0.1/24
    pod r ip 10.2.0.2/24 on br0
    route 10.1.0.0/24 via {back} dev eth0
{b_extra}
}}
node r linux {{
    nic eth0 ip 10.0.0.3/24 on lan
    route 10.2.0.0/24 via 10.0.0.2 dev eth0
    route 10.1.0.0/24 via 10.0.0.1 dev eth0
    dnat 10.96.0.10 tcp port 80 to 10.2.0.2:8080
}}
"""


def net(back: str = "10.0.0.3", b_extra: str = "") -> l2l3.Network:
    return l2l3.Network(l2l3.loads(ROUTED.format(back=back, b_extra=b_extra)))


def ask(n: l2l3.Network, q: str) -> l2l3.CheckResult:
    return l2l3.evaluate(n, q)


def test_pods_on_one_bridge_connect_and_the_witness_has_both_halves() -> None:
    r = ask(net(), "connect a/p -> a/q tcp port 80")
    assert r.status is Verdict.HOLDS, r.explanation
    assert r.witness is not None and r.answer is not None
    assert r.witness.delivered_to == "a/q" and r.answer.delivered_to == "a/p"
    assert r.answer.final is not None and r.answer.final.src == r.witness.packet.dst
    assert r.answer.final.sport == 80 and r.answer.final.dport == r.witness.packet.sport
    assert ask(net(), "no connect a/p -> a/q").status is Verdict.VIOLATED


def test_a_pod_connects_to_itself_locally() -> None:
    """A single endpoint's self pair is checked, as for reach: request and answer stay in its stack."""
    r = ask(net(), "connect a/p -> a/p udp port 53")
    assert r.status is Verdict.HOLDS and r.answer is not None and r.answer.entered_by is None


def test_dnat_undone_by_the_router_that_applied_it() -> None:
    r = ask(net(), "connect a/p -> 10.96.0.10 tcp port 80")
    assert r.status is Verdict.HOLDS, r.explanation
    assert r.answer is not None
    assert any("undoes its DNAT" in h.action and h.at == "r" for h in r.answer.hops)
    assert r.answer.final is not None and str(r.answer.final.src) == "10.96.0.10"
    assert ask(net(), "connect a/p -> 10.96.0.10 tcp port 80 with nat").status is Verdict.HOLDS
    assert ask(net(), "connect a/p -> 10.96.0.10 tcp port 80 without nat").status is Verdict.VIOLATED


def test_asymmetric_return_bypasses_the_dnat_node_and_fails_naming_the_answer() -> None:
    """reach holds, connect does not: the answer comes back from the backend's own address."""
    n = net(back="10.0.0.1")
    assert ask(n, "reach a/p -> 10.96.0.10 tcp port 80").status is Verdict.HOLDS
    r = ask(n, "connect a/p -> 10.96.0.10 tcp port 80")
    assert r.status is Verdict.VIOLATED
    assert "its answer arrives at a/p as 10.2.0.2:8080 > 10.1.0.2:40000" in r.explanation
    assert "does not pass r" in r.explanation and "dnat 10.96.0.10" in r.explanation
    assert r.answer is not None and r.answer.delivered_to == "a/p"
    # requests arrive, no answer is taken: no connect holds (a proof, no witness)
    no = ask(n, "no connect a/p -> 10.96.0.10")
    assert no.status is Verdict.HOLDS and no.witness is None
    # the direct path to the backend is a connection all the same
    assert ask(n, "connect a/p -> b/r tcp port 8080").status is Verdict.HOLDS


def test_masquerade_to_another_node_is_undone_by_the_masquerading_node() -> None:
    """The bridge plugin's ipMasq (examples/bridge-ipmasq.l2l3): the peer answers the node's address."""
    spec = l2l3.load("examples/bridge-ipmasq.l2l3")
    n = l2l3.Network(spec)
    r = ask(n, "connect lin1/a -> lin2/b tcp port 80")
    assert r.status is Verdict.HOLDS, r.explanation
    assert r.witness is not None and r.witness.final is not None
    assert str(r.witness.final.src) == "10.127.130.11"  # masqueraded on the way
    assert r.answer is not None
    assert any(h.at == "lin1" and "undoes its SNAT" in h.action for h in r.answer.hops)
    assert ask(n, "connect lin1/a -> lin2/b without nat").status is Verdict.VIOLATED


def test_an_answer_through_a_stack_that_missed_the_request() -> None:
    """Measured on Linux 6.18 (tests/kernel/connect/asymmetric-masquerade.l2l3, kernel differential):
    at a router that never saw the request, a UDP answer starts a flow of its own and is
    masqueraded; an ICMP echo reply is no valid first packet, so no NAT rule sees it."""
    spec = l2l3.load("tests/kernel/connect/asymmetric-masquerade.l2l3")
    n = l2l3.Network(spec)
    udp = ask(n, "connect n1/a -> n2/b udp port 80")
    assert udp.status is Verdict.VIOLATED
    assert "n3 never saw the request, and its rule rewrites the answer (masquerade" in udp.explanation
    icmp = ask(n, "connect n1/a -> n2/b icmp")
    assert icmp.status is Verdict.HOLDS and icmp.answer is not None and not icmp.answer.nat


def test_a_windows_pod_connects_to_a_service_backend_on_another_node() -> None:
    """The HNS load balancer's NAT is VFP state at the pod's endpoint port (docs/semantics.md,
    Connections, UNVERIFIED): the backend's answer comes back over the l2bridge, not through
    the Windows node's stack, and is un-NATed as it enters the endpoint."""
    from tests.model.test_services import net_of, web

    n = net_of(web("type clusterip").replace(" node-port 30080", ""))
    r = ask(n, "connect w1/iis -> service shop/web")
    assert r.status is Verdict.HOLDS, r.explanation
    assert r.answer is not None and any("VFP port of w1/iis" in h.action for h in r.answer.hops)
    assert ask(n, "connect pod shop/client -> service shop/web").status is Verdict.HOLDS


WINDOWS = """
segment lan 10.127.130.0/24 gateway 10.127.130.1
external web 198.51.100.0/24 via lan
node win1 windows {
    nic eth0 ip 10.127.130.38/24 mac 00:15:5d:01:00:38 on lan
    bridge cbr0 l2bridge ip 10.244.3.2/24 uplink eth0
    pod iis ip 10.244.3.4/24 mac 00:15:5d:aa:03:04 on cbr0 namespace shop
    outbound-nat cbr0 except 10.244.0.0/16, 10.96.0.0/12, 198.51.100.0/24
    route 0.0.0.0/0 via 10.127.130.1 dev eth0
}
"""


def test_outbound_nat_exception_leaves_the_reply_without_a_route_back() -> None:
    """flannel#1405 / kubernetes-sigs/sig-windows-tools#141: traffic excepted from HNS
    OutBoundNAT leaves with the pod address, which nothing outside routes back."""
    n = l2l3.Network(l2l3.loads(WINDOWS))
    assert ask(n, "reach win1/iis -> external web tcp port 443").status is Verdict.HOLDS
    r = ask(n, "connect win1/iis -> external web tcp port 443")
    assert r.status is Verdict.VIOLATED
    assert "its answer dies" in r.explanation and "10.244.3.4" in r.explanation
    assert r.answer is not None and not r.answer.delivered
    # without the exception the node's address is used and the answer comes back
    fixed = l2l3.Network(l2l3.loads(WINDOWS.replace(", 198.51.100.0/24", "")))
    assert ask(fixed, "connect win1/iis -> external web tcp port 443").status is Verdict.HOLDS


# b drops what leaves its uplink towards node a's pods: the request (in eth0,
# out br0) passes, the answer (in br0, out eth0) does not, unless an
# `established` rule admits it first.
DROP_ANSWER = "    filter deny in br0 out eth0 to 10.1.0.0/24"


def test_a_filter_that_drops_the_answer_direction_breaks_connect_not_reach() -> None:
    n = net(back="10.0.0.1", b_extra=DROP_ANSWER)
    assert ask(n, "reach a/p -> b/r tcp port 8080").status is Verdict.HOLDS
    r = ask(n, "connect a/p -> b/r tcp port 8080")
    assert r.status is Verdict.VIOLATED
    assert "its answer dies" in r.explanation and "filter deny (FORWARD)" in r.explanation


def test_filter_established_admits_answers_only() -> None:
    n = net(back="10.0.0.1", b_extra="    filter allow established\n" + DROP_ANSWER)
    assert ask(n, "connect a/p -> b/r tcp port 8080").status is Verdict.HOLDS
    # a request from b's pod to a's pod is not an answer: the deny still applies to it
    assert ask(n, "no reach b/r -> a/p").status is Verdict.HOLDS
    # the rule form round-trips through the renderer
    spec = l2l3.loads(ROUTED.format(back="10.0.0.1", b_extra="    filter allow tcp established"))
    (f,) = [n for n in spec.nodes if n.name == "b"][0].filters
    assert f.established and "filter allow tcp established" in render(spec)
    assert l2l3.loads(render(spec)) == spec


POLICY = """
segment lan 10.0.0.0/24
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br0 linux ip 10.1.0.1/24
    pod cli ip 10.1.0.2/24 on br0 namespace x labels app=cli
    pod srv ip 10.1.0.3/24 on br0 namespace y labels app=srv
    enforce-policy on
}
policy deny-all namespace x {
    select
}
policy srv-in namespace y {
    select
    ingress from namespace x tcp 80
}
"""


def test_network_policy_is_stateful_the_admitted_request_admits_its_answer() -> None:
    """Kubernetes NetworkPolicy concept page: policies are connection-based; the reply of an
    allowed connection is allowed although cli's own ingress is default-deny."""
    n = l2l3.Network(l2l3.loads(POLICY))
    assert ask(n, "no reach a/srv -> a/cli").status is Verdict.HOLDS  # default-deny ingress of cli
    r = ask(n, "connect a/cli -> a/srv tcp port 80")
    assert r.status is Verdict.HOLDS, r.explanation
    assert ask(n, "no connect a/cli -> a/srv tcp port 81").status is Verdict.HOLDS
    assert ask(n, "no connect a/srv -> a/cli").status is Verdict.HOLDS


def test_via_mac_asks_both_halves() -> None:
    n = net()
    assert ask(n, "connect a/p -> a/q via mac without nat").status is Verdict.HOLDS
    r = ask(n, "connect a/p -> b/r via mac")
    assert r.status is Verdict.VIOLATED and "routed" in r.explanation


def test_every_output_format_carries_both_paths() -> None:
    spec = l2l3.loads(
        ROUTED.format(back="10.0.0.1", b_extra="")
        + "check ok: connect a/p -> b/r tcp port 8080\n"
        + "check asym: connect a/p -> 10.96.0.10 tcp port 80\n"
        + "check leak: no connect a/p -> b/r\n"
    )
    report = l2l3.check(spec)
    assert [r.status for r in report.results] == [Verdict.HOLDS, Verdict.VIOLATED, Verdict.VIOLATED]
    text = render_text([report])
    assert text.count("    request:") == 3 and text.count("    answer:") == 3
    doc = json.loads(render_json([report]))
    for c in doc["checks"]:
        w = c["witness"]
        assert set(w) >= {"packet", "hops", "answer"} and w["answer"]["hops"], c["name"]
        assert w["answer"]["packet"]["src"] == w["hops"][-1]["packet"]["dst"]
    sarif = json.loads(render_sarif([report]))
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"connect", "no-connect"}
    for r in results:
        flows = r["codeFlows"][0]["threadFlows"]
        assert [f["message"]["text"].split(":")[0] for f in flows] == ["request", "answer"]
    suite = ET.fromstring(render_junit([report]))
    failures = {c.get("name"): c.find("failure") for c in suite.iter("testcase")}
    asym = failures["asym"]
    assert asym is not None and "answer arrives" in (asym.get("message") or "")
    assert "request:" in (asym.text or "") and "answer:" in (asym.text or "")
    assert failures["ok"] is None


@pytest.mark.parametrize("q", ["connect a/p -> nowhere/x", "no connect node nowhere -> a/p"])
def test_unknown_endpoints_are_query_errors(q: str) -> None:
    with pytest.raises(QueryError):
        ask(net(), q)
