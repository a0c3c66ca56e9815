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
``audit-150k``  the same checks on 5,000 nodes x 30 pods (target 20 s, 2 GiB).
``cold-start``, ``set-10k``, ``set-150k``, ``map-5k``, ``incremental``: issue 15's rows
                (:mod:`benchmarks.rows_extra`).
``api-10k``     one ``reach`` through the Python API after loading (median).
``growth``      1,000 -> 100,000 pods (100 per node), cold start to every
                answer through the matrix; log-log slope of time over pods.
``peer``        ``network-config-analyzer --connectivity`` on 1,000 pods with
                100 NetworkPolicies of the realistic mix (Kubernetes YAML
                written by ``l2l3.generate_mix``) versus ``l2l3 matrix`` on
                the same cluster as a spec, side by side, answers compared
                per namespace pair.
``profile``     cProfile and tracemalloc top 20 at the largest audit size
                that finished within the caps.

``--scale small`` shrinks every size so that the whole run takes seconds (the
test-suite runs it); ``full`` is the issue's table. The table goes to stdout
and, for ``full`` (or with ``--results``), into benchmarks/RESULTS.md.

Modules: ``benchmarks.rows`` (sizes, rows and their workloads),
``benchmarks.peer`` (network-config-analyzer in its own virtualenv),
``benchmarks.measure`` (child processes under caps, medians, slopes),
``benchmarks.report`` (the table and RESULTS.md); this module is the command.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from benchmarks.peer import peer_row
from benchmarks.report import report, table
from benchmarks.rows import TARGETS, Bench, Row
from benchmarks.rows_extra import cold_row, incremental_row, map_row, set_pairs_row, set_row

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Run the rows asked for, print the table, and write the report and JSON when asked (or at full scale)."""
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
    ap.add_argument(
        "--rows",
        default="cold-start,check-10k,audit-150k,set-10k,set-150k,api-10k,growth,peer,map-5k,incremental,profile",
    )
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
        if "cold-start" in rows:
            cold_row(b)
        if "check-10k" in rows:
            b.audit_row("check-10k", *b.sizes.check, wall_target=10.0, mem_target=None)
        if "audit-150k" in rows:
            b.audit_row("audit-150k", *b.sizes.audit, wall_target=20.0, mem_target=2.0)
        if "set-10k" in rows:
            set_row(b)
        if "set-150k" in rows:
            set_pairs_row(b)
        if "api-10k" in rows:
            b.api_row()
        if "growth" in rows:
            b.growth_row()
        if "peer" in rows:
            if args.peer == "skip":
                b.rows.append(Row("peer", "", TARGETS["peer"], "skipped (--peer skip)", "skipped"))
            else:
                peer_row(b)
        if "map-5k" in rows:
            map_row(b)
        if "incremental" in rows:
            incremental_row(b)
        if "profile" in rows:
            b.profile()
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)
    if args.keep:
        b.merge(json.loads(Path(args.keep).read_text()))
    print(table(b.rows))
    print(f"\n(total {time.perf_counter() - t0:.1f} s)")
    results = args.results or (str(HERE / "RESULTS.md") if args.scale == "full" else None)
    if results:
        Path(results).write_text(report(b) + "\n")
        print(f"report written to {results}")
    if args.json:
        doc = {"rows": [r.__dict__ for r in b.rows], "profiles": b.profiles}
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
