"""Canonical tokens: a node's statements with every value it owns replaced by a role.

Every value a node *owns* (its interface addresses and MACs, its pods'
addresses, MACs and veth names, prefixes that cover exactly its pod-side
addresses) becomes a role token relative to the node reading it: ``SELF`` or
``PEER`` for a node's values, ``POD`` or ``OTHER`` for a pod's. Two nodes
whose statements read the same in tokens are alike up to their own
addresses; :mod:`l2l3.matrix.classes` builds the signatures from these.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
from collections import Counter, defaultdict
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, collapse_addresses
from typing import Generic, TypeVar

from l2l3.model.network import Network
from l2l3.model.types import Node, Pod, Route, StackMode

_DEV_FIELDS = {"dev", "in_dev", "out_dev", "uplink", "out", "bridge"}
_MAC_FIELDS = {"mac"}

#: a canonical statement: (token, owners met, raw statements, the one peer it is
#: about, a small int standing for the token)
Stmt = tuple[object, list[tuple[str, ...]], tuple[object, ...], str | None, int]

#: who owns a value: (node, pod or None, role)
_Owner = tuple[str, str | None, object]

_NO_DEVS: set[str] = set()

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """A memo on the key object's identity, for keys whose hash is dear.

    A :class:`~l2l3.model.types.Route` is a frozen dataclass of ``ipaddress``
    values: hashing one costs about 1.3 µs, taking its ``id`` about 0.1 µs, and
    the signature of a 5,000-node cluster looks up 25 million route entries
    (the profile shares one route object per peer among all nodes). Each
    entry holds its key, so no other object can take over that id while the
    memo lives; the memo lives on the :class:`Canon` of one network and goes
    with it.
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[K, V]] = {}

    def get(self, key: K) -> V | None:
        """The value memoised for this very object, or None."""
        hit = self._entries.get(id(key))
        if hit is None or hit[0] is not key:
            return None
        return hit[1]

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key`` (the object, not its equals)."""
        self._entries[id(key)] = (key, value)

    def __len__(self) -> int:
        return len(self._entries)


def _token_fields(t: type) -> tuple[str, ...] | None:
    """The fields of dataclass type ``t`` a token is made of (None: not a dataclass).

    Spans never count, nor a pod's or node's name (the token is about what
    it does, not what it is called), nor a node's pods (filed on their own).
    """
    if not dataclasses.is_dataclass(t):
        return None
    return tuple(
        f.name
        for f in dataclasses.fields(t)
        if f.name not in ("span", "cni") and not (f.name in ("pods", "name") and t in (Pod, Node))
    )


#: type -> :func:`_token_fields` (a type is its own stable key, and lives as long as the module)
_TOKEN_FIELDS: dict[type, tuple[str, ...] | None] = {}


def token_fields(t: type) -> tuple[str, ...] | None:
    """:func:`_token_fields`, memoised per type."""
    try:
        return _TOKEN_FIELDS[t]
    except KeyError:
        names = _TOKEN_FIELDS[t] = _token_fields(t)
        return names


class Canon:
    """Role tokens for the owned values of one network, and its statements in tokens.

    Holds the network's memos; they live and die with it (one per call of
    :func:`~l2l3.matrix.classes.classes`).
    """

    def __init__(self, net: Network) -> None:
        spec = net.spec
        self.nodes: dict[str, Node] = {n.name: n for n in spec.nodes}
        self.addr_owner: dict[IPv4Address, _Owner] = {}
        shared: set[IPv4Address] = set()
        mac_count: Counter[str] = Counter()
        self.mac_owner: dict[str, _Owner] = {}
        self.dev_owner: dict[tuple[str, str], str] = {}  # (node, dev) -> pod
        # pod-side addresses of each node (everything but NIC addresses)
        self.pod_side: dict[str, list[int]] = defaultdict(list)

        def own(ip: IPv4Address, who: _Owner) -> None:
            if ip in self.addr_owner and self.addr_owner[ip][:2] != who[:2]:
                shared.add(ip)
            self.addr_owner.setdefault(ip, who)

        def own_mac(mac: str | None, who: _Owner) -> None:
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
        #: literal prefixes the statements use (one address bit each in the signatures)
        self.literals: set[IPv4Network] = set()
        # memos: each is a function of its key alone (tests/bench/test_matrix.py
        # compares every one with a fresh computation)
        self._prefix_memo: dict[IPv4Network, object] = {}
        self._addr_memo: dict[IPv4Address, object] = {}
        #: route -> (owners it names, its statement): see :meth:`statement`
        self._route_memo: IdentityMemo[Route, tuple[frozenset[str], Stmt]] = IdentityMemo()
        self._tok_keys: dict[object, int] = {}
        #: the memoised routes about one peer each: id -> (peer, token key, device, serial);
        #: they read the same on every node but that peer (and one owning the device)
        self.peer_pool: dict[int, tuple[str, int, str | None, int]] = {}
        self.pool_devs: set[str | None] = set()
        self.pool_about: dict[str, set[int]] = defaultdict(set)  # peer -> ids of its pool routes
        self._owned_devs: dict[str, set[str]] = defaultdict(set)
        for nd, dev in self.dev_owner:
            self._owned_devs[nd].add(dev)

    # -------------------------------------------------------------- tokens

    def prefix(self, p: IPv4Network, register: bool = True) -> object:
        """The token of a prefix; a literal one is remembered (``register``) for the address bits."""
        tok = self._prefix_memo.get(p)
        if tok is None:
            tok = self._prefix_token(p)
            self._prefix_memo[p] = tok
        if register and type(tok) is IPv4Network:
            self.literals.add(p)
        return tok

    def _prefix_token(self, p: IPv4Network) -> object:
        """A node's ``pod-prefix`` if ``p`` covers exactly its pod-side addresses, an owned /32, else ``p``."""
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
        hit = self._addr_memo.get(a)
        if hit is None:
            hit = self._addr_token(a)
            self._addr_memo[a] = hit
        return hit

    def _addr_token(self, a: IPv4Address) -> object:
        """The owner's role for an owned address (absolute: not yet relative to a reader), else ``a``."""
        who = self.addr_owner.get(a)
        if who is None:
            return a
        node, pod, role = who
        return ("@pod", node, pod, role) if pod is not None else ("@node", node, role)

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
                self._rel(self.prefix(r.prefix), node, acc, pod),
                None if r.via is None else self._rel(self._addr(r.via), node, acc, pod),
                r.dev if r.dev is None else self.value(r.dev, node, "dev", acc, pod),
                r.onlink,
            )
        if t is IPv4Interface:
            iface: IPv4Interface = v  # type: ignore[assignment]
            return ("if", self._rel(self._addr(iface.ip), node, acc, pod), iface.network.prefixlen)
        if t is IPv4Address:
            return self._rel(self._addr(v), node, acc, pod)  # type: ignore[arg-type]
        if t is IPv4Network:
            return self._rel(self.prefix(v), node, acc, pod)  # type: ignore[arg-type]
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
        names = token_fields(t)
        if names is None:
            return v
        return (
            t.__name__,
            *[self.value(getattr(v, f), node, "dev" if f == "name" else f, acc, pod) for f in names],
        )

    @staticmethod
    def _rel(tok: object, node: str, acc: list[tuple[str, ...]] | None, pod: str | None) -> object:
        """An owner's absolute token read from ``node`` (and ``pod``); records the owner in ``acc``."""
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
            return ("/32", Canon._rel(tok[1], node, acc, pod))  # type: ignore[index]
        return tok

    def statement(self, s: object, node: str) -> Stmt:
        """A statement of ``node``: (token, owners met, (s,), the one peer it is about).

        The peer is the other node a statement names when it names nothing
        else (a route or tunnel entry towards one peer), else None. Routes are
        memoised on the object: a profile gives every node the same route
        objects about a peer, and a route's token depends on the node holding
        it only where the node is one of its owners or owns its device
        through a pod (:meth:`memo_hit` checks both).
        """
        return self.memo_hit(s, node) or self._tokenise(s, node)

    def _tokenise(self, s: object, node: str) -> Stmt:
        acc: list[tuple[str, ...]] = []
        tok = self.value(s, node, "", acc)
        owners = frozenset(a[1] for a in acc)
        peer = None
        if acc and len(acc) <= 2 and all(a[0] == "node" for a in acc):
            others = owners - {node}
            if len(others) == 1:
                (peer,) = others
        entry: Stmt = (tok, acc, (s,), peer, self.key_of(tok))
        if type(s) is Route and self._holder_neutral(s, node, owners):
            self._route_memo.put(s, (owners, entry))
            if peer is not None:
                self.peer_pool[id(s)] = (peer, entry[4], s.dev, len(self.peer_pool))
                self.pool_devs.add(s.dev)
                self.pool_about[peer].add(id(s))
        return entry

    def _holder_neutral(self, r: Route, node: str, owners: frozenset[str]) -> bool:
        """Whether ``r``'s token on ``node`` is the token it has on any node in this position."""
        return node not in owners and (r.dev is None or (node, r.dev) not in self.dev_owner)

    def owned_devs(self, node: str) -> set[str]:
        """The devices of ``node`` a pod owns (a route through one reads differently there)."""
        return self._owned_devs.get(node, _NO_DEVS)

    def key_of(self, tok: object) -> int:
        """A small int per distinct token (hashing a nested token once, not at every use)."""
        return self._tok_keys.setdefault(tok, len(self._tok_keys))

    def memo_hit(self, s: object, node: str) -> Stmt | None:
        """The memoised statement of route ``s`` if it holds for ``node`` too, else None."""
        if type(s) is not Route:
            return None
        hit = self._route_memo.get(s)
        if hit is not None and self._holder_neutral(s, node, hit[0]):
            return hit[1]
        return None


def _own_prefixes(cz: Canon, n: Node) -> list[IPv4Network]:
    """Prefixes of n's statements that stand for n's own pod prefix."""
    cands: list[IPv4Network] = [br.ip.network for br in n.bridges if br.ip is not None]
    # a route memoised for n names another node's block: not n's own
    cands += [r.prefix for r in n.routes if cz.memo_hit(r, n.name) is None]
    for s in n.snats:
        cands.append(s.source)
        cands.extend(s.exceptions)
    out = set()
    for p in cands:
        tok = cz.prefix(p, register=False)
        if type(tok) is tuple and tok[:2] == ("@node", n.name) and tok[2] == "pod-prefix":
            out.add(p)
    return sorted(out)


def _address_set(
    cz: Canon,
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


def statement_tokens(cz: Canon, n: Node, fname: str) -> list[Stmt]:
    """The statements of list ``fname`` of node ``n``, in tokens (see :data:`Stmt`).

    ``peer`` is the one other node a statement is about (see :meth:`Canon.statement`).

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
    out: list[Stmt] = []
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


def _mergeable(cz: Canon, p: IPv4Network) -> bool:
    """A literal prefix or a node's pod prefix (not one pod's address)."""
    tok = cz.prefix(p, register=False)
    return isinstance(tok, IPv4Network) or (isinstance(tok, tuple) and tok[0] == "@node")
