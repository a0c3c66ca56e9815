"""A realistic `kubectl get … -A -o yaml` List, and the same as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2l3.kube import Cluster, KubeError, load, load_text
from tests.kube.helpers import DATA, line_at, plain, text_at, yaml_to_json

CLUSTER = DATA / "cluster.yaml"


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return load(CLUSTER)


@pytest.fixture(scope="module")
def json_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("json") / "cluster.json"
    yaml_to_json(CLUSTER, out)
    return out


def test_every_kind_is_read(cluster: Cluster) -> None:
    assert [n.name for n in cluster.nodes] == ["lin1", "lin2", "win1"]
    assert [n.name for n in cluster.namespaces] == ["default", "kube-system", "shop", "monitoring"]
    assert all(n.declared for n in cluster.namespaces)
    assert [(p.namespace, p.name) for p in cluster.pods] == [
        ("shop", "web-5f8d6c7b9-x2kqv"),
        ("shop", "api-0"),
        ("monitoring", "node-exporter-7vq2m"),
        ("kube-system", "coredns-76f75df574-abcde"),
    ]
    assert [p.name for p in cluster.policies] == [
        "web-ingress",
        "api-egress",
        "default-deny",
        "allow-all-from-anywhere",
    ]
    assert [s.name for s in cluster.services] == ["kubernetes", "web", "api", "shop-lb"]
    assert [e.name for e in cluster.endpoint_slices] == ["web-8k2xq", "api-7dd9s"]


def test_server_populated_fields_make_no_notes(cluster: Cluster) -> None:
    # managedFields, resourceVersion, uid, ownerReferences, status.conditions … are ignored quietly;
    # the only notes are the two pods that hold no address
    assert sorted((n.code, n.message) for n in cluster.notes) == [
        ("skipped-pod", "Pod shop/cache-0 is skipped: it is not scheduled to a node yet (no spec.nodeName)"),
        ("skipped-pod", "Pod shop/report-28551230-f7x9c is skipped: it has finished (phase Succeeded)"),
    ]
    assert line_at(cluster.notes[0].span) == "- apiVersion: v1"


def test_nodes(cluster: Cluster) -> None:
    lin1, lin2, win1 = cluster.nodes
    assert lin1.internal_ips == ("10.127.130.37",) and lin1.internal_ip == "10.127.130.37"
    assert lin1.hostname == "lin1" and lin1.os == "linux"
    assert lin1.pod_cidr == "10.244.0.0/24" and lin1.pod_cidrs == ("10.244.0.0/24",)
    assert lin1.labels["node-role.kubernetes.io/control-plane"] == ""
    assert lin1.annotations["flannel.alpha.coreos.com/backend-type"] == "vxlan"
    assert lin2.pod_cidr == "10.244.1.0/24"
    assert win1.os == "windows" and win1.internal_ip == "10.127.130.40" and win1.hostname == "WIN1"
    assert text_at(lin1.span, 10) == "apiVersion"
    assert line_at(lin1.span).startswith("- apiVersion: v1")


def test_namespaces_carry_their_name_label(cluster: Cluster) -> None:
    shop = cluster.namespace("shop")
    assert shop is not None
    assert dict(shop.labels) == {"kubernetes.io/metadata.name": "shop", "team": "storefront"}


def test_pods(cluster: Cluster) -> None:
    web = cluster.pod("shop", "web-5f8d6c7b9-x2kqv")
    assert web is not None
    assert web.node_name == "lin2" and web.pod_ip == "10.244.1.5" and web.pod_ips == ("10.244.1.5",)
    assert web.phase == "Running" and not web.host_network
    assert dict(web.labels) == {"app": "web", "pod-template-hash": "5f8d6c7b9", "tier": "frontend"}
    http, metrics = web.ports
    assert (http.name, http.container_port, http.protocol) == ("http", 8080, "TCP")
    assert (metrics.name, metrics.container_port, metrics.protocol) == (
        "metrics",
        9090,
        "TCP",
    )  # TCP when omitted
    assert web.named_port("metrics") == 9090 and web.named_port("metrics", "UDP") is None
    assert line_at(http.span).strip() == "- containerPort: 8080"

    api = cluster.pod("shop", "api-0")
    assert api is not None
    # the sidecar (an init container with restartPolicy: Always) listens; wait-for-db is gone
    assert [(c.name, c.sidecar) for c in api.containers] == [("api", False), ("proxy", True)]
    assert [(p.name, p.container_port, p.protocol) for p in api.ports] == [
        ("grpc", 5000, "TCP"),
        ("dns-udp", 5353, "UDP"),
        ("proxy-out", 15001, "TCP"),
    ]

    exporter = cluster.pod("monitoring", "node-exporter-7vq2m")
    assert exporter is not None and exporter.host_network and exporter.pod_ip == "10.127.130.37"
    assert exporter.ports[0].host_port == 9100

    dns = cluster.pod("kube-system", "coredns-76f75df574-abcde")
    assert dns is not None
    assert [(p.name, p.protocol) for p in dns.ports] == [("dns", "UDP"), ("dns-tcp", "TCP")]


def test_network_policies(cluster: Cluster) -> None:
    web, api, deny, allow = cluster.policies
    assert web.namespace == "shop" and dict(web.pod_selector.match_labels) == {"app": "web"}
    assert web.policy_types_written == ("Ingress",) and web.policy_types == ("Ingress",)
    assert web.egress is None
    (rule,) = web.ingress or ()
    backend, monitoring = rule.peers or ()
    assert backend.namespace_selector is None  # the policy's own namespace
    assert backend.pod_selector is not None and dict(backend.pod_selector.match_labels) == {"tier": "backend"}
    assert monitoring.namespace_selector is not None and monitoring.pod_selector is not None  # both together
    (req,) = monitoring.pod_selector.match_expressions
    assert (req.key, req.operator, req.values) == ("app", "In", ("prometheus", "grafana"))
    named, ranged = rule.ports or ()
    assert (named.protocol, named.port, named.end_port) == ("TCP", "http", None)
    assert (ranged.protocol, ranged.protocol_written, ranged.port, ranged.end_port) == (
        "TCP",
        None,
        9090,
        9099,
    )
    assert line_at(ranged.span).strip() == "- endPort: 9099"

    # egress present and non-empty: Egress is added to the defaulted policyTypes
    assert api.policy_types_written is None and api.policy_types == ("Ingress", "Egress")
    assert api.ingress is None
    anywhere, dns = api.egress or ()
    assert anywhere.ports is None
    (block,) = anywhere.peers or ()
    assert block.ip_block is not None
    assert (block.ip_block.cidr, block.ip_block.except_) == (
        "0.0.0.0/0",
        ("10.0.0.0/8", "169.254.169.254/32"),
    )
    assert [(p.protocol, p.port) for p in dns.ports or ()] == [("UDP", 53), ("TCP", 53)]
    ops = [(r.key, r.operator, r.values) for r in api.pod_selector.match_expressions]
    assert ops == [("tier", "NotIn", ("frontend",)), ("app", "Exists", ())]

    # present and empty is not absent
    assert deny.ingress == () and deny.egress == () and deny.pod_selector.is_empty
    assert deny.policy_types == ("Ingress", "Egress")

    # `- {}`: one rule with no peers and no ports: everything
    assert allow.ingress is not None and len(allow.ingress) == 1
    assert allow.ingress[0].peers is None and allow.ingress[0].ports is None
    assert allow.policy_types == ("Ingress",)
    assert allow.pod_selector.matches({"app": "x"}) and not allow.pod_selector.matches({"legacy": "1"})


def test_services_and_endpoint_slices(cluster: Cluster) -> None:
    kubernetes, web, api, lb = cluster.services
    assert kubernetes.type == "ClusterIP" and kubernetes.cluster_ip == "10.96.0.1"
    assert kubernetes.ports[0].effective_target_port == 6443
    assert kubernetes.effective_external_traffic_policy is None
    assert web.type == "NodePort" and web.external_traffic_policy == "Local"
    assert [(p.name, p.port, p.target_port, p.node_port) for p in web.ports] == [
        ("http", 80, "http", 31080),
        ("metrics", 9090, None, 31090),
    ]
    assert web.ports[1].effective_target_port == 9090
    assert web.selector is not None and dict(web.selector) == {"app": "web"}
    assert web.effective_internal_traffic_policy == "Cluster"
    assert api.headless and api.cluster_ips == ("None",)
    assert lb.type == "LoadBalancer" and lb.load_balancer_ingress == ("203.0.113.10",)
    assert lb.load_balancer_source_ranges == ("198.51.100.0/24",)
    assert lb.effective_external_traffic_policy == "Cluster"

    web_slice, api_slice = cluster.endpoint_slices
    assert web_slice.service_name == "web" and web_slice.address_type == "IPv4"
    (ep,) = web_slice.endpoints
    assert ep.addresses == ("10.244.1.5",) and ep.is_ready and ep.node_name == "lin2"
    assert ep.target_ref is not None and (ep.target_ref.kind, ep.target_ref.name) == (
        "Pod",
        "web-5f8d6c7b9-x2kqv",
    )
    assert [(p.name, p.port, p.protocol) for p in web_slice.ports] == [
        ("http", 8080, "TCP"),
        ("metrics", 9090, "TCP"),
    ]
    assert not api_slice.endpoints[0].is_ready
    assert api_slice.ports[0].protocol == "TCP"  # when omitted


def test_json_reads_the_same(cluster: Cluster, json_file: Path) -> None:
    from_json = load(json_file)
    assert plain(from_json) == {**plain(cluster), "files": [str(json_file)], "notes": plain(from_json.notes)}
    assert [n.message for n in from_json.notes] == [n.message for n in cluster.notes]


def test_json_spans_point_at_the_values(json_file: Path) -> None:
    c = load(json_file)
    for obj in (*c.nodes, *c.pods, *c.policies, *c.services, *c.endpoint_slices):
        assert text_at(obj.span, 1) == "{"
        assert line_at(obj.span) == " " * 8 + "{"  # an item of the List, indented as kubectl does
    web = c.pods[0]
    port = web.containers[0].ports[1]
    assert text_at(port.span, 1) == "{"
    # the line after the port's brace is its first key
    lines = json_file.read_text().split("\n")
    assert lines[port.span.line].strip() == '"containerPort": 9090,'
    policy = c.policies[0]
    ranged = policy.ingress[0].ports[1]  # type: ignore[index]
    assert lines[ranged.span.line].strip() == '"endPort": 9099,'


def test_json_list_kinds(tmp_path: Path) -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"nodeName": "x", "containers": [{"name": "c"}]},
        "status": {"podIP": "10.1.0.1"},
    }
    # a typed list from the API: items carry no kind; kind first, or (as kubectl orders keys) last
    first = {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {},
        "items": [pod, pod | {"metadata": {"name": "q", "namespace": "n"}}],
    }
    last = {"apiVersion": "v1", "items": first["items"], "kind": "PodList", "metadata": {}}
    for i, doc in enumerate((first, last)):
        path = tmp_path / f"list{i}.json"
        path.write_text(json.dumps(doc, indent=4))
        c = load(path)
        assert [p.name for p in c.pods] == ["p", "q"]
        assert line_at(c.pods[1].span).strip() == "{"
    # a kind: List item without kind is an error at that item
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"apiVersion": "v1", "items": [pod], "kind": "List"}, indent=4))
    with pytest.raises(KubeError) as e:
        load(bad)
    assert "kind is required" in str(e.value)


def test_yaml_is_read_as_kubernetes_reads_it() -> None:
    # YAML 1.1, as go-yaml v2 under kubectl: `yes` is true
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {nodeName: lin1, hostNetwork: yes, containers: []}\nstatus: {podIP: 10.0.0.1}\n"
    (pod,) = load_text(text, "p.yaml").pods
    assert pod.host_network and pod.namespace == "default"
    # … and the Norway problem is kubectl's too: an unquoted NO is false, not a string
    with pytest.raises(KubeError) as e:
        load_text(text.replace("metadata: {name: p}", "metadata: {name: p, labels: {country: NO}}"), "p.yaml")
    (d,) = e.value.diagnostics
    assert (d.line, d.col) == (3, 39) and "found false (quote it" in d.message  # at NO


def test_objects_are_frozen(cluster: Cluster) -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        cluster.pods[0].name = "x"  # type: ignore[misc]
    assert isinstance(cluster.pods[0].containers, tuple)
    hash(cluster.policies[0])  # hashable, spans and selectors included


def test_a_cluster_pickles(cluster: Cluster, json_file: Path) -> None:
    import pickle

    for c in (cluster, load(json_file)):
        again = pickle.loads(pickle.dumps(c))
        assert (
            again == c and again.pods[0].containers[0].ports[0].span == c.pods[0].containers[0].ports[0].span
        )
