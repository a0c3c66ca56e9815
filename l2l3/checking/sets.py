"""Positive set queries by classes: ``reach A -> B`` over many pods without asking every pair.

A positive ``reach`` between sets of pods holds when *every* pair has a
delivered packet. Asked pair by pair that is |A|·|B| simulations (a million
for one namespace of a 10,000-pod cluster). Here the pairs are grouped into
**blocks** — (source class, destination class, relation), the classes of
:func:`l2l3.matrix.classes` and the relation *same node* or *cross node* —
and each block is answered in three steps:

1. **The representative** pair is answered exactly, by the Checker's own
   pair path: a ``holds`` carries a packet the simulator replayed, a
   ``violated`` is the engine's proof (or the policy screen's) and is the
   query's answer, with that concrete failing pair and its typical dying
   packet.
2. **Confirmation per member.** The representative's witness packet, its
   addresses mapped to the members (the source's send address, the
   destination's address), is simulated for pairs that make every source
   member of the block a sender once and every destination member a
   receiver once: O(|A| + |B|) simulations, not |A|·|B|. Each confirmed pair
   is itself exact (a concrete delivered packet).
3. **Fallback.** A member whose confirming packet is not delivered is asked
   pair by pair against every partner of its block (the Checker's pair path
   again); any failing pair answers the query ``violated``.

What is argued, not checked: that a pair of the block nobody simulated
behaves like the simulated ones. It rests on the class signature being a
symmetry of the network (docs/scale.md, "How the classes are built") *and*
on each of its two members having passed in its role; the
property test tests/property/test_sets_vs_brute.py compares these answers with
brute-force simulation on random networks, with the shortcut forced on.

Queries below :data:`MIN_PAIRS` pairs, with endpoints that are not pods, or
with a Service destination take the pair-by-pair path unchanged.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from l2l3.checking.result import CheckResult, Verdict
from l2l3.model.endpoints import Endpoint, as_destination, resolve, send_address, single
from l2l3.model.goal import delivery_goal
from l2l3.model.network import Network
from l2l3.model.packet import Packet, Trace
from l2l3.model.simulate import simulate
from l2l3.model.types import PodRef, Reach

if TYPE_CHECKING:
    from l2l3.checking.checker import Checker

__all__ = ["MIN_PAIRS", "SetStats", "class_reach", "pod_classes"]

#: fewest pairs a query must cover before it is answered by classes
MIN_PAIRS = 256

SAME, CROSS = "same node", "cross node"

#: a block: (source class, destination class, relation)
_Block = tuple[int, int, str]

_CLASS_MEMO: WeakKeyDictionary[Network, tuple[object, int, dict[str, int]]] = WeakKeyDictionary()


def pod_classes(net: Network) -> tuple[int, dict[str, int]]:
    """(number of classes, pod id -> class id) of ``net``, computed once per network and spec."""
    hit = _CLASS_MEMO.get(net)
    if hit is not None and hit[0] is net.spec:
        return hit[1], hit[2]
    from l2l3.matrix.classes import classes  # not at import: l2l3.matrix imports the checker

    cls, of = classes(net)
    _CLASS_MEMO[net] = (net.spec, len(cls), of)
    return len(cls), of


@dataclass(slots=True)
class SetStats:
    """What answering one set query by classes took (shown in its explanation)."""

    classes: int = 0
    blocks: int = 0
    confirmations: int = 0
    fallback_members: int = 0
    fallback_pairs: int = 0
    seconds: float = 0.0

    def note(self) -> str:
        """The sentence the verdict carries."""
        text = (
            f"answered by classes: {self.classes} classes, {self.blocks} representative "
            f"quer{'y' if self.blocks == 1 else 'ies'}, {self.confirmations} member confirmations"
        )
        if self.fallback_members:
            text += (
                f", {self.fallback_members} member(s) not confirmed and checked pair by pair "
                f"({self.fallback_pairs} pairs)"
            )
        return text


def _eligible(e: Endpoint) -> bool:
    return e.pod is not None and e.prefix is None and e.arrive is None and e.external is None


def _ref(pid: str) -> PodRef:
    node, pod = pid.split("/", 1)
    return PodRef(node=node, pod=pod)


@dataclass(slots=True)
class _BlockPairs:
    """The members of one block, by node."""

    srcs: dict[str, list[Endpoint]] = field(default_factory=lambda: defaultdict(list))
    dsts: dict[str, list[Endpoint]] = field(default_factory=lambda: defaultdict(list))


def _blocks(
    net: Network, of: dict[str, int], srcs: list[Endpoint], dsts: list[Endpoint]
) -> dict[tuple[int, int], _BlockPairs]:
    """The query's pods grouped by (source class, destination class), each side by node."""
    by_src: dict[int, dict[str, list[Endpoint]]] = defaultdict(lambda: defaultdict(list))
    by_dst: dict[int, dict[str, list[Endpoint]]] = defaultdict(lambda: defaultdict(list))
    for s in srcs:
        assert s.pod is not None
        by_src[of[s.pod]][net.pods[s.pod].node].append(s)
    for d in dsts:
        assert d.pod is not None
        by_dst[of[d.pod]][net.pods[d.pod].node].append(d)
    out: dict[tuple[int, int], _BlockPairs] = {}
    for a, sa in sorted(by_src.items()):
        for b, db in sorted(by_dst.items()):
            out[(a, b)] = _BlockPairs(sa, db)
    return out


def _cover(
    xs: list[Endpoint], ys: list[Endpoint], differ: dict[str, str] | None
) -> Iterator[tuple[Endpoint, Endpoint]]:
    """Pairs (x, y), x != y, in which every x is a sender once and every y a receiver once.

    ``differ`` (pod -> node) asks the two to be on different nodes (cross
    node); without it they are all on one node already. Members without any
    partner are left out (they have no pair in this relation).
    """

    def partner(i: int, me: Endpoint, pool: list[Endpoint]) -> Endpoint | None:
        for k in range(len(pool)):
            other = pool[(i + k) % len(pool)]
            if other.pod == me.pod:
                continue
            if differ is not None and differ[other.pod or ""] == differ[me.pod or ""]:
                continue
            return other
        return None

    # start the receivers half-way round, so that a member of a node's block
    # meets one of another node at once (cross node) and the shared ones differ
    shift = len(ys) // 2 if differ is not None else 0
    received: set[str | None] = set()
    for i, x in enumerate(xs):
        y = partner(i + shift, x, ys)
        if y is not None:
            received.add(y.pod)
            yield x, y
    for j, y in enumerate(ys):
        if y.pod not in received:
            sender = partner(j, y, xs)
            if sender is not None:
                yield sender, y


def _relation_pairs(bp: _BlockPairs, rel: str) -> list[tuple[Endpoint, Endpoint]]:
    """The covering pairs of the block in one relation (see :func:`_cover`)."""
    if rel == SAME:
        out: list[tuple[Endpoint, Endpoint]] = []
        for node, xs in bp.srcs.items():
            ys = bp.dsts.get(node)
            if ys:
                out.extend(_cover(xs, ys, None))
        return out
    senders = [s for n in sorted(bp.srcs) for s in bp.srcs[n]]
    receivers = [d for n in sorted(bp.dsts) for d in bp.dsts[n]]
    node_of = {e.pod or "": n for side in (bp.srcs, bp.dsts) for n, es in side.items() for e in es}
    return list(_cover(senders, receivers, node_of))


def _partners(bp: _BlockPairs, rel: str, e: Endpoint, as_src: bool) -> list[Endpoint]:
    """Every partner of member ``e`` in this block and relation."""
    side = bp.dsts if as_src else bp.srcs
    mine = next(n for n, es in (bp.srcs if as_src else bp.dsts).items() if any(x.pod == e.pod for x in es))
    if rel == SAME:
        return [x for x in side.get(mine, []) if x.pod != e.pod]
    return [x for n, es in side.items() if n != mine for x in es]


def _mapped(
    net: Network, w: Trace, rep: tuple[Endpoint, Endpoint], s: Endpoint, d: Endpoint
) -> Packet | None:
    """The representative's witness packet with its addresses mapped to (s, d); None if unmappable."""
    a0, b0 = rep
    pkt = w.packet
    if b0.address is None or pkt.dst != b0.address or d.address is None:
        return None
    if pkt.src != send_address(net, a0, b0.address):
        return None
    src = send_address(net, s, d.address)
    if src is None:
        return None
    return replace(pkt, src=src, dst=d.address)


def class_reach(ck: Checker, q: Reach, *, min_pairs: int | None = None) -> CheckResult | None:
    """``q`` answered by classes (see the module docstring), or None: ask it pair by pair."""
    if q.negated or single(q.src) or single(q.dst):
        return None
    net = ck.net
    srcs, dsts = resolve(net, q.src), as_destination(net, q.dst)
    if not all(map(_eligible, srcs)) or not all(map(_eligible, dsts)):
        return None
    if len(srcs) * len(dsts) < (MIN_PAIRS if min_pairs is None else min_pairs):
        return None
    t0 = time.process_time()
    stats = SetStats()
    stats.classes, of = pod_classes(net)
    src_pods = {s.pod for s in srcs}
    excluded = sum(d.pod in src_pods for d in dsts)  # set queries leave self pairs out
    n = len(srcs) * len(dsts) - excluded
    if n == 0:
        return None  # the pair path says why it is vacuous
    first: Trace | None = None
    asked: set[tuple[str | None, str | None]] = set()  # pairs asked one by one
    for (_a, _b), bp in _blocks(net, of, srcs, dsts).items():
        for rel in (SAME, CROSS):
            cover = _relation_pairs(bp, rel)
            if not cover:
                continue
            stats.blocks += 1
            rep = cover[0]
            r = ck._reach(replace(q, src=_ref(rep[0].pod or ""), dst=_ref(rep[1].pod or "")))
            if r.status is not Verdict.HOLDS:
                return _with_note(q, r, stats, n, t0)
            if r.witness is None:
                return None  # nothing to map: ask pair by pair
            first = first or r.witness
            bad = _confirm(ck, q, r.witness, rep, cover[1:], stats)
            for e, as_src in bad:
                stats.fallback_members += 1
                for p in _partners(bp, rel, e, as_src):
                    pair = (e, p) if as_src else (p, e)
                    if (pair[0].pod, pair[1].pod) in asked:
                        continue
                    asked.add((pair[0].pod, pair[1].pod))
                    stats.fallback_pairs += 1
                    r2 = ck._reach(replace(q, src=_ref(pair[0].pod or ""), dst=_ref(pair[1].pod or "")))
                    if r2.status is not Verdict.HOLDS:
                        return _with_note(q, r2, stats, n, t0)
    stats.seconds = time.process_time() - t0
    note = f" ({excluded} self pairs, an endpoint with itself, not checked)" if excluded else ""
    return CheckResult(
        q,
        Verdict.HOLDS,
        f"all {n} source/destination pairs reach (witness: the first); {stats.note()}{note}",
        witness=first,
        pairs=n,
    )


def _confirm(
    ck: Checker,
    q: Reach,
    witness: Trace,
    rep: tuple[Endpoint, Endpoint],
    cover: list[tuple[Endpoint, Endpoint]],
    stats: SetStats,
) -> list[tuple[Endpoint, bool]]:
    """Simulate the mapped witness for every covering pair; the members (and role) not confirmed.

    Both members of a pair whose packet is not delivered are returned, even
    when another pair confirmed one of them: that pair itself is then asked.
    """
    net = ck.net
    bad: list[tuple[Endpoint, bool]] = []
    seen: set[tuple[str | None, bool]] = set()
    for s, d in cover:
        pkt = _mapped(net, witness, rep, s, d)
        stats.confirmations += 1
        goal = delivery_goal([d], q)
        if pkt is not None and any(goal.met_by(t) for t in simulate(net, s.origin, pkt)):
            continue
        for e, as_src in ((s, True), (d, False)):
            if (e.pod, as_src) not in seen:
                seen.add((e.pod, as_src))
                bad.append((e, as_src))
    return bad


def _with_note(q: Reach, r: CheckResult, stats: SetStats, n: int, t0: float) -> CheckResult:
    """A failing pair's answer as the set query's, with how the classes found it."""
    stats.seconds = time.process_time() - t0
    return replace(r, query=q, pairs=n, explanation=f"{r.explanation}; {stats.note()}")
