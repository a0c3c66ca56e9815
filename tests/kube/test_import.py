"""``l2l3 check PATH…`` and ``l2l3 import PATH…`` on Kubernetes inputs (LANGUAGE.md §7).

The property at the end is the contract of ``import``: for generated
clusters (nodes, pods with container ports, namespaces, NetworkPolicies with
every kind of selector, peer and port) and checks, checking the manifests and
checking the imported spec give the same verdicts, and the same expanded spec.
"""

from __future__ import annotations

import json
import os
import tempfile
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2l3 import api
from l2l3.cli import main
from l2l3.dsl import parse
from l2l3.errors import SpecError
from l2l3.kube.export import render_import
from l2l3.kube.inputs import load_cluster, load_inputs
from tests.kube.helpers import DATA
from tests.kube.manifests import cluster_json, namespace, node, pod, policy

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def small_cluster(tmp: Path, checks: str = "", *extra: Any) -> Path:
    """A two-node cluster directory: x/web (app=web, port http 8080), x/api, y/db; policy on web."""
    objs = [
        namespace("x", team="a"),
        namespace("y"),
        node("n1", "10.0.0.11", "10.244.1.0/24"),
        node("n2", "10.0.0.12", "10.244.2.0/24"),
        pod("web", "x", "n1", "10.244.1.5", {"app": "web"}, [(8080, "TCP", "http")]),
        pod("api", "x", "n2", "10.244.2.5", {"app": "api"}),
        pod("db", "y", "n2", "10.244.2.6", {"app": "db"}),
        policy(
            "web",
            "x",
            {
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": "http"}]}
                ],
            },
        ),
        *extra,
    ]
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "cluster.json").write_text(cluster_json(*objs))
    (tmp / "checks.l2l3").write_text(
        checks
        or "check api-web: reach pod x/api -> pod x/web tcp port 8080\n"
        "check db-web: no reach pod y/db -> pod x/web tcp port 8080\n"
        "check web-db: reach pod x/web -> pod y/db tcp port 5432\n"
    )
    return tmp


def statuses(paths: list[str], cni: str | None = None) -> list[tuple[str, str]]:
    return [
        (r.check.name, r.status.value) for spec, _ in load_inputs(paths, cni) for r in api.check(spec).results
    ]


# ---------------------------------------------------------------- check


def test_check_a_cluster_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    rc, out, err = run(capsys, "check", str(d), "--cni", "calico bgp")
    assert rc == 0, out + err
    assert "3 checks: 3 hold" in out
    assert "note: no segment of a .l2l3 input holds the InternalIP" in out + err


def test_manifest_and_checks_named_one_by_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    rc, out, _ = run(capsys, "check", str(d / "cluster.json"), str(d / "checks.l2l3"), "--cni", "kindnet")
    assert rc == 0 and "3 hold" in out


def test_policy_not_enforced_by_flannel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    rc, out, err = run(capsys, "check", str(d), "--cni", "flannel host-gw")
    assert rc == 1
    assert "db-web" in out and "VIOLATED" in out
    assert "is not enforced" in out + err


def test_json_format_names_the_check_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    rc, out, _ = run(capsys, "check", str(d), "--cni", "calico bgp", "--format", "json")
    data = json.loads(out)
    assert rc == 0 and data["summary"]["holds"] == 3
    assert {c["file"] for c in data["checks"]} == {str(d / "checks.l2l3")}


def test_no_cni_is_exit_2_saying_how_to_give_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    rc, out, err = run(capsys, "check", str(d))
    assert rc == 2 and out == ""
    assert (
        "no CNI among the inputs" in err and "--cni PROFILE" in err and "cluster NAME { cni PROFILE }" in err
    )


def test_cni_from_a_cluster_block(tmp_path: Path) -> None:
    d = small_cluster(tmp_path / "c")
    (d / "cluster.l2l3").write_text("cluster prod {\n    cni kindnet\n}\n")
    got = load_cluster([str(d)])
    assert (
        got.raw.cluster is not None and got.raw.cluster.cni == ("kindnet",) and got.raw.cluster.name == "prod"
    )
    assert statuses([str(d)]) == [("api-web", "holds"), ("db-web", "holds"), ("web-db", "holds")]


def test_cni_from_a_config_among_the_inputs(tmp_path: Path) -> None:
    d = small_cluster(tmp_path / "c")
    (d / "10-calico.conflist").write_text((DATA / "cni" / "10-calico.conflist").read_text())
    got = load_cluster([str(d)])
    assert got.cni is not None and got.cni.words == ("calico", "ipip")
    assert any("IPIP assumed" in w.message for w in got.warnings)


def test_cni_precedence(tmp_path: Path) -> None:
    """--cni, else a cluster block, else a CNI config."""
    d = small_cluster(tmp_path / "c")
    (d / "10-calico.conflist").write_text((DATA / "cni" / "10-calico.conflist").read_text())
    (d / "cluster.l2l3").write_text("cluster prod {\n    cni antrea\n}\n")
    assert load_cluster([str(d)]).raw.cluster.cni == ("antrea",)  # type: ignore[union-attr]
    got = load_cluster([str(d)], cni="kindnet")
    assert got.raw.cluster.cni == ("kindnet",)  # type: ignore[union-attr]
    assert any("is used, not the CNI config" in w.message for w in got.warnings)


def test_cni_option_wins_over_a_config_no_profile_stands_for(tmp_path: Path) -> None:
    d = small_cluster(tmp_path / "c")
    (d / "05-cilium.conflist").write_text(
        '{"name": "cilium", "cniVersion": "1.0.0", "plugins": [{"type": "cilium-cni"}]}'
    )
    with pytest.raises(SpecError, match="'cilium-cni' has no profile"):
        load_cluster([str(d)])
    got = load_cluster([str(d)], cni="antrea")
    assert any("CNI config not used" in w.message for w in got.warnings)


def test_segment_of_a_spec_file_is_the_underlay(tmp_path: Path) -> None:
    d = small_cluster(tmp_path / "c")
    (d / "lan.l2l3").write_text("segment lan 10.0.0.0/24 gateway 10.0.0.1\nexternal web 0.0.0.0/0 via lan\n")
    got = load_cluster([str(d)], cni="calico bgp")
    assert [s.name for s in got.raw.segments] == ["lan"]
    assert {n.segment for n in got.raw.nodes} == {"lan"}


def test_spec_files_alone_are_checked_independently(capsys: pytest.CaptureFixture[str]) -> None:
    a = str(EX / "l2bridge-vs-linux-bridge.l2l3")
    got = load_inputs([a, a])
    assert len(got) == 2


def test_a_directory_of_spec_files_is_one_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No Kubernetes object, no CNI needed: the .l2l3 files of a directory are one spec."""
    d = tmp_path / "specs"
    d.mkdir()
    (d / "a.l2l3").write_text((EX / "profile-kindnet.l2l3").read_text().split("check ", 1)[0])
    (d / "b.l2l3").write_text("check web-db: reach n1/web -> n2/db tcp port 5432\n")
    rc, out, err = run(capsys, "check", str(d))
    assert rc == 0, out + err
    assert f"{d / 'b.l2l3'}:1: web-db" in out


def test_cni_option_on_spec_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--cni replaces the profile of a spec's cluster block; a spec without one is told it has no effect."""
    spec = EX / "profile-kindnet.l2l3"
    ((got, _),) = load_inputs([str(spec)], cni="calico bgp")
    assert got.cluster is not None and got.cluster.cni == ("calico", "bgp")
    assert any(n.cni == "calico bgp" for n in got.nodes)
    plain = EX / "l2bridge-alone.l2l3"
    ((_, warns),) = load_inputs([str(plain)], cni="calico bgp")
    assert any("--cni has no effect" in w.message for w in warns)


def test_bad_manifest_is_exit_2_with_position_and_caret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = small_cluster(tmp_path / "c")
    (d / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n")
    rc, out, err = run(capsys, "check", str(d), "--cni", "kindnet")
    assert rc == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"{d / 'bad.yaml'}:") and ": error: " in first
    assert "^" in err and "Traceback" not in err


def test_error_in_a_spec_file_of_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c", "check x: reach pod x/api ->\n")
    rc, _, err = run(capsys, "check", str(d), "--cni", "kindnet")
    assert rc == 2 and f"{d / 'checks.l2l3'}:1:" in err


def test_unknown_pod_in_a_check_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c", "check x: reach pod x/nope -> pod x/web\n")
    rc, _, err = run(capsys, "check", str(d), "--cni", "kindnet")
    assert rc == 2 and f"{d / 'checks.l2l3'}:1:" in err


def test_profile_error_points_into_the_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pod at the bridge gateway (.1) is reserved under bridge: the error names the pod's line."""
    d = small_cluster(tmp_path / "c", "", pod("gw", "x", "n1", "10.244.1.1"))
    rc, _, err = run(capsys, "check", str(d), "--cni", "bridge")
    assert rc == 2
    line = err.splitlines()[0]
    assert line.startswith(f"{d / 'cluster.json'}:") and "reserved" in line
    assert err.splitlines()[1].strip() == "{" and "^" in err.splitlines()[2]  # the pod object's line


def test_bad_cni_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    rc, _, err = run(capsys, "check", str(d), "--cni", "cilium")
    assert rc == 2 and "unknown CNI profile 'cilium'" in err


def test_cluster_dir_sample(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "check", str(DATA / "cluster-dir"))
    assert rc == 0, out + err
    assert "IPIP assumed" in out + err and "left for other readers" in out + err


# ---------------------------------------------------------------- import


def test_import_writes_provenance_and_assumptions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    out_file = tmp_path / "out.l2l3"
    rc, out, err = run(capsys, "import", str(d), "--cni", "calico bgp", "-o", str(out_file))
    assert rc == 0 and out == "", err
    text = out_file.read_text()
    assert text.startswith(f"# l2l3 import of {d}\n# cni calico bgp: from --cni\n")
    lines = text.splitlines()
    stmt = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", "}"))]
    lacking = [ln for ln in stmt if "# from " not in ln and not ln.startswith(("    cni", "cluster"))]
    assert not lacking, lacking
    assert any(ln.startswith("# assumed: no segment of a .l2l3 input") for ln in lines)
    assert f"# from {d / 'cluster.json'}:" in text and f"# from {d / 'checks.l2l3'}:1" in text


def test_import_to_stdout_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = small_cluster(tmp_path / "c")
    rc, out, _ = run(capsys, "import", str(d), "--cni", "kindnet")
    assert rc == 0
    got = load_cluster([str(d)], cni="kindnet")
    again = parse(out, "imported.l2l3", expand=False)
    assert _same(again, got.raw)


def test_import_then_check_gives_the_same_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = small_cluster(tmp_path / "c")
    out_file = tmp_path / "out.l2l3"
    assert run(capsys, "import", str(d), "--cni", "flannel host-gw", "-o", str(out_file))[0] == 0
    rc1, out1, _ = run(capsys, "check", str(d), "--cni", "flannel host-gw", "--format", "json")
    rc2, out2, _ = run(capsys, "check", str(out_file), "--format", "json")
    assert rc1 == rc2 == 1
    v1 = [(c["name"], c["status"]) for c in json.loads(out1)["checks"]]
    v2 = [(c["name"], c["status"]) for c in json.loads(out2)["checks"]]
    assert v1 == v2


def test_import_renames_names_the_language_cannot_write(tmp_path: Path) -> None:
    d = small_cluster(tmp_path / "c", "", pod("0day", "x", "n1", "10.244.1.9"))
    got = load_cluster([str(d)], cni="kindnet")
    text = render_import(got, [str(d)])
    assert "pod _0day ip 10.244.1.9" in text and "# assumed: pod x/0day is written _0day" in text
    parse(text, "x.l2l3", expand=False)


def test_import_refuses_a_namespace_it_cannot_write(tmp_path: Path) -> None:
    d = small_cluster(tmp_path / "c", "", pod("p", "9lives", "n1", "10.244.1.9"))
    got = load_cluster([str(d)], cni="kindnet")
    with pytest.raises(SpecError, match="namespace '9lives' cannot be written"):
        render_import(got, [str(d)])


def test_import_of_windows_flannel_sample(tmp_path: Path) -> None:
    paths = [
        str(DATA / "cluster.yaml"),
        str(DATA / "cni" / "l2bridge-flannel.conf"),
        str(DATA / "cni" / "10-flannel.conflist"),
    ]
    got = load_cluster(paths)
    text = render_import(got, paths)
    assert "cni flannel host-gw" in text and "outbound-nat-except 10.127.130.0/24" in text
    assert _same(parse(text, "x.l2l3", expand=False), got.raw)
    again = parse(text, "x.l2l3")
    assert _same(again, got.spec)


# ---------------------------------------------------------------- the property


def _same(a: Any, b: Any) -> bool:
    """Two specs say the same (file and source aside; spans never compare)."""
    fields = ("cluster", "namespaces", "segments", "externals", "nodes", "policies", "checks")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


LABELS = {"app": ["a", "b", "c"], "tier": ["fe", "be"]}
PORTS = [(80, "TCP", "http"), (53, "UDP", "dns"), (9000, "SCTP", "s"), (8080, "TCP", None)]
PROBES = ["tcp port 80", "udp port 53", "sctp port 9000", "tcp port 8080", "tcp port 443"]


@st.composite
def selector(draw: st.DrawFn, keys: dict[str, list[str]] = LABELS) -> dict[str, Any]:
    sel: dict[str, Any] = {}
    ml = draw(
        st.dictionaries(st.sampled_from(sorted(keys)), st.sampled_from(["a", "b", "fe", "be"]), max_size=1)
    )
    if ml:
        sel["matchLabels"] = ml
    exprs = []
    for key in draw(st.lists(st.sampled_from(sorted(keys)), max_size=2, unique=True)):
        op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        e: dict[str, Any] = {"key": key, "operator": op}
        if op in ("In", "NotIn"):
            e["values"] = draw(st.lists(st.sampled_from(keys[key]), min_size=1, max_size=2, unique=True))
        exprs.append(e)
    if exprs:
        sel["matchExpressions"] = exprs
    return sel


@st.composite
def peer(draw: st.DrawFn, pod_ips: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["pods", "namespaces", "both", "ipblock"]))
    if kind == "ipblock":
        block: dict[str, Any] = {
            "cidr": draw(st.sampled_from(["10.244.0.0/16", "10.244.1.0/24", "0.0.0.0/0"]))
        }
        if draw(st.booleans()):
            ip = draw(st.sampled_from(pod_ips))
            if ip_address(ip) in ip_network(block["cidr"]):
                block["except"] = [f"{ip}/32"]
        return {"ipBlock": block}
    out: dict[str, Any] = {}
    if kind in ("pods", "both"):
        out["podSelector"] = draw(selector())
    if kind in ("namespaces", "both"):
        out["namespaceSelector"] = draw(
            st.one_of(
                st.just({}),
                st.sampled_from([{"matchLabels": {"kubernetes.io/metadata.name": n}} for n in ("x", "y")]),
                st.just({"matchLabels": {"team": "a"}}),
            )
        )
    return out


@st.composite
def port_list(draw: st.DrawFn) -> list[dict[str, Any]] | None:
    if draw(st.booleans()):
        return None
    out = []
    for _ in range(draw(st.integers(1, 2))):
        form = draw(st.sampled_from(["num", "name", "proto", "range"]))
        proto = draw(st.sampled_from(["TCP", "UDP", "SCTP"]))
        if form == "num":
            out.append({"protocol": proto, "port": draw(st.sampled_from([53, 80, 443, 8080, 9000]))})
        elif form == "name":
            out.append({"protocol": proto, "port": draw(st.sampled_from(["http", "dns", "s", "nope"]))})
        elif form == "proto":
            out.append({"protocol": proto})
        else:
            lo = draw(st.sampled_from([50, 80, 8000]))
            out.append({"protocol": proto, "port": lo, "endPort": lo + draw(st.sampled_from([0, 5, 1000]))})
    return out


@st.composite
def rules(draw: st.DrawFn, peers_key: str, pod_ips: list[str]) -> list[dict[str, Any]] | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    out = []
    for _ in range(draw(st.integers(0, 2))):
        r: dict[str, Any] = {}
        form = draw(st.sampled_from(["absent", "empty", "peers"]))
        if form == "empty":
            r[peers_key] = []
        elif form == "peers":
            r[peers_key] = draw(st.lists(peer(pod_ips), min_size=1, max_size=2))
        ports = draw(port_list())
        if ports is not None:
            r["ports"] = ports
        out.append(r)
    return out


@st.composite
def generated(draw: st.DrawFn) -> tuple[list[Any], str, str]:
    """Objects of a cluster, the checks file, and the CNI profile."""
    n_nodes = draw(st.integers(1, 3))
    objs: list[Any] = [namespace("x", team="a"), namespace("y")]
    objs += [node(f"n{i}", f"10.0.0.{11 + i}", f"10.244.{i}.0/24") for i in range(n_nodes)]
    pods = []
    for i in range(draw(st.integers(2, 5))):
        where = draw(st.integers(0, n_nodes - 1))
        ns = draw(st.sampled_from(["x", "y"]))
        labels = draw(
            st.dictionaries(
                st.sampled_from(sorted(LABELS)), st.sampled_from(["a", "b", "fe", "be"]), max_size=2
            )
        )
        ports = draw(st.lists(st.sampled_from(PORTS), max_size=3, unique=True))
        ip = f"10.244.{where}.{10 + i}"
        pods.append((ns, f"p{i}", ip))
        objs.append(pod(f"p{i}", ns, f"n{where}", ip, labels, ports))
    ips = [ip for _, _, ip in pods]
    for j in range(draw(st.integers(0, 3))):
        spec: dict[str, Any] = {"podSelector": draw(selector())}
        ingress = draw(rules("from", ips))
        egress = draw(rules("to", ips))
        if ingress is not None:
            spec["ingress"] = ingress
        if egress is not None:
            spec["egress"] = egress
        types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
        if types is not None:
            spec["policyTypes"] = types
        objs.append(policy(f"pol{j}", draw(st.sampled_from(["x", "y"])), spec))
    checks = []
    for k in range(draw(st.integers(1, 4))):
        (sn, sp, _), (dn, dp, _) = draw(st.lists(st.sampled_from(pods), min_size=2, max_size=2, unique=True))
        neg = "no " if draw(st.booleans()) else ""
        checks.append(
            f"check c{k}: {neg}reach pod {sn}/{sp} -> pod {dn}/{dp} {draw(st.sampled_from(PROBES))}"
        )
    cni = draw(st.sampled_from(["calico bgp", "kindnet", "antrea", "flannel host-gw"]))
    return objs, "\n".join(checks) + "\n", cni


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated())
def test_import_keeps_every_verdict(case: tuple[list[Any], str, str]) -> None:
    objs, checks, cni = case
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "cluster"
        d.mkdir()
        (d / "objects.json").write_text(cluster_json(*objs))
        (d / "checks.l2l3").write_text(checks)
        got = load_cluster([str(d)], cni=cni)
        text = render_import(got, [str(d)])
        out = Path(tmp) / "imported.l2l3"
        out.write_text(text)
        ((spec, _),) = load_inputs([str(out)])
        assert _same(spec, got.spec)
        before = [(r.check.name, r.status) for r in api.check(got.spec).results]
        after = [(r.check.name, r.status) for r in api.check(spec).results]
        assert before == after
        assert os.path.getsize(out) > 0
