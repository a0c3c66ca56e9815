"""``l2l3 graph FILE [--check NAME] [-o OUT]``: a picture of the network, a witness highlighted hop by hop."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from l2l3.cli import usage_error

__all__ = ["register"]

_FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid"}


def cmd_graph(args: argparse.Namespace) -> int:
    """Draw; with ``--check``, the check's witness (or where its packet dies) in red."""
    from l2l3 import api
    from l2l3.cli.check import select_checks
    from l2l3.graph import highlight, render_graphviz, to_dot, to_mermaid, topology

    out = args.output
    fmt = args.format or (_FORMATS.get(Path(out).suffix.lower()) if out not in (None, "-") else "dot")
    if fmt is None:
        return usage_error(args, f"argument -o: {out}: write .svg, .png, .dot or .mmd (or give --format)")
    spec = api.load(args.file)
    net = api.Network(spec)
    g = topology(net)
    h, title = None, f"{args.file}"
    if args.check:
        chosen = select_checks([spec], [args.check])
        if isinstance(chosen, str):
            return usage_error(args, chosen)
        rep = api.check(chosen[0], network=net)
        r = next((r for r in rep.results if r.witness is not None), None)
        if r is None or r.witness is None or r.check is None:
            return usage_error(
                args, f"argument --check: {args.check} has no witness to draw ({rep.results[0].status.value})"
            )
        w = r.witness
        h = highlight(g, w)
        fate = "delivered" if w.delivered else "dies"
        title += f": check {r.check.name} ({r.status.value}), its packet {fate}: {w.packet}"
    if fmt == "mermaid":
        data = to_mermaid(g, h).encode()
    else:
        dot = to_dot(g, h, title)
        try:
            data = dot.encode() if fmt == "dot" else render_graphviz(dot, fmt)
        except FileNotFoundError as e:
            return usage_error(args, f"{e}; or write .dot / .mmd")
    if out in (None, "-"):
        sys.stdout.buffer.write(data)
        return 0
    try:
        Path(out).write_bytes(data)
    except OSError as e:
        return usage_error(args, f"argument -o: cannot write {out}: {e.strerror or e}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 graph`` to the command line."""
    p = sub.add_parser(
        "graph",
        help="draw the network (nodes, bridges, pods, segments, tunnels, externals), a check's witness in red",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--check", default=None, metavar="NAME", help="highlight this check's witness hop by hop")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="OUT",
        help="OUT.svg, .png (Graphviz), .dot or .mmd (Mermaid); default: DOT on stdout",
    )
    p.add_argument(
        "--format", choices=["svg", "png", "dot", "mermaid"], default=None, help="instead of -o's suffix"
    )
    p.set_defaults(func=cmd_graph, _parser=p)
