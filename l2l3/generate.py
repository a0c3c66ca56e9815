"""Synthetic clusters for benchmarks and scale tests.

:func:`generate` writes a spec in the cluster-profile syntax (LANGUAGE.md §2):
one ``cluster`` block with a CNI profile, one segment, ``nodes`` shorthand
nodes with ``pods_per_node`` pods each, namespaces ``ns0 … nsK-1``, policies
and a default set of checks. :func:`to_kubernetes_yaml` writes the same pods
and policies as Kubernetes objects (Namespaces, Pods, NetworkPolicies) for
a Kubernetes-only analyzer such as ``network-config-analyzer``.

Layout (deterministic; ``seed`` only permutes namespaces, labels and which
nodes run Windows):

- segment ``lan`` 172.16.0.0/16, gateway 172.16.0.1; node ``n<i>`` at
  172.16.0.0 + 10 + i (so up to ~65,000 nodes);
- pod-cidr 10.128.0.0/9, service-cidr 10.96.0.0/12; node ``n<i>`` owns the
  i-th /24 of the pod-cidr (a larger block when a node has more than 250
  pods); its pods take addresses from .3 on (.1/.2 are gateway/host
  endpoint under some profiles);
- pod ``p<j>`` of node ``n<i>`` lives in namespace ``ns<k>`` (pods are
  dealt round-robin over namespaces, from a seeded offset per node) and has
  the label ``app=a<m>`` (``m`` cycles over ``apps`` values);
- policy ``iso`` in every namespace selects every pod of it and allows
  ingress only from the same namespace (so namespaces are isolated where the
  CNI enforces policy: calico, antrea, kindnet; not flannel or bridge);
  further policies ``p<k>`` (``policies_per_namespace`` > 1) select
  ``app=a<k mod apps>`` and allow tcp port 8000+k from ``app=a<k+1 mod apps>`` of
  the same namespace (they restrict nothing across namespaces);
- checks: ``no reach namespace A -> namespace B`` for the chosen pairs
  (``pairs``: ``"all"`` ordered pairs, ``"ring"`` ns<k> -> ns<k+1>, an int n
  for the first n ordered pairs, or an explicit list), plus
  ``netns-isolation``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

__all__ = ["ClusterPlan", "generate", "namespace_pairs", "plan", "register", "to_kubernetes_yaml"]

SEGMENT = IPv4Network("172.16.0.0/16")
SEGMENT_GATEWAY = IPv4Address("172.16.0.1")
POD_CIDR = IPv4Network("10.128.0.0/9")
SERVICE_CIDR = IPv4Network("10.96.0.0/12")
FIRST_POD_INDEX = 3  # .1 gateway (bridge, flannel, win-overlay), .2 host endpoint (win-bridge)
APPS = 4
#: Profiles :func:`generate` supports (macvlan pods live on the LAN itself: not generated).
SUPPORTED_CNI = (
    "calico bgp",
    "calico ipip",
    "calico vxlan",
    "flannel host-gw",
    "flannel vxlan",
    "antrea",
    "kindnet",
    "bridge",
)
_LINUX_ONLY = {"calico ipip", "kindnet", "bridge"}
#: Profiles whose nodes enforce NetworkPolicy (so ``iso`` isolates namespaces).
ENFORCING = {"calico bgp", "calico ipip", "calico vxlan", "antrea", "kindnet"}

Pairs = str | int | Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class GenPod:
    name: str
    ip: IPv4Address
    namespace: str
    app: str


@dataclass(frozen=True, slots=True)
class GenNode:
    name: str
    os: str  # "linux" | "windows"
    ip: IPv4Address
    subnet: IPv4Network
    pods: tuple[GenPod, ...]


@dataclass(frozen=True, slots=True)
class GenPolicy:
    name: str
    namespace: str
    select: str | None  # "app=a1", or None: every pod of the namespace
    from_namespace: str | None  # ingress from every pod of this namespace
    from_app: str | None  # ingress from pods with this label, same namespace
    port: int | None  # tcp port of the rule (None: every port)


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """What :func:`generate` and :func:`to_kubernetes_yaml` both write."""

    name: str
    cni: str
    nodes: tuple[GenNode, ...]
    namespaces: tuple[str, ...]
    policies: tuple[GenPolicy, ...]
    pairs: tuple[tuple[str, str], ...]
    netns_check: bool = True
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def pod_count(self) -> int:
        return sum(len(n.pods) for n in self.nodes)


def _subnet_plen(pods_per_node: int) -> int:
    need = pods_per_node + FIRST_POD_INDEX + 1  # + broadcast
    return min(24, 32 - math.ceil(math.log2(max(need, 2))))


def namespace_pairs(namespaces: Sequence[str], pairs: Pairs) -> tuple[tuple[str, str], ...]:
    """The ordered namespace pairs the default checks cover."""
    ns = list(namespaces)
    if isinstance(pairs, str):
        if pairs == "all":
            return tuple((a, b) for a in ns for b in ns if a != b)
        if pairs == "ring":
            if len(ns) < 2:
                return ()
            return tuple(
                (ns[i], ns[(i + 1) % len(ns)]) for i in range(len(ns)) if ns[i] != ns[(i + 1) % len(ns)]
            )
        if pairs == "none":
            return ()
        raise ValueError(f"pairs: expected 'all', 'ring', 'none', a number or a list, not {pairs!r}")
    if isinstance(pairs, int):
        return namespace_pairs(ns, "all")[: max(pairs, 0)]
    out = tuple((str(a), str(b)) for a, b in pairs)
    for a, b in out:
        if a not in ns or b not in ns:
            raise ValueError(f"pair {a} -> {b}: namespaces are {', '.join(ns)}")
    return out


def plan(
    nodes: int,
    pods_per_node: int,
    cni: str = "calico bgp",
    namespaces: int = 10,
    policies_per_namespace: int = 1,
    windows_fraction: float = 0.0,
    seed: int = 0,
    pairs: Pairs = "all",
    netns_check: bool = True,
) -> ClusterPlan:
    """The synthetic cluster, as data (see the module docstring for the layout)."""
    cni = " ".join(cni.lower().split())
    if cni == "flannel":
        cni = "flannel vxlan"
    if cni not in SUPPORTED_CNI:
        raise ValueError(f"cni {cni!r}: the generator supports {', '.join(SUPPORTED_CNI)}")
    if nodes < 1 or pods_per_node < 0 or namespaces < 1:
        raise ValueError("need nodes >= 1, pods_per_node >= 0, namespaces >= 1")
    if not 0.0 <= windows_fraction <= 1.0:
        raise ValueError("windows_fraction must lie in [0, 1]")
    if windows_fraction > 0 and cni in _LINUX_ONLY:
        raise ValueError(f"cni {cni} has no Windows dataplane; use windows_fraction 0")
    plen = _subnet_plen(pods_per_node)
    if plen < 16:
        raise ValueError("at most 65,000 pods per node")
    if nodes > 2 ** (plen - POD_CIDR.prefixlen) or nodes > SEGMENT.num_addresses - 20:
        raise ValueError(f"too many nodes for pod-cidr {POD_CIDR} with /{plen} blocks")
    rng = random.Random(seed)
    ns_names = tuple(f"ns{k}" for k in range(namespaces))
    n_win = round(nodes * windows_fraction)
    windows = set(rng.sample(range(nodes), n_win)) if n_win else set()
    block = 1 << (32 - plen)
    out_nodes = []
    for i in range(nodes):
        subnet = IPv4Network((int(POD_CIDR.network_address) + i * block, plen))
        offset = rng.randrange(namespaces)
        app_off = rng.randrange(APPS)
        pods = tuple(
            GenPod(
                name=f"p{j}",
                ip=subnet.network_address + FIRST_POD_INDEX + j,
                namespace=ns_names[(offset + j) % namespaces],
                app=f"a{(app_off + j) % APPS}",
            )
            for j in range(pods_per_node)
        )
        out_nodes.append(
            GenNode(
                name=f"n{i}",
                os="windows" if i in windows else "linux",
                ip=SEGMENT.network_address + 10 + i,
                subnet=subnet,
                pods=pods,
            )
        )
    pols: list[GenPolicy] = []
    for ns in ns_names:
        for k in range(policies_per_namespace):
            if k == 0:
                pols.append(GenPolicy("iso", ns, None, ns, None, None))
            else:
                pols.append(
                    GenPolicy(f"p{k}", ns, f"app=a{k % APPS}", None, f"app=a{(k + 1) % APPS}", 8000 + k)
                )
    return ClusterPlan(
        name="gen",
        cni=cni,
        nodes=tuple(out_nodes),
        namespaces=ns_names,
        policies=tuple(pols),
        pairs=namespace_pairs(ns_names, pairs),
        netns_check=netns_check,
        meta={
            "nodes": nodes,
            "pods_per_node": pods_per_node,
            "namespaces": namespaces,
            "policies_per_namespace": policies_per_namespace,
            "windows_fraction": windows_fraction,
            "seed": seed,
        },
    )


def _spec_lines(p: ClusterPlan) -> Iterator[str]:
    m = p.meta
    yield (
        f"# generated by l2l3.generate: {m['nodes']} nodes x {m['pods_per_node']} pods, cni {p.cni}, "
        f"{m['namespaces']} namespaces, {m['policies_per_namespace']} policies each, "
        f"windows fraction {m['windows_fraction']}, seed {m['seed']}"
    )
    yield f"cluster {p.name} {{"
    yield f"    pod-cidr {POD_CIDR}"
    yield f"    service-cidr {SERVICE_CIDR}"
    yield f"    cni {p.cni}"
    yield "}"
    yield f"segment lan {SEGMENT} gateway {SEGMENT_GATEWAY}"
    for n in p.nodes:
        head = f"node {n.name} {n.os} ip {n.ip} on lan subnet {n.subnet}"
        if not n.pods:
            yield head
            continue
        yield head + " {"
        for pod in n.pods:
            yield f"    pod {pod.name} ip {pod.ip} namespace {pod.namespace} labels app={pod.app}"
        yield "}"
    for pol in p.policies:
        yield f"policy {pol.name} namespace {pol.namespace} {{"
        yield f"    select {pol.select}" if pol.select else "    select"
        if pol.from_namespace is not None:
            src = f"namespace {pol.from_namespace}"
        elif pol.from_app is not None:
            src = f"pods {pol.from_app}"
        else:
            src = None
        port = f" tcp {pol.port}" if pol.port is not None else ""
        yield f"    ingress from {src}{port}" if src else f"    ingress{port}"
        yield "}"
    for a, b in p.pairs:
        yield f"check {a}-to-{b}: no reach namespace {a} -> namespace {b}"
    if p.netns_check:
        yield "check stacks: netns-isolation"


def generate(
    nodes: int,
    pods_per_node: int,
    cni: str = "calico bgp",
    namespaces: int = 10,
    policies_per_namespace: int = 1,
    windows_fraction: float = 0.0,
    seed: int = 0,
    *,
    pairs: Pairs = "all",
    netns_check: bool = True,
) -> str:
    """The spec text of a synthetic cluster (layout: module docstring)."""
    p = plan(
        nodes,
        pods_per_node,
        cni,
        namespaces,
        policies_per_namespace,
        windows_fraction,
        seed,
        pairs,
        netns_check,
    )
    return spec_text(p)


def spec_text(p: ClusterPlan) -> str:
    return "\n".join(_spec_lines(p)) + "\n"


# ------------------------------------------------------------------ Kubernetes


def _yaml_doc(lines: list[str]) -> str:
    return "\n".join(lines)


def _k8s_docs(p: ClusterPlan) -> Iterator[str]:
    for ns in p.namespaces:
        yield _yaml_doc(
            [
                "apiVersion: v1",
                "kind: Namespace",
                "metadata:",
                f"  name: {ns}",
                "  labels:",
                f"    kubernetes.io/metadata.name: {ns}",
                f"    name: {ns}",
            ]
        )
    for n in p.nodes:
        for pod in n.pods:
            yield _yaml_doc(
                [
                    "apiVersion: v1",
                    "kind: Pod",
                    "metadata:",
                    f"  name: {n.name}-{pod.name}",
                    f"  namespace: {pod.namespace}",
                    "  labels:",
                    f"    app: {pod.app}",
                    "  annotations:",
                    f"    l2l3/node: {n.name}",
                    f'    l2l3/ip: "{pod.ip}"',
                    "spec:",
                    f"  nodeName: {n.name}",
                    "  containers:",
                    "  - name: main",
                    "    image: registry.k8s.io/pause:3.9",
                    "status:",
                    "  phase: Running",
                    f'  hostIP: "{n.ip}"',
                    f'  podIP: "{pod.ip}"',
                    "  podIPs:",
                    f'  - ip: "{pod.ip}"',
                ]
            )
    for pol in p.policies:
        lines = [
            "apiVersion: networking.k8s.io/v1",
            "kind: NetworkPolicy",
            "metadata:",
            f"  name: {pol.name}",
            f"  namespace: {pol.namespace}",
            "spec:",
        ]
        if pol.select:
            k, v = pol.select.split("=", 1)
            lines += ["  podSelector:", "    matchLabels:", f"      {k}: {v}"]
        else:
            lines += ["  podSelector: {}"]
        lines += ["  policyTypes:", "  - Ingress", "  ingress:"]
        if pol.from_namespace is not None:
            lines += [
                "  - from:",
                "    - namespaceSelector:",
                "        matchLabels:",
                f"          kubernetes.io/metadata.name: {pol.from_namespace}",
            ]
        elif pol.from_app is not None:
            k, v = pol.from_app.split("=", 1)
            lines += ["  - from:", "    - podSelector:", "        matchLabels:", f"          {k}: {v}"]
        else:
            lines += ["  - {}"] if pol.port is None else ["  -"]
        if pol.port is not None:
            lines += ["    ports:", "    - protocol: TCP", f"      port: {pol.port}"]
        yield _yaml_doc(lines)


def kubernetes_yaml(p: ClusterPlan, kinds: set[str] | None = None) -> str:
    """The plan as one multi-document YAML stream (optionally only some kinds)."""
    docs = [d for d in _k8s_docs(p) if kinds is None or d.split("\nkind: ", 1)[1].split("\n", 1)[0] in kinds]
    return "---\n".join(d + "\n" for d in docs)


def to_kubernetes_yaml(
    nodes: int,
    pods_per_node: int,
    cni: str = "calico bgp",
    namespaces: int = 10,
    policies_per_namespace: int = 1,
    windows_fraction: float = 0.0,
    seed: int = 0,
) -> str:
    """The same namespaces, pods (labels, node and IP as annotations and status)
    and NetworkPolicies as :func:`generate`, as Kubernetes YAML.

    The CNI is not a Kubernetes object: a Kubernetes-only analyzer assumes
    policies are enforced, which matches the spec only for enforcing
    profiles (calico, antrea, kindnet).
    """
    p = plan(nodes, pods_per_node, cni, namespaces, policies_per_namespace, windows_fraction, seed, "none")
    return kubernetes_yaml(p)


# ------------------------------------------------------------------ command line


#: Bounds of the command line's counts (plan() checks what depends on several).
MAX_NODES = 65_000
MAX_PODS_PER_NODE = 65_000
MAX_PODS = 2_000_000
MAX_NAMESPACES = 10_000
MAX_POLICIES_PER_NAMESPACE = 1_000
MAX_POLICIES = 1_000_000
MAX_PAIRS = 1_000_000


def _cmd_generate(args: argparse.Namespace) -> int:
    from l2l3.cli import usage_error

    if args.nodes * args.pods > MAX_PODS:
        return usage_error(
            args,
            f"--nodes {args.nodes} --pods {args.pods} makes {args.nodes * args.pods:,} pods; at most {MAX_PODS:,}",
        )
    if args.namespaces * args.policies > MAX_POLICIES:
        return usage_error(
            args,
            f"--namespaces {args.namespaces} --policies {args.policies} makes "
            f"{args.namespaces * args.policies:,} policies; at most {MAX_POLICIES:,}",
        )
    n_pairs = {"all": args.namespaces * (args.namespaces - 1), "ring": args.namespaces, "none": 0}.get(
        str(args.pairs), 0
    )
    if n_pairs > MAX_PAIRS:
        return usage_error(
            args,
            f"--pairs {args.pairs} with {args.namespaces} namespaces makes {n_pairs:,} checks; "
            f"at most {MAX_PAIRS:,} (use --pairs ring, none or a number)",
        )
    try:
        p = plan(
            args.nodes,
            args.pods,
            args.cni,
            args.namespaces,
            args.policies,
            args.windows,
            args.seed,
            args.pairs,
        )
    except ValueError as e:
        print(f"l2l3: error: {e}", file=sys.stderr)
        return 2
    text = spec_text(p)
    if args.output and args.output != "-":
        if not _write(args.output, text):
            return 2
    else:
        sys.stdout.write(text)
    if args.k8s_yaml and not _write(args.k8s_yaml, kubernetes_yaml(p)):
        return 2
    return 0


def _write(path: str, text: str) -> bool:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        print(f"l2l3: error: cannot write {path}: {e.strerror or e}", file=sys.stderr)
        return False
    return True


def _fraction(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, not {s!r}") from None
    if not 0.0 <= v <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, not {s!r}")
    return v


def _cni(s: str) -> str:
    name = " ".join(s.split())
    if name not in SUPPORTED_CNI:
        raise argparse.ArgumentTypeError(
            f"{s!r} is not a profile the generator supports: {', '.join(SUPPORTED_CNI)}"
        )
    return name


def _pairs(s: str) -> Pairs:
    from l2l3.cli import int_range

    if s in ("all", "ring", "none"):
        return s
    try:
        return int_range(0, MAX_PAIRS, what="the pair count")(s)
    except argparse.ArgumentTypeError as e:
        if not s.strip().lstrip("+-").isdigit():
            raise argparse.ArgumentTypeError(f"expected all, ring, none or a number, not {s!r}") from None
        raise e


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 generate`` to the command line."""
    from l2l3.cli import int_range

    g = subparsers.add_parser(
        "generate",
        help="write a synthetic cluster spec (and optionally the same cluster as Kubernetes YAML)",
        description="Write a synthetic cluster in the cluster-profile syntax, with default checks "
        "(no reach between namespace pairs, netns-isolation).",
    )
    g.add_argument("--nodes", type=int_range(1, MAX_NODES, what="the node count"), required=True, metavar="N")
    g.add_argument(
        "--pods",
        type=int_range(0, MAX_PODS_PER_NODE, what="the pods per node"),
        required=True,
        metavar="P",
        help="pods per node",
    )
    g.add_argument(
        "--cni",
        type=_cni,
        default="calico bgp",
        metavar="PROFILE",
        help=f"one of: {', '.join(SUPPORTED_CNI)}",
    )
    g.add_argument(
        "--namespaces", type=int_range(1, MAX_NAMESPACES, what="the namespace count"), default=10, metavar="K"
    )
    g.add_argument(
        "--policies",
        type=int_range(0, MAX_POLICIES_PER_NAMESPACE, what="the policies per namespace"),
        default=1,
        metavar="N",
        help="policies per namespace (default 1)",
    )
    g.add_argument("--windows", type=_fraction, default=0.0, metavar="F", help="fraction of Windows nodes")
    g.add_argument("--seed", type=int_range(0, 2**64 - 1, what="the seed"), default=0, metavar="S")
    g.add_argument(
        "--pairs",
        type=_pairs,
        default="all",
        metavar="all|ring|none|N",
        help="namespace pairs checked with 'no reach'",
    )
    g.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write the spec here (default stdout)"
    )
    g.add_argument("--k8s-yaml", default=None, metavar="OUT", help="also write Kubernetes YAML to OUT")
    g.set_defaults(func=_cmd_generate, _parser=g)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m l2l3.generate")
    sub = ap.add_subparsers(dest="command", required=True)
    register(sub)
    from l2l3.cli import parse_args, run

    args = parse_args(ap, ["generate", *(sys.argv[1:] if argv is None else argv)])
    if isinstance(args, int):
        return args
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
