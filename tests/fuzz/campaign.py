"""The standalone fuzz campaign: many inputs, in worker processes, with figures.

    python -m tests.fuzz.campaign --n 100000 --seconds-per-input 10

draws N inputs from the generators of :mod:`tests.fuzz.inputs` (all families
unless ``--families``; deterministic for a given ``--seed``), runs each
through ``check``, ``expand`` and ``trace`` in a pool of worker processes
(:mod:`tests.fuzz.harness`, in-process in the worker) and prints:

* inputs run, per family; inputs per second;
* the exit-status histogram of each command;
* tracebacks grouped by exception type and innermost l2l3 frame;
* hangs (the input's time ran out: the worker's alarm — on its CPU time by
  default, ``--clock``, so a machine busy with other work does not make
  hangs — or the parent killed the worker much later), grouped by command
  and where;
* contract, diagnostic and round-trip findings (see the harness).

Other engineers edit the working tree while a campaign runs (a worker that
imports a half-edited module reports ImportErrors that are nobody's bug):
``--at HEAD`` runs on a fresh copy of that revision instead.

``--save DIR`` keeps up to ``--keep`` inputs per group (``DIR/<group>/<n>.l2l3``
with the arguments and the traceback beside them); ``--json FILE`` writes the
figures. Inputs are drawn in chunks of ``--chunk``, each a Hypothesis run
seeded from ``--seed`` and the chunk's number.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing as mp
import os
import queue
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from tests.fuzz.inputs import FAMILIES, FuzzInput

COMMANDS = ("check", "expand", "trace")


# ---------------------------------------------------------------- drawing inputs


def _draw_chunk(strategy: Any, size: int, seed: int, out: queue.Queue[FuzzInput | None]) -> int:
    """Put up to ``size`` inputs of one Hypothesis run seeded with ``seed`` into ``out``."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    got = 0

    @hseed(seed)
    @settings(
        max_examples=size,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(inp: FuzzInput) -> None:
        nonlocal got
        if got < size:
            got += 1
            out.put(inp)

    collect()
    return got


def draw_inputs(
    n: int, seed: int, families: tuple[str, ...], chunk: int, out: queue.Queue[FuzzInput | None]
) -> None:
    """Put ``n`` inputs into ``out`` (then None), drawn chunk by chunk with Hypothesis."""
    from tests.fuzz.inputs import any_input

    strategy = any_input(families)
    left, k = n, 0
    try:
        while left > 0:
            chunk_seed = int.from_bytes(hashlib.sha256(f"{seed}:{k}".encode()).digest()[:8], "big")
            got = _draw_chunk(strategy, min(chunk, left), chunk_seed, out)
            if got == 0:  # the generators are exhausted
                break
            left -= got
            k += 1
    finally:
        out.put(None)


# ---------------------------------------------------------------- workers


def _summary(r: Any) -> dict[str, Any]:
    return {
        "command": r.command,
        "argv": r.argv,
        "exit": r.exit,
        "seconds": round(r.seconds, 3),
        "problems": [{"category": p.category, "key": p.key, "detail": p.detail[-6000:]} for p in r.problems],
    }


def worker(conn: Connection, seconds: float, commands: tuple[str, ...], memory_mb: int, cpu: bool) -> None:
    """Run inputs sent on ``conn`` until None; report each command's start and each input's runs."""
    import resource
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if memory_mb:
        lim = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    from tests.fuzz.harness import run_input

    while True:
        msg = conn.recv()
        if msg is None:
            return
        idx, inp = msg
        run_input(
            inp,
            commands=commands,
            seconds=seconds,
            cpu=cpu,
            on_start=lambda c, idx=idx: conn.send(("start", idx, c)),
            on_run=lambda r, idx=idx: conn.send(("run", idx, _summary(r))),
        )
        conn.send(("done", idx, None))


@dataclass
class Slot:
    proc: Any
    conn: Connection
    idx: int | None = None
    inp: FuzzInput | None = None
    started: float = 0.0
    command: str = ""
    done: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- figures


@dataclass
class Figures:
    started: float = field(default_factory=time.monotonic)
    inputs: int = 0
    families: Counter[str] = field(default_factory=Counter)
    exits: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    seconds: Counter[str] = field(default_factory=Counter)
    slowest: list[tuple[float, int, str]] = field(default_factory=list)

    def add(self, idx: int, inp: FuzzInput, runs: list[dict[str, Any]], save: Path | None, keep: int) -> None:
        self.inputs += 1
        self.families[inp.family] += 1
        total = 0.0
        for r in runs:
            shown = (
                "hang"
                if any(p["category"] == "hang" for p in r["problems"])
                else ("raised" if r["exit"] is None else str(r["exit"]))
            )
            self.exits[r["command"]][shown] += 1
            self.seconds[r["command"]] += r["seconds"]
            total += r["seconds"]
            for p in r["problems"]:
                g = self.groups.setdefault(
                    (p["category"], p["key"]),
                    {
                        "count": 0,
                        "families": Counter(),
                        "commands": Counter(),
                        "inputs": [],
                        "detail": p["detail"],
                    },
                )
                g["count"] += 1
                g["families"][inp.family] += 1
                g["commands"][r["command"]] += 1
                if len(g["inputs"]) < keep:
                    g["inputs"].append(idx)
                    if save is not None:
                        _save(save, p, idx, inp, r)
        self.slowest = sorted([*self.slowest, (total, idx, inp.family)], reverse=True)[:5]

    def rate(self) -> float:
        return self.inputs / max(time.monotonic() - self.started, 1e-9)

    def report(self, planned: int, workers: int, seconds: float) -> str:
        wall = time.monotonic() - self.started
        out = [
            f"inputs run: {self.inputs} of {planned} in {wall:.0f} s with {workers} worker(s): "
            f"{self.rate():.1f} inputs/s (limit {seconds:g} s per input)",
            "families: " + ", ".join(f"{f} {c}" for f, c in self.families.most_common()),
            "",
            "exit status per command (hang: out of time; raised: an exception escaped main = exit 4):",
        ]
        for cmd, c in self.exits.items():
            row = ", ".join(f"{k}: {v}" for k, v in sorted(c.items(), key=lambda kv: (len(kv[0]), kv[0])))
            out.append(f"  {cmd:<7} {row}   ({self.seconds[cmd]:.0f} s in all)")
        for cat, title in (
            ("crash", "tracebacks (exception @ innermost l2l3 frame)"),
            ("hang", "hangs (command @ where it was when time ran out)"),
            ("contract", "contract violations"),
            ("diagnostic", "diagnostics quoting the wrong line or caret"),
            ("round-trip", "expand output that does not load"),
        ):
            groups = sorted(
                ((k, g) for k, g in self.groups.items() if k[0] == cat), key=lambda kg: -kg[1]["count"]
            )
            total = sum(g["count"] for _, g in groups)
            out.append("")
            out.append(f"{title}: {total} in {len(groups)} group(s)")
            for (_, key), g in groups:
                fams = ", ".join(f"{f} {c}" for f, c in g["families"].most_common())
                cmds = ", ".join(f"{c} {n}" for c, n in g["commands"].most_common())
                out.append(f"  {g['count']:>6}  {key}")
                out.append(f"          families: {fams}; commands: {cmds}; e.g. inputs {g['inputs']}")
                last = _last_line(g["detail"])
                if last:
                    out.append(f"          {last}")
        if self.slowest:
            out.append("")
            out.append(
                "slowest inputs: " + ", ".join(f"#{i} ({fam}) {t:.1f} s" for t, i, fam in self.slowest)
            )
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "seconds": time.monotonic() - self.started,
            "inputs_per_second": self.rate(),
            "families": dict(self.families),
            "exits": {k: dict(v) for k, v in self.exits.items()},
            "groups": [
                {
                    "category": cat,
                    "key": key,
                    "count": g["count"],
                    "families": dict(g["families"]),
                    "commands": dict(g["commands"]),
                    "inputs": g["inputs"],
                    "detail": g["detail"],
                }
                for (cat, key), g in sorted(self.groups.items(), key=lambda kg: -kg[1]["count"])
            ],
        }


def _last_line(detail: str) -> str:
    lines = [ln for ln in detail.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


def _save(save: Path, p: dict[str, Any], idx: int, inp: FuzzInput, run: dict[str, Any]) -> None:
    d = save / _slug(f"{p['category']}-{p['key']}")
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{idx}.l2l3").write_bytes(inp.data)
    (d / f"{idx}.txt").write_text(
        f"family: {inp.family}\nkind: {inp.kind}\nargv: {run['argv']}\n\n{p['detail']}\n", encoding="utf-8"
    )


# ---------------------------------------------------------------- the campaign


def campaign(args: argparse.Namespace) -> Figures:
    families = tuple(args.families.split(",")) if args.families else tuple(FAMILIES)
    commands = tuple(args.commands.split(","))
    inputs: queue.Queue[FuzzInput | None] = queue.Queue(maxsize=4 * args.workers + 16)
    producer = threading.Thread(
        target=draw_inputs, args=(args.n, args.seed, families, args.chunk, inputs), daemon=True
    )
    producer.start()
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.fuzz.harness", "l2l3.cli"])
    save = Path(args.save) if args.save else None
    figs = Figures()

    def spawn() -> Slot:
        a, b = ctx.Pipe()
        proc = ctx.Process(
            target=worker,
            args=(b, args.seconds_per_input, commands, args.memory_mb, args.clock == "cpu"),
            daemon=True,
        )
        proc.start()
        b.close()
        return Slot(proc, a)

    kill_after = (args.seconds_per_input + args.grace) * (args.wall_factor if args.clock == "cpu" else 1)
    slots = [spawn() for _ in range(args.workers)]
    idx = 0
    exhausted = False
    last_progress = time.monotonic()

    def feed(s: Slot) -> None:
        nonlocal idx, exhausted
        if exhausted:
            return
        inp = inputs.get()
        if inp is None:
            exhausted = True
            return
        s.idx, s.inp, s.started, s.command, s.done = idx, inp, time.monotonic(), "", []
        idx += 1
        s.conn.send((s.idx, inp))

    def finish(s: Slot) -> None:
        assert s.idx is not None and s.inp is not None
        figs.add(s.idx, s.inp, s.done, save, args.keep)
        s.idx, s.inp = None, None

    def lost(s: Slot, why: str) -> Slot:
        """The worker was killed or died: record the input's runs so far, and a new worker."""
        assert s.inp is not None
        cmd = s.command or commands[0]
        s.done.append(
            {
                "command": cmd,
                "argv": [cmd],
                "exit": None,
                "seconds": time.monotonic() - s.started,
                "problems": [
                    {
                        "category": "hang" if why == "killed" else "crash",
                        "key": f"{cmd} @ worker {why}",
                        "detail": "",
                    }
                ],
            }
        )
        finish(s)
        try:
            s.proc.kill()
        except OSError:
            pass
        s.proc.join(5)
        s.conn.close()
        return spawn()

    try:
        for s in slots:
            feed(s)
        while any(s.idx is not None for s in slots):
            ready = wait([s.conn for s in slots if s.idx is not None], timeout=0.5)
            for s in list(slots):
                if s.idx is None or s.conn not in ready:
                    continue
                try:
                    msg = s.conn.recv()
                except (EOFError, OSError):
                    s.proc.join(1)
                    slots[slots.index(s)] = fresh = lost(s, f"died (exit {s.proc.exitcode})")
                    feed(fresh)
                    continue
                if msg[0] == "start":
                    s.command = msg[2]
                elif msg[0] == "run":
                    s.done.append(msg[2])
                else:
                    finish(s)
                    feed(s)
            now = time.monotonic()
            for i, s in enumerate(slots):
                if s.idx is not None and now - s.started > kill_after:
                    slots[i] = fresh = lost(s, "killed")
                    feed(fresh)
            if args.progress and now - last_progress > args.progress:
                last_progress = now
                crashes = sum(g["count"] for k, g in figs.groups.items() if k[0] == "crash")
                hangs = sum(g["count"] for k, g in figs.groups.items() if k[0] == "hang")
                print(
                    f"[{now - figs.started:6.0f} s] {figs.inputs}/{args.n} inputs, {figs.rate():.1f}/s, "
                    f"{crashes} tracebacks, {hangs} hangs",
                    file=sys.stderr,
                    flush=True,
                )
    except KeyboardInterrupt:
        print("interrupted: figures so far", file=sys.stderr)
    finally:
        for s in slots:
            try:
                s.conn.send(None)
            except OSError:
                pass
        for s in slots:
            s.proc.join(2)
            if s.proc.is_alive():
                s.proc.kill()
    return figs


def at_revision(args: argparse.Namespace) -> int:
    """Run the same campaign in a fresh copy of ``args.at`` (the working tree stays untouched)."""
    root = Path(__file__).resolve().parents[2]
    tree = Path(tempfile.mkdtemp(prefix="l2l3-fuzz-tree-"))
    try:
        if args.at == "WORKTREE":
            listed = subprocess.run(
                ["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"],
                capture_output=True,
                check=True,
            )
            for name in filter(None, listed.stdout.decode().split("\0")):
                src = root / name
                if src.is_file():
                    (tree / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, tree / name)
            what = "the working tree as it is now"
        else:
            commit = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--verify", f"{args.at}^{{commit}}"],
                capture_output=True,
                text=True,
            )
            if commit.returncode != 0:
                print(f"campaign: error: --at {args.at}: {commit.stderr.strip()}", file=sys.stderr)
                return 2
            rev = commit.stdout.strip()
            tar = subprocess.run(
                ["git", "-C", str(root), "archive", "--format=tar", rev], capture_output=True, check=True
            )
            with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as t:
                t.extractall(tree, filter="data")
            what = rev[:12]
        print(f"campaign at {args.at} = {what}, in {tree}", file=sys.stderr, flush=True)
        argv = [
            *(
                "--n",
                str(args.n),
                "--seconds-per-input",
                str(args.seconds_per_input),
                "--grace",
                str(args.grace),
            ),
            *("--clock", args.clock, "--wall-factor", str(args.wall_factor)),
            *("--workers", str(args.workers), "--seed", str(args.seed), "--chunk", str(args.chunk)),
            *("--families", args.families, "--commands", args.commands, "--memory-mb", str(args.memory_mb)),
            *("--keep", str(args.keep), "--progress", str(args.progress)),
            *(("--save", str(Path(args.save).resolve())) if args.save else ()),
            *(("--json", str(Path(args.json).resolve())) if args.json else ()),
        ]
        return subprocess.run([sys.executable, "-m", "tests.fuzz.campaign", *argv], cwd=tree).returncode
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.campaign", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="inputs to run (default 1000)")
    ap.add_argument(
        "--seconds-per-input", type=float, default=10.0, help="time for all commands of one input"
    )
    ap.add_argument("--grace", type=float, default=5.0, help="then the worker is killed (default 5 s)")
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="what --seconds-per-input counts: the worker's CPU time (default; a busy machine "
        "does not make hangs) or wall time; with cpu the parent kills a worker only after "
        "--wall-factor times the limit plus the grace in wall time",
    )
    ap.add_argument("--wall-factor", type=float, default=20.0, help="see --clock (default 20)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, default=1000, help="inputs per Hypothesis run (default 1000)")
    ap.add_argument("--families", default="", help=f"comma-separated, of: {', '.join(FAMILIES)}")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="default check,expand,trace")
    ap.add_argument("--memory-mb", type=int, default=4096, help="address-space limit per worker (0: none)")
    ap.add_argument("--save", default="", metavar="DIR", help="keep failing inputs here")
    ap.add_argument("--keep", type=int, default=5, help="inputs kept per group (default 5)")
    ap.add_argument("--json", default="", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--progress", type=float, default=30.0, help="seconds between progress lines (0: none)")
    ap.add_argument(
        "--at",
        default="",
        metavar="REV",
        help="run on a copy of git revision REV (or of the working tree as it is now: WORKTREE), "
        "so that edits made meanwhile do not reach the workers",
    )
    args = ap.parse_args(argv)
    if args.n < 1 or args.workers < 1 or args.seconds_per_input <= 0 or args.chunk < 1:
        ap.error("--n, --workers, --chunk and --seconds-per-input must be positive")
    unknown = set(filter(None, args.families.split(","))) - set(FAMILIES)
    if unknown:
        ap.error(f"unknown families {', '.join(sorted(unknown))}")
    if args.at:
        return at_revision(args)
    os.environ.pop("L2L3_DEBUG", None)  # the harness sets it around each run
    figs = campaign(args)
    print(figs.report(args.n, args.workers, args.seconds_per_input))
    if args.json:
        Path(args.json).write_text(json.dumps(figs.as_json(), indent=1), encoding="utf-8")
    failing = sum(g["count"] for k, g in figs.groups.items() if k[0] in ("crash", "hang", "contract"))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
