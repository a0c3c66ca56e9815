"""``Service`` and ``EndpointSlice`` objects as input (LANGUAGE.md §7, §9), as kubectl writes them.

The manifests are ``kubectl get nodes,pods,svc,endpointslices -A -o yaml``
(and ``-o json``) output: a ``kind: List`` with server-set fields
(uid, resourceVersion, creationTimestamp, status) that do not change what is
reached. Each test checks the ``service`` statement the translation makes,
the notes, verdicts over the cluster, and that ``l2l3 import`` writes the
Services back with provenance and identical verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import l2l3
from l2l3.kube.export import render_import
from l2l3.kube.inputs import load_cluster
from l2l3.model.network import Network
from l2l3.model.services import ServiceType, TrafficPolicy

META = {
    "uid": "5c3f0c0e-0000-4000-8000-000000000001",
    "resourceVersion": "4711",
    "creationTimestamp": "2026-11-30T08:00:00Z",
}


def _node(name: str, ip: str, cidr: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/os": "linux", "kubernetes.io/hostname": name},
            **META,
        },
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]
        },
    }


def _pod(ns: str, name: str, node: str, ip: str, labels: dict, ports: list[dict]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, **META},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9", "ports": ports}],
        },
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "10.0.0.11"},
    }


def _slice(ns: str, svc: str, name: str, ports: list[dict], endpoints: list[dict]) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                "kubernetes.io/service-name": svc,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            **META,
        },
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }


def _ep(ip: str, node: str, pod: str, ns: str, ready: bool = True) -> dict:
    return {
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": ready, "terminating": False},
        "nodeName": node,
        "targetRef": {"kind": "Pod", "name": pod, "namespace": ns, "uid": META["uid"]},
    }


def _svc(ns: str, name: str, spec: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, **META},
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


DNS_PORTS = [
    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": "dns-tcp"},
    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
]
COREDNS_PORTS = [
    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
]
ITEMS = [
    _node("n1", "10.0.0.11", "10.244.1.0/24"),
    _node("n2", "10.0.0.12", "10.244.2.0/24"),
    _pod("kube-system", "coredns-a", "n1", "10.244.1.10", {"k8s-app": "kube-dns"}, COREDNS_PORTS),
    _pod("kube-system", "coredns-b", "n2", "10.244.2.10", {"k8s-app": "kube-dns"}, COREDNS_PORTS),
    _pod("shop", "web-1", "n1", "10.244.1.5", {"app": "web"}, [{"name": "http", "containerPort": 8080}]),
    _pod("shop", "web-2", "n2", "10.244.2.5", {"app": "web"}, [{"name": "http", "containerPort": 9090}]),
    _pod("shop", "client", "n2", "10.244.2.6", {"app": "client"}, []),
    _svc(
        "kube-system",
        "kube-dns",
        {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "ports": DNS_PORTS,
            "selector": {"k8s-app": "kube-dns"},
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
    ),
    _slice(
        "kube-system",
        "kube-dns",
        "kube-dns-x7b2q",
        [
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            {"name": "metrics", "port": 9153, "protocol": "TCP"},
        ],
        [
            _ep("10.244.1.10", "n1", "coredns-a", "kube-system"),
            _ep("10.244.2.10", "n2", "coredns-b", "kube-system", ready=False),
        ],
    ),
    _svc(
        "shop",
        "web",
        {
            "type": "NodePort",
            "clusterIP": "10.96.0.20",
            "clusterIPs": ["10.96.0.20"],
            "externalTrafficPolicy": "Local",
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http", "nodePort": 30080}
            ],
            "selector": {"app": "web"},
        },
    ),
    _slice(
        "shop",
        "web",
        "web-4kq9z",
        [{"name": "http", "port": 8080, "protocol": "TCP"}],
        [_ep("10.244.1.5", "n1", "web-1", "shop")],
    ),
    _slice(
        "shop",
        "web",
        "web-p2lmn",
        [{"name": "http", "port": 9090, "protocol": "TCP"}],
        [_ep("10.244.2.5", "n2", "web-2", "shop")],
    ),
    _svc(
        "shop",
        "web-headless",
        {
            "clusterIP": "None",
            "clusterIPs": ["None"],
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            "selector": {"app": "web"},
        },
    ),
    _svc(
        "shop",
        "local-only",
        {
            "clusterIP": "10.96.0.30",
            "internalTrafficPolicy": "Local",
            "ports": [{"port": 80, "targetPort": 8080}],
            "selector": {"app": "web"},
        },
    ),
    _svc("shop", "alias", {"type": "ExternalName", "externalName": "db.example.com"}),
]
CHECKS = """
check dns: reach pod shop/client -> service kube-system/kube-dns udp port 53
check dns-tcp: reach pod shop/client -> service kube-system/kube-dns tcp port 53
check web: reach pod shop/client -> service shop/web
check headless: reach pod shop/client -> service shop/web-headless
check local-only: reach pod shop/client -> service shop/local-only
check nodeport-local: nat 198.51.100.7 -> pod shop/web-2 tcp port 30080 as 198.51.100.7
"""
UNDERLAY = "segment lan 10.0.0.0/24 gateway 10.0.0.1\nexternal internet 0.0.0.0/0 via lan\n"


@pytest.fixture(params=["yaml", "json"])
def cluster_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": ITEMS}
    if request.param == "yaml":
        (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    else:
        (tmp_path / "cluster.json").write_text(json.dumps(doc, indent=4))
    (tmp_path / "checks.l2l3").write_text(UNDERLAY + CHECKS)
    return tmp_path


def _services(ci: object) -> dict:
    return {f"{s.namespace}/{s.name}": s for s in ci.raw.services}  # type: ignore[attr-defined]


def test_services_and_slices_become_service_statements(cluster_dir: Path) -> None:
    ci = load_cluster([cluster_dir], cni="flannel host-gw")
    got = _services(ci)
    assert set(got) == {"kube-system/kube-dns", "shop/web", "shop/web-headless", "shop/local-only"}
    dns = got["kube-system/kube-dns"]
    assert str(dns.ip) == "10.96.0.10" and [p.name for p in dns.ports] == ["dns", "dns-tcp", "metrics"]
    assert dns.ports[1].target == "dns-tcp"  # a named targetPort stays named
    # only the ready endpoint, with the numbers the slice gives per port name
    assert [(str(e.ip), dict(e.ports)) for e in dns.endpoints] == [
        ("10.244.1.10", {"dns": 53, "dns-tcp": 53, "metrics": 9153})
    ]
    web = got["shop/web"]
    assert web.type is ServiceType.NODE_PORT and web.external_policy is TrafficPolicy.LOCAL
    assert web.ports[0].node_port == 30080
    assert {str(e.ip): dict(e.ports)["http"] for e in web.endpoints} == {
        "10.244.1.5": 8080,
        "10.244.2.5": 9090,
    }
    headless = got["shop/web-headless"]
    assert headless.ip is None and headless.selector is not None and headless.endpoints is None
    assert got["shop/local-only"].internal_policy is TrafficPolicy.LOCAL
    messages = " | ".join(n.message for n in ci.notes)
    assert "1 endpoint not ready" in messages
    assert "ExternalName" in messages
    assert "Service shop/web-headless has no EndpointSlice among the inputs" in messages


def test_verdicts_over_the_cluster(cluster_dir: Path) -> None:
    """The named targetPort ``dns-tcp`` resolves to 53 from the slice; only ready endpoints are
    DNAT targets; headless Services are reached at their endpoints' addresses; an
    ``internalTrafficPolicy: Local`` Service is DNATed on n2 to n2's endpoint only; a NodePort with
    ``externalTrafficPolicy: Local`` keeps the client address (kube-proxy iptables proxier.go)."""
    ci = load_cluster([cluster_dir], cni="flannel host-gw")
    report = l2l3.check(ci.spec)
    status = {r.check.name: r.status.value for r in report.results}
    assert status == {
        n: "holds" for n in ("dns", "dns-tcp", "web", "headless", "local-only", "nodeport-local")
    }
    net = Network(ci.spec)
    r = l2l3.evaluate(net, "reach pod shop/client -> service kube-system/kube-dns udp port 53")
    assert r.witness is not None and r.witness.delivered_to == "n1/coredns-a"
    (local,) = [d for d in net.stacks["n2"].dnats if str(d.vip) == "10.96.0.30"]
    assert [str(b.ip) for b in local.backends] == ["10.244.2.5"]  # n2's own endpoint only


def test_import_writes_services_back_with_provenance(cluster_dir: Path, tmp_path: Path) -> None:
    ci = load_cluster([cluster_dir], cni="flannel host-gw")
    text = render_import(ci, [str(cluster_dir)])
    header = next(line for line in text.splitlines() if line.startswith("service shop/web "))
    assert "type nodeport external-traffic local" in header and "# from " in header
    assert any(
        line.strip().startswith("endpoint 10.244.1.5 http=8080    # from ") for line in text.splitlines()
    )
    out = tmp_path / "imported.l2l3"
    out.write_text(text)  # the .l2l3 inputs (underlay, checks) are part of the import
    again = l2l3.load(out)
    assert {f"{s.namespace}/{s.name}": s for s in again.services} == _services(ci)
    before = {r.check.name: r.status for r in l2l3.check(ci.spec).results}
    after = {r.check.name: r.status for r in l2l3.check(again).results}
    assert before == after
