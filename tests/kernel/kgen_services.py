"""Hypothesis strategies for random clusters with Services, realizable in namespaces.

Address plan: segment ``lan`` 10.0.0.0/24 (node I at 10.0.0.I, gateway .254,
an external ``internet`` behind it), ``cni flannel host-gw`` with node I's
pods in 10.244.I.0/24 (cni0 at .1, pods from .2), Service VIPs 10.96.0.K,
NodePorts 30080+K. Random choices: how many nodes and pods, each pod's
``app`` label and the number of its container port ``http``, whether the
cluster states a pod-cidr (kube-proxy's cluster-CIDR local-traffic
detector), and per Service its type (ClusterIP or NodePort), protocol,
target port (a number, the name ``http``, or the port itself), endpoints (a
selector, or an explicit subset of the pods' addresses, possibly empty),
``externalTrafficPolicy`` and ``internalTrafficPolicy``; and whether a pod
has a hostPort (the portmap plugin's DNAT and masquerade).
"""

from __future__ import annotations

from hypothesis import strategies as st

import l2l3
from l2l3.model.types import Spec

PROBE_PORT = 80
#: a pod's hostPort (portmap), when it has one
HOST_PORT = 8088


def node_port(k: int) -> int:
    return 30080 + k


@st.composite
def service_clusters(draw: st.DrawFn, max_nodes: int = 3, max_pods: int = 2, max_services: int = 3) -> Spec:
    n = draw(st.integers(1, max_nodes), label="nodes")
    lines = ["cluster c {"]
    if draw(st.booleans(), label="pod-cidr"):
        lines.append("    pod-cidr 10.244.0.0/16")
    lines += ["    cni flannel host-gw", "}"]
    lines += ["segment lan 10.0.0.0/24 gateway 10.0.0.254", "external internet 0.0.0.0/0 via lan"]
    ips: list[str] = []
    for i in range(1, n + 1):
        lines.append(f"node n{i} linux ip 10.0.0.{i} on lan subnet 10.244.{i}.0/24 {{")
        for j in range(draw(st.integers(1, max_pods), label=f"pods of n{i}")):
            app = draw(st.sampled_from(["a", "b"]), label="app")
            port = draw(st.sampled_from([8080, 8081]), label="container port")
            ip = f"10.244.{i}.{j + 2}"
            ips.append(ip)
            host = f"{HOST_PORT}:" if draw(st.integers(0, 3), label="hostPort") == 0 else ""
            lines.append(f"    pod p{i}{j} ip {ip} namespace shop labels app={app} ports {host}{port}=http")
        lines.append("}")
    for k in range(1, draw(st.integers(1, max_services), label="services") + 1):
        nodeport = draw(st.booleans(), label="nodeport")
        head = [f"service shop/s{k} ip 10.96.0.{k}"]
        if nodeport:
            head.append("type nodeport")
            if draw(st.booleans(), label="etp local"):
                head.append("external-traffic local")
        if draw(st.integers(0, 3), label="itp local") == 0:
            head.append("internal-traffic local")
        proto = draw(st.sampled_from(["tcp", "udp"]), label="proto")
        target = draw(st.sampled_from(["", " target 8080", " target http"]), label="target")
        np = f" node-port {node_port(k)}" if nodeport else ""
        body = [f"    port {PROBE_PORT} {proto}{target}{np}"]
        if draw(st.booleans(), label="selector"):
            body.append(f"    select app={draw(st.sampled_from(['a', 'b']), label='selects')}")
        else:
            chosen = draw(st.lists(st.sampled_from(ips), unique=True, max_size=3), label="endpoints")
            body += [f"    endpoint {ip}" for ip in chosen]
        lines += [" ".join(head) + " {", *body, "}"]
    return l2l3.loads("\n".join(lines) + "\n", "services.l2l3")
