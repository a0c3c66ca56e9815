"""Classes of alike pods: pods whose signatures match can swap places.

Computed on the expanded spec, from the statements in tokens
(:mod:`l2l3.matrix.signature`). Every statement of a node is filed under
what it talks about, and:

- **node signature** = the node's own statements (OS, CNI, NICs, bridges,
  default and literal routes, NAT, filters, tunnels …, with tokens), plus
  its *view* of each other node (the statements naming that peer, e.g.
  ``route PEER.prefix via PEER.eth0``), which must depend only on the peer's
  own signature (a peer seen differently from others of its kind becomes a
  singleton), plus whether each of its addresses lies in each literal
  prefix of the spec (policy CIDRs, NAT exceptions, filters, externals);
- **pod signature** = node signature + the pod's mode, prefix length, MAC
  and bridge roles, its routes, the node statements about it alone (its
  /32 route, its veth, proxy ARP…), its namespace, its labels restricted to
  the (key, value)s some policy looks at, whether it is selected by each
  policy, and whether its address lies in each literal prefix.

Statements that tie several pods or peers together (a DNAT to backends, a
route through another node to a third one's prefix) make everything they
name a singleton. Hand-written nodes take part like any other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from l2l3.matrix.signature import Canon, statement_tokens
from l2l3.matrix.views import PeerViews, route_statements
from l2l3.model.network import Network
from l2l3.model.policy import selects
from l2l3.model.types import CidrPeer, SelectorPeer, StackMode

__all__ = ["NODE_FIELDS", "PodClass", "classes", "pod_sort_key"]


@dataclass(frozen=True, slots=True)
class PodClass:
    """Pods that behave alike: any two of them can swap places (with their nodes)."""

    id: int
    namespace: str
    members: tuple[str, ...]  # pod ids, sorted
    description: str  # short human summary of what sets it apart

    @property
    def label(self) -> str:
        """``C<id>``, as the matrix prints it."""
        return f"C{self.id}"


#: the lists of a node its signature is made of
NODE_FIELDS = (
    "nics",
    "bridges",
    "routes",
    "snats",
    "outbound_nats",
    "dnats",
    "routes_to_host",
    "vxlans",
    "fdbs",
    "neighbors",
    "proxy_arps",
    "filters",
)
#: first match wins in these lists: their order is part of the signature
_ORDERED = {"snats", "filters", "outbound_nats", "dnats"}


def _digest(x: object) -> str:
    """A short stable digest of a signature part (its repr)."""
    return hashlib.sha1(repr(x).encode()).hexdigest()[:20]


def _only_from(tok: object) -> bool:
    """A NAT rule whose source is exactly this pod's address."""
    return (
        isinstance(tok, tuple)
        and len(tok) > 1
        and tok[0] == "SourceNat"
        and tok[1] == ("/32", ("@pod", "POD", "ip"))
    )


def classes(net: Network) -> tuple[list[PodClass], dict[str, int]]:
    """The pod classes of ``net`` (see the module docstring) and pod id -> class id."""
    cz = Canon(net)
    spec = net.spec
    node_names = [n.name for n in spec.nodes]
    pinned_nodes: set[str] = set()
    pinned_pods: set[tuple[str, str]] = set()
    self_part: dict[str, list[str]] = {}
    peer_stmts: dict[str, dict[str, list[tuple[str, int]]]] = {}  # n -> m -> n's statements about m
    fast: dict[str, tuple[int, int]] = {}  # n -> its shared peer routes (see matrix.views)
    pod_part: dict[tuple[str, str], list[str]] = defaultdict(list)
    if spec.services or any(c.host_port for n in spec.nodes for p in n.pods for c in p.ports):
        # kube-proxy's and portmap's rules (model.profiles.services) tie nodes and endpoints together
        pinned_nodes.update(node_names)
        pinned_pods.update((i.node, i.pod.name) for i in net.pods.values())
    for n in spec.nodes:
        own: list[str] = [
            repr(("os", n.os.value, "cni", n.cni, "fwd", n.forwarding, "pol", n.enforce_policy))
        ]
        per_peer: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for fname in NODE_FIELDS:
            ordered = fname in _ORDERED
            pos = 0  # rank among the node's own statements of an ordered list
            if fname == "routes":
                stmts, hits = route_statements(cz, n)  # shared peer routes: counted, not read
                if hits is not None:
                    fast[n.name] = hits
            else:
                stmts = statement_tokens(cz, n, fname)
            for tok, acc, raw, peer, key in stmts:
                if not acc:
                    own.append(repr(((fname, pos) if ordered else (fname,), tok)))
                    pos += 1
                    continue
                if peer is not None and not ordered:
                    # the common case at scale: a route or tunnel entry towards one peer
                    per_peer[peer].append((fname, key))
                    continue
                peers = {s[1] for s in acc if s[0] == "node" and s[1] != n.name}
                pods = {(s[1], s[2]) for s in acc if s[0] == "pod"}
                local_pod = next(iter(pods)) if len(pods) == 1 and next(iter(pods))[0] == n.name else None
                if not peers and not pods:
                    own.append(repr(((fname, pos) if ordered else (fname,), tok)))
                    pos += 1
                elif not peers and local_pod is not None and not ordered:
                    pod_part[local_pod].append(repr((fname, tok)))
                elif not peers and local_pod is not None and _only_from(tok):
                    # an ordered rule that matches only this pod's packets (bridge
                    # ipMasq): its place among the node's own rules is what counts
                    pod_part[local_pod].append(repr((fname, pos, tok)))
                elif len(peers) == 1 and not pods and not ordered:
                    (m,) = peers
                    per_peer[m].append((fname, key))
                else:  # ties several things together: each of them stands alone
                    pinned_nodes.add(n.name)
                    pinned_nodes.update(peers)
                    pinned_pods.update(pods)
                    own.append(repr(((fname, pos), tuple(cz.value(x, n.name) for x in raw))))
                    pos += 1
        self_part[n.name] = sorted(own)
        if per_peer:
            peer_stmts[n.name] = dict(per_peer)
    pv = PeerViews(cz, spec.nodes, peer_stmts, fast)
    pod_tok: dict[str, object] = {}
    for pid, info in net.pods.items():
        bare = dataclasses.replace(info.pod, labels=(), namespace="")
        pacc: list[tuple[str, ...]] = []
        pod_tok[pid] = cz.value(bare, info.node, "", pacc, info.pod.name)
        if any(a[0] == "pod" and a[1:] != (info.node, info.pod.name) for a in pacc):
            pinned_pods.add((info.node, info.pod.name))  # its own routes name another pod
    # where an address lies against every literal prefix (policy CIDRs, NAT
    # exceptions, filters, routes, externals): one bit each
    literals = sorted(cz.literals | _policy_literals(net) | {e.prefix for e in spec.externals}, key=str)
    ranges = [(int(p.network_address), int(p.broadcast_address)) for p in literals]

    def bits(ip: IPv4Address | None) -> str:
        if ip is None:
            return ""
        x = int(ip)
        return "".join("1" if lo <= x <= hi else "0" for lo, hi in ranges)

    for n in spec.nodes:
        self_part[n.name].append(repr(("addr-bits", sorted(bits(nic.ip.ip) for nic in n.nics))))
    # a node's view of a peer must depend only on the peer's own part; a peer
    # seen differently from the others of its kind stands alone
    selfkey = {nm: _digest((nm if nm in pinned_nodes else "", self_part[nm])) for nm in node_names}
    kinds: dict[str, list[str]] = defaultdict(list)
    for nm in node_names:
        kinds[selfkey[nm]].append(nm)
    pv.pin_odd_peers(kinds, pinned_nodes)
    selfkey = {nm: _digest((nm if nm in pinned_nodes else "", self_part[nm])) for nm in node_names}
    seen = pv.seen_pairs(node_names, selfkey)
    node_sig = {me: _digest((selfkey[me], seen[me])) for me in node_names}
    # policy-relevant labels and selection
    rel_pairs, rel_keys = _policy_label_pairs(net)
    sigs: dict[str, str] = {}
    desc: dict[str, str] = {}
    for pid, info in net.pods.items():
        pod = info.pod
        node = info.node
        labels = tuple(sorted((k, v if (k, v) in rel_pairs else "*") for k, v in pod.labels if k in rel_keys))
        selected = tuple(i for i, pol in enumerate(net.policies) if selects(pol, pod))
        ip = pod.ip.ip if pod.ip is not None and pod.mode is not StackMode.HOST_NETWORK else None
        pin = (node, pod.name) in pinned_pods
        sig = (
            node_sig[node],
            pid if pin else "",
            pod_tok[pid],
            sorted(pod_part.get((node, pod.name), [])),
            pod.namespace,
            labels,
            selected,
            bits(ip),
            *((pod.ports,) if pod.ports else ()),  # named ports resolve per pod
        )
        sigs[pid] = _digest(sig)
        spec_node = cz.nodes[node]
        desc[pid] = (
            f"namespace {pod.namespace}"
            + (f", labels {','.join(f'{k}={v}' for k, v in labels)}" if labels else "")
            + (f", {pod.mode.value}" if pod.mode is not StackMode.NETNS else "")
            + f", {spec_node.os.value}"
            + (f" {spec_node.cni}" if spec_node.cni else "")
            + (" (stands alone: named by a rule that ties it to others)" if pin else "")
            + (f" (node {node} stands alone)" if node in pinned_nodes else "")
        )
    by_sig: dict[str, list[str]] = defaultdict(list)
    for pid in sorted(net.pods, key=pod_sort_key):
        by_sig[sigs[pid]].append(pid)
    ordered_cls = sorted(
        by_sig.values(), key=lambda ms: (pod_sort_key(net.pods[ms[0]].pod.namespace), pod_sort_key(ms[0]))
    )
    out: list[PodClass] = []
    of: dict[str, int] = {}
    for i, ms in enumerate(ordered_cls):
        out.append(PodClass(i, net.pods[ms[0]].pod.namespace, tuple(ms), desc[ms[0]]))
        for pid in ms:
            of[pid] = i
    return out, of


_NUM = re.compile(r"(\d+)")


def pod_sort_key(pid: str) -> tuple[object, ...]:
    """n10/p2 after n9/p2: numbers compare as numbers."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in _NUM.split(pid))


def _policy_literals(net: Network) -> set[IPv4Network]:
    """The CIDRs (and their exceptions) that policies name."""
    out: set[IPv4Network] = set()
    for pol in net.policies:
        for r in (*pol.ingress, *pol.egress):
            for peer in r.peers:
                if isinstance(peer, CidrPeer):
                    out.add(peer.cidr)
                    out.update(peer.exceptions)
    return out


def _policy_label_pairs(net: Network) -> tuple[set[tuple[str, str]], set[str]]:
    """The (key, value) label pairs that policies' pod selectors compare, and the keys they look at."""
    pairs: set[tuple[str, str]] = set()
    keys: set[str] = set()
    for pol in net.policies:
        sels = [pol.select] + [
            p.pods
            for r in (*pol.ingress, *pol.egress)
            for p in r.peers
            if isinstance(p, SelectorPeer) and p.pods
        ]
        for sel in sels:
            pairs |= sel.pairs()
            keys |= sel.keys()
    return pairs, keys
