"""``l2l3 trace FILE --from ENDPOINT --to ADDRESS``: follow one concrete packet, hop by hop.

``--summary`` keeps the routed hops only (sending, route decisions, NAT,
encapsulation, the fate), as ``ovn-trace --summary`` does; ``--format json``
prints ``{"from", "to", "proto", "dport", "delivered", "outcomes": [trace…]}``
where each trace is the JSON a check's witness has (packet, disposition,
reason, delivered_to, hops). Exit 0 when some outcome is delivered, else 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from l2l3.cli import endpoint, ipv4_address, port, usage_error
from l2l3.cli.style import Style, add_color_option
from l2l3.errors import QueryError

__all__ = ["register"]


def cmd_trace(args: argparse.Namespace) -> int:
    """Simulate the packet; print each outcome (text, summary or JSON)."""
    from l2l3 import api
    from l2l3.model.endpoints import resolve
    from l2l3.model.types import Proto
    from l2l3.report import render_trace
    from l2l3.report.text import render_trace_summary

    proto = Proto[args.proto.upper()]
    if args.dport is not None and proto == Proto.ICMP:
        return usage_error(args, "argument --dport: needs --proto tcp or udp")
    spec = api.load(args.file)
    net = api.Network(spec)
    try:
        senders = resolve(net, api.parse_endpoint(args.src))
    except QueryError as e:
        return usage_error(args, f"argument --from: {e} in {args.file}")
    if len(senders) != 1:
        return usage_error(
            args,
            f"argument --from: {args.src!r} names {len(senders)} senders in {args.file}; trace takes one",
        )
    dport = args.dport if args.dport is not None else (0 if proto == Proto.ICMP else 80)
    traces = api.trace(net, args.src, args.to, proto, dport)
    delivered = any(t.delivered for t in traces)
    if args.format == "json":
        doc = {
            "from": args.src,
            "to": str(args.to),
            "proto": str(proto),
            "dport": dport,
            "delivered": delivered,
            "outcomes": [t.to_json() for t in traces],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0 if delivered else 1
    style = Style.for_stream(sys.stdout, args.color)
    show = render_trace_summary if args.summary else render_trace
    for n, t in enumerate(traces, 1):
        if len(traces) > 1:
            print(f"outcome {n} of {len(traces)}:")
        text = show(t, indent="  ")
        head, _, fate = text.rpartition("\n")
        print(head + "\n" + style.paint(fate, "green" if t.delivered else "red"))
    return 0 if delivered else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 trace`` to the command line."""
    t = sub.add_parser("trace", help="follow one concrete packet, hop by hop")
    t.add_argument("file", metavar="FILE")
    t.add_argument(
        "--from",
        dest="src",
        required=True,
        type=endpoint,
        metavar="ENDPOINT",
        help="e.g. lin1/web, 'node lin1'",
    )
    t.add_argument("--to", required=True, type=ipv4_address, metavar="ADDRESS", help="an IPv4 address")
    t.add_argument("--proto", choices=["tcp", "udp", "icmp"], default="icmp")
    t.add_argument("--dport", type=port, default=None, metavar="PORT", help="0-65535 (default 80)")
    t.add_argument("--format", choices=["text", "json"], default="text")
    t.add_argument(
        "--summary",
        action="store_true",
        help="text: routed hops only (no L2 forwarding, no ARP), like ovn-trace",
    )
    add_color_option(t)
    t.set_defaults(func=cmd_trace, _parser=t)
