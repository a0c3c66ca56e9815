"""What-if measurements for proposed engine/model changes, without editing them.

    python -m benchmarks.whatif [--nodes N] [--pods P] [--change NAME ...]

Each change is applied *in this process only*, by recompiling one function
of l2l3 from its own source with a one-line substitution, so that its gain
can be measured before anyone edits the tree. Each run measures the baseline
first, then the change, on the same cluster, and checks that the answers
are identical.

Changes:

``concrete-src``  l2l3/solver/engine.py ``Engine.search``: a pod sender's
                  fixed source address enters the symbolic packet as a
                  literal (as a fixed destination already does), so routing,
                  NAT and NetworkPolicy decisions on it are made in Python
                  instead of as z3 disjunctions over every pod address.
``node-ips-once`` l2l3/model/profiles/_base.py ``pod_ip_checks``: the set of
                  node addresses is built once per expansion instead of once
                  per pod (O(pods x nodes) -> O(pods + nodes)).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

CHANGES: dict[str, tuple[str, str, str, str]] = {
    # name: (module, qualified function, old text, new text)
    "concrete-src": (
        "l2l3.solver.engine",
        "Engine.search",
        "pkt = SymPkt(self.src0,",
        "pkt = SymPkt(ip_const(src) if src is not None else self.src0,",
    ),
    "node-ips-once": (
        "l2l3.model.profiles._base",
        "pod_ip_checks",
        "ip in {p.ip for p in nb.ctx.peers}",
        'ip in nb.ctx.__dict__.setdefault("_node_ips", frozenset(p.ip for p in nb.ctx.peers))',
    ),
}


def apply(name: str) -> Callable[[], None]:
    """Apply one change; returns a function that undoes it."""
    import importlib

    modname, qual, old, new = CHANGES[name]
    mod = importlib.import_module(modname)
    owner: Any = mod
    parts = qual.split(".")
    for p in parts[:-1]:
        owner = getattr(owner, p)
    fn = getattr(owner, parts[-1])
    src = textwrap.dedent(inspect.getsource(fn))
    if old not in src:
        raise SystemExit(f"{name}: {qual} no longer contains {old!r}; the change may be in already")
    ns: dict[str, Any] = {}
    exec(compile(src.replace(old, new), f"<whatif {name}>", "exec"), mod.__dict__, ns)
    setattr(owner, parts[-1], ns[parts[-1]])
    return lambda: setattr(owner, parts[-1], fn)


def measure(nodes: int, pods: int) -> dict[str, Any]:
    import l2l3
    from l2l3.generate import generate
    from l2l3.matrix import matrix

    text = generate(nodes, pods)
    t0 = time.perf_counter()
    spec = l2l3.loads(text)
    t1 = time.perf_counter()
    net = l2l3.Network(spec)
    t2 = time.perf_counter()
    m = matrix(net, progress=False)
    t3 = time.perf_counter()
    return {
        "load_s": round(t1 - t0, 2),
        "network_s": round(t2 - t1, 2),
        "classes_s": m.stats["class_seconds"],
        "queries_s": m.stats["query_seconds"],
        "total_s": round(t3 - t0, 2),
        "cells": {k: (c.pairs, c.reachable, c.unknown) for k, c in m.cells.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.whatif")
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--change", action="append", choices=sorted(CHANGES), default=None)
    args = ap.parse_args(argv)
    changes = args.change or sorted(CHANGES)
    measure(2, 2)  # warm-up: imports, the parser, term caches
    base = measure(args.nodes, args.pods)
    undo = [apply(c) for c in changes]
    try:
        after = measure(args.nodes, args.pods)
    finally:
        for u in reversed(undo):
            u()
    same = base.pop("cells") == after.pop("cells")
    print(f"{args.nodes * args.pods:,} pods ({args.nodes} x {args.pods}), changes: {', '.join(changes)}")
    for k in base:
        print(f"  {k:<10} {base[k]:>9} -> {after[k]:>9}")
    print(f"  identical matrix: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
