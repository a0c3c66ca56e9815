"""Nodes' views of their peers, without reading every (node, peer) entry in Python.

A node's *view* of a peer is what its statements say about that peer (the
route to the peer's pod block, tunnel entries); :mod:`l2l3.matrix.classes`
asks that a node sees all peers of one kind alike, and files each node's
views into its signature. With a profile's shared peer routes (one route
object per peer, held by every other node) that is N² entries: 25 million
at 5,000 nodes.

Most nodes of such a cluster are **standard**: their peer routes are
exactly the shared pool — every memoised single-peer route
(:attr:`~l2l3.matrix.signature.Canon.peer_pool`) but those about
themselves — and nothing else of theirs names a peer. For them the view of
peer m is the pool's own view of m, the same from every standard node, and
the tallies are computed once for all of them. Whether a node is standard
is decided by counting in C: its route objects are distinct, none is a pool
route about itself, none has a device the node owns through a pod, it
holds ``|pool| - |pool about it|`` of them, and its other statements name
no peer. Every other node's views are built entry by entry as before.
Views are sorted tuples: the statements they come from are unordered
lists (routes, neighbours, fdb entries), where order means nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import compress, repeat
from operator import not_

from l2l3.matrix.signature import Canon, Stmt
from l2l3.model.types import Node

__all__ = ["EMPTY_VIEW", "PeerViews", "route_statements"]

EMPTY_VIEW = 0
#: False: read every node's routes one by one (the tests compare both ways)
FAST = True
#: (pool routes the node held when it was read, pool serial at that moment)
_Fast = tuple[int, int]


def route_statements(cz: Canon, n: Node) -> tuple[list[Stmt], _Fast | None]:
    """n's routes that are not pool hits, in tokens, and how many were (None: read them all).

    A pool hit is a memoised single-peer route that reads the same on ``n``
    as on its first holder; its only contribution is to n's view of that
    peer, which :class:`PeerViews` takes from the pool.
    """
    stmts, name, pool = n.routes, n.name, cz.peer_pool
    ids = set(map(id, stmts))
    if (
        not FAST
        or not pool
        or len(ids) != len(stmts)
        or not cz.owned_devs(name).isdisjoint(cz.pool_devs)
        or not ids.isdisjoint(cz.pool_about.get(name, ()))
    ):
        return [cz.statement(s, name) for s in stmts], None
    start = len(pool)
    misses = list(compress(stmts, map(not_, map(pool.__contains__, map(id, stmts)))))  # in C
    return [cz.statement(s, name) for s in misses], (len(stmts) - len(misses), start)


class PeerViews:
    """Every node's view of every peer, as small ints (:data:`EMPTY_VIEW`: says nothing)."""

    def __init__(
        self,
        cz: Canon,
        nodes: tuple[Node, ...] | list[Node],
        per_peer: dict[str, dict[str, list[tuple[str, int]]]],
        fast: dict[str, _Fast],
    ) -> None:
        self.ids: dict[tuple[tuple[str, int], ...], int] = {(): EMPTY_VIEW}
        pool = cz.peer_pool
        by_peer: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for peer, key, _dev, _serial in pool.values():
            by_peer[peer].append(("routes", key))
        #: the pool's view of each peer: a standard node's view of it
        self.pool_view = {m: self._id(v) for m, v in by_peer.items()}
        #: n -> m -> view id; None for a standard node (its views are the pool's)
        self.views: dict[str, dict[str, int] | None] = {}
        for n in nodes:
            mine = per_peer.get(n.name, {})
            f = fast.get(n.name)
            if (
                f is not None
                and not mine
                and f[0] == len(pool) - len(cz.pool_about.get(n.name, ()))
                and cz.owned_devs(n.name).isdisjoint(cz.pool_devs)
            ):
                self.views[n.name] = None
                continue
            got: dict[str, list[tuple[str, int]]] = defaultdict(list)
            for m, v in mine.items():
                got[m].extend(v)
            if f is not None:  # the pool hits it skipped when it was read
                for s in n.routes:
                    h = pool.get(id(s))
                    if h is not None and h[3] < f[1]:
                        got[h[0]].append(("routes", h[1]))
            self.views[n.name] = {m: self._id(v) for m, v in got.items()}

    def _id(self, v: list[tuple[str, int]]) -> int:
        return self.ids.setdefault(tuple(sorted(v)), len(self.ids))

    def standard(self) -> int:
        """How many nodes see their peers as the pool does."""
        return sum(v is None for v in self.views.values())

    def _getter(self, me: str):  # type: ignore[no-untyped-def]
        vn = self.views[me]
        return (self.pool_view if vn is None else vn).get

    def pin_odd_peers(self, kinds: dict[str, list[str]], pinned: set[str]) -> None:
        """Add to ``pinned`` every peer a node sees differently from the others of its kind."""
        pool_get = self.pool_view.get
        base = {k: Counter(map(pool_get, ms, repeat(EMPTY_VIEW))) for k, ms in kinds.items()}
        member_of = {m: k for k, ms in kinds.items() for m in ms}
        done: dict[tuple[str, int], int] = {}  # (kind, common view) -> standard nodes that pinned
        for me, vn in self.views.items():
            get = self._getter(me)
            for k, members in kinds.items():
                if vn is None:
                    tally = base[k].copy()
                else:
                    tally = Counter(map(get, members, repeat(EMPTY_VIEW)))  # counted in C
                tally[get(me, EMPTY_VIEW)] -= member_of[me] == k  # a node has no view of itself
                seen = [v for v, c in tally.items() if c > 0]
                if len(seen) <= 1:
                    continue
                common = max(seen, key=lambda v: (tally[v], -v))
                if vn is not None:
                    pinned.update(m for m in members if m != me and get(m, EMPTY_VIEW) != common)
                elif done.get((k, common), 0) < 2:  # two standard nodes pin all of them
                    done[(k, common)] = done.get((k, common), 0) + 1
                    pinned.update(m for m in members if m != me and get(m, EMPTY_VIEW) != common)

    def seen_pairs(self, names: list[str], selfkey: dict[str, str]) -> dict[str, list[tuple[str, int]]]:
        """n -> the distinct (peer's own key, n's view of it) over n's peers, sorted."""
        keys = [selfkey[m] for m in names]
        pool_get = self.pool_view.get
        base = Counter(zip(keys, map(pool_get, names, repeat(EMPTY_VIEW)), strict=True))
        whole = sorted(k for k, c in base.items() if c > 0)
        out: dict[str, list[tuple[str, int]]] = {}
        for me in names:
            vn = self.views[me]
            own = (selfkey[me], self._getter(me)(me, EMPTY_VIEW))
            if vn is None:
                out[me] = whole if base[own] > 1 else [k for k in whole if k != own]
                continue
            pairs = Counter(zip(keys, map(vn.get, names, repeat(EMPTY_VIEW)), strict=True))
            pairs[own] -= 1  # every peer but itself
            out[me] = sorted(k for k, c in pairs.items() if c > 0)
        return out
