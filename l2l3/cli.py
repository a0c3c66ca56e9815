"""The ``l2l3`` command: a thin layer over :mod:`l2l3.api`.

Exit status (``l2l3 check``):
    0  every check holds
    1  at least one check is violated
    2  the input is invalid (nothing was checked), or the command line is wrong
    3  at least one check is unknown (a limit was hit) and none is violated
    4  internal error: l2l3 contradicted itself (please report it)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from l2l3 import api
from l2l3.errors import L2L3Error, ReplayMismatch, SpecError
from l2l3.model.types import Proto


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"l2l3: error: {message}\n")


def cmd_check(args: argparse.Namespace) -> int:
    from l2l3.dsl import load_with_warnings
    from l2l3.report import RENDERERS

    loaded = []
    failed = False
    for f in args.files:
        try:
            loaded.append(load_with_warnings(f))
        except SpecError as e:
            print(str(e), file=sys.stderr)
            failed = True
    if failed:
        return 2
    reports = [api.check(spec, extra_warnings=warns, budget=args.budget) for spec, warns in loaded]
    text = RENDERERS[args.format](reports)
    sys.stdout.write(text)
    if args.format != "text":
        for rep in reports:
            for w in rep.warnings:
                print(w, file=sys.stderr)
    worst = [r.exit_status for r in reports]
    if 1 in worst:
        return 1
    if 3 in worst:
        return 3
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from l2l3.report import render_trace

    spec = api.load(args.file)
    net = api.Network(spec)
    proto = Proto[args.proto.upper()]
    if args.dport is not None and proto == Proto.ICMP:
        raise L2L3Error("--dport needs --proto tcp or udp")
    dport = args.dport if args.dport is not None else (0 if proto == Proto.ICMP else 80)
    traces = api.trace(net, args.src, args.to, proto, dport)
    for n, t in enumerate(traces, 1):
        if len(traces) > 1:
            print(f"outcome {n} of {len(traces)}:")
        print(render_trace(t, indent="  "))
    return 0 if any(t.delivered for t in traces) else 1


def cmd_expand(args: argparse.Namespace) -> int:
    from l2l3.dsl import load_with_warnings, parse_with_warnings, render
    from l2l3.model.profiles import expand_with_comments

    raw = parse_with_warnings(
        Path(args.file).read_text(encoding="utf-8"), args.file, expand=False, validate=False
    )[0]
    spec, warns = load_with_warnings(args.file)  # validates the expansion
    comments = expand_with_comments(raw)[2] if raw.cluster is not None else {}
    for w in warns:
        print(w.render(), file=sys.stderr)
    sys.stdout.write(render(spec, comments))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="l2l3",
        description="Model checker for container network reachability and isolation.",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("check", help="run every check of the spec files")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--format", choices=["text", "json", "sarif", "junit"], default="text")
    c.add_argument(
        "--budget",
        type=int,
        default=None,
        metavar="N",
        help="at most N solver checks per search; beyond it a check is unknown (default 200000)",
    )
    c.set_defaults(func=cmd_check)
    t = sub.add_parser("trace", help="follow one concrete packet, hop by hop")
    t.add_argument("file", metavar="FILE")
    t.add_argument("--from", dest="src", required=True, metavar="ENDPOINT", help="e.g. lin1/web, 'node lin1'")
    t.add_argument("--to", required=True, metavar="ADDRESS")
    t.add_argument("--proto", choices=["tcp", "udp", "icmp"], default="icmp")
    t.add_argument("--dport", type=int, default=None, metavar="PORT")
    t.set_defaults(func=cmd_trace)
    e = sub.add_parser("expand", help="print the spec with every CNI profile expanded into primitives")
    e.add_argument("file", metavar="FILE")
    e.set_defaults(func=cmd_expand)
    from l2l3.generate import register as register_generate
    from l2l3.kernel.cli import register as register_kernel
    from l2l3.matrix import register as register_matrix

    register_matrix(sub)
    register_generate(sub)
    register_kernel(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return 2
    except ReplayMismatch as e:
        print(f"l2l3: internal error, please report: {e}", file=sys.stderr)
        return 4
    except L2L3Error as e:
        print(f"l2l3: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
