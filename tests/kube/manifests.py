"""Kubernetes objects as plain dicts, for the translation and import tests.

Each builder returns what ``kubectl get -o json`` would print for the object
(the fields l2l3 reads); :func:`cluster_json` wraps them in a ``kind: List``.
"""

from __future__ import annotations

import json
from typing import Any

Obj = dict[str, Any]


def namespace(name: str, **labels: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}},
    }


def node(name: str, ip: str | None, cidr: str | None = None, os: str | None = "linux") -> Obj:
    labels = {"kubernetes.io/os": os} if os else {}
    spec = {"podCIDR": cidr, "podCIDRs": [cidr]} if cidr else {}
    status = {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}
    if ip is None:
        status = {"addresses": [{"type": "Hostname", "address": name}]}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": status,
    }


def pod(
    name: str,
    ns: str,
    on: str,
    ip: str,
    labels: dict[str, str] | None = None,
    ports: list[tuple[int, str, str | None]] | None = None,
    host: bool = False,
) -> Obj:
    cports = [
        {"containerPort": p, "protocol": proto, **({"name": pname} if pname else {})}
        for p, proto, pname in ports or []
    ]
    container: Obj = {"name": "main", "image": "busybox"}
    if cports:
        container["ports"] = cports
    spec: Obj = {"nodeName": on, "containers": [container]}
    if host:
        spec["hostNetwork"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": spec,
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def policy(name: str, ns: str, spec: Obj) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def cluster_json(*objs: Obj) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}, indent=4) + "\n"
