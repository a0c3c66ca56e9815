"""Representative queries, and lifting their answers to every pod pair of a class pair.

For every ordered pair of classes (A, B) and every *relation* the pairs of
that class pair actually realise — both pods on one node, or on two
different nodes — :func:`matrix` picks one representative pod pair, asks the
public :class:`~l2l3.checking.Checker` ``reach a -> b``, and counts the
answer for every pod pair of the same class pair and relation (summed per
group cell). ``jobs`` > 1 answers the representatives in forked worker
processes.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from l2l3.checking import Checker, CheckResult, Verdict
from l2l3.matrix.classes import PodClass, classes, pod_sort_key
from l2l3.matrix.result import CROSS_NODE, SAME_NODE, Cell, Evaluation, LiftMismatch, Matrix
from l2l3.model.network import Network
from l2l3.model.types import PodRef, Reach

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["matrix"]

#: a representative query: (source class, destination class, relation)
_Key = tuple[int, int, str]
#: (source pod id, destination pod id)
_Pair = tuple[str, str]


def _relations(net: Network, cls: list[PodClass]) -> dict[_Key, tuple[_Pair, int, list[_Pair]]]:
    """(A, B, relation) -> (representative pair, number of pod pairs, a few more pairs for spot checks)."""
    by_node: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for c in cls:
        for pid in c.members:
            by_node[net.pods[pid].node][c.id].append(pid)
    out: dict[_Key, tuple[_Pair, int, list[_Pair]]] = {}
    same_count: Counter[tuple[int, int]] = Counter()
    same_rep: dict[tuple[int, int], _Pair] = {}
    same_more: dict[tuple[int, int], list[_Pair]] = defaultdict(list)
    for node in sorted(by_node, key=pod_sort_key):
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
    nodes_of = {c.id: sorted({net.pods[p].node for p in c.members}, key=pod_sort_key) for c in cls}
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
) -> _Pair | None:
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
    """The reachability matrix of ``net`` between namespaces or classes (see :mod:`l2l3.matrix`).

    ``verify=N`` re-checks up to N further pod pairs of every class pair and
    relation and raises :class:`LiftMismatch` when one disagrees with its
    representative. ``jobs`` > 1 answers representative queries in that many
    forked worker processes (POSIX only). ``progress``: a progress bar on
    stderr (None: only when stderr is a terminal).
    """
    if by not in ("namespace", "class"):
        raise ValueError("by must be 'namespace' or 'class'")
    t0 = time.monotonic()
    cls, _of = classes(net)
    t_cls = time.monotonic() - t0
    rel = _relations(net, cls)
    keys = sorted(rel)
    from tqdm import tqdm  # here, not at import: every ``l2l3`` command imports this module

    # on stderr, and only when it is a terminal unless ``progress`` says otherwise
    with tqdm(
        total=len(keys), desc="matrix", unit="query", disable=None if progress is None else not progress
    ) as bar:
        answers = _answer_all(net, [(k, rel[k][0]) for k in keys], checker, bar, jobs)
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
        groups = sorted({c.namespace for c in cls}, key=pod_sort_key)
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
    """``node/pod`` -> its reference."""
    node, pod = pid.split("/", 1)
    return PodRef(node=node, pod=pod)


def _answer_all(
    net: Network, work: list[tuple[_Key, _Pair]], checker: Checker | None, bar: tqdm, jobs: int
) -> dict[_Key, CheckResult]:
    """Every representative's answer, in ``jobs`` processes if it can fork."""
    if jobs > 1 and len(work) > 1:
        try:
            return _answer_parallel(net, work, bar, jobs)
        except (OSError, ValueError, ImportError):  # no fork here: fall back to one process
            pass
    ck = checker or Checker(net)
    out: dict[_Key, CheckResult] = {}
    for k, (s, d) in work:
        out[k] = ck.evaluate(Reach(src=_ref(s), dst=_ref(d)))
        bar.update()
    return out


#: the network a forked worker answers about (set in the parent just before the fork)
_WORKER_NET: Network | None = None


def _worker(chunk: list[tuple[_Key, _Pair]]) -> list[tuple[_Key, CheckResult]]:
    """A worker process's answers to its chunk (``check`` dropped: less to send back)."""
    assert _WORKER_NET is not None
    ck = Checker(_WORKER_NET)
    out = []
    for k, (s, d) in chunk:
        r = ck.evaluate(Reach(src=_ref(s), dst=_ref(d)))
        out.append((k, dataclasses.replace(r, check=None)))
    return out


def _answer_parallel(
    net: Network, work: list[tuple[_Key, _Pair]], bar: tqdm, jobs: int
) -> dict[_Key, CheckResult]:
    """The answers from a pool of ``jobs`` forked processes."""
    import multiprocessing as mp

    global _WORKER_NET
    ctx = mp.get_context("fork")
    _WORKER_NET = net
    # small interleaved chunks: neighbouring queries cost alike
    chunks = [work[i :: jobs * 4] for i in range(jobs * 4)]
    out: dict[_Key, CheckResult] = {}
    try:
        with ctx.Pool(jobs) as pool:
            for part in pool.imap_unordered(_worker, [c for c in chunks if c]):
                for k, r in part:
                    out[k] = r
                bar.update(len(part))
    finally:
        _WORKER_NET = None
    return out
