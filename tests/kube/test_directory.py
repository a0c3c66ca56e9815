"""A directory is one cluster; what is not read is said in notes."""

from __future__ import annotations

from pathlib import Path

from l2l3.kube import load, load_text
from tests.kube.helpers import DATA, line_at

DIR = DATA / "cluster-dir"


def test_a_directory_is_one_cluster() -> None:
    c = load(DIR)
    names = [str(Path(f).relative_to(DIR)) for f in c.files]
    # path order, component by component; hidden files and directories skipped; README.md is no input
    assert names == [
        "00-namespaces.yaml",
        "apps/batch.yml",
        "apps/web.yaml",
        "cni/10-calico.conflist",
        "nodes/lin1.json",
        "nodes/win1/hns-endpoints.json",
        "policies/deny.yaml",
    ]
    assert [Path(p).name for p in c.spec_files] == ["checks.l2l3"]
    assert [Path(p).name for p in c.other_files] == ["hns-endpoints.json"]  # left for the HNS readers
    assert [(n.name, n.declared) for n in c.namespaces] == [
        ("shop", True),
        ("monitoring", True),
        ("batch", False),
    ]
    assert [p.name for p in c.pods] == ["worker", "web-1"]
    assert [n.name for n in c.nodes] == ["lin1"] and c.nodes[0].pod_cidr == "10.244.0.0/24"
    assert [s.name for s in c.services] == ["web"] and c.services[0].ports[0].target_port == "http"
    assert [p.name for p in c.policies] == ["deny-from-other-namespaces"]
    assert c.cni_configs[0].types == ("calico", "portmap", "bandwidth")
    codes = sorted((n.code, n.count) for n in c.notes)
    assert codes == [("implicit-namespace", 1), ("not-kubernetes", 1), ("skipped-kind", 2)]
    (skipped,) = [n for n in c.notes if n.code == "skipped-kind"]
    assert (
        skipped.message
        == "2 Deployment objects (apps/v1) skipped: l2l3 does not read this kind (the first here)"
    )
    assert skipped.span.file.endswith("batch.yml") and line_at(skipped.span) == "apiVersion: apps/v1"
    (implicit,) = [n for n in c.notes if n.code == "implicit-namespace"]
    assert "namespace batch has no Namespace object" in implicit.message


def test_several_paths_make_one_cluster() -> None:
    c = load([DIR / "00-namespaces.yaml", DIR / "apps", DATA / "cni" / "10-flannel.conflist"])
    assert [n.name for n in c.namespaces] == ["shop", "monitoring", "batch"]
    assert c.cni_configs[0].types == ("flannel", "portmap")


def test_unread_fields_are_counted_per_kind_and_field(tmp_path: Path) -> None:
    docs = []
    for i in range(3):
        docs.append(
            f"""apiVersion: v1
kind: Pod
metadata:
  name: p{i}
  annotations: {{kubernetes.io/ingress-bandwidth: 1M}}
spec:
  nodeName: n1
  futureNetworkField: true
  containers:
  - name: c
    ports: [{{containerPort: 80, futurePortField: 1}}]
status: {{podIP: 10.0.0.{i + 1}}}
"""
        )
    docs.append(
        """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: typo}
spec:
  podSelector: {}
  ingress:
  - from:
    - podselector: {}
      podSelector: {matchLabels: {a: b}}
"""
    )
    (tmp_path / "f.yaml").write_text("---\n".join(docs))
    c = load(tmp_path / "f.yaml")
    notes = {n.message: n for n in c.notes if n.code == "unread-field"}
    assert set(notes) == {
        "Pod field spec.futureNetworkField is not read (3 objects; the first here)",
        "Pod field spec.containers[].ports[].futurePortField is not read (3 objects; the first here)",
        "Pod annotation kubernetes.io/ingress-bandwidth is not read (3 pods; the first here)",
        "NetworkPolicy field spec.ingress[].from[].podselector is not read (1 object; the first here)",
    }
    first = notes["Pod field spec.futureNetworkField is not read (3 objects; the first here)"]
    assert line_at(first.span) == "  futureNetworkField: true" and first.span.col == 3 and first.count == 3
    typo = notes[
        "NetworkPolicy field spec.ingress[].from[].podselector is not read (1 object; the first here)"
    ]
    assert line_at(typo.span).strip() == "- podselector: {}"


def test_other_kinds_and_api_groups_are_skipped_with_a_count() -> None:
    text = """apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: calico-own, namespace: shop}
---
apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: acnp}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: calico-own-2, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: calico-config, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
"""
    c = load_text(text, "other.yaml")
    assert c.policies == ()
    got = sorted(n.message for n in c.notes)
    assert got == [
        "1 ClusterNetworkPolicy object (crd.antrea.io/v1beta1) skipped: l2l3 does not read this kind (the first here)",
        "1 ConfigMap object (v1) skipped: l2l3 does not read this kind (the first here)",
        "1 Endpoints object (v1) skipped: l2l3 does not read this kind (the first here)",
        "2 NetworkPolicy objects (projectcalico.org/v3) skipped: l2l3 does not read this kind (the first here)",
        "ConfigMap calico-config configures the network but is not read",
    ]


def test_pods_without_an_address_are_skipped_with_a_note() -> None:
    base = "apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}}}\nspec: {{{spec}containers: []}}\nstatus: {{{status}}}\n"
    text = "---\n".join(
        [
            base.format(n="pending", spec="", status="phase: Pending"),
            base.format(n="no-ip", spec="nodeName: n1, ", status="phase: Pending"),
            base.format(n="failed", spec="nodeName: n1, ", status="phase: Failed, podIP: 10.0.0.9"),
            base.format(n="ok", spec="nodeName: n1, ", status="phase: Running, podIP: 10.0.0.8"),
        ]
    )
    c = load_text(text, "pods.yaml")
    assert [p.name for p in c.pods] == ["ok"]
    assert [n.message for n in c.notes if n.code == "skipped-pod"] == [
        "Pod default/pending is skipped: it is not scheduled to a node yet (no spec.nodeName)",
        "Pod default/no-ip is skipped: it has no IP yet (no status.podIP)",
        "Pod default/failed is skipped: it has finished (phase Failed)",
    ]


def test_policy_type_notes(tmp_path: Path) -> None:
    text = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-only, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress:
  - {}
"""
    (tmp_path / "p.yaml").write_text(text)
    c = load(tmp_path / "p.yaml")
    (p,) = c.policies
    assert p.policy_types == ("Egress",) and p.egress is None
    assert sorted(n.code for n in c.notes) == ["implicit-namespace", "no-effect"]
    (note,) = [n for n in c.notes if n.code == "no-effect"]
    assert "spec.ingress has no effect" in note.message and line_at(note.span) == "  - {}"


def test_files_that_are_no_kubernetes_input(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("replicas: 3\nimage: web\n")
    (tmp_path / "package.json").write_text('{"name": "x", "version": "1.0.0"}')
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "empty.json").write_text("\n")
    c = load(tmp_path)
    assert sorted(Path(p).name for p in c.other_files) == ["package.json", "values.yaml"]
    assert len(c.files) == 4


def test_null_rules_and_ports_are_empty_as_the_api_server_reads_them() -> None:
    text = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress:
  -
  - ports:
    -
"""
    c = load_text(text, "null.yaml")
    (p,) = c.policies
    first, second = p.ingress or ()
    assert first.peers is None and first.ports is None  # {}: every source, every port
    (port,) = second.ports or ()
    assert (port.protocol, port.port) == ("TCP", None)
    assert sorted(n.message for n in c.notes if n.code == "assumed") == [
        "spec.ingress[0] is null: read as {}, as the API server decodes it",
        "spec.ingress[1].ports[0] is null: read as {}, as the API server decodes it",
    ]
