"""The benchmark of issue 5: every row of its table, in one command.

    python -m benchmarks.run [--scale small|full] [--repeat N] [--cap SECONDS]
                             [--mem-cap GIB] [--jobs N] [--peer auto|install|skip]
                             [--rows ROW,...] [--results FILE] [--json FILE]

Each measurement runs in a fresh interpreter (``benchmarks.worker``), under a
wall-clock cap and an address-space cap, and reports its medians over
``--repeat`` runs, its peak resident memory (``ru_maxrss`` of the child) and,
when cut short, how far it got. Rows:

``check-10k``   ``l2l3 check`` from a cold start on 100 nodes x 100 pods
                (calico bgp, 10 namespaces, one isolating policy each); the
                spec's checks are ``no reach`` for every ordered namespace
                pair plus ``netns-isolation``. Two ways: the Checker pair by
                pair (what ``l2l3 check`` does today) and the class-based
                matrix answering the same checks.
``audit-150k``  the same checks on 5,000 nodes x 30 pods (target 120 s, 8 GiB).
``api-10k``     one ``reach`` through the Python API after loading (median).
``growth``      1,000 -> 100,000 pods (100 per node), cold start to every
                answer through the matrix; log-log slope of time over pods.
``peer``        ``network-config-analyzer --connectivity`` on the same pods,
                namespaces and NetworkPolicies (written by
                ``l2l3.generate.to_kubernetes_yaml``) versus ``l2l3 matrix``
                on the spec, side by side.
``profile``     cProfile and tracemalloc top 20 at the largest audit size
                that finished within the caps.

``--scale small`` shrinks every size so that the whole run takes seconds (the
test-suite runs it); ``full`` is the issue's table. The table goes to stdout
and, for ``full`` (or with ``--results``), into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2l3.generate import kubernetes_yaml, plan, spec_text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_VENV = HERE / ".peer-venv"
GIB = 1 << 30


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Sizes:
    check: tuple[int, int]  # nodes, pods per node
    audit: tuple[int, int]
    api: tuple[int, int]
    growth: tuple[tuple[int, int], ...]
    peer: tuple[int, int, int, int]  # nodes, pods per node, namespaces, policies per namespace
    namespaces: int = 10


FULL = Sizes(
    check=(100, 100),
    audit=(5000, 30),
    api=(100, 100),
    growth=((10, 100), (30, 100), (100, 100), (300, 100), (1000, 100)),
    peer=(10, 20, 10, 10),
)
SMALL = Sizes(
    check=(3, 5),
    audit=(5, 3),
    api=(3, 5),
    growth=((2, 5), (4, 5), (8, 5)),
    peer=(2, 5, 3, 2),
    namespaces=3,
)
TARGETS = {
    "check-10k": "< 10 s wall",
    "audit-150k": "< 120 s wall, < 8 GiB",
    "api-10k": "< 100 ms median",
    "growth": "close to linear (slope ~1)",
    "peer": "l2l3 >= 100x faster",
}


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One child process: its events, wall time, peak memory, and how it ended."""

    cmd: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    wall: float = 0.0
    maxrss_mb: float = 0.0
    status: str = "ok"  # ok | timeout | memory | error
    stderr: str = ""
    stdout: str = ""

    @property
    def done(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("event") == "done"), None)

    def last(self, event: str) -> dict[str, Any] | None:
        return next((e for e in reversed(self.events) if e.get("event") == event), None)

    def stages(self) -> list[tuple[str, float, float]]:
        """(stage, seconds since start, peak RSS MiB so far) for every stage but single checks."""
        return [
            (e["event"], e.get("t", 0.0), e.get("rss_mb", 0.0))
            for e in self.events
            if e.get("event") != "check"
        ]

    def progress(self) -> str:
        """How far a cut-short run got."""
        if not self.events:
            return "no output"
        e = self.events[-1]
        checks = sum(1 for x in self.events if x.get("event") == "check")
        what = e.get("event")
        return f"last stage '{what}' at {e.get('t', 0):.1f} s" + (
            f", {checks} checks answered" if checks else ""
        )


def _limits(mem_bytes: int | None) -> Any:
    def apply() -> None:
        os.setsid()
        if mem_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))

    return apply


def run_child(cmd: list[str], cap: float, mem_cap: int | None, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd``, reading JSON lines as they come; kill it (only it) past ``cap`` seconds."""
    run = Run(cmd)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        env=env,
        preexec_fn=_limits(mem_cap),
    )
    err_chunks: list[str] = []
    out_raw: list[str] = []

    def read_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out_raw.append(line)
            line = line.strip()
            if line.startswith("{"):
                try:
                    run.events.append(json.loads(line))
                except json.JSONDecodeError:
                    pass

    def read_err() -> None:
        assert proc.stderr is not None
        err_chunks.append(proc.stderr.read())

    th = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in th:
        t.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, 9)  # the child's own process group (setsid): it and its workers
        except ProcessLookupError:
            pass

    timer = threading.Timer(cap, kill)
    timer.start()
    try:
        _pid, status, ru = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in th:
        t.join(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    run.wall = time.perf_counter() - t0
    run.maxrss_mb = ru.ru_maxrss / 1024
    run.stderr = "".join(err_chunks)
    run.stdout = "".join(out_raw)
    if timed_out.is_set():
        run.status = "timeout"
    elif proc.returncode != 0:
        low = run.stderr.lower()
        run.status = (
            "memory"
            if ("memoryerror" in low or "cannot allocate" in low or proc.returncode == -9)
            else "error"
        )
    return run


def worker(task: str, path: Path, cap: float, mem_cap: int | None, *extra: str) -> Run:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONHASHSEED", "0")
    return run_child([sys.executable, "-m", "benchmarks.worker", task, str(path), *extra], cap, mem_cap, env)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fit_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) over log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    key: str
    workload: str
    target: str
    result: str
    verdict: str  # "met", "gap", "skipped", "n/a"
    details: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = FULL if args.scale == "full" else SMALL
        self.repeat = max(1, args.repeat)
        self.cap = args.cap
        self.mem_cap = int(args.mem_cap * GIB) if args.mem_cap else None
        self.tmp = Path(tempfile.mkdtemp(prefix="l2l3-bench-"))
        self.rows: list[Row] = []
        self.largest_done: tuple[int, Path] | None = None  # (pods, spec) of the largest finished audit
        self.log = sys.stderr

    def say(self, msg: str) -> None:
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
        ns = namespaces or self.sizes.namespaces
        path = self.tmp / f"gen-{nodes}x{pods}-{cni.replace(' ', '_')}-{ns}ns-{policies}p-{pairs}.l2l3"
        if not path.exists():
            path.write_text(spec_text(plan(nodes, pods, cni, ns, policies, 0.0, 0, pairs)))
        return path

    def repeated(
        self, task: str, path: Path, *extra: str, repeat: int | None = None, cap: float | None = None
    ) -> list[Run]:
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

    # ------------------------------------------------------------- peer row

    def peer_row(self) -> None:
        nodes, pods, ns, pols = self.sizes.peer
        nca = PEER_VENV / "bin" / "nca"
        mode = self.args.peer
        if mode == "auto":
            mode = "install" if self.args.scale == "full" else "use"
        if not nca.exists() and mode == "install":
            self.say(f"[peer] installing network-config-analyzer into {PEER_VENV}")
            try:
                subprocess.run(
                    [sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True
                )
                subprocess.run(
                    [str(PEER_VENV / "bin" / "pip"), "install", "-q", "network-config-analyzer"],
                    check=True,
                    capture_output=True,
                    timeout=900,
                )
            except (subprocess.SubprocessError, OSError) as e:
                self.say(f"[peer] could not install network-config-analyzer: {e}")
        p = plan(nodes, pods, "calico bgp", ns, pols, 0.0, 0, "none")
        spec = self.tmp / f"peer-{nodes}x{pods}.l2l3"
        spec.write_text(spec_text(p))
        yaml = self.tmp / f"peer-{nodes}x{pods}.yaml"
        yaml.write_text(kubernetes_yaml(p))
        wl = f"{nodes * pods} pods, {ns} namespaces, {ns * pols} NetworkPolicies"
        if not nca.exists():
            self.rows.append(
                Row(
                    "peer",
                    wl,
                    TARGETS["peer"],
                    "skipped: network-config-analyzer is not installed in benchmarks/.peer-venv "
                    "(python -m benchmarks.run --peer install)",
                    "skipped",
                )
            )
            return
        self.say(f"[peer] {wl}")
        peer_walls = []
        peer_out = ""
        for i in range(self.repeat):
            r = run_child([str(nca), "--connectivity", "--resource_list", str(yaml)], self.cap, self.mem_cap)
            self.say(f"    nca run {i + 1}: {r.status}, {r.wall:.2f} s")
            if r.status != "ok":
                break
            peer_walls.append(r.wall)
            peer_out = r.stdout
        ours = self.repeated("matrix", spec, "--jobs", str(self.args.jobs))
        ok = [r for r in ours if r.status == "ok" and r.done is not None]
        if not peer_walls or not ok:
            self.rows.append(
                Row(
                    "peer",
                    wl,
                    TARGETS["peer"],
                    f"incomplete: peer {len(peer_walls)} runs, l2l3 {len(ok)} runs",
                    "gap",
                )
            )
            return
        pw, lw = median(peer_walls), median([r.wall for r in ok])
        mx = ok[0].last("matrix") or {}
        agree = _compare_with_peer(peer_out, mx.get("cells", {}))
        ratio = pw / lw
        self.rows.append(
            Row(
                "peer",
                wl + f" (l2l3: calico bgp spec, {mx.get('classes')} classes, {mx.get('queries')} queries)",
                TARGETS["peer"],
                f"network-config-analyzer {pw:.2f} s, l2l3 matrix {lw:.2f} s (cold starts, medians): "
                f"l2l3 is {ratio:.2f}x {'faster' if ratio >= 1 else 'as fast'}; namespace cells {agree}",
                "met" if ratio >= 100 else "gap",
                {"peer_s": pw, "l2l3_s": lw, "ratio": ratio, "agreement": agree},
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

    # ------------------------------------------------------------- report

    def machine(self) -> str:
        mem = ""
        if shutil.which("free"):
            mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.strip()
        cpu = ""
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return (
            f"- nproc: {os.cpu_count()} ({cpu})\n"
            f"- python: {platform.python_version()} ({platform.python_implementation()}), {platform.platform()}\n"
            f"- free -g:\n\n```\n{mem}\n```\n"
        )

    def table(self) -> str:
        lines = ["| row | workload | target | result | |", "|---|---|---|---|---|"]
        for r in self.rows:
            mark = {"met": "met", "gap": "**gap**", "skipped": "skipped", "n/a": ""}[r.verdict]
            lines.append(f"| {r.key} | {r.workload} | {r.target} | {r.result} | {mark} |")
        return "\n".join(lines)

    def merge(self, prior: Any) -> None:
        """Rows and profiles of an earlier run for whatever this run did not measure."""
        rows = prior["rows"] if isinstance(prior, dict) else prior
        have = {r.key for r in self.rows}
        for r in rows:
            if r["key"] not in have:
                self.rows.append(Row(**r))
        order = ["check-10k", "audit-150k", "api-10k", "growth", "peer"]
        self.rows.sort(key=lambda r: order.index(r.key) if r.key in order else len(order))
        if not getattr(self, "profiles", None) and isinstance(prior, dict) and prior.get("profiles"):
            self.profiles = [tuple(p) for p in prior["profiles"]]

    def report(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M %Z")
        out = [
            "# l2l3 benchmark results",
            "",
            f"Latest run: `python -m benchmarks.run --scale {self.args.scale} --repeat {self.repeat} "
            f"--cap {self.cap:.0f} --mem-cap {self.args.mem_cap} --jobs {self.args.jobs}` on {when}.",
            "Every figure is a cold start in a fresh interpreter; times are medians over the repeats "
            "that finished; memory is the child's peak RSS.",
            "",
            "## Machine",
            "",
            self.machine(),
            "## Table",
            "",
            self.table(),
            "",
        ]
        growth = next((r for r in self.rows if r.key == "growth"), None)
        if growth and growth.details.get("points"):
            out += [
                "## Growth",
                "",
                "| pods | wall s | load s | classes | queries | query s | peak MiB |",
                "|---|---|---|---|---|---|---|",
            ]
            for p in growth.details["points"]:
                if "wall_s" in p:
                    out.append(
                        f"| {p['pods']:,} | {p['wall_s']} | {p['load_s']} | {p['classes']} | {p['queries']} "
                        f"| {p['query_s']} | {p['peak_mib']} |"
                    )
                else:
                    out.append(f"| {p['pods']:,} | {p['status']} ({p['progress']}) | | | | | |")
            out.append("")
        for r in self.rows:
            if r.key in ("check-10k", "audit-150k"):
                out += [
                    f"## {r.key} details",
                    "",
                    "```",
                    json.dumps(r.details, indent=1, default=str)[:4000],
                    "```",
                    "",
                ]
        for pods, texts, status, rss in getattr(self, "profiles", []):
            out += [f"## Profile at {pods:,} pods (profile run: {status}, peak RSS {rss / 1024:.2f} GiB)", ""]
            for e in texts:
                if e["event"] == "cprofile":
                    how = (
                        "finished"
                        if e.get("finished")
                        else f"stopped after its {e.get('budget', 0):.0f} s budget"
                    )
                    out += [
                        f"cProfile, sorted by {e['sort']} ({how}; stages reached: "
                        f"{', '.join(e.get('stages') or ['none'])}):",
                        "",
                        "```",
                        e["text"].rstrip(),
                        "```",
                        "",
                    ]
                else:
                    out += [
                        f"tracemalloc while loading and building the network (reached: {e.get('reached')}): "
                        f"current {e['current_mb']} MiB, peak {e['peak_mb']} MiB; top allocation sites:",
                        "",
                        "```",
                        e["text"],
                        "```",
                        "",
                    ]
        return "\n".join(out)


def _compare_with_peer(nca_text: str, cells: dict[str, str]) -> str:
    """Compare namespace reachability: NCA's rules versus l2l3's cells (pod-to-pod only)."""
    allowed: set[tuple[str, str]] = set()
    for line in nca_text.splitlines():
        line = line.strip()
        if not line.startswith("src_ns:") or "dst_ns:" not in line:
            continue
        try:
            src = line.split("src_ns: [", 1)[1].split("]", 1)[0].split(",")
            dst = line.split("dst_ns: [", 1)[1].split("]", 1)[0].split(",")
        except IndexError:
            continue
        for a in src:
            for b in dst:
                allowed.add((a.strip(), b.strip()))
    if not allowed or not cells:
        return "not compared (no namespace rules parsed)"
    ours = {tuple(k.split("->", 1)) for k, v in cells.items() if v in ("all", "some")}
    keys = {tuple(k.split("->", 1)) for k in cells}
    diff = [k for k in keys if (k in ours) != (k in allowed)]
    return "agree with network-config-analyzer" if not diff else f"differ on {len(diff)} of {len(keys)} pairs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=["small", "full"], default="full")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cap", type=float, default=None, help="seconds per run (default 900 full, 120 small)")
    ap.add_argument("--mem-cap", type=float, default=16.0, help="GiB of address space per run (0: none)")
    ap.add_argument(
        "--repeat-under",
        type=float,
        default=120.0,
        help="repeat only runs shorter than this many seconds (default 120)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for the matrix queries")
    ap.add_argument("--peer", choices=["auto", "install", "use", "skip"], default="auto")
    ap.add_argument("--rows", default="check-10k,audit-150k,api-10k,growth,peer,profile")
    ap.add_argument("--results", default=None, help="write the Markdown report here")
    ap.add_argument("--json", default=None, help="write the rows (and profiles) as JSON here")
    ap.add_argument(
        "--keep",
        default=None,
        metavar="JSON",
        help="a previous --json: its rows and profiles stand in for the rows not run now",
    )
    args = ap.parse_args(argv)
    if args.cap is None:
        args.cap = 900.0 if args.scale == "full" else 120.0
    b = Bench(args)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    t0 = time.perf_counter()
    try:
        if "check-10k" in rows:
            b.audit_row("check-10k", *b.sizes.check, wall_target=10.0, mem_target=None)
        if "audit-150k" in rows:
            b.audit_row("audit-150k", *b.sizes.audit, wall_target=120.0, mem_target=8.0)
        if "api-10k" in rows:
            b.api_row()
        if "growth" in rows:
            b.growth_row()
        if "peer" in rows:
            if args.peer == "skip":
                b.rows.append(Row("peer", "", TARGETS["peer"], "skipped (--peer skip)", "skipped"))
            else:
                b.peer_row()
        if "profile" in rows:
            b.profile()
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)
    if args.keep:
        b.merge(json.loads(Path(args.keep).read_text()))
    print(b.table())
    print(f"\n(total {time.perf_counter() - t0:.1f} s)")
    results = args.results or (str(HERE / "RESULTS.md") if args.scale == "full" else None)
    if results:
        Path(results).write_text(b.report() + "\n")
        print(f"report written to {results}")
    if args.json:
        doc = {"rows": [r.__dict__ for r in b.rows], "profiles": getattr(b, "profiles", [])}
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
