"""A realistic NetworkPolicy mix on a synthetic cluster (issue 15's benchmark).

:func:`mix_plan` lays pods out as :func:`l2l3.generate.plan` does (nodes,
pod blocks, namespaces ``ns0 …``, label ``app=a0…a3``) and adds two system
namespaces, ``kube-system`` (pods ``k8s-app=kube-dns``) and ``monitoring``
(pods ``app=prometheus``), then writes ``policies`` NetworkPolicies drawn
from the mix that real clusters use (seeded, deterministic):

- default-deny ingress in a quarter of the application namespaces
  (``select`` all, ``types ingress``, no rule);
- default-deny egress with DNS to kube-dns in a tenth of them
  (``egress to namespace kube-system pods k8s-app=kube-dns udp 53, tcp 53``);
- allow from monitoring on tcp 9090 where ingress is denied by default;
- and, for the rest, in turn: allow from pod labels on a TCP port; allow from
  another namespace (with or without a pod selector, with or without a
  port); ingress from an ipBlock with an exception (an office range outside
  the cluster, 192.168.0.0/16 minus 192.168.100.0/24); egress to 0.0.0.0/0 except the private ranges.

:func:`mix_spec` writes the cluster-profile spec (calico bgp by default, so
every policy is enforced), :func:`mix_yaml` the same Namespaces, Pods and
NetworkPolicies as Kubernetes objects for a Kubernetes-only analyzer; both
say exactly the same, construct by construct (the benchmark compares the
two tools' namespace-level answers).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from l2l3.generate import POD_CIDR, SEGMENT, SEGMENT_GATEWAY, SERVICE_CIDR, plan

__all__ = ["MixPlan", "mix_plan", "mix_spec", "mix_yaml"]

Labels = tuple[tuple[str, str], ...]
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
#: the ipBlock of the mix: an office range outside the cluster, minus one subnet
OFFICE, OFFICE_HOLE = "192.168.0.0/16", "192.168.100.0/24"
SYSTEM = {"kube-system": ("k8s-app", "kube-dns"), "monitoring": ("app", "prometheus")}


@dataclass(frozen=True, slots=True)
class MixPod:
    name: str
    ip: str
    namespace: str
    labels: Labels


@dataclass(frozen=True, slots=True)
class MixNode:
    name: str
    ip: str
    subnet: str
    pods: tuple[MixPod, ...]


@dataclass(frozen=True, slots=True)
class Peer:
    """``pods`` in the policy's namespace, ``namespace`` (± pods), or ``cidr`` (± except)."""

    kind: str  # "pods" | "namespace" | "cidr"
    pods: Labels | None = None
    namespace: str | None = None
    cidr: str | None = None
    excepts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    peers: tuple[Peer, ...]  # () : any peer
    ports: tuple[tuple[str, int], ...]  # () : every port


@dataclass(frozen=True, slots=True)
class MixPolicy:
    name: str
    namespace: str
    select: Labels  # () : every pod of the namespace
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    types: tuple[str, ...]  # policyTypes, always written out
    kind: str  # which entry of the mix


@dataclass(frozen=True, slots=True)
class MixPlan:
    cni: str
    nodes: tuple[MixNode, ...]
    namespaces: tuple[str, ...]
    policies: tuple[MixPolicy, ...]

    @property
    def pod_count(self) -> int:
        return sum(len(n.pods) for n in self.nodes)


def mix_plan(
    nodes: int, pods_per_node: int, namespaces: int, policies: int, seed: int = 0, cni: str = "calico bgp"
) -> MixPlan:
    """The cluster of :func:`l2l3.generate.plan` with the policy mix above."""
    base = plan(nodes, pods_per_node, cni, namespaces, 1, 0.0, seed, "none")
    rng = random.Random(seed)
    out_nodes = []
    for i, n in enumerate(base.nodes):
        pods = []
        for j, p in enumerate(n.pods):
            if j == 0 and i < 2 * len(SYSTEM):  # one system pod on each of the first nodes
                ns = sorted(SYSTEM)[i % len(SYSTEM)]
                pods.append(MixPod(p.name, str(p.ip), ns, (SYSTEM[ns],)))
            else:
                pods.append(MixPod(p.name, str(p.ip), p.namespace, (("app", p.app),)))
        out_nodes.append(MixNode(n.name, str(n.ip), str(n.subnet), tuple(pods)))
    apps = list(base.namespaces)
    return MixPlan(base.cni, tuple(out_nodes), (*apps, *sorted(SYSTEM)), _policies(rng, apps, policies))


def _app(k: int) -> Labels:
    return (("app", f"a{k % 4}"),)


def _policies(rng: random.Random, apps: list[str], total: int) -> tuple[MixPolicy, ...]:
    out: list[MixPolicy] = []
    deny_in = apps[: max(1, len(apps) // 4)] if len(apps) >= 4 else apps[:1]
    deny_out = apps[len(apps) - max(1, len(apps) // 10) :]
    dns = Rule(
        (Peer("namespace", pods=(SYSTEM["kube-system"],), namespace="kube-system"),),
        (("udp", 53), ("tcp", 53)),
    )
    monitoring = Rule((Peer("namespace", namespace="monitoring"),), (("tcp", 9090),))
    for ns in deny_in:
        out.append(MixPolicy("default-deny-ingress", ns, (), (), (), ("ingress",), "default-deny-ingress"))
    for ns in deny_out:
        out.append(
            MixPolicy("default-deny-egress", ns, (), (), (dns,), ("egress",), "default-deny-egress-dns")
        )
    for ns in deny_in:
        out.append(MixPolicy("allow-monitoring", ns, (), (monitoring,), (), ("ingress",), "allow-monitoring"))
    k = 0
    kinds = (
        "from-pods",
        "from-namespace",
        "from-namespace-pods",
        "from-namespace-port",
        "ipblock",
        "egress-internet",
    )
    while len(out) < total:
        ns = apps[k % len(apps)]
        kind = kinds[k % len(kinds)]
        other = apps[rng.randrange(len(apps))]
        port = 8000 + k % 50
        sel = _app(k)
        name = f"{kind}-{k}"
        if kind == "from-pods":
            rule = Rule((Peer("pods", pods=_app(k + 1)),), (("tcp", port),))
            out.append(MixPolicy(name, ns, sel, (rule,), (), ("ingress",), kind))
        elif kind == "from-namespace":
            out.append(
                MixPolicy(
                    name, ns, sel, (Rule((Peer("namespace", namespace=other),), ()),), (), ("ingress",), kind
                )
            )
        elif kind == "from-namespace-pods":
            rule = Rule((Peer("namespace", pods=_app(k + 2), namespace=other),), (("tcp", port),))
            out.append(MixPolicy(name, ns, sel, (rule,), (), ("ingress",), kind))
        elif kind == "from-namespace-port":
            rule = Rule((Peer("namespace", namespace=other),), (("tcp", port),))
            out.append(MixPolicy(name, ns, (), (rule,), (), ("ingress",), kind))
        elif kind == "ipblock":
            rule = Rule((Peer("cidr", cidr=OFFICE, excepts=(OFFICE_HOLE,)),), (("tcp", 443),))
            out.append(MixPolicy(name, ns, sel, (rule,), (), ("ingress",), kind))
        else:
            rule = Rule((Peer("cidr", cidr="0.0.0.0/0", excepts=PRIVATE),), ())
            out.append(MixPolicy(name, ns, sel, (), (rule,), ("egress",), kind))
        k += 1
    return tuple(out[:total])


# ------------------------------------------------------------------ the spec


def _sel(labels: Labels) -> str:
    return ",".join(f"{k}={v}" for k, v in labels)


def _peer_text(p: Peer) -> str:
    if p.kind == "pods":
        return f"pods {_sel(p.pods or ())}"
    if p.kind == "namespace":
        return f"namespace {p.namespace}" + (f" pods {_sel(p.pods)}" if p.pods else "")
    return f"cidr {p.cidr}" + (f" except {', '.join(p.excepts)}" if p.excepts else "")


def _rule_text(word: str, r: Rule) -> str:
    text = word
    if r.peers:
        text += (" from " if word == "ingress" else " to ") + ", ".join(_peer_text(p) for p in r.peers)
    if r.ports:
        text += " " + ", ".join(f"{proto} {port}" for proto, port in r.ports)
    return text


def mix_spec(p: MixPlan, checks: tuple[str, ...] = ()) -> str:
    """The cluster-profile spec of ``p`` (with ``checks``, each a ``check NAME: QUERY`` line)."""
    lines = [
        f"# generated by l2l3.generate_mix: {p.pod_count} pods, {len(p.policies)} policies, cni {p.cni}",
        "cluster gen {",
        f"    pod-cidr {POD_CIDR}",
        f"    service-cidr {SERVICE_CIDR}",
        f"    cni {p.cni}",
        "}",
        f"segment lan {SEGMENT} gateway {SEGMENT_GATEWAY}",
    ]
    for n in p.nodes:
        lines.append(f"node {n.name} linux ip {n.ip} on lan subnet {n.subnet} {{")
        lines += [
            f"    pod {q.name} ip {q.ip} namespace {q.namespace} labels {_sel(q.labels)}" for q in n.pods
        ]
        lines.append("}")
    for pol in p.policies:
        lines.append(f"policy {pol.name} namespace {pol.namespace} {{")
        lines.append(f"    select {_sel(pol.select)}" if pol.select else "    select")
        lines += [f"    {_rule_text('ingress', r)}" for r in pol.ingress]
        lines += [f"    {_rule_text('egress', r)}" for r in pol.egress]
        lines.append(f"    types {', '.join(pol.types)}")
        lines.append("}")
    lines += list(checks)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ Kubernetes


def _k8s_peer(p: Peer) -> dict[str, object]:
    if p.kind == "pods":
        return {"podSelector": {"matchLabels": dict(p.pods or ())}}
    if p.kind == "namespace":
        out: dict[str, object] = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": p.namespace}}
        }
        if p.pods:
            out["podSelector"] = {"matchLabels": dict(p.pods)}
        return out
    block: dict[str, object] = {"cidr": p.cidr}
    if p.excepts:
        block["except"] = list(p.excepts)
    return {"ipBlock": block}


def _k8s_rule(r: Rule, word: str) -> dict[str, object]:
    out: dict[str, object] = {}
    if r.peers:
        out[word] = [_k8s_peer(p) for p in r.peers]
    if r.ports:
        out["ports"] = [{"protocol": proto.upper(), "port": port} for proto, port in r.ports]
    return out


def _k8s_objects(p: MixPlan) -> list[dict[str, object]]:
    objs: list[dict[str, object]] = []
    for ns in p.namespaces:
        meta = {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    for n in p.nodes:
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": n.name, "labels": {"kubernetes.io/os": "linux"}},
                "spec": {"podCIDR": n.subnet},
                "status": {"addresses": [{"type": "InternalIP", "address": n.ip}]},
            }
        )
        for q in n.pods:
            objs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{n.name}-{q.name}",
                        "namespace": q.namespace,
                        "labels": dict(q.labels),
                        "annotations": {"l2l3/node": n.name, "l2l3/ip": q.ip},
                    },
                    "spec": {
                        "nodeName": n.name,
                        "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.9"}],
                    },
                    "status": {"phase": "Running", "hostIP": n.ip, "podIP": q.ip, "podIPs": [{"ip": q.ip}]},
                }
            )
    for pol in p.policies:
        spec: dict[str, object] = {
            "podSelector": {"matchLabels": dict(pol.select)} if pol.select else {},
            "policyTypes": [t.capitalize() for t in pol.types],
        }
        if "ingress" in pol.types:
            spec["ingress"] = [_k8s_rule(r, "from") for r in pol.ingress]
        if "egress" in pol.types:
            spec["egress"] = [_k8s_rule(r, "to") for r in pol.egress]
        objs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": pol.name, "namespace": pol.namespace},
                "spec": spec,
            }
        )
    return objs


def mix_yaml(p: MixPlan) -> str:
    """``p`` as a multi-document YAML stream (each document written in JSON, a subset of YAML)."""
    return "".join(f"---\n{json.dumps(o, sort_keys=False)}\n" for o in _k8s_objects(p))
