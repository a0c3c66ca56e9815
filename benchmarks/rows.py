"""The rows of the benchmark table and the workloads behind them.

:class:`Sizes` holds the cluster sizes of each row (``FULL`` is the issue's
table, ``SMALL`` a run of seconds), :class:`Row` one line of the table, and
:class:`Bench` generates the specs and measures the ``check-10k``,
``audit-150k``, ``api-10k`` and ``growth`` rows and the profiles (the ``peer``
row is in :mod:`benchmarks.peer`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import GIB, Run, fit_slope, median, worker
from l2l3.generate import plan, spec_text


@dataclass(frozen=True)
class Sizes:
    """The cluster size of every row: (nodes, pods per node) unless noted."""

    check: tuple[int, int]  # nodes, pods per node
    audit: tuple[int, int]
    api: tuple[int, int]
    growth: tuple[tuple[int, int], ...]
    peer: tuple[int, int, int, int]  # nodes, pods per node, namespaces, policies (the realistic mix)
    namespaces: int = 10
    mix_map: tuple[int, int, int, int] = (50, 100, 20, 500)  # map-5k: as peer


FULL = Sizes(
    check=(100, 100),
    audit=(5000, 30),
    api=(100, 100),
    growth=((10, 100), (30, 100), (100, 100), (300, 100), (1000, 100)),
    peer=(10, 100, 10, 100),
)
SMALL = Sizes(
    check=(3, 5),
    audit=(5, 3),
    api=(3, 5),
    growth=((2, 5), (4, 5), (8, 5)),
    peer=(2, 5, 3, 8),
    namespaces=3,
    mix_map=(2, 5, 3, 8),
)
TARGETS = {
    "cold-start": "< 0.3 s wall",
    "check-10k": "< 10 s wall",
    "audit-150k": "< 20 s wall, < 2 GiB",
    "set-10k": "< 5 s for the query",
    "set-150k": "< 60 s for all the queries",
    "api-10k": "< 100 ms median",
    "growth": "close to linear (slope ~1)",
    "peer": "l2l3 matrix >= 100x faster than the peer",
    "map-5k": "< 10 s wall",
    "incremental": "< 100 ms per re-answer",
}
#: the order of the rows in the table
ORDER = [
    "cold-start",
    "check-10k",
    "audit-150k",
    "set-10k",
    "set-150k",
    "api-10k",
    "growth",
    "peer",
    "map-5k",
    "incremental",
]


@dataclass
class Row:
    """One line of the table, with the figures behind it in ``details``."""

    key: str
    workload: str
    target: str
    result: str
    verdict: str  # "met", "gap", "skipped"
    details: dict[str, Any] = field(default_factory=dict)


#: (pods, texts, status, peak RSS MiB) of one profile run
Profile = tuple[int, list[dict[str, Any]], str, float]


class Bench:
    """One benchmark run: its options, sizes, scratch directory, and the rows measured so far."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = FULL if args.scale == "full" else SMALL
        self.repeat = max(1, args.repeat)
        self.cap = args.cap
        self.mem_cap = int(args.mem_cap * GIB) if args.mem_cap else None
        self.tmp = Path(tempfile.mkdtemp(prefix="l2l3-bench-"))
        self.rows: list[Row] = []
        self.profiles: list[Profile] = []
        self.largest_done: tuple[int, Path] | None = None  # (pods, spec) of the largest finished audit
        self.log = sys.stderr

    def say(self, msg: str) -> None:
        """A progress line on stderr."""
        print(msg, file=self.log, flush=True)

    def spec(
        self,
        nodes: int,
        pods: int,
        cni: str = "calico bgp",
        namespaces: int | None = None,
        policies: int = 1,
        pairs: str = "all",
    ) -> Path:
        """The generated spec of this size in the scratch directory (written once)."""
        ns = namespaces or self.sizes.namespaces
        path = self.tmp / f"gen-{nodes}x{pods}-{cni.replace(' ', '_')}-{ns}ns-{policies}p-{pairs}.l2l3"
        if not path.exists():
            path.write_text(spec_text(plan(nodes, pods, cni, ns, policies, 0.0, 0, pairs)))
        return path

    def repeated(
        self, task: str, path: Path, *extra: str, repeat: int | None = None, cap: float | None = None
    ) -> list[Run]:
        """Up to ``repeat`` worker runs of ``task``; stops at the first that fails or runs long."""
        runs = []
        for i in range(repeat or self.repeat):
            r = worker(task, path, cap or self.cap, self.mem_cap, *extra)
            runs.append(r)
            self.say(f"    {task} {path.name} run {i + 1}: {r.status}, {r.wall:.2f} s, {r.maxrss_mb:.0f} MiB")
            if r.status != "ok":
                if r.status == "error":
                    self.say("      " + r.stderr.strip().replace("\n", "\n      ")[-2000:])
                break  # a run that hits a cap will hit it again
            if r.wall > self.args.repeat_under:
                break  # one long run tells enough; its repeats would only cost time
        return runs

    # ------------------------------------------------------------- audit rows

    def audit_row(
        self, key: str, nodes: int, pods: int, wall_target: float, mem_target: float | None
    ) -> None:
        """``check-10k`` or ``audit-150k``: every check through the matrix and through ``l2l3 check``."""
        path = self.spec(nodes, pods)
        total = nodes * pods
        self.say(
            f"[{key}] {nodes} nodes x {pods} pods = {total:,} pods, {path.stat().st_size / 1e6:.1f} MB spec"
        )
        out: dict[str, Any] = {"pods": total, "nodes": nodes}
        parts = []
        verdict = "met"
        for how, task, extra in (
            ("matrix", "matrix", ("--jobs", str(self.args.jobs))),
            ("check", "check", ()),
        ):
            runs = self.repeated(task, path, *extra)
            ok = [r for r in runs if r.status == "ok" and r.done is not None]
            if ok:
                wall = median([r.wall for r in ok])
                mem = max(r.maxrss_mb for r in ok)
                d = ok[0].done or {}
                loaded = ok[0].last("loaded") or {}
                net = ok[0].last("network") or {}
                mx = ok[0].last("matrix") or {}
                info = {
                    "stages": ok[0].stages(),
                    "wall_s": round(wall, 2),
                    "runs": len(ok),
                    "peak_mib": round(mem),
                    "load_s": loaded.get("t"),
                    "network_s": round(net.get("t", 0) - loaded.get("t", 0), 2) if net else None,
                    "holds": d.get("holds"),
                    "violated": d.get("violated"),
                    "unknown": d.get("unknown"),
                }
                if mx:
                    info.update(
                        classes=mx.get("classes"),
                        queries=mx.get("queries"),
                        class_s=mx.get("class_seconds"),
                        query_s=mx.get("query_seconds"),
                    )
                out[how] = info
                met = wall <= wall_target and (mem_target is None or mem <= mem_target * 1024)
                parts.append(
                    f"{how}: {wall:.2f} s, {mem / 1024:.2f} GiB, "
                    f"{d.get('holds')} hold / {d.get('violated')} violated / {d.get('unknown')} unknown"
                    + ("" if met else " (over target)")
                )
                if how == "check" and not met:
                    verdict = "gap"  # the target is on `l2l3 check`; matrix is shown beside it
                if how == "check" and total >= (self.largest_done or (0, path))[0]:
                    self.largest_done = (total, path)
            else:
                r = runs[-1]
                why = {
                    "timeout": f"cut at the {self.cap:.0f} s cap",
                    "memory": "ran out of the memory cap",
                    "error": "failed",
                }[r.status]
                out[how] = {
                    "status": r.status,
                    "progress": r.progress(),
                    "wall_s": round(r.wall, 1),
                    "peak_mib": round(r.maxrss_mb),
                    "stderr": r.stderr[-500:],
                    "stages": r.stages(),
                }
                parts.append(f"{how}: {why} ({r.progress()}, {r.maxrss_mb / 1024:.2f} GiB)")
                if how == "check":
                    verdict = "gap"
        # the two ways must agree where both finished
        m, c = out.get("matrix", {}), out.get("check", {})
        if "holds" in m and "holds" in c and (m["holds"], m["violated"]) != (c["holds"], c["violated"]):
            parts.append("DISAGREEMENT between matrix and check verdicts")
            verdict = "gap"
        target = TARGETS[key] if self.args.scale == "full" else f"(small scale) {TARGETS[key]}"
        self.rows.append(
            Row(
                key,
                f"{total:,} pods ({nodes} x {pods}), calico bgp, {self.sizes.namespaces} ns, "
                f"1 policy each; every ns pair + netns-isolation",
                target,
                "; ".join(parts),
                verdict,
                out,
            )
        )

    # ------------------------------------------------------------- api row

    def api_row(self) -> None:
        """``api-10k``: the median of single ``reach`` queries through the Python API after loading."""
        nodes, pods = self.sizes.api
        path = self.spec(nodes, pods, pairs="none")
        self.say(f"[api-10k] {nodes * pods:,} pods")
        runs = self.repeated("api", path, "--repeat", str(max(5, self.repeat)), repeat=1)
        r = runs[-1]
        d = r.done
        if d is None:
            self.rows.append(
                Row(
                    "api-10k",
                    f"{nodes * pods:,} pods",
                    TARGETS["api-10k"],
                    f"{r.status}: {r.progress()}",
                    "gap",
                )
            )
            return
        per = "; ".join(f"{q}: {v['status']} {v['median_ms']} ms" for q, v in d["queries"].items())
        met = d["median_ms"] < 100
        self.rows.append(
            Row(
                "api-10k",
                f"{nodes * pods:,} pods, after loading",
                TARGETS["api-10k"],
                f"median {d['median_ms']} ms (max {d['max_ms']} ms) over {len(d['queries'])} "
                f"queries x {max(5, self.repeat)}: {per}",
                "met" if met else "gap",
                d,
            )
        )

    # ------------------------------------------------------------- growth row

    def growth_row(self) -> None:
        """``growth``: cold start to every answer through the matrix at each size; log-log slope."""
        pts: list[tuple[int, float]] = []
        load_pts: list[tuple[int, float]] = []
        table = []
        for nodes, pods in self.sizes.growth:
            path = self.spec(nodes, pods)
            total = nodes * pods
            self.say(f"[growth] {total:,} pods")
            runs = self.repeated("matrix", path, "--jobs", str(self.args.jobs))
            ok = [r for r in runs if r.status == "ok" and r.done is not None]
            if not ok:
                table.append({"pods": total, "status": runs[-1].status, "progress": runs[-1].progress()})
                break
            wall = median([r.wall for r in ok])
            load = median([(r.last("loaded") or {}).get("t", 0.0) for r in ok])
            mx = ok[0].last("matrix") or {}
            pts.append((total, wall))
            load_pts.append((total, load))
            table.append(
                {
                    "pods": total,
                    "wall_s": round(wall, 2),
                    "load_s": round(load, 2),
                    "classes": mx.get("classes"),
                    "queries": mx.get("queries"),
                    "query_s": mx.get("query_seconds"),
                    "peak_mib": round(max(r.maxrss_mb for r in ok)),
                }
            )
            if total >= (self.largest_done or (0, path))[0]:
                self.largest_done = (total, path)
        slope = fit_slope(pts)
        slope_load = fit_slope(load_pts)
        steps = ", ".join(f"{t['pods']:,}: {t.get('wall_s', t.get('status'))} s" for t in table)
        res = (
            f"slope {slope:.2f} end to end (load alone {slope_load:.2f}); {steps}"
            if slope is not None and slope_load is not None
            else f"not enough points: {steps}"
        )
        covered = bool(pts) and pts[-1][0] >= self.sizes.growth[-1][0] * self.sizes.growth[-1][1]
        met = slope is not None and slope <= 1.2 and covered
        self.rows.append(
            Row(
                "growth",
                f"{self.sizes.growth[0][0] * self.sizes.growth[0][1]:,} -> "
                f"{self.sizes.growth[-1][0] * self.sizes.growth[-1][1]:,} pods",
                TARGETS["growth"],
                res,
                "met" if met else "gap",
                {"points": table, "slope": slope, "slope_load": slope_load},
            )
        )

    # ------------------------------------------------------------- profile

    def profile(self) -> None:
        """Profiles at the largest audit that finished and at the audit size itself (cut at its budget)."""
        targets: list[tuple[int, Path]] = []
        if self.largest_done is not None:
            targets.append(self.largest_done)
        nodes, pods = self.sizes.audit
        audit = self.spec(nodes, pods)
        if not targets or targets[0][1] != audit:
            targets.append((nodes * pods, audit))
        self.profiles = []
        budget = self.cap / 2
        for total, path in targets:
            self.say(
                f"[profile] {total:,} pods ({path.name}), {budget:.0f} s cProfile, {2 * budget:.0f} s tracemalloc"
            )
            r = worker(
                "profile", path, budget * 2 + 120, self.mem_cap, "--jobs", "1", "--budget", str(budget)
            )
            texts = [e for e in r.events if e.get("event") in ("cprofile", "tracemalloc")]
            self.say(f"    profile: {r.status}, {r.wall:.1f} s, {r.maxrss_mb:.0f} MiB")
            self.profiles.append((total, texts, r.status, r.maxrss_mb))

    # ------------------------------------------------------------- earlier runs

    def merge(self, prior: Any) -> None:
        """Rows and profiles of an earlier run for whatever this run did not measure."""
        rows = prior["rows"] if isinstance(prior, dict) else prior
        have = {r.key for r in self.rows}
        for r in rows:
            if r["key"] not in have:
                self.rows.append(Row(**r))
        self.rows.sort(key=lambda r: ORDER.index(r.key) if r.key in ORDER else len(ORDER))
        if not self.profiles and isinstance(prior, dict) and prior.get("profiles"):
            self.profiles = [tuple(p) for p in prior["profiles"]]
