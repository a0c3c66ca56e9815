"""Median re-answer time per kind of change at 10,000 pods (issue 15, target 5).

``python -m tests.bench.incremental_figures [--nodes 100 --pods 100 --repeats 5]``
prints, for each kind of change, the median CPU time of the
:class:`l2l3.incremental.Session` call (patching the network and answering
the affected checks again) and how many checks it answered. Each change is
undone by the next call (relabel and back, add and remove, ...), so every
repeat starts from the generated spec. :func:`figures` is what the
benchmark calls.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

from l2l3.generate import plan, spec_text
from l2l3.incremental import Session, Update
from l2l3.model.types import Route

_CHANGES: list[tuple[str, Callable[[Session], Update], Callable[[Session], Update]]] = [
    (
        "relabel a pod",
        lambda s: s.relabel_pod("n5/p7", {"app": "zz"}),
        lambda s: s.relabel_pod("n5/p7", dict(_labels0)),
    ),
    (
        "add a pod",
        lambda s: s.add_pod("n7", "pod extra ip 10.128.7.250 namespace ns3 labels app=a1"),
        lambda s: s.remove_pod("n7/extra"),
    ),
    (
        "add a policy",
        lambda s: s.add_policy(
            "policy extra namespace ns2 {\n    select app=a1\n    ingress from namespace ns0\n}"
        ),
        lambda s: s.remove_policy("ns2", "extra"),
    ),
    (
        "replace a policy",
        lambda s: s.replace_policy(_variant(s)),
        lambda s: s.replace_policy(_original),
    ),
    (
        "change a node's routes",
        lambda s: s.replace_node(_with_route(s, True)),
        lambda s: s.replace_node(_with_route(s, False)),
    ),
]
_labels0: tuple[tuple[str, str], ...] = ()
_original = ""


def _variant(s: Session) -> str:
    return "policy iso namespace ns1 {\n    select\n    ingress from namespace ns1 pods app=a1\n}"


def _with_route(s: Session, add: bool) -> object:
    n = next(x for x in s.raw.nodes if x.name == "n9")
    extra = Route(prefix=IPv4Network("203.0.113.0/24"), via=IPv4Address("172.16.0.1"), dev="eth0")
    return replace(
        n, routes=(*n.routes, extra) if add else tuple(r for r in n.routes if r.prefix != extra.prefix)
    )


def figures(text: str, repeats: int = 5) -> dict[str, tuple[float, float, int]]:
    """Kind of change -> (median seconds of the change, of its undo, checks answered by the change)."""
    global _labels0, _original
    s = Session.from_text(text, "<bench>")
    _labels0 = s.net.pods["n5/p7"].pod.labels
    pol = next(p for p in s.raw.policies if (p.namespace, p.name) == ("ns1", "iso"))
    _original = pol  # type: ignore[assignment]
    out: dict[str, tuple[float, float, int]] = {}
    for name, do, undo in _CHANGES:
        there, back, answered = [], [], 0
        for _ in range(repeats):
            t = time.process_time()
            up = do(s)
            there.append(time.process_time() - t)
            answered = len(up.answered)
            t = time.process_time()
            undo(s)
            back.append(time.process_time() - t)
        out[name] = (statistics.median(there), statistics.median(back), answered)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    text = spec_text(plan(a.nodes, a.pods, "calico bgp", 10))
    t = time.process_time()
    got = figures(text, a.repeats)
    print(f"{a.nodes * a.pods} pods; session start {time.process_time() - t:.1f} s CPU in all")
    for name, (there, back, n) in got.items():
        print(f"{name:26s} {there * 1000:8.1f} ms (undo {back * 1000:7.1f} ms), {n} checks answered again")


if __name__ == "__main__":
    main()
