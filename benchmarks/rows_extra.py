"""The rows issue 15 added: cold start, a positive set query, the map at 5,000 pods, incremental.

``cold-start``  ``l2l3 check`` of a small example from a fresh interpreter
                (the LALR tables come from the user cache after a first run
                that writes them), interleaved with ``python -c pass`` so
                that the machine's load shows in the baseline; wall and CPU.
``set-10k``     ``reach namespace ns3 -> namespace ns3`` (every ordered pod
                pair of one namespace, about a million at 10,000 pods)
                through the API after loading; the query alone is timed.
``map-5k``      ``l2l3 matrix`` by namespace on 5,000 pods with 500
                policies of the realistic mix (:mod:`l2l3.generate_mix`).
``incremental`` re-answering after one change: not built; the row says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.measure import ROOT, median, run_child, worker
from benchmarks.rows import TARGETS, Bench, Row
from l2l3.generate_mix import mix_plan, mix_spec

EXAMPLE = ROOT / "examples" / "l2bridge-vs-linux-bridge.l2l3"


def _l2l3() -> list[str]:
    script = Path(sys.executable).with_name("l2l3")
    return [str(script)] if script.exists() else [sys.executable, "-m", "l2l3.cli"]


def cold_row(bench: Bench) -> None:
    """``cold-start``: medians of interleaved cold runs of ``l2l3 check EXAMPLE`` and ``python -c pass``."""
    cmd = [*_l2l3(), "check", str(EXAMPLE)]
    base = [sys.executable, "-c", "pass"]
    bench.say(f"[cold-start] {' '.join(cmd[-3:])}")
    first = run_child(cmd, 120, bench.mem_cap)  # writes the grammar tables if they are not cached yet
    ours, ours_cpu, py = [], [], []
    for _ in range(max(5, bench.repeat)):
        b = run_child(base, 60, bench.mem_cap)
        r = run_child(cmd, 120, bench.mem_cap)
        if r.status != "ok" or b.status != "ok":
            break
        py.append(b.wall)
        ours.append(r.wall)
        ours_cpu.append(r.cpu)
    if not ours:
        bench.rows.append(
            Row("cold-start", EXAMPLE.name, TARGETS["cold-start"], f"failed: {first.stderr[-300:]}", "gap")
        )
        return
    wall, cpu, pyw = median(ours), median(ours_cpu), median(py)
    met = wall < 0.3
    res = (
        f"{wall:.3f} s wall, {cpu:.3f} s CPU (median of {len(ours)}; `python -c pass` {pyw:.3f} s beside it; "
        f"first run, writing the grammar cache, {first.wall:.3f} s)"
    )
    if not met:
        res += f"; over by {wall - 0.3:.3f} s"
    bench.rows.append(
        Row(
            "cold-start",
            f"`l2l3 check {EXAMPLE.relative_to(ROOT)}` (8 checks), fresh interpreter",
            TARGETS["cold-start"],
            res,
            "met" if met else "gap",
            {"wall_s": ours, "cpu_s": ours_cpu, "python_pass_s": py, "first_s": first.wall},
        )
    )


def set_row(bench: Bench) -> None:
    """``set-10k``: one positive set query over a namespace's pod pairs, after loading."""
    nodes, pods = bench.sizes.check
    path = bench.spec(nodes, pods, pairs="none")
    ns = f"ns{min(3, bench.sizes.namespaces - 1)}"
    q = f"reach namespace {ns} -> namespace {ns}"
    cap = min(bench.cap, 300.0)
    bench.say(f"[set-10k] {nodes * pods:,} pods: {q} (cap {cap:.0f} s)")
    r = worker("query", path, cap, bench.mem_cap, "--query", q)
    d = r.done
    wl = f"{nodes * pods:,} pods, calico bgp, `{q}`"
    if d is None:
        reached = r.progress()
        bench.rows.append(
            Row("set-10k", wl, TARGETS["set-10k"], f"{r.status} after {r.wall:.0f} s ({reached}): gap", "gap")
        )
        return
    met = d["query_s"] < 5.0
    bench.rows.append(
        Row(
            "set-10k",
            wl,
            TARGETS["set-10k"],
            f"{d['status']} over {d['pairs']:,} pairs in {d['query_s']:.2f} s (cold start to answer {r.wall:.1f} s)",
            "met" if met else "gap",
            d,
        )
    )


def set_pairs_row(bench: Bench) -> None:
    """``set-150k``: ``reach namespace A -> namespace B`` for every ordered pair at the audit size."""
    nodes, pods = bench.sizes.audit
    path = bench.spec(nodes, pods, pairs="none")
    wl = f"{nodes * pods:,} pods, calico bgp, `reach namespace A -> namespace B` for every ordered pair"
    bench.say(f"[set-150k] {wl} (cap {bench.cap:.0f} s)")
    r = worker("set-pairs", path, bench.cap, bench.mem_cap)
    d = r.done
    if d is None:
        bench.rows.append(
            Row(
                "set-150k",
                wl,
                TARGETS["set-150k"],
                f"{r.status} after {r.wall:.0f} s ({r.progress()}): gap",
                "gap",
            )
        )
        return
    met = d["query_s"] < 60.0
    counts = ", ".join(f"{n} {k}" for k, n in sorted(d["counts"].items()))
    bench.rows.append(
        Row(
            "set-150k",
            wl,
            TARGETS["set-150k"],
            f"{d['queries']} queries ({counts}) over {d['pairs']:,} pairs in {d['query_s']:.1f} s"
            f" (cold start to answer {r.wall:.1f} s, {r.maxrss_mb / 1024:.2f} GiB)",
            "met" if met else "gap",
            d,
        )
    )


def map_row(bench: Bench) -> None:
    """``map-5k``: the matrix by namespace on the realistic mix at 5,000 pods / 500 policies."""
    nodes, pods, ns, pols = bench.sizes.mix_map
    p = mix_plan(nodes, pods, ns, pols)
    path = bench.tmp / f"mix-{nodes}x{pods}-{pols}p.l2l3"
    path.write_text(mix_spec(p))
    wl = f"{p.pod_count:,} pods, {len(p.namespaces)} namespaces, {len(p.policies)} policies of the mix"
    bench.say(f"[map-5k] {wl}")
    runs = bench.repeated("matrix", path, "--jobs", str(bench.args.jobs), repeat=1)
    ok = [r for r in runs if r.status == "ok" and r.done is not None]
    if not ok:
        r = runs[-1]
        bench.rows.append(
            Row("map-5k", wl, TARGETS["map-5k"], f"{r.status} after {r.wall:.0f} s ({r.progress()})", "gap")
        )
        return
    r = ok[0]
    mx = r.last("matrix") or {}
    met = r.wall < 10.0
    bench.rows.append(
        Row(
            "map-5k",
            wl,
            TARGETS["map-5k"],
            f"{r.wall:.1f} s, {r.maxrss_mb / 1024:.2f} GiB ({mx.get('classes')} classes, {mx.get('queries')} queries)"
            + ("" if met else f"; {r.wall / 10:.0f}x over"),
            "met" if met else "gap",
            {"wall_s": r.wall, "classes": mx.get("classes"), "queries": mx.get("queries")},
        )
    )


def incremental_row(bench: Bench) -> None:
    """``incremental``: one policy, pod or node changed at 10,000 pods, the affected checks answered again."""
    # the changes name n5/p7 and n9 (tests.bench.incremental_figures): at least 10 x 10
    nodes, pods = (max(n, 10) for n in bench.sizes.check)
    path = bench.spec(nodes, pods, namespaces=10)
    wl = f"{nodes * pods:,} pods, calico bgp; one change through `l2l3.incremental.Session`, affected checks re-answered"
    bench.say(f"[incremental] {wl}")
    r = worker("incremental", path, bench.cap, bench.mem_cap, "--repeat", str(bench.repeat))
    d = r.done
    if d is None:
        bench.rows.append(
            Row(
                "incremental",
                wl,
                TARGETS["incremental"],
                f"{r.status} after {r.wall:.0f} s ({r.progress()})",
                "gap",
            )
        )
        return
    changes = d["changes"]
    over = [k for k, v in changes.items() if v["ms"] >= 100.0]
    parts = [f"{k} {v['ms']:.0f} ms ({v['answered']} checks)" for k, v in changes.items()]
    res = "median CPU per change: " + "; ".join(parts)
    if over:
        res += f"; over 100 ms: {', '.join(over)}"
    bench.rows.append(Row("incremental", wl, TARGETS["incremental"], res, "gap" if over else "met", d))
