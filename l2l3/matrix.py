"""The reachability matrix between groups of pods, computed over classes.

``matrix(net, by="namespace")`` answers, for every ordered pair of groups
(namespaces, or endpoint classes), how many of the pod pairs between them
have *some* packet that gets from the first pod into the second one's stack
(the meaning of ``reach A -> B`` without headers). It does not ask the
question pair by pair. It

1. puts pods into **classes** of endpoints that behave alike (below);
2. for every ordered pair of classes (A, B) and every *relation* the pairs
   of that class pair actually realise — both pods on one node, or on two
   different nodes — picks one representative pod pair and asks the public
   :class:`~l2l3.checking.Checker` ``reach a -> b``;
3. lifts each answer to every pod pair of the same class pair and relation,
   and sums the pairs per group cell.

What is exact and what is not
-----------------------------
- Each representative answer is exact: ``reachable`` comes with a concrete
  packet the simulator replayed (the Checker raises rather than report a
  witness it cannot replay); ``unreachable`` is the Checker's proof that no
  packet gets through; ``unknown`` (a solver limit) is kept as unknown.
- The lift to the other pairs of the class pair is **not** re-checked: it
  rests on the class signature being a symmetry of the network (two pods of
  one class can swap places, with their nodes, without changing any answer
  except their own addresses). The signature is built to be conservative —
  anything it cannot canonicalise makes the pods or nodes involved
  singletons — but it is an argument, not a proof term. ``verify=N`` checks
  N extra sampled pairs per class-pair relation against the lifted answer
  and raises :class:`LiftMismatch` if one disagrees (the test-suite does this
  against the brute-force pairwise answer on small clusters).
- The reported witness of a cell is the representative's; pairs counted
  reachable in a cell share its class pair and relation, so they have the
  same packet with their own addresses.

Class signature
---------------
Computed on the expanded spec. Every value a node *owns* (its interface
addresses and MACs, its pods' addresses, MACs and veth names, prefixes that
cover exactly its pod-side addresses) is replaced by a role token (``SELF``,
``POD``, ``PEER``), every statement of a node is filed under what it talks
about, and:

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

import argparse
import bisect
import dataclasses
import enum
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, collapse_addresses
from itertools import repeat
from typing import Any

try:
    from l2l3.checking import Checker, CheckResult, Verdict
except ImportError:  # the module's earlier name
    from l2l3.checking import Checker, CheckResult, Verdict  # type: ignore[no-redef]
from l2l3.model.network import Network
from l2l3.model.packet import Trace
from l2l3.model.policy import labels_match
from l2l3.model.types import (
    AnyPeer,
    CidrPeer,
    NamespacePeer,
    Node,
    Pod,
    PodPeer,
    PodRef,
    Reach,
    Route,
    StackMode,
)

__all__ = ["Cell", "LiftMismatch", "Matrix", "PodClass", "classes", "matrix", "register"]

SAME_NODE = "same-node"
CROSS_NODE = "cross-node"


class LiftMismatch(AssertionError):
    """A sampled pair disagrees with its class representative (a signature bug)."""


# =========================================================================
# classes


@dataclass(frozen=True, slots=True)
class PodClass:
    id: int
    namespace: str
    members: tuple[str, ...]  # pod ids, sorted
    description: str  # short human summary of what sets it apart

    @property
    def label(self) -> str:
        return f"C{self.id}"


_DEV_FIELDS = {"dev", "in_dev", "out_dev", "uplink", "out", "bridge"}
_MAC_FIELDS = {"mac"}


#: a canonical statement: (token, owners met, raw statements, the one peer it is
#: about, a small int standing for the token)
_Stmt = tuple[object, list[tuple[str, ...]], tuple[object, ...], str | None, int]


class _Canon:
    """Role tokens for owned values, and statement canonicalisation."""

    def __init__(self, net: Network) -> None:
        self.net = net
        spec = net.spec
        self.nodes: dict[str, Node] = {n.name: n for n in spec.nodes}
        # address -> (node, pod|None, role)
        self.addr_owner: dict[IPv4Address, tuple[str, str | None, object]] = {}
        shared: set[IPv4Address] = set()
        mac_count: Counter[str] = Counter()
        self.mac_owner: dict[str, tuple[str, str | None, object]] = {}
        self.dev_owner: dict[tuple[str, str], str] = {}  # (node, dev) -> pod
        # pod-side addresses of each node (everything but NIC addresses)
        self.pod_side: dict[str, list[int]] = defaultdict(list)

        def own(ip: IPv4Address, who: tuple[str, str | None, object]) -> None:
            if ip in self.addr_owner and self.addr_owner[ip][:2] != who[:2]:
                shared.add(ip)
            self.addr_owner.setdefault(ip, who)

        def own_mac(mac: str | None, who: tuple[str, str | None, object]) -> None:
            if mac:
                mac_count[mac.lower()] += 1
                self.mac_owner[mac.lower()] = who

        for n in spec.nodes:
            users: Counter[str] = Counter(p.bridge for p in n.pods if p.bridge is not None)
            names = {b.name for b in n.bridges}
            for p in n.pods:
                if p.bridge is not None and users[p.bridge] == 1 and p.bridge in names:
                    self.dev_owner[(n.name, p.bridge)] = p.name
            for nic in n.nics:
                own(nic.ip.ip, (n.name, None, ("nic", nic.name)))
                own_mac(nic.mac, (n.name, None, ("nic", nic.name)))
            for br in n.bridges:
                role = ("pod-veth",) if (n.name, br.name) in self.dev_owner else ("bridge", br.name)
                if br.ip is not None:
                    own(br.ip.ip, (n.name, None, role))
                    self.pod_side[n.name].append(int(br.ip.ip))
                own_mac(br.mac, (n.name, None, role))
            for vx in n.vxlans:
                if vx.ip is not None:
                    own(vx.ip.ip, (n.name, None, ("vxlan", vx.name)))
                    self.pod_side[n.name].append(int(vx.ip.ip))
                own_mac(vx.mac, (n.name, None, ("vxlan", vx.name)))
            for p in n.pods:
                if p.ip is not None and p.mode is not StackMode.HOST_NETWORK:
                    own(p.ip.ip, (n.name, p.name, "ip"))
                    self.pod_side[n.name].append(int(p.ip.ip))
                own_mac(p.mac, (n.name, p.name, "mac"))
        for ip in shared:
            del self.addr_owner[ip]  # owned by several nodes: a plain literal
        for mac, c in mac_count.items():
            if c > 1:
                self.mac_owner.pop(mac, None)
        for v in self.pod_side.values():
            v.sort()
        owned = sorted((int(a), who[0]) for a, who in self.addr_owner.items())
        self.sorted_owned = [a for a, _ in owned]
        self.sorted_owners = [o for _, o in owned]
        self.nic_addrs = {n.name: [int(nic.ip.ip) for nic in n.nics] for n in spec.nodes}
        self.literals: set[IPv4Network] = set()
        self._prefix_cache: dict[IPv4Network, object] = {}
        self._addr_cache: dict[IPv4Address, object] = {}
        self._addr_by_id: dict[int, tuple[object, object]] = {}
        # id -> (prefix, token, registered as a literal or not a literal)
        self._pfx_by_id: dict[int, tuple[IPv4Network, object, bool]] = {}
        # id(route) -> (route, owners it names, its entry): see statement()
        self._route_memo: dict[int, tuple[object, frozenset[str], _Stmt]] = {}
        self._tok_keys: dict[object, int] = {}

    # -------------------------------------------------------------- tokens

    def _prefix_fast(self, p: IPv4Network, register: bool = True) -> object:
        """:meth:`_prefix` memoised on the object (the spec shares one prefix object per peer)."""
        hit = self._pfx_by_id.get(id(p))
        if hit is None or hit[0] is not p:
            tok = self._prefix(p, register)
            # keeps p alive, so its id stays its own
            self._pfx_by_id[id(p)] = (p, tok, register or type(tok) is not IPv4Network)
            return tok
        if register and not hit[2]:
            self.literals.add(p)
            self._pfx_by_id[id(p)] = (p, hit[1], True)
        return hit[1]

    def _addr_fast(self, a: IPv4Address) -> object:
        hit = self._addr_by_id.get(id(a))
        if hit is not None and hit[0] is a:
            return hit[1]
        tok = self._addr(a)
        self._addr_by_id[id(a)] = (a, tok)
        return tok

    def _prefix(self, p: IPv4Network, register: bool = True) -> object:
        """The token of a prefix; a literal one is remembered (``register``) for the address bits."""
        tok = self._prefix_cache.get(p)
        if tok is None:
            tok = self._prefix_token(p)
            self._prefix_cache[p] = tok
        if register and isinstance(tok, IPv4Network):
            self.literals.add(p)
        return tok

    def _prefix_token(self, p: IPv4Network) -> object:
        if p.prefixlen == 32 and p.network_address in self.addr_owner:
            return ("/32", self._addr(p.network_address))
        lo, hi = int(p.network_address), int(p.broadcast_address)
        i = bisect.bisect_left(self.sorted_owned, lo)
        j = bisect.bisect_right(self.sorted_owned, hi)
        owners = set(self.sorted_owners[i:j])
        if len(owners) == 1:
            (m,) = owners
            side = self.pod_side.get(m, [])
            inside = bisect.bisect_right(side, hi) - bisect.bisect_left(side, lo)
            nic_inside = any(lo <= a <= hi for a in self.nic_addrs.get(m, []))
            if side and inside == len(side) and not nic_inside:
                return ("@node", m, "pod-prefix", p.prefixlen)
        return p

    def _addr(self, a: IPv4Address) -> object:
        hit = self._addr_cache.get(a)
        if hit is not None:
            return hit
        who = self.addr_owner.get(a)
        if who is None:
            tok: object = a
        else:
            node, pod, role = who
            tok = ("@pod", node, pod, role) if pod is not None else ("@node", node, role)
        self._addr_cache[a] = tok
        return tok

    def value(
        self,
        v: object,
        node: str,
        fname: str = "",
        acc: list[tuple[str, ...]] | None = None,
        pod: str | None = None,
    ) -> object:
        """The canonical token of a statement (or value) of ``node``.

        Owned values become role tokens relative to ``node`` (and ``pod``, when
        given): ``("@node", "SELF"|"PEER", role)``, ``("@pod", "POD"|"OTHER", role)``;
        each owner met is appended to ``acc`` (``("node", name)`` or
        ``("pod", node, pod)``). With ``acc`` None, tokens keep the owners'
        names instead (for statements that tie several owners together).
        """
        t = type(v)
        if t is Route:  # the bulk of a big cluster: one per node and peer
            r: Route = v  # type: ignore[assignment]
            return (
                "Route",
                self._rel(self._prefix_fast(r.prefix), node, acc, pod),
                None if r.via is None else self._rel(self._addr_fast(r.via), node, acc, pod),
                r.dev if r.dev is None else self.value(r.dev, node, "dev", acc, pod),
                r.onlink,
            )
        if t is IPv4Interface:
            iface: IPv4Interface = v  # type: ignore[assignment]
            return ("if", self._rel(self._addr(iface.ip), node, acc, pod), iface.network.prefixlen)
        if t is IPv4Address:
            return self._rel(self._addr_fast(v), node, acc, pod)  # type: ignore[arg-type]
        if t is IPv4Network:
            return self._rel(self._prefix_fast(v), node, acc, pod)  # type: ignore[arg-type]
        if t is str:
            if fname in _MAC_FIELDS:
                mac = str(v).lower()
                who = self.mac_owner.get(mac)
                if who is None:
                    return mac
                n, p, role = who
                tok: object = ("@pod", n, p, role) if p is not None else ("@node", n, ("mac", role))
                return self._rel(tok, node, acc, pod)
            if fname in _DEV_FIELDS:
                p = self.dev_owner.get((node, v))  # type: ignore[arg-type]
                if p is not None:
                    return self._rel(("@pod", node, p, "dev"), node, acc, pod)
            return v
        if t is tuple:
            return tuple([self.value(x, node, fname, acc, pod) for x in v])  # type: ignore[attr-defined]
        if v is None or t is bool or t is int:
            return v
        if isinstance(v, enum.Enum):
            return v.value
        names = _FIELDS_OF.get(t)
        if names is None:
            if not (dataclasses.is_dataclass(v) and not isinstance(v, type)):
                return v
            names = _FIELDS_OF[t] = tuple(
                f.name
                for f in dataclasses.fields(v)
                if f.name not in ("span", "cni") and not (f.name in ("pods", "name") and t in (Pod, Node))
            )
        return (
            t.__name__,
            *[self.value(getattr(v, f), node, "dev" if f == "name" else f, acc, pod) for f in names],
        )

    @staticmethod
    def _rel(tok: object, node: str, acc: list[tuple[str, ...]] | None, pod: str | None) -> object:
        if type(tok) is not tuple or acc is None:
            return tok
        head = tok[0]  # type: ignore[index]
        if head == "@node":
            acc.append(("node", tok[1]))  # type: ignore[index]
            return ("@node", "SELF" if tok[1] == node else "PEER", *tok[2:])  # type: ignore[index,misc]
        if head == "@pod":
            acc.append(("pod", tok[1], tok[2]))  # type: ignore[index]
            mine = tok[1] == node and (pod is None or tok[2] == pod)  # type: ignore[index]
            return ("@pod", "POD" if mine else "OTHER", *tok[3:])  # type: ignore[index,misc]
        if head == "/32":
            return ("/32", _Canon._rel(tok[1], node, acc, pod))  # type: ignore[index]
        return tok

    def statement(self, s: object, node: str) -> _Stmt:
        """A statement of ``node``: (token, owners met, (s,), the one peer it is about).

        The peer is the other node a statement names when it names nothing
        else (a route or tunnel entry towards one peer), else None. Routes are
        memoised on the object: a profile gives every node the same route
        objects about a peer, and a route's token depends on the node holding
        it only where the node is one of its owners or owns its device
        through a pod (:meth:`memo_hit` checks both).
        """
        return self.memo_hit(s, node) or self._tokenise(s, node)

    def _tokenise(self, s: object, node: str) -> _Stmt:
        acc: list[tuple[str, ...]] = []
        tok = self.value(s, node, "", acc)
        owners = frozenset(a[1] for a in acc)
        peer = None
        if acc and len(acc) <= 2 and all(a[0] == "node" for a in acc):
            others = owners - {node}
            if len(others) == 1:
                (peer,) = others
        entry: _Stmt = (tok, acc, (s,), peer, self.key_of(tok))
        if type(s) is Route and self._holder_neutral(s, node, owners):
            self._route_memo[id(s)] = (s, owners, entry)
        return entry

    def _holder_neutral(self, r: Route, node: str, owners: frozenset[str]) -> bool:
        """Whether ``r``'s token on ``node`` is the token it has on any node in this position."""
        return node not in owners and (r.dev is None or (node, r.dev) not in self.dev_owner)

    def key_of(self, tok: object) -> int:
        """A small int per distinct token (hashing a nested token once, not at every use)."""
        return self._tok_keys.setdefault(tok, len(self._tok_keys))

    def memo_hit(self, s: object, node: str) -> _Stmt | None:
        hit = self._route_memo.get(id(s))
        if hit is not None and hit[0] is s and self._holder_neutral(s, node, hit[1]):  # type: ignore[arg-type]
            return hit[2]
        return None


_FIELDS_OF: dict[type, tuple[str, ...]] = {}


_NODE_FIELDS = (
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
_EMPTY_VIEW = 0


def _digest(x: object) -> str:
    return hashlib.sha1(repr(x).encode()).hexdigest()[:20]


def _own_prefixes(cz: _Canon, n: Node) -> list[IPv4Network]:
    """Prefixes of n's statements that stand for n's own pod prefix."""
    cands: list[IPv4Network] = [br.ip.network for br in n.bridges if br.ip is not None]
    cands += [r.prefix for r in n.routes]
    for s in n.snats:
        cands.append(s.source)
        cands.extend(s.exceptions)
    out = set()
    for p in cands:
        tok = cz._prefix_fast(p, register=False)
        if type(tok) is tuple and tok[:2] == ("@node", n.name) and tok[2] == "pod-prefix":
            out.add(p)
    return sorted(out)


def _address_set(
    cz: _Canon,
    n: Node,
    pieces: list[IPv4Network],
    own_prefixes: list[IPv4Network],
    acc: list[tuple[str, ...]],
) -> object:
    """A union of prefixes, canonically: ``L minus SELF.pod-prefix`` when it is that."""
    merged = list(collapse_addresses(pieces))
    if len(merged) == 1:
        return cz.value(merged[0], n.name, "", acc)
    for s in own_prefixes:
        if any(s.overlaps(p) for p in merged):
            continue
        whole = list(collapse_addresses([*merged, s]))
        if len(whole) == 1:
            return ("minus", cz.value(whole[0], n.name, "", acc), cz.value(s, n.name, "", acc))
    return ("union", tuple(sorted((cz.value(p, n.name, "", acc) for p in merged), key=repr)))


def _statement_tokens(cz: _Canon, n: Node, fname: str) -> list[_Stmt]:
    """Canonical statements of one list of node n: (token, owners met, raw statements, peer).

    ``peer`` is the one other node the statement is about (see :meth:`_Canon.statement`).

    Consecutive NAT rules that differ only in their source prefix act as
    one rule over the union of those prefixes (same action, same exceptions,
    adjacent in first-match order): they are merged, so that ``C minus this
    node's prefix`` written as per-node pieces (flannel's FLANNEL-POSTRTG)
    reads the same on every node.
    """
    stmts = getattr(n, fname)
    if fname != "snats":
        statement, name = cz.statement, n.name
        return [statement(s, name) for s in stmts]
    out: list[_Stmt] = []
    i = 0
    while i < len(stmts):
        s = stmts[i]
        j = i + 1
        if _mergeable(cz, s.source):
            while (
                j < len(stmts)
                and (stmts[j].to, stmts[j].exceptions, stmts[j].out) == (s.to, s.exceptions, s.out)
                and _mergeable(cz, stmts[j].source)
            ):
                j += 1
        if j - i == 1:
            out.append(cz.statement(s, n.name))
        else:
            acc: list[tuple[str, ...]] = []
            tok = cz.value(dataclasses.replace(s, source=IPv4Network("0.0.0.0/0")), n.name, "", acc)
            src_set = _address_set(cz, n, [x.source for x in stmts[i:j]], _own_prefixes(cz, n), acc)
            assert isinstance(tok, tuple)
            merged = tuple(src_set if k == 1 else x for k, x in enumerate(tok))
            out.append((merged, acc, tuple(stmts[i:j]), None, cz.key_of(merged)))
        i = j
    return out


def _mergeable(cz: _Canon, p: IPv4Network) -> bool:
    """A literal prefix or a node's pod prefix (not one pod's address)."""
    tok = cz._prefix(p, register=False)
    return isinstance(tok, IPv4Network) or (isinstance(tok, tuple) and tok[0] == "@node")


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
    cz = _Canon(net)
    spec = net.spec
    node_names = [n.name for n in spec.nodes]
    pinned_nodes: set[str] = set()
    pinned_pods: set[tuple[str, str]] = set()
    self_part: dict[str, list[str]] = {}
    views: dict[str, dict[str, int]] = {}  # n -> m -> id of n's statements about m
    view_ids: dict[tuple[tuple[str, int], ...], int] = {(): _EMPTY_VIEW}
    pod_part: dict[tuple[str, str], list[str]] = defaultdict(list)
    for n in spec.nodes:
        own: list[str] = [
            repr(("os", n.os.value, "cni", n.cni, "fwd", n.forwarding, "pol", n.enforce_policy))
        ]
        per_peer: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for fname in _NODE_FIELDS:
            ordered = fname in _ORDERED
            pos = 0  # rank among the node's own statements of an ordered list
            for tok, acc, raw, peer, key in _statement_tokens(cz, n, fname):
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
        views[n.name] = {m: view_ids.setdefault(tuple(v), len(view_ids)) for m, v in per_peer.items()}
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
    for me in node_names:
        vn = views[me]
        for members in kinds.values():
            tally = Counter(map(vn.get, members, repeat(_EMPTY_VIEW)))  # counted in C
            tally[vn.get(me, _EMPTY_VIEW)] -= me in members  # a node has no view of itself
            seen = [v for v, c in tally.items() if c > 0]
            if len(seen) <= 1:
                continue
            common = max(seen, key=lambda v: (tally[v], -v))
            pinned_nodes.update(m for m in members if m != me and vn.get(m, _EMPTY_VIEW) != common)
    selfkey = {nm: _digest((nm if nm in pinned_nodes else "", self_part[nm])) for nm in node_names}
    node_sig: dict[str, str] = {}
    selfkeys = [selfkey[m] for m in node_names]
    for me in node_names:
        vn = views[me]
        seen_pairs = Counter(zip(selfkeys, map(vn.get, node_names, repeat(_EMPTY_VIEW)), strict=True))
        seen_pairs[(selfkey[me], vn.get(me, _EMPTY_VIEW))] -= 1  # every peer but itself
        pairs = [k for k, c in seen_pairs.items() if c > 0]
        node_sig[me] = _digest((selfkey[me], sorted(pairs)))
    # policy-relevant labels and selection
    rel_pairs = _policy_label_pairs(net)
    rel_keys = {k for k, _ in rel_pairs}
    sigs: dict[str, str] = {}
    desc: dict[str, str] = {}
    for pid, info in net.pods.items():
        pod = info.pod
        node = info.node
        labels = tuple(sorted((k, v if (k, v) in rel_pairs else "*") for k, v in pod.labels if k in rel_keys))
        selected = tuple(
            i
            for i, pol in enumerate(net.policies)
            if pol.namespace == pod.namespace and labels_match(pol.select, pod)
        )
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
    for pid in sorted(net.pods, key=_pod_sort_key):
        by_sig[sigs[pid]].append(pid)
    ordered_cls = sorted(
        by_sig.values(), key=lambda ms: (_pod_sort_key(net.pods[ms[0]].pod.namespace), _pod_sort_key(ms[0]))
    )
    out: list[PodClass] = []
    of: dict[str, int] = {}
    for i, ms in enumerate(ordered_cls):
        out.append(PodClass(i, net.pods[ms[0]].pod.namespace, tuple(ms), desc[ms[0]]))
        for pid in ms:
            of[pid] = i
    return out, of


_NUM = re.compile(r"(\d+)")


def _pod_sort_key(pid: str) -> tuple[object, ...]:
    """n10/p2 after n9/p2: numbers compare as numbers."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in _NUM.split(pid))


def _policy_literals(net: Network) -> set[IPv4Network]:
    out: set[IPv4Network] = set()
    for pol in net.policies:
        for r in (*pol.ingress, *pol.egress):
            for peer in r.peers:
                if isinstance(peer, CidrPeer):
                    out.add(peer.cidr)
                    out.update(peer.exceptions)
    return out


def _policy_label_pairs(net: Network) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for pol in net.policies:
        out.update(pol.select)
        for r in (*pol.ingress, *pol.egress):
            for peer in r.peers:
                if isinstance(peer, PodPeer | NamespacePeer):
                    out.update(peer.labels)
                elif isinstance(peer, AnyPeer | CidrPeer):
                    pass
    return out


# =========================================================================
# the matrix


@dataclass
class Cell:
    """Reachability from one group to another."""

    pairs: int = 0
    reachable: int = 0
    unknown: int = 0
    witness: Trace | None = None
    witness_pair: tuple[str, str] | None = None

    @property
    def status(self) -> str:
        """``all``, ``none``, ``some``, ``unknown`` or ``empty`` (no pair)."""
        if self.pairs == 0:
            return "empty"
        if self.unknown:
            return "unknown"
        if self.reachable == self.pairs:
            return "all"
        if self.reachable == 0:
            return "none"
        return "some"


@dataclass
class Evaluation:
    """One representative query: class pair, relation, answer."""

    src_class: int
    dst_class: int
    relation: str
    src: str
    dst: str
    status: Verdict
    pairs: int
    explanation: str = ""
    witness: Trace | None = None


@dataclass
class Matrix:
    by: str
    groups: list[str]
    cells: dict[tuple[str, str], Cell]
    classes: list[PodClass]
    evaluations: list[Evaluation]
    seconds: float = 0.0
    pods: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def cell(self, a: str, b: str) -> Cell:
        return self.cells.get((a, b)) or Cell()

    # ------------------------------------------------------------ output

    SYMBOL = {"all": "#", "none": ".", "some": "+", "unknown": "?", "empty": " "}

    def to_text(self, witnesses: bool = False) -> str:
        names = self.groups
        short = {g: (g if self.by == "namespace" else g) for g in names}
        width = max([len(short[g]) for g in names] + [4])
        lines = [
            f"reachability by {self.by}: {len(self.classes)} classes of {self.pods} pods, "
            f"{len(self.evaluations)} representative queries, {self.seconds:.2f} s",
            "rows: from, columns: to.  # every pair reaches  . no pair reaches  "
            "+ some pairs reach  ? unknown  (blank: no pair)",
        ]
        # column headers, written vertically
        hdr_h = max(len(short[g]) for g in names) if names else 0
        for r in range(hdr_h):
            row = " " * (width + 2)
            for g in names:
                s = short[g].rjust(hdr_h)
                row += " " + s[r]
            lines.append(row.rstrip())
        for a in names:
            row = short[a].ljust(width) + "  "
            for b in names:
                row += " " + self.SYMBOL[self.cell(a, b).status]
            lines.append(row.rstrip())
        partial = [(a, b, c) for (a, b), c in sorted(self.cells.items()) if c.status in ("some", "unknown")]
        if partial:
            lines.append("")
            for a, b, c in partial:
                lines.append(
                    f"{a} -> {b}: {c.reachable} of {c.pairs} pod pairs reach"
                    + (f", {c.unknown} unknown" if c.unknown else "")
                )
        if self.by == "class":
            lines.append("")
            lines.append("classes:")
            for pc in self.classes:
                ex = ", ".join(pc.members[:3]) + (", …" if len(pc.members) > 3 else "")
                lines.append(f"  {pc.label}: {len(pc.members)} pods, {pc.description} (e.g. {ex})")
        if witnesses:
            from l2l3.report import render_trace

            for (a, b), c in sorted(self.cells.items()):
                if c.witness is not None and c.witness_pair is not None:
                    lines.append("")
                    lines.append(f"{a} -> {b}: witness {c.witness_pair[0]} -> {c.witness_pair[1]}")
                    lines.append(render_trace(c.witness))
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "groups": self.groups,
            "pods": self.pods,
            "seconds": round(self.seconds, 3),
            "cells": [
                {
                    "from": a,
                    "to": b,
                    "status": c.status,
                    "pairs": c.pairs,
                    "reachable_pairs": c.reachable,
                    "unknown_pairs": c.unknown,
                    "witness_pair": list(c.witness_pair) if c.witness_pair else None,
                    "witness": c.witness.to_json() if c.witness is not None else None,
                }
                for (a, b), c in sorted(self.cells.items())
            ],
            "classes": [
                {
                    "id": pc.label,
                    "namespace": pc.namespace,
                    "size": len(pc.members),
                    "description": pc.description,
                    "representative": pc.members[0],
                }
                for pc in self.classes
            ],
            "evaluations": [
                {
                    "from_class": f"C{e.src_class}",
                    "to_class": f"C{e.dst_class}",
                    "relation": e.relation,
                    "from": e.src,
                    "to": e.dst,
                    "status": e.status.value,
                    "pairs": e.pairs,
                }
                for e in self.evaluations
            ],
            "stats": self.stats,
        }


class Progress:
    """A plain-text progress bar on stderr (only when it is a terminal, or forced)."""

    def __init__(self, total: int, label: str, enabled: bool | None = None, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.total = max(total, 1)
        self.label = label
        self.enabled = (
            enabled if enabled is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        )
        self.t0 = time.monotonic()
        self.last = 0.0
        self.done = 0

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and self.done < self.total):
            return
        self.last = now
        frac = self.done / self.total
        bar = "#" * int(30 * frac)
        el = now - self.t0
        eta = el / frac - el if frac > 0 else 0.0
        self.stream.write(f"\r{self.label} [{bar:<30}] {self.done}/{self.total} {el:6.1f}s eta {eta:5.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _relations(
    net: Network, cls: list[PodClass], of: dict[str, int]
) -> dict[tuple[int, int, str], tuple[tuple[str, str], int, list[tuple[str, str]]]]:
    """(A, B, relation) -> (representative pair, number of pod pairs, a few more pairs for spot checks)."""
    by_node: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for c in cls:
        for pid in c.members:
            by_node[net.pods[pid].node][c.id].append(pid)
    out: dict[tuple[int, int, str], tuple[tuple[str, str], int, list[tuple[str, str]]]] = {}
    same_count: Counter[tuple[int, int]] = Counter()
    same_rep: dict[tuple[int, int], tuple[str, str]] = {}
    same_more: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
    for node in sorted(by_node, key=_pod_sort_key):
        here = by_node[node]
        for a, pa in here.items():
            for b, pb in here.items():
                n = len(pa) * len(pb) - (len(pa) if a == b else 0)
                if n <= 0:
                    continue
                same_count[(a, b)] += n
                pair = (pa[0], pb[0] if a != b else pb[1])
                if (a, b) not in same_rep:
                    same_rep[(a, b)] = pair
                elif len(same_more[(a, b)]) < 8:
                    same_more[(a, b)].append(pair)
    for (a, b), n in same_count.items():
        out[(a, b, SAME_NODE)] = (same_rep[(a, b)], n, same_more[(a, b)])
    nodes_of = {c.id: sorted({net.pods[p].node for p in c.members}, key=_pod_sort_key) for c in cls}
    for ca in cls:
        for cb in cls:
            a, b = ca.id, cb.id
            total = len(ca.members) * len(cb.members) - (len(ca.members) if a == b else 0)
            n = total - same_count.get((a, b), 0)
            if n <= 0:
                continue
            rep = _cross_pair(by_node, nodes_of, a, b, skip=0)
            assert rep is not None
            more = [p for k in range(1, 4) if (p := _cross_pair(by_node, nodes_of, a, b, skip=k)) is not None]
            out[(a, b, CROSS_NODE)] = (rep, n, more)
    return out


def _cross_pair(
    by_node: dict[str, dict[int, list[str]]], nodes_of: dict[int, list[str]], a: int, b: int, skip: int
) -> tuple[str, str] | None:
    """A pod of class a and one of class b on two different nodes (a different choice per ``skip``)."""
    na, nb = nodes_of[a], nodes_of[b]
    ra = na[skip % len(na) :] + na[: skip % len(na)]
    rev = nb[::-1]
    rb = rev[skip % len(rev) :] + rev[: skip % len(rev)]
    for x in ra:
        for y in rb:
            if x != y:
                pa, pb = by_node[x][a], by_node[y][b]
                return pa[skip % len(pa)], pb[-1 - skip % len(pb)]
    return None


def matrix(
    net: Network,
    by: str = "namespace",
    *,
    checker: Checker | None = None,
    progress: bool | None = None,
    verify: int = 0,
    seed: int = 0,
    jobs: int = 1,
) -> Matrix:
    """The reachability matrix of ``net`` between namespaces or classes (module docstring).

    ``verify=N`` re-checks up to N further pod pairs of every class pair and
    relation and raises :class:`LiftMismatch` when one disagrees with its
    representative. ``jobs`` > 1 answers representative queries in that many
    forked worker processes (POSIX only).
    """
    if by not in ("namespace", "class"):
        raise ValueError("by must be 'namespace' or 'class'")
    t0 = time.monotonic()
    cls, of = classes(net)
    t_cls = time.monotonic() - t0
    rel = _relations(net, cls, of)
    keys = sorted(rel)
    prog = Progress(len(keys), "matrix", enabled=progress)
    answers = _answer_all(net, [(k, rel[k][0]) for k in keys], checker, prog, jobs)
    prog.close()
    evals: list[Evaluation] = []
    for k in keys:
        (a, b, r) = k
        (src, dst), n, more = rel[k]
        res = answers[k]
        evals.append(Evaluation(a, b, r, src, dst, res.status, n, res.explanation, res.witness))
        if verify and res.status is not Verdict.UNKNOWN:
            ck = checker or Checker(net)
            rng = random.Random(f"{seed}/{a}/{b}/{r}")
            picks = more[:]
            rng.shuffle(picks)
            for s2, d2 in picks[:verify]:
                r2 = ck.evaluate(Reach(src=_ref(s2), dst=_ref(d2)))
                if r2.status is not Verdict.UNKNOWN and r2.status is not res.status:
                    raise LiftMismatch(
                        f"{s2} -> {d2} ({r}) is {r2.status.value}, but its representative {src} -> {dst} "
                        f"is {res.status.value}: classes C{a}, C{b} are not a symmetry"
                    )
    group_of: Callable[[PodClass], str]
    if by == "namespace":
        group_of = lambda c: c.namespace  # noqa: E731
        groups = sorted({c.namespace for c in cls}, key=_pod_sort_key)
    else:
        group_of = lambda c: c.label  # noqa: E731
        groups = [c.label for c in cls]
    cells: dict[tuple[str, str], Cell] = {}
    for e in evals:
        ga, gb = group_of(cls[e.src_class]), group_of(cls[e.dst_class])
        c = cells.setdefault((ga, gb), Cell())
        c.pairs += e.pairs
        if e.status is Verdict.HOLDS:
            c.reachable += e.pairs
            if c.witness is None:
                c.witness, c.witness_pair = e.witness, (e.src, e.dst)
        elif e.status is Verdict.UNKNOWN:
            c.unknown += e.pairs
    seconds = time.monotonic() - t0
    return Matrix(
        by=by,
        groups=groups,
        cells=cells,
        classes=cls,
        evaluations=evals,
        seconds=seconds,
        pods=len(net.pods),
        stats={
            "classes": len(cls),
            "representative_queries": len(evals),
            "pod_pairs": sum(e.pairs for e in evals),
            "class_seconds": round(t_cls, 3),
            "query_seconds": round(seconds - t_cls, 3),
            "jobs": jobs,
        },
    )


def _ref(pid: str) -> PodRef:
    node, pod = pid.split("/", 1)
    return PodRef(node=node, pod=pod)


def _answer_all(
    net: Network,
    work: list[tuple[tuple[int, int, str], tuple[str, str]]],
    checker: Checker | None,
    prog: Progress,
    jobs: int,
) -> dict[tuple[int, int, str], CheckResult]:
    if jobs > 1 and len(work) > 1:
        try:
            return _answer_parallel(net, work, prog, jobs)
        except (OSError, ValueError, ImportError):  # no fork here: fall back to one process
            pass
    ck = checker or Checker(net)
    out: dict[tuple[int, int, str], CheckResult] = {}
    for k, (s, d) in work:
        out[k] = ck.evaluate(Reach(src=_ref(s), dst=_ref(d)))
        prog.step()
    return out


_WORKER_NET: Network | None = None


def _worker(
    chunk: list[tuple[tuple[int, int, str], tuple[str, str]]],
) -> list[tuple[tuple[int, int, str], CheckResult]]:
    assert _WORKER_NET is not None
    ck = Checker(_WORKER_NET)
    out = []
    for k, (s, d) in chunk:
        r = ck.evaluate(Reach(src=_ref(s), dst=_ref(d)))
        out.append((k, dataclasses.replace(r, check=None)))
    return out


def _answer_parallel(
    net: Network, work: list[tuple[tuple[int, int, str], tuple[str, str]]], prog: Progress, jobs: int
) -> dict[tuple[int, int, str], CheckResult]:
    import multiprocessing as mp

    global _WORKER_NET
    ctx = mp.get_context("fork")
    _WORKER_NET = net
    # small interleaved chunks: neighbouring queries cost alike
    chunks = [work[i :: jobs * 4] for i in range(jobs * 4)]
    out: dict[tuple[int, int, str], CheckResult] = {}
    try:
        with ctx.Pool(jobs) as pool:
            for part in pool.imap_unordered(_worker, [c for c in chunks if c]):
                for k, r in part:
                    out[k] = r
                prog.step(len(part))
    finally:
        _WORKER_NET = None
    return out


# =========================================================================
# command line


def _cmd_matrix(args: argparse.Namespace) -> int:
    from l2l3 import api

    spec = api.load(args.file)
    net = Network(spec)
    m = matrix(net, by=args.by, progress=None if not args.quiet else False, jobs=args.jobs)
    if args.format == "json":
        sys.stdout.write(json.dumps(m.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(m.to_text(witnesses=args.witnesses))
    return 3 if any(c.status == "unknown" for c in m.cells.values()) else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 matrix`` to the command line."""
    p = subparsers.add_parser(
        "matrix",
        help="reachability between all namespaces (or endpoint classes), computed over classes",
        description="Print which groups of pods can reach which, computed over classes of endpoints "
        "that behave alike; every reachable cell is backed by a replayed witness.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--by", choices=["namespace", "class"], default="namespace")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--witnesses", action="store_true", help="text: print each cell's witness packet")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_matrix)


def main(argv: list[str] | None = None) -> int:
    """``python -m l2l3.matrix FILE …`` until ``l2l3 matrix`` is wired into the CLI."""
    from l2l3.errors import L2L3Error, SpecError

    ap = argparse.ArgumentParser(prog="python -m l2l3.matrix")
    sub = ap.add_subparsers(dest="command", required=True)
    register(sub)
    args = ap.parse_args(["matrix", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return 2
    except L2L3Error as e:
        print(f"l2l3: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
