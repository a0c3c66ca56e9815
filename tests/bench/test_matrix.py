"""l2l3.matrix: the class-based matrix equals the pair-by-pair answer.

Every test compares the lifted result (one representative query per class
pair and relation) with the Checker asked about every ordered pod pair: the
class signature must be a symmetry, whatever the spec.
"""

from __future__ import annotations

import json
from collections import Counter
from ipaddress import IPv4Network

import pytest
from hypothesis import HealthCheck, given, settings

import l2l3
from l2l3.checking import Checker, Verdict
from l2l3.cli import main as cli_main
from l2l3.generate import generate
from l2l3.matrix import CROSS_NODE, SAME_NODE, classes, matrix
from l2l3.matrix.classes import NODE_FIELDS
from l2l3.matrix.signature import Canon, IdentityMemo, _own_prefixes, _token_fields, token_fields
from l2l3.model.network import Network
from l2l3.model.types import PodRef, Reach
from l2l3.report.matrix import matrix_json, render_matrix_json, render_matrix_text
from tests.property.netgen import networks


def _ref(pid: str) -> PodRef:
    node, pod = pid.split("/", 1)
    return PodRef(node=node, pod=pod)


def _brute(net: Network) -> dict[tuple[str, str], Verdict]:
    ck = Checker(net)
    return {
        (a, b): ck.evaluate(Reach(src=_ref(a), dst=_ref(b))).status
        for a in net.pods
        for b in net.pods
        if a != b
    }


def _assert_lift_exact(net: Network) -> None:
    m = matrix(net, by="class")
    _cls, of = classes(net)
    ev = {(e.src_class, e.dst_class, e.relation): e for e in m.evaluations}
    truth = _brute(net)
    for (a, b), status in truth.items():
        if status is Verdict.UNKNOWN:
            continue
        rel = SAME_NODE if net.pods[a].node == net.pods[b].node else CROSS_NODE
        e = ev[(of[a], of[b], rel)]
        assert e.status is status, (
            f"{a} -> {b}: {status.value}, but representative {e.src} -> {e.dst} is {e.status.value}"
        )
    # the counts add up to every ordered pair
    assert sum(e.pairs for e in m.evaluations) == len(truth)
    by_ns = matrix(net, by="namespace")
    want: Counter[tuple[str, str]] = Counter()
    tot: Counter[tuple[str, str]] = Counter()
    for (a, b), status in truth.items():
        k = (net.pods[a].pod.namespace, net.pods[b].pod.namespace)
        tot[k] += 1
        want[k] += status is Verdict.HOLDS
    for k in tot:
        c = by_ns.cell(*k)
        assert (c.reachable, c.pairs) == (want[k], tot[k]), k
        if c.reachable:
            assert c.witness is not None and c.witness.delivered  # a replayed, delivered packet


CNIS = [
    "calico bgp",
    "calico vxlan",
    "calico ipip",
    "flannel host-gw",
    "flannel vxlan",
    "antrea",
    "kindnet",
    "bridge",
]


@pytest.mark.parametrize("cni", CNIS)
def test_generated_clusters_lift_exactly(cni: str) -> None:
    net = Network(l2l3.loads(generate(4, 4, cni=cni, namespaces=2, policies_per_namespace=2, seed=3)))
    _assert_lift_exact(net)


@pytest.mark.parametrize("cni", ["calico bgp", "flannel vxlan", "calico vxlan"])
def test_mixed_windows_clusters_lift_exactly(cni: str) -> None:
    net = Network(
        l2l3.loads(generate(4, 3, cni=cni, namespaces=2, policies_per_namespace=2, windows_fraction=0.5))
    )
    _assert_lift_exact(net)


def test_uniform_cluster_has_one_class_per_namespace_and_label() -> None:
    net = Network(l2l3.loads(generate(6, 8, namespaces=3, policies_per_namespace=1)))
    cls, _ = classes(net)
    assert len(cls) == 3  # labels no policy looks at do not split
    net2 = Network(l2l3.loads(generate(6, 8, namespaces=3, policies_per_namespace=2)))
    assert len(classes(net2)[0]) == 9  # app=a1 (selected), app=a2 (a peer), any other app


def _perturbed(
    extra_node_lines: dict[str, list[str]], extra_top: list[str] = (), cni: str = "calico bgp"
) -> Network:  # type: ignore[assignment]
    text = generate(4, 4, cni=cni, namespaces=2, policies_per_namespace=1, pairs="none", netns_check=False)
    lines = text.splitlines()
    out = []
    current = None
    for line in lines:
        if line.startswith("node "):
            current = line.split()[1]
        if line == "}" and current in extra_node_lines:
            out += ["    " + x for x in extra_node_lines[current]]
            current = None
        out.append(line)
    out += list(extra_top)
    return Network(l2l3.loads("\n".join(out) + "\n"))


@pytest.mark.parametrize(
    ("node_lines", "top"),
    [
        # a filter on one node that drops one pod's traffic
        ({"n1": ["filter deny from 10.128.0.3/32"]}, []),
        # a more specific route on one node sends half a peer's block elsewhere
        ({"n0": ["route 10.128.2.0/25 via 172.16.0.13 dev eth0"]}, []),
        # a pod sharing its node's stack
        ({"n2": ["pod shared ip 10.128.2.200 no-netns namespace ns0 labels app=a0"]}, []),
        # a Service VIP with a backend on another node
        ({"n3": ["dnat 10.96.0.10 tcp port 80 to 10.128.1.4:8080"]}, []),
        # a policy with an ipBlock that covers some pods of a namespace and not others
        ({}, ["policy cidr namespace ns1 {", "    select", "    egress to cidr 10.128.0.0/23", "}"]),
    ],
)
def test_asymmetric_specs_split_classes_and_lift_exactly(
    node_lines: dict[str, list[str]], top: list[str]
) -> None:
    net = _perturbed(node_lines, top)
    _assert_lift_exact(net)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(networks(max_nodes=3, max_pods=3))
def test_random_networks_lift_exactly(spec: l2l3.api.Spec) -> None:  # type: ignore[name-defined]
    _assert_lift_exact(Network(spec))


def test_outputs_and_progress(capsys: pytest.CaptureFixture[str]) -> None:
    net = Network(l2l3.loads(generate(3, 4, namespaces=3)))
    m = matrix(net, by="namespace")
    text = render_matrix_text(m)
    assert "ns0" in text and "#" in text and "." in text
    doc = matrix_json(m)
    assert json.loads(render_matrix_json(m)) == json.loads(json.dumps(doc))
    assert doc["groups"] == ["ns0", "ns1", "ns2"]
    cells = {(c["from"], c["to"]): c for c in doc["cells"]}
    assert cells[("ns0", "ns0")]["status"] == "all" and cells[("ns0", "ns0")]["witness"] is not None
    assert cells[("ns0", "ns1")]["status"] == "none" and cells[("ns0", "ns1")]["witness"] is None
    by_class = render_matrix_text(matrix(net, by="class"))
    assert "classes:" in by_class and "C0" in by_class
    capsys.readouterr()
    n = len(matrix(net, by="namespace", progress=True).evaluations)
    err = capsys.readouterr().err
    assert "matrix" in err and f"{n}/{n}" in err  # forced on, though stderr is no terminal here
    matrix(net, by="namespace")  # default: only on a terminal
    matrix(net, by="namespace", progress=False)
    assert capsys.readouterr().err == ""


def test_parallel_jobs_give_the_same_matrix() -> None:
    net = Network(l2l3.loads(generate(3, 4, namespaces=3, policies_per_namespace=2)))
    a = matrix(net, by="class")
    b = matrix(net, by="class", jobs=2)
    assert {k: (c.pairs, c.reachable) for k, c in a.cells.items()} == {
        k: (c.pairs, c.reachable) for k, c in b.cells.items()
    }


def test_verify_spot_checks_pass() -> None:
    net = Network(l2l3.loads(generate(5, 4, cni="flannel vxlan", namespaces=2, policies_per_namespace=2)))
    matrix(net, verify=3)


def test_command_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "c.l2l3"
    f.write_text(generate(2, 3, namespaces=2))
    assert cli_main(["matrix", str(f), "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["by"] == "namespace" and len(doc["cells"]) == 4
    assert cli_main(["matrix", str(f), "--by", "class", "-q"]) == 0
    assert "classes:" in capsys.readouterr().out
    assert cli_main(["matrix", str(f), "--witnesses", "-q"]) == 0
    assert "witness n" in capsys.readouterr().out
    bad = tmp_path / "bad.l2l3"
    bad.write_text("node x linux {\n  nic eth0 ip 10.0.0.1/24 on nowhere\n}\n")
    assert cli_main(["matrix", str(bad), "-q"]) == 2


# ------------------------------------------------------------------ memos
# Every memo of signature.Canon (and the module's per-type one) must give what
# a fresh computation gives.


@pytest.mark.parametrize("cni", ["calico bgp", "flannel vxlan", "kindnet"])
def test_memoised_route_tokens_equal_fresh_ones(cni: str) -> None:
    """A shared route's token is computed once and reused on other nodes; it
    must equal the token computed afresh on every node that holds it."""
    net = Network(l2l3.loads(generate(4, 2, cni=cni, namespaces=2)))
    memo, fresh = Canon(net), Canon(net)
    reused = 0
    for n in net.spec.nodes:
        for fname in NODE_FIELDS:
            for s in getattr(n, fname):
                before = len(memo._route_memo)
                hit = memo.memo_hit(s, n.name) is not None
                tok = memo.statement(s, n.name)[0]
                reused += hit and len(memo._route_memo) == before
                assert tok == fresh.value(s, n.name, "", []), (n.name, fname, s)
    assert reused > 0  # the memo was exercised


def test_route_memo_is_not_used_by_the_node_a_route_names_or_whose_pod_owns_its_device() -> None:
    net = Network(l2l3.loads(generate(3, 1, cni="calico bgp", namespaces=1)))
    nodes = {n.name: n for n in net.spec.nodes}
    n0_ip = nodes["n0"].nics[0].ip.ip
    about_n0 = next(r for r in nodes["n1"].routes if r.via == n0_ip)
    assert about_n0 in nodes["n2"].routes  # the very object: profiles share peer routes
    cz = Canon(net)
    on_n1 = cz.statement(about_n0, "n1")
    assert on_n1[3] == "n0" and "PEER" in repr(on_n1[0])
    assert cz.statement(about_n0, "n2") is on_n1  # reused
    on_n0 = cz.statement(about_n0, "n0")  # as if n0 held a route to its own block
    assert "SELF" in repr(on_n0[0]) and on_n0[3] is None
    cz.dev_owner[("n2", about_n0.dev)] = "p0"  # n2's device now belongs to one pod
    assert cz.statement(about_n0, "n2")[0] != on_n1[0]


def test_identity_memo_answers_only_for_the_very_object() -> None:
    memo: IdentityMemo[IPv4Network, int] = IdentityMemo()
    a, b = IPv4Network("10.0.0.0/24"), IPv4Network("10.0.0.0/24")
    assert a == b and a is not b
    memo.put(a, 7)
    assert memo.get(a) == 7 and memo.get(b) is None and len(memo) == 1


@pytest.mark.parametrize("cni", ["calico bgp", "flannel vxlan", "bridge"])
def test_memoised_prefix_and_address_tokens_equal_fresh_ones(cni: str) -> None:
    """Every prefix and address of the spec, asked twice of one Canon, is what a fresh one says."""
    net = Network(l2l3.loads(generate(3, 3, cni=cni, namespaces=2)))
    memo = Canon(net)
    for _ in range(2):
        for n in net.spec.nodes:
            for fname in NODE_FIELDS:
                for s in getattr(n, fname):
                    memo.statement(s, n.name)
    assert memo._prefix_memo and memo._addr_memo
    for p, tok in memo._prefix_memo.items():
        assert tok == Canon(net)._prefix_token(p), p
    for a, tok in memo._addr_memo.items():
        assert tok == Canon(net)._addr_token(a), a
    # literals registered through the memo are those a fresh pass registers
    fresh = Canon(net)
    for n in net.spec.nodes:
        for fname in NODE_FIELDS:
            for s in getattr(n, fname):
                fresh.value(s, n.name, "", [])
    assert memo.literals == fresh.literals


@pytest.mark.parametrize("cni", ["flannel vxlan", "flannel host-gw", "calico bgp"])
def test_own_prefixes_after_the_route_memo_equal_fresh_ones(cni: str) -> None:
    """``_own_prefixes`` skips routes memoised for the node; it must still find what a fresh Canon finds."""
    net = Network(l2l3.loads(generate(4, 2, cni=cni, namespaces=2)))
    memo = Canon(net)
    for n in net.spec.nodes:
        for r in n.routes:
            memo.statement(r, n.name)
    assert len(memo._route_memo) > 0
    for n in net.spec.nodes:
        assert _own_prefixes(memo, n) == _own_prefixes(Canon(net), n), n.name


def test_token_fields_memo_equals_fresh_computation() -> None:
    net = Network(l2l3.loads(generate(2, 2, cni="calico vxlan", namespaces=1)))
    seen = set()
    for n in net.spec.nodes:
        seen.add(type(n))
        for fname in NODE_FIELDS:
            seen.update(type(s) for s in getattr(n, fname))
        seen.update(type(p) for p in n.pods)
    for t in [*seen, int, str]:
        assert token_fields(t) == token_fields(t) == _token_fields(t), t
    assert token_fields(int) is None and "span" not in (token_fields(type(net.spec.nodes[0])) or ())


def test_token_keys_are_one_per_distinct_token() -> None:
    cz = Canon(Network(l2l3.loads(generate(2, 1, namespaces=1))))
    a, b = cz.key_of(("Route", 1)), cz.key_of(("Route", 2))
    assert a != b and cz.key_of(("Route", 1)) == a
