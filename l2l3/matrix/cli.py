"""``l2l3 matrix FILE``: the reachability matrix on the command line."""

from __future__ import annotations

import argparse
import sys

from l2l3.matrix.lift import matrix
from l2l3.model.network import Network

__all__ = ["register"]


def _cmd_matrix(args: argparse.Namespace) -> int:
    """Print the matrix; exit 3 if some cell is unknown, else 0."""
    from l2l3 import api
    from l2l3.report.matrix import MATRIX_RENDERERS, render_matrix_text

    spec = api.load(args.file)
    net = Network(spec)
    m = matrix(net, by=args.by, progress=None if not args.quiet else False, jobs=args.jobs)
    if args.format == "text":
        sys.stdout.write(render_matrix_text(m, witnesses=args.witnesses))
    else:
        sys.stdout.write(MATRIX_RENDERERS[args.format](m))
    return 3 if any(c.status == "unknown" for c in m.cells.values()) else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 matrix`` to the command line."""
    p = subparsers.add_parser(
        "matrix",
        help="reachability between all namespaces (or endpoint classes), computed over classes",
        description="Print which groups of pods can reach which, computed over classes of endpoints "
        "that behave alike; every reachable cell is backed by a replayed witness.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--by", choices=["namespace", "class"], default="namespace")
    p.add_argument(
        "--format",
        "-o",
        choices=["text", "json", "csv", "md", "dot"],
        default="text",
        help="text (a grid), json, csv (a row per cell), md (a Markdown table), dot (Graphviz)",
    )
    p.add_argument("--witnesses", action="store_true", help="text: print each cell's witness packet")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_matrix)
