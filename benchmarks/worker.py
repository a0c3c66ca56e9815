"""One benchmark measurement, in a fresh interpreter (so every figure is a cold start).

``python -m benchmarks.worker TASK FILE [options]`` prints one JSON object per
line on stdout as it goes (so that a run cut short by its time or memory cap
still shows how far it got); the last line has ``"event": "done"``.

Tasks:

``check FILE``
    What ``l2l3 check FILE`` does (load with warnings, then every check of the
    spec, in order), one line per check.
``matrix FILE [--jobs N]``
    Load, build the network, ``l2l3.matrix.matrix`` by namespace, and the
    spec's checks answered from it: ``no reach namespace A -> namespace B``
    holds iff no pod pair of the cell reaches (every reachable cell has a
    replayed witness; unreachable ones are the Checker's proofs), plus
    ``netns-isolation`` asked to the Checker.
``api FILE [--repeat N]``
    Load, then time ``l2l3.api.evaluate(net, "reach A -> B")`` for a few pod
    pairs (reachable and not), N times each.
``query FILE --query Q``
    Load, build the network, answer Q through ``l2l3.api.evaluate`` (timed alone).
``profile FILE [--jobs N] [--budget S]``
    The ``check`` task under cProfile (top 20 by cumulative and by own time),
    then loading and building the network under tracemalloc (top 20
    allocation sites, and the peak); the phases stop after S seconds (tracemalloc: --mem-budget) and
    reports what it saw up to there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()


def emit(event: str, **kw: Any) -> None:
    kw["event"] = event
    kw["t"] = round(time.perf_counter() - T0, 4)
    kw["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def _load(path: str) -> Any:
    from l2l3.dsl import load_with_warnings

    spec, warns = load_with_warnings(path)
    return spec, warns


def task_check(path: str) -> None:
    _check_answers(path)


def _check_answers(path: str, emit_checks: bool = True) -> None:
    """What ``l2l3 check FILE`` does, with a timeline of its stages."""
    import l2l3  # noqa: F401  (import cost is part of a cold start)
    from l2l3 import api

    emit("imported")
    spec, warns = _load(path)
    emit("loaded", checks=len(spec.checks))
    net = api.Network(spec)
    checker = api.Checker(net)  # what api.check uses
    emit("network", pods=len(net.pods), stacks=len(net.stacks))
    counts = {"holds": 0, "violated": 0, "unknown": 0}
    for c in spec.checks:
        t = time.perf_counter()
        r = checker.evaluate(c.query)
        counts[r.status.value] += 1
        if emit_checks:
            emit(
                "check",
                name=c.name,
                query=str(c.query),
                status=r.status.value,
                seconds=round(time.perf_counter() - t, 4),
            )
    api.policy_warnings(net)
    emit("done", **counts)


def _matrix_answers(path: str, jobs: int, emit_checks: bool = True) -> None:
    from l2l3 import api
    from l2l3.matrix import matrix
    from l2l3.model.types import NamespaceRef, NetnsIsolation, Reach

    emit("imported")
    spec, _warns = _load(path)
    emit("loaded", checks=len(spec.checks))
    net = api.Network(spec)
    emit("network", pods=len(net.pods), stacks=len(net.stacks))
    checker = api.Checker(net)
    m = matrix(net, by="namespace", checker=checker, progress=False, jobs=jobs)
    emit(
        "matrix",
        classes=len(m.classes),
        queries=len(m.evaluations),
        pod_pairs=m.stats["pod_pairs"],
        class_seconds=m.stats["class_seconds"],
        query_seconds=m.stats["query_seconds"],
        cells={f"{a}->{b}": c.status for (a, b), c in sorted(m.cells.items())},
    )
    counts = {"holds": 0, "violated": 0, "unknown": 0}
    for c in spec.checks:
        q = c.query
        t = time.perf_counter()
        if (
            isinstance(q, Reach)
            and q.negated
            and isinstance(q.src, NamespaceRef)
            and isinstance(q.dst, NamespaceRef)
            and not q.via_mac
            and q.headers.proto is None
            and q.headers.port is None
            and q.nat.value == "any"
        ):
            cell = m.cell(q.src.namespace, q.dst.namespace)
            status = "unknown" if cell.unknown else ("violated" if cell.reachable else "holds")
            how = "matrix"
        elif isinstance(q, NetnsIsolation):
            status = checker.evaluate(q).status.value
            how = "checker"
        else:
            status = checker.evaluate(q).status.value
            how = "checker"
        counts[status] += 1
        if emit_checks:
            emit("check", name=c.name, status=status, via=how, seconds=round(time.perf_counter() - t, 4))
    emit("done", **counts)


def task_matrix(path: str, jobs: int) -> None:
    _matrix_answers(path, jobs)


def task_api(path: str, repeat: int) -> None:
    import statistics

    from l2l3 import api

    emit("imported")
    spec, _ = _load(path)
    net = api.Network(spec)
    emit("loaded", pods=len(net.pods))
    by_ns: dict[str, list[str]] = {}
    for pid, info in sorted(net.pods.items()):
        by_ns.setdefault(info.pod.namespace, []).append(pid)
    nss = sorted(by_ns)
    a = by_ns[nss[0]]
    b = by_ns[nss[1 % len(nss)]]
    # a reachable pair (same namespace, other node if possible), an unreachable one
    # under isolating policies (other namespace), and a same-node pair
    other_node = next((p for p in a[1:] if net.pods[p].node != net.pods[a[0]].node), a[-1])
    same_node = next((p for p in b if net.pods[p].node == net.pods[a[0]].node), b[0])
    queries = [f"reach {a[0]} -> {other_node}", f"reach {a[0]} -> {b[-1]}", f"reach {a[0]} -> {same_node}"]
    times: list[float] = []
    per: dict[str, Any] = {}
    for q in queries:
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = api.evaluate(net, q)
            ts.append(time.perf_counter() - t)
        per[q] = {"status": r.status.value, "median_ms": round(1000 * statistics.median(ts), 2)}
        times += ts
    emit(
        "done",
        median_ms=round(1000 * statistics.median(times), 2),
        max_ms=round(1000 * max(times), 2),
        queries=per,
    )


def task_query(path: str, query: str) -> None:
    """Load, build the network, then answer one query (a set query, say) through the API."""
    from l2l3 import api

    emit("imported")
    spec, _ = _load(path)
    emit("loaded")
    net = api.Network(spec)
    emit("network", pods=len(net.pods))
    t = time.perf_counter()
    r = api.evaluate(net, query)
    emit("done", status=r.status.value, pairs=r.pairs, query_s=round(time.perf_counter() - t, 3))


def task_set_pairs(path: str) -> None:
    """Load, build the network, then ``reach namespace A -> namespace B`` for every ordered pair."""
    from l2l3 import api

    emit("imported")
    spec, _ = _load(path)
    emit("loaded")
    net = api.Network(spec)
    emit("network", pods=len(net.pods))
    namespaces = sorted({info.pod.namespace for info in net.pods.values()})
    counts: dict[str, int] = {}
    pairs = 0
    t = time.perf_counter()
    for a in namespaces:
        for b in namespaces:
            r = api.evaluate(net, f"reach namespace {a} -> namespace {b}")
            counts[r.status.value] = counts.get(r.status.value, 0) + 1
            pairs += r.pairs
        emit("row", namespace=a, query_s=round(time.perf_counter() - t, 3))
    emit(
        "done",
        queries=len(namespaces) ** 2,
        counts=counts,
        pairs=pairs,
        query_s=round(time.perf_counter() - t, 3),
    )


def task_incremental(path: str, repeat: int) -> None:
    """Median CPU time of each kind of change through ``l2l3.incremental.Session`` (issue 15, target 5)."""
    from tests.bench.incremental_figures import figures

    emit("imported")
    got = figures(Path(path).read_text(), repeat)
    emit(
        "done",
        changes={
            name: {"ms": round(1000 * there, 2), "undo_ms": round(1000 * back, 2), "answered": n}
            for name, (there, back, n) in got.items()
        },
    )


class _Budget(Exception):
    pass


_ON_ALARM: list[Any] = []


def _alarm(seconds: float) -> None:
    import signal

    def fire(_sig: int, _frame: Any) -> None:
        for f in _ON_ALARM:
            f()  # before unwinding frees what the run built
        raise _Budget()

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))


def _disarm() -> None:
    import signal

    signal.setitimer(signal.ITIMER_REAL, 0)


def task_profile(path: str, jobs: int, budget: float, mem_budget: float | None = None, top: int = 20) -> None:
    """cProfile, then tracemalloc, each stopped after ``budget`` seconds if not done.

    A run stopped by its budget still reports where its time and memory went
    up to that point (stage reached included), which is what a size beyond
    reach needs.
    """
    import cProfile
    import io
    import pstats
    import tracemalloc

    pr = cProfile.Profile()
    saved = sys.stdout
    inner = io.StringIO()
    finished = True
    _alarm(budget)
    pr.enable()
    sys.stdout = inner  # the inner events are not this task's, but tell the stage reached
    try:
        _check_answers(path, emit_checks=False)
    except (_Budget, MemoryError):
        finished = False
    finally:
        pr.disable()
        _disarm()
        sys.stdout = saved
    stages = [json.loads(x)["event"] for x in inner.getvalue().splitlines() if x.startswith("{")]
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        st = pstats.Stats(pr, stream=buf).strip_dirs().sort_stats(key)
        st.print_stats(top)
        text = buf.getvalue()
        start = text.find("   ncalls")
        emit(
            "cprofile",
            sort=key,
            finished=finished,
            stages=stages,
            budget=budget,
            text=text[start:] if start >= 0 else text,
        )
    del pr
    # memory: allocation sites of loading and building the network
    from l2l3 import api

    tracemalloc.start(1)
    reached = "start"
    taken: list[Any] = []

    def snapshot() -> None:
        taken.append((tracemalloc.take_snapshot(), *tracemalloc.get_traced_memory()))

    _ON_ALARM.append(snapshot)
    _alarm(mem_budget or budget)
    net = None
    try:
        spec, _ = _load(path)
        reached = "loaded"
        net = api.Network(spec)
        reached = "network"
        snapshot()
    except (_Budget, MemoryError):
        reached += " (then stopped by its budget)"
    finally:
        _disarm()
        _ON_ALARM.clear()
    if not taken:
        snapshot()
    snap, cur, peak = taken[0]
    tracemalloc.stop()
    stats = snap.statistics("lineno")[:top]
    lines = [
        f"{st.size / 2**20:9.1f} MiB {st.count:>10} blocks  "
        f"{os.path.relpath(st.traceback[0].filename)}:{st.traceback[0].lineno}"
        for st in stats
    ]
    emit(
        "tracemalloc",
        current_mb=round(cur / 2**20, 1),
        peak_mb=round(peak / 2**20, 1),
        reached=reached,
        pods=len(net.pods) if net is not None else None,
        text="\n".join(lines),
    )
    emit("done")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    ap.add_argument(
        "task", choices=["check", "matrix", "api", "profile", "query", "set-pairs", "incremental"]
    )
    ap.add_argument("--query", default="", help="query: the query to answer")
    ap.add_argument("file")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--budget", type=float, default=600.0, help="profile: seconds of the cProfile phase")
    ap.add_argument(
        "--mem-budget", type=float, default=None, help="profile: seconds of the tracemalloc phase"
    )
    args = ap.parse_args(argv)
    if args.task == "check":
        task_check(args.file)
    elif args.task == "matrix":
        task_matrix(args.file, args.jobs)
    elif args.task == "api":
        task_api(args.file, args.repeat)
    elif args.task == "query":
        task_query(args.file, args.query)
    elif args.task == "set-pairs":
        task_set_pairs(args.file)
    elif args.task == "incremental":
        task_incremental(args.file, args.repeat)
    else:
        task_profile(args.file, args.jobs, args.budget, args.mem_budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
