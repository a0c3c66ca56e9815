"""How long ``l2l3.kube.load`` takes on ``kubectl get pods -A -o json`` files.

    python -m benchmarks.kube_load [--pods 10000,150000] [--yaml-pods 500]
                                   [--stages 10000,150000] [--cni PROFILE] [--pod-cidr CIDR]
                                   [--repeat 1] [--dir DIR] [--keep]

Writes realistic files (the shape kubectl 1.29 prints: server-populated
metadata, ownerReferences, tolerations, the projected service-account
volume, five status conditions, container statuses; a mix of Deployment
pods, pods with a sidecar, hostNetwork DaemonSet pods, finished Job pods
and pods still Pending), then loads each in a fresh interpreter and prints
wall time, CPU time and peak resident memory. Targets (2 cores): 10,000
pods < 3 s, 150,000 pods < 30 s. ``--yaml-pods`` adds the same pods written
as ``-o yaml`` (ruamel.yaml's pure-Python loader: expect far slower).

Measured at ccacd71 on the 2-core machine while other test runs kept it
busy (load average 5 to 7), best wall of 2 runs; on such a shared machine
wall time is 1.5 to 3 times the CPU time, which is what the load costs:

    file                         MB  pods read   wall s   cpu s  peak MiB
    pods-10000.json            83.7       9805     1.82    1.12       173
    pods-150000.json         1256.5     147084    29.45   17.22       549
    pods-500.yaml               1.9        491    18.30    8.98       193

``--stages N,…`` times what ``l2l3 check`` does with such a file and the
nodes' file (``kubectl get nodes -o json``, written alongside): load,
translate (l2l3.kube.translate), expand the profile (``--cni``, default
calico bgp; the collector off, as l2l3.kube.inputs does) and build the
Network (the collector on, as l2l3.api.check does). Measured at 83323a1
with ``--measure-stages``, two runs each, while fuzz campaigns and slow test
runs of other engineers shared the 2 cores:

    pods     nodes  pod-cidr        load s  transl s  expand s  network s  total s  peak MiB
    9,805      334  10.128.0.0/11  1.2-1.5  0.32-0.37 0.38-0.54  0.56-0.81  2.7-3.1       281
    147,084   5000  10.128.0.0/11    14-16   4.6-5.2    7.4-8.8      21-22    49-50      3019
    9,805      334  none               1.1      0.26       1.58       0.56      3.5       281
    147,084   5000  none              17.0       6.1      387.7       19.9    430.7      3019

Without a pod-cidr (a calico config states none) the profile's pools, the
node subnets collapsed, are recomputed for every node (Ctx.pools in
l2l3/model/profiles/_base.py): quadratic in the nodes. With the collector
on during the expansion, 150,000 pods without a pod-cidr took 690 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

PODS_PER_NODE = 30
NAMESPACES = ("shop", "payments", "search", "monitoring", "kube-system", "batch", "auth", "media")


def _conditions(ready: str = "True") -> list[dict[str, Any]]:
    return [
        {
            "lastProbeTime": None,
            "lastTransitionTime": "2024-05-02T10:11:12Z",
            "status": ready if t in ("Ready", "ContainersReady") else "True",
            "type": t,
        }
        for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]


def _container(name: str, image: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    c: dict[str, Any] = {
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": name,
    }
    if ports:
        c["ports"] = ports
    c.update(
        {
            "resources": {
                "limits": {"cpu": "500m", "memory": "256Mi"},
                "requests": {"cpu": "100m", "memory": "128Mi"},
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": [
                {
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "name": "kube-api-access-@V@",
                    "readOnly": True,
                }
            ],
        }
    )
    return c


def _status(name: str, image: str, phase: str, ip: bool, host_network: bool) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": "2024-05-02T10:11:14Z"}}
    if phase == "Succeeded":
        state = {
            "terminated": {
                "containerID": "containerd://@C@",
                "exitCode": 0,
                "finishedAt": "2024-05-02T10:12:01Z",
                "reason": "Completed",
                "startedAt": "2024-05-02T10:11:14Z",
            }
        }
    s: dict[str, Any] = {
        "conditions": _conditions("False" if phase == "Succeeded" else "True"),
        "containerStatuses": [
            {
                "containerID": "containerd://@C@",
                "image": image,
                "imageID": image.split(":")[0] + "@sha256:@C@",
                "lastState": {},
                "name": name,
                "ready": phase == "Running",
                "restartCount": 0,
                "started": phase == "Running",
                "state": state,
            }
        ],
        "hostIP": "@HOSTIP@",
        "hostIPs": [{"ip": "@HOSTIP@"}],
        "phase": phase,
    }
    if ip:
        addr = "@HOSTIP@" if host_network else "@IP@"
        s["podIP"] = addr
        s["podIPs"] = [{"ip": addr}]
    s["qosClass"] = "Burstable"
    s["startTime"] = "2024-05-02T10:11:12Z"
    return s


def _pod(variant: str) -> dict[str, Any]:
    """A template pod; ``@X@`` marks the values each copy fills in."""
    owner = {"ReplicaSet": "@APP@-7d9c5b8f6", "DaemonSet": "@APP@", "Job": "@APP@-28551230"}
    kind = {
        "web": "ReplicaSet",
        "sidecar": "ReplicaSet",
        "daemon": "DaemonSet",
        "job": "Job",
        "pending": "ReplicaSet",
    }[variant]
    image = "registry.example.com/@APP@:1.4.2"
    ports = [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]
    containers = [_container("@APP@", image, ports if variant != "job" else [])]
    if variant == "sidecar":
        containers.append(
            _container(
                "envoy",
                "registry.example.com/envoy:1.29.1",
                [
                    {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"},
                    {"containerPort": 9901, "name": "admin", "protocol": "TCP"},
                ],
            )
        )
    if variant == "daemon":
        containers[0]["ports"] = [
            {"containerPort": 10256, "hostPort": 10256, "name": "healthz", "protocol": "TCP"}
        ]
    spec: dict[str, Any] = {
        "containers": containers,
        "dnsPolicy": "ClusterFirstWithHostNet" if variant == "daemon" else "ClusterFirst",
        "enableServiceLinks": True,
    }
    if variant == "daemon":
        spec["hostNetwork"] = True
    if variant != "pending":
        spec["nodeName"] = "@NODE@"
    spec.update(
        {
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "restartPolicy": "Never" if variant == "job" else "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": "default",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": [
                {
                    "effect": "NoExecute",
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "tolerationSeconds": 300,
                },
                {
                    "effect": "NoExecute",
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "tolerationSeconds": 300,
                },
            ],
            "volumes": [
                {
                    "name": "kube-api-access-@V@",
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                    "name": "kube-root-ca.crt",
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "fieldRef": {
                                                "apiVersion": "v1",
                                                "fieldPath": "metadata.namespace",
                                            },
                                            "path": "namespace",
                                        }
                                    ]
                                }
                            },
                        ],
                    },
                }
            ],
        }
    )
    phase = {"job": "Succeeded", "pending": "Pending"}.get(variant, "Running")
    if variant == "pending":
        status: dict[str, Any] = {
            "conditions": [
                {
                    "lastProbeTime": None,
                    "lastTransitionTime": "2024-05-02T10:11:12Z",
                    "message": "0/5000 nodes are available: 5000 Insufficient cpu.",
                    "reason": "Unschedulable",
                    "status": "False",
                    "type": "PodScheduled",
                }
            ],
            "phase": "Pending",
            "qosClass": "Burstable",
        }
    else:
        status = _status("@APP@", image, phase, True, variant == "daemon")
    labels = {"app": "@APP@", "pod-template-hash": "7d9c5b8f6"} if kind == "ReplicaSet" else {"app": "@APP@"}
    if variant == "job":
        labels = {"batch.kubernetes.io/job-name": "@APP@-28551230", "job-name": "@APP@-28551230"}
    metadata: dict[str, Any] = {
        "annotations": {
            "cni.projectcalico.org/containerID": "@C@",
            "cni.projectcalico.org/podIP": "@IP@/32",
            "cni.projectcalico.org/podIPs": "@IP@/32",
        },
        "creationTimestamp": "2024-05-02T10:11:12Z",
        "generateName": f"{owner[kind]}-",
        "labels": labels,
        "name": "@NAME@",
        "namespace": "@NS@",
        "ownerReferences": [
            {
                "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
                "blockOwnerDeletion": True,
                "controller": True,
                "kind": kind,
                "name": owner[kind],
                "uid": "@UID@",
            }
        ],
        "resourceVersion": "@RV@",
        "uid": "@UID@",
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def _template(variant: str, fmt: str) -> str:
    pod = _pod(variant)
    text = json.dumps(pod, indent=4) if fmt == "json" else to_yaml([pod])
    text = text.replace("%", "%%")
    for mark in ("NAME", "NS", "NODE", "IP", "HOSTIP", "UID", "APP", "RV", "V", "C"):
        text = text.replace(f"@{mark}@", f"%({mark})s")
    if fmt == "json":
        text = "\n".join("        " + line for line in text.split("\n"))
    return text


def to_yaml(value: Any) -> str:
    """Block YAML as kubectl writes it (``- `` at its key's indentation)."""
    lines: list[str] = []
    _yaml_lines(value, 0, lines)
    return "\n".join(lines)


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        return str(v)
    s = str(v)
    if (
        s == ""
        or s[0] in "{[&*!|>'\"%@`#-?:,0123456789 "
        or ": " in s
        or s in ("true", "false", "null", "yes", "no")
        or "%(" in s
    ):
        return json.dumps(s)
    return s


def _yaml_lines(value: Any, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict) and v:
                out.append(f"{pad}{k}:")
                _yaml_lines(v, indent + 2, out)
            elif isinstance(v, list) and v:
                out.append(f"{pad}{k}:")
                _yaml_lines(v, indent, out)
            else:
                out.append(f"{pad}{k}: {'{}' if v == {} else '[]' if v == [] else _scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            sub: list[str] = []
            _yaml_lines(item, indent + 2, sub)
            if sub and isinstance(item, dict | list):
                out.append(f"{pad}- {sub[0][indent + 2 :]}")
                out.extend(sub[1:])
            else:
                out.append(f"{pad}- {_scalar(item)}")


def _variants(n: int) -> Iterator[tuple[int, str]]:
    for i in range(n):
        if i % PODS_PER_NODE == 0:
            yield i, "daemon"  # one kube-proxy-like pod per node
        elif i % 97 == 0:
            yield i, "job"
        elif i % 101 == 0:
            yield i, "pending"
        elif i % 19 == 0:
            yield i, "sidecar"
        else:
            yield i, "web"


def write_pods(path: str, n: int, fmt: str = "json") -> dict[str, int]:
    """Write ``kubectl get pods -A -o FMT`` of ``n`` pods; returns how many of each variant."""
    templates = {v: _template(v, fmt) for v in ("web", "sidecar", "daemon", "job", "pending")}
    counts: dict[str, int] = {}
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(
            '{\n    "apiVersion": "v1",\n    "items": [\n' if fmt == "json" else "apiVersion: v1\nitems:\n"
        )
        for i, variant in _variants(n):
            counts[variant] = counts.get(variant, 0) + 1
            node = i // PODS_PER_NODE
            ns = NAMESPACES[i % len(NAMESPACES)]
            app = f"app{i % 23}"
            values = {
                "NAME": f"{app}-7d9c5b8f6-{i:06x}",
                "NS": ns,
                "NODE": f"node-{node:05d}",
                "IP": f"10.{128 + node // 256}.{node % 256}.{3 + i % PODS_PER_NODE}",
                "HOSTIP": f"172.16.{node // 240}.{10 + node % 240}",
                "UID": f"{i:08x}-4f50-6172-8394-a5b6c7d8e9f0",
                "APP": app,
                "RV": str(100000 + i),
                "V": f"{i % 100000:05d}",
                "C": f"{i:064x}",
            }
            if fmt == "json":
                fh.write(templates[variant] % values)
                fh.write(",\n" if i < n - 1 else "\n")
            else:
                fh.write(templates[variant] % values + "\n")
        if fmt == "json":
            fh.write(
                '    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n'
            )
        else:
            fh.write('kind: List\nmetadata:\n  resourceVersion: ""\n')
    return counts


def write_nodes(path: str, n_pods: int) -> int:
    """Write ``kubectl get nodes -o json`` for the nodes the pods of :func:`write_pods` run on."""
    n = (n_pods + PODS_PER_NODE - 1) // PODS_PER_NODE
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{\n    "apiVersion": "v1",\n    "items": [\n')
        for node in range(n):
            cidr = f"10.{128 + node // 256}.{node % 256}.0/24"
            item = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "labels": {
                        "kubernetes.io/arch": "amd64",
                        "kubernetes.io/hostname": f"node-{node:05d}",
                        "kubernetes.io/os": "linux",
                    },
                    "name": f"node-{node:05d}",
                    "resourceVersion": str(200000 + node),
                    "uid": f"{node:08x}-0e2f-4a61-9d4b-1c0a2f6e7b01",
                },
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
                "status": {
                    "addresses": [
                        {"address": f"172.16.{node // 240}.{10 + node % 240}", "type": "InternalIP"},
                        {"address": f"node-{node:05d}", "type": "Hostname"},
                    ],
                    "nodeInfo": {"operatingSystem": "linux", "kubeletVersion": "v1.29.4"},
                },
            }
            text = json.dumps(item, indent=4)
            fh.write("\n".join("        " + line for line in text.split("\n")))
            fh.write(",\n" if node < n - 1 else "\n")
        fh.write('    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n')
    return n


def _measure_stages(pods: str, nodes: str, cni: str, pod_cidr: str | None = None) -> dict[str, Any]:
    """Load the nodes and pods, translate, expand the profile, build the Network: seconds per stage."""
    import resource
    from ipaddress import IPv4Network

    from l2l3.kube import load
    from l2l3.kube.cni import CniChoice, parse_profile
    from l2l3.kube.provenance import quiet_gc
    from l2l3.kube.translate import translate
    from l2l3.model.network import Network
    from l2l3.model.profiles import expand

    words, options = parse_profile(cni)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    cluster = load([nodes, pods])
    t1 = time.perf_counter()
    cidr = IPv4Network(pod_cidr) if pod_cidr else None
    tr = translate(cluster, CniChoice(words=words, options=options, pod_cidr=cidr))
    t2 = time.perf_counter()
    with quiet_gc():  # as l2l3.kube.inputs.load_cluster expands (l2l3 check, l2l3 import)
        spec, _ = expand(tr.spec)
    t3 = time.perf_counter()
    net = Network(spec)  # as l2l3.api.check builds it: the collector on
    t4 = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.update(
        load=t1 - t0,
        translate=t2 - t1,
        expand=t3 - t2,
        network=t4 - t3,
        total=t4 - t0,
        cpu=usage.ru_utime + usage.ru_stime,
        pods=sum(len(n.pods) for n in tr.spec.nodes),
        nodes=len(tr.spec.nodes),
        notes=len(tr.notes),
        rss_mib=usage.ru_maxrss / 1024,
        stacks=len(getattr(net, "stacks", ()) or ()),
    )
    return out


def _measure(path: str) -> dict[str, Any]:
    """Load ``path`` in this interpreter: seconds, pods read, peak RSS."""
    import resource

    from l2l3.kube import load

    before = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    cluster = load(path)
    seconds = time.perf_counter() - t
    first = cluster.pods[0].containers[0].ports[0].span if cluster.pods else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
        "pods": len(cluster.pods),
        "notes": len(cluster.notes),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "first_port": str(first),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", default="10000,150000", help="pod counts of the JSON files")
    ap.add_argument("--yaml-pods", default="500", help="pod counts of YAML files ('' for none)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dir", default=None, help="where to write the files (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    ap.add_argument(
        "--stages",
        default="10000,150000",
        help="pod counts to time load + translate + expand + Network build on ('' for none)",
    )
    ap.add_argument("--cni", default="calico bgp", help="the profile of --stages (default calico bgp)")
    ap.add_argument(
        "--pod-cidr",
        default=None,
        help="the cluster's pod-cidr for --stages (as a CNI config gives it; default: none, "
        "so the profile's pools are the node subnets)",
    )
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--measure-stages", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(_measure(args.measure)))
        return 0
    if args.measure_stages:
        pods, nodes = args.measure_stages
        print(json.dumps(_measure_stages(pods, nodes, args.cni, args.pod_cidr)))
        return 0
    work = args.dir or tempfile.mkdtemp(prefix="kube_load_")
    os.makedirs(work, exist_ok=True)
    rows = []
    sizes = [("json", int(n)) for n in args.pods.split(",") if n] + [
        ("yaml", int(n)) for n in args.yaml_pods.split(",") if n
    ]
    print(f"{'file':<22} {'MB':>8} {'pods read':>10} {'wall s':>8} {'cpu s':>7} {'peak MiB':>9}")
    for fmt, n in sizes:
        path = os.path.join(work, f"pods-{n}.{fmt}")
        write_pods(path, n, fmt)
        mb = os.path.getsize(path) / 1e6
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.kube_load", "--measure", path],
                check=True,
                capture_output=True,
                text=True,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
            m = json.loads(out.stdout)
            rows.append({"file": os.path.basename(path), "mb": mb, **m})
            print(
                f"{os.path.basename(path):<22} {mb:>8.1f} {m['pods']:>10} {m['seconds']:>8.2f} {m['cpu']:>7.2f} {m['rss_mib']:>9.0f}",
                flush=True,
            )
        if not args.keep:
            os.remove(path)
    stages = [int(n) for n in args.stages.split(",") if n]
    if stages:
        cidr = f", pod-cidr {args.pod_cidr}" if args.pod_cidr else ", no pod-cidr"
        print(f"\nload + translate + expand + Network build, cni {args.cni}{cidr}:")
        print(
            f"{'pods file':<18} {'nodes':>6} {'pods':>7} {'load s':>7} {'transl s':>8} {'expand s':>8} "
            f"{'network s':>9} {'total s':>7} {'cpu s':>7} {'peak MiB':>8}"
        )
    for n in stages:
        path = os.path.join(work, f"pods-{n}.json")
        nodes = os.path.join(work, f"nodes-{n}.json")
        write_pods(path, n, "json")
        write_nodes(nodes, n)
        for _ in range(args.repeat):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.kube_load",
                    "--cni",
                    args.cni,
                    "--measure-stages",
                    path,
                    nodes,
                ]
                + (["--pod-cidr", args.pod_cidr] if args.pod_cidr else []),
                check=True,
                capture_output=True,
                text=True,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
            m = json.loads(out.stdout)
            print(
                f"{os.path.basename(path):<18} {m['nodes']:>6} {m['pods']:>7} {m['load']:>7.2f} "
                f"{m['translate']:>8.2f} {m['expand']:>8.2f} {m['network']:>9.2f} {m['total']:>7.2f} "
                f"{m['cpu']:>7.2f} {m['rss_mib']:>8.0f}",
                flush=True,
            )
        if not args.keep:
            os.remove(path)
            os.remove(nodes)
    if not args.keep and not args.dir:
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
