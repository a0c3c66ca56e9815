"""``l2l3 diff OLD NEW``: which pairs and ports gained or lost reachability (exit 0 equal, 1 different)."""

from __future__ import annotations

import argparse
import sys

from l2l3.cli import _CNI_HELP, positive_int, seconds
from l2l3.cli.style import phases

__all__ = ["register"]


def _service(text: str):  # type: ignore[no-untyped-def]
    from l2l3.diff import Service

    try:
        return Service.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _load_one(path: str, cni: str | None):  # type: ignore[no-untyped-def]
    from l2l3.kube.inputs import load_inputs

    return load_inputs([path], cni=cni)[0][0]  # one path: one spec (a .l2l3 file, or one cluster)


def cmd_diff(args: argparse.Namespace) -> int:
    """Load both sides, compare, render; exit 0 equal, 1 different, 3 undecided only."""
    from l2l3 import api
    from l2l3.diff import diff_networks
    from l2l3.report.diff import render_diff_json, render_diff_text

    bar = phases(not args.quiet)
    with bar.phase("load"):
        old_spec, new_spec = _load_one(args.old, args.cni), _load_one(args.new, args.cni)
    with bar.phase("build"):
        old, new = api.Network(old_spec), api.Network(new_spec)
    with bar.phase("checks"):
        lim = {"budget": args.budget, "time_limit": args.time_limit}
        old_checks = api.check(old_spec, network=old, **lim).results if old_spec.checks else ()
        new_checks = api.check(new_spec, network=new, **lim).results if new_spec.checks else ()
    with bar.phase("diff", unit="query") as step:
        d = diff_networks(
            old,
            new,
            services=args.service,
            old_checks=old_checks,
            new_checks=new_checks,
            on_query=step,
            **lim,
        )
    if args.format == "json":
        sys.stdout.write(render_diff_json(d, args.old, args.new))
    else:
        sys.stdout.write(render_diff_text(d, args.old, args.new, witness=args.witness != "none"))
    return d.exit_status


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 diff`` to the command line."""
    p = sub.add_parser(
        "diff",
        help="which pod pairs (and ports) gained or lost reachability between two specs or clusters",
        description="Compare two networks (each a .l2l3 spec, a manifest or a directory): every pod "
        "pair both have, towards every pod and external, with any packet and per service either "
        "mentions. Exit 0 when equal, 1 when they differ, 3 when only undecided queries remain.",
    )
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--cni", default=None, metavar="PROFILE", help=_CNI_HELP)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--service",
        action="append",
        type=_service,
        default=None,
        metavar="SVC",
        help="compare only these: tcp/80, udp/53, icmp or any; may be repeated "
        "(default: any, plus each port the specs mention)",
    )
    p.add_argument("--witness", choices=["all", "none"], default="all", help="text: show witnesses")
    p.add_argument("--budget", type=positive_int, default=None, metavar="N", help="as for l2l3 check")
    p.add_argument("--time-limit", type=seconds, default=None, metavar="S", help="as for l2l3 check")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_diff, _parser=p)
