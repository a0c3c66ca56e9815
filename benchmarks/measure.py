"""Timing and measurement: child interpreters under caps, and the statistics over their runs.

Every measurement of the benchmark is a fresh interpreter (``benchmarks.worker``,
or the peer tool) started by :func:`run_child` in its own process group, under
a wall-clock cap and an address-space cap; it reads the child's JSON lines as
they come and records its wall time, peak resident memory and how it ended.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30


@dataclass
class Run:
    """One child process: its events, wall time, peak memory, and how it ended."""

    cmd: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    wall: float = 0.0
    maxrss_mb: float = 0.0
    cpu: float = 0.0  # user + system seconds of the child (less noisy than wall on a shared machine)
    status: str = "ok"  # ok | timeout | memory | error
    stderr: str = ""
    stdout: str = ""

    @property
    def done(self) -> dict[str, Any] | None:
        """The child's final ``done`` event, if it got that far."""
        return next((e for e in self.events if e.get("event") == "done"), None)

    def last(self, event: str) -> dict[str, Any] | None:
        """The latest event named ``event``, or None."""
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


def _limits(mem_bytes: int | None) -> Callable[[], None]:
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
    run.cpu = ru.ru_utime + ru.ru_stime
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
    """One ``python -m benchmarks.worker TASK PATH ...`` in a fresh interpreter, under the caps."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONHASHSEED", "0")
    return run_child([sys.executable, "-m", "benchmarks.worker", task, str(path), *extra], cap, mem_cap, env)


def median(xs: list[float]) -> float:
    """The median of ``xs``; NaN when there is none."""
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
