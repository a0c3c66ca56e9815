"""``l2l3 realize``, ``l2l3 verify-kernel`` and ``l2l3 snapshot``.

:func:`register` adds the three subcommands to the main CLI's subparsers;
``python -m l2l3.kernel.cli …`` runs them on their own.

Exit status: ``realize``/``snapshot`` 0 on success, 2 on a spec or realize
error; ``verify-kernel`` 0 when the checker and the kernel agree on every
check and every probed endpoint pair, 1 on any disagreement, 2 on errors;
4 on an internal error (see :mod:`l2l3.cli`).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# the same rule realize() enforces; checked when the arguments are parsed, so
# ``--down`` never builds a path from an unchecked prefix
_PREFIX_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]{0,15}")


def default_prefix(file: str) -> str:
    """A stable prefix per spec file, so ``--down`` finds what ``realize`` made."""
    digest = hashlib.sha1(str(Path(file).resolve()).encode()).hexdigest()[:6]
    return f"l2l3{digest}"


def prefix_arg(text: str) -> str:
    """An argparse ``type=``: a namespace name prefix (1-16 letters, digits, '_' or '.')."""
    if not _PREFIX_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a prefix: use 1-16 letters, digits, '_' or '.', starting with a letter or digit"
        )
    return text


def netns_pattern(text: str) -> str:
    """An argparse ``type=``: a glob of namespace names (no '/', no NUL)."""
    if not text or "/" in text or "\0" in text or len(text) > 255:
        raise argparse.ArgumentTypeError(f"{text!r} is not a glob of namespace names")
    return text


def cmd_realize(args: argparse.Namespace) -> int:
    from l2l3.cli import usage_error
    from l2l3.kernel.realize import realize, teardown

    if args.file is None and not (args.down and args.prefix):
        return usage_error(args, "the following arguments are required: FILE (or --down --prefix P)")
    prefix = args.prefix or default_prefix(args.file)
    if args.down:
        gone = teardown(prefix)
        for n in gone:
            print(f"deleted netns {n}")
        if not gone:
            print(f"nothing realized under prefix {prefix}")
        return 0
    from l2l3 import api

    spec = api.load(args.file)
    rz = realize(spec, prefix)
    print(f"realized {args.file} under prefix {prefix}:")
    for sid, ns in sorted(rz.netns.items(), key=lambda kv: kv[1]):
        print(f"  {ns:<40} {sid}")
    for ext, ns in sorted(rz.external_ns.items()):
        print(f"  {ns:<40} external {ext}")
    if rz.underlay:
        print(f"  {rz.underlay:<40} (segments: underlay bridges)")
    print(
        "enter one with `ip netns exec NETNS sh`; remove all with "
        + (
            f"`l2l3 realize --down --prefix {prefix}`"
            if args.prefix
            else f"`l2l3 realize {args.file} --down`"
        )
    )
    return 0


def _status(v: Any) -> str:
    return getattr(v, "value", str(v))


def cmd_verify(args: argparse.Namespace) -> int:
    from l2l3 import api
    from l2l3.kernel.probe import (
        KNOWN_DIFFERENCES,
        Prober,
        check_probes,
        compare,
        connect_verdict,
        endpoints,
        is_connect,
        kernel_verdict,
        neighbour_capacity,
        run_exchanges,
    )
    from l2l3.kernel.realize import realize, teardown

    spec = api.load(args.file)
    net = api.Network(spec)
    prefix = args.prefix or f"l2v{os.getpid()}"
    rz = realize(spec, prefix, net=net)
    disagreements = 0
    try:
        with neighbour_capacity():
            results = [(c, api.evaluate(net, c.query)) for c in spec.checks]
            measured = {}
            for c, r in results:
                w = r.witness.packet if r.witness is not None else None
                measured[c.name] = check_probes(rz, c.query, w)
            pair_probes = endpoints(rz)
            # a connect is measured on exchanges (request and answer), the rest on one-way probes
            connects = {c.name for c in spec.checks if is_connect(c.query)}
            one_way = [p for n, m in measured.items() if n not in connects for _s, _d, ps in m for p in ps]
            every = list(dict.fromkeys(one_way + pair_probes))
            swaps = list(
                dict.fromkeys(p for n, m in measured.items() if n in connects for _s, _d, ps in m for p in ps)
            )
            exchanged = run_exchanges(rz, swaps) if swaps else {}
            ports = sorted({p.dport for p in every if p.dport})
            with Prober(rz, ports or [80]) as prober:
                comps = compare(rz, every, prober=prober)
            answers = {c.probe: c.kernel for c in comps}
            comp_by = {c.probe: c for c in comps}
            print(
                f"{args.file}: realized under prefix {prefix}; {len(every)} probes"
                + (f", {len(swaps)} exchanges" if swaps else "")
            )
            if spec.checks:
                print("\nchecks (checker | kernel):")
            for c, r in results:
                if c.name in connects:
                    kc = connect_verdict(c.query, measured[c.name], exchanged)
                else:
                    kc = kernel_verdict(c.query, measured[c.name], answers)
                mine = _status(r.status)
                if kc.status == "not measured":
                    mark = "-"
                elif kc.status == mine:
                    mark = "agree"
                else:
                    mark = "DISAGREE"
                    disagreements += 1
                    known = sorted(
                        {
                            str(comp_by[p].known)
                            for pr in kc.pairs
                            for p in pr.probes
                            if p in comp_by and comp_by[p].known and not comp_by[p].agree
                        }
                    )
                    if known:
                        kc.note += "; known model difference: " + ", ".join(known)
                where = f"{c.span.file}:{c.span.line}" if c.span.line else ""
                print(f"  {mark:<8} {c.name}: {c.query}   [{where}]")
                print(f"           checker: {mine:<9} kernel: {kc.status} ({kc.note})")
                for pr in kc.pairs:
                    if mark == "DISAGREE" or args.verbose:
                        seen = "; ".join(
                            f"{p.proto}{'/' + str(p.dport) if p.dport else ''}: "
                            f"{answers[p] if p in answers else exchanged.get(p)}"
                            for p in pr.probes
                        )
                        print(f"             {pr.src} -> {pr.dst}: {'yes' if pr.ok else 'no'}  ({seen})")
            print("\nendpoint pairs (checker | kernel):")
            by_pair: dict[tuple[str, str], list[Any]] = {}
            for comp in comps:
                if comp.probe in set(pair_probes):
                    by_pair.setdefault(
                        (comp.probe.src, f"{comp.probe.dst} ({comp.probe.dst_label})"), []
                    ).append(comp)
            bad_probes = 0
            for (src, dst), cs in by_pair.items():
                bad = [x for x in cs if not x.agree]
                bad_probes += len(bad)
                kinds = ", ".join(
                    f"{x.probe.proto}{'/' + str(x.probe.dport) if x.probe.dport else ''}" for x in cs
                )
                if not bad:
                    outcome = str(cs[0].model)
                    same = all(str(x.model) == outcome for x in cs)
                    print(f"  agree    {src} -> {dst} [{kinds}]: {outcome if same else 'as modelled'}")
                else:
                    print(f"  DISAGREE {src} -> {dst}")
                    for x in cs:
                        mark = "  " if x.agree else "!!"
                        print(
                            f"    {mark} {x.probe.proto}{'/' + str(x.probe.dport) if x.probe.dport else ''}: "
                            f"checker: {x.model} | kernel: {x.kernel}"
                        )
                    known = sorted({str(x.known) for x in bad if x.known})
                    for k in known:
                        print(f"       known model difference {k}: {KNOWN_DIFFERENCES[k]}")
            disagreements += bad_probes
            n_checks = sum(1 for c, _ in results)
            print(
                f"\nsummary: {len(comps) - sum(1 for x in comps if not x.agree)}/{len(comps)} probes agree; "
                f"{n_checks} checks; {disagreements} disagreement(s)"
            )
    finally:
        if not args.keep:
            teardown(prefix)
        else:
            print(f"kept the realization: remove it with `l2l3 realize {args.file} --down --prefix {prefix}`")
    return 1 if disagreements else 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from l2l3.kernel.snapshot import snapshot_text

    dirs = tuple(Path(d) for d in args.cni_cache) if args.cni_cache else None
    if args.record:
        import json

        from l2l3.kernel.snapshot_node import gather

        rec = gather(args.root, **({"cache_dirs": dirs} if dirs else {}))
        text = json.dumps(rec, indent=1, sort_keys=True) + "\n"
    else:
        text = snapshot_text(
            args.netns,
            strip=args.strip_prefix,
            root=args.root,
            name=args.name,
            cache_dirs=dirs,
            recording=args.from_file,
        )
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as e:
            print(f"l2l3: error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0


def register(subparsers: Any) -> None:
    """Add ``realize``, ``verify-kernel`` and ``snapshot`` to an argparse subparsers object."""
    r = subparsers.add_parser("realize", help="build a Linux spec in real network namespaces (root)")
    r.add_argument("file", metavar="FILE", nargs="?", help="the spec (not needed with --down --prefix P)")
    r.add_argument(
        "--prefix", default=None, type=prefix_arg, help="namespace name prefix (default: derived from FILE)"
    )
    r.add_argument("--down", action="store_true", help="remove what `realize FILE` made, by name")
    r.set_defaults(func=cmd_realize, _parser=r)
    v = subparsers.add_parser(
        "verify-kernel",
        help="realize FILE, probe it and compare every check and endpoint pair with the kernel",
    )
    v.add_argument("file", metavar="FILE")
    v.add_argument(
        "--prefix", default=None, type=prefix_arg, help="namespace name prefix (default: l2v<pid>)"
    )
    v.add_argument("--keep", action="store_true", help="leave the namespaces in place afterwards")
    v.add_argument("-v", "--verbose", action="store_true", help="show every pair of every check")
    v.set_defaults(func=cmd_verify, _parser=v)
    s = subparsers.add_parser(
        "snapshot",
        help="write a Linux node (its root namespace and pods) or named namespaces as a spec",
    )
    which = s.add_mutually_exclusive_group()
    which.add_argument(
        "--netns",
        default=None,
        type=netns_pattern,
        metavar="PATTERN",
        help="named namespaces matching this glob, each read on its own (e.g. what realize made)",
    )
    which.add_argument(
        "--root",
        default=None,
        type=netns_pattern,
        metavar="NETNS",
        help="a named netns standing in for the node's root namespace (default: the real root)",
    )
    which.add_argument(
        "--from",
        dest="from_file",
        default=None,
        metavar="FILE",
        help="a file `snapshot --record` wrote (read on another machine)",
    )
    s.add_argument("--name", default=None, metavar="NODE", help="the node's name (default: the host name)")
    s.add_argument(
        "--cni-cache",
        action="append",
        default=None,
        metavar="DIR",
        help="a libcni result cache directory (repeatable; default: /var/lib/cni/results, "
        "/var/lib/cni/cache/results)",
    )
    s.add_argument("--record", action="store_true", help="write what was read as JSON instead of a spec")
    s.add_argument(
        "--strip-prefix",
        default=None,
        metavar="P",
        help="drop P from namespace names when naming nodes and pods",
    )
    s.add_argument("-o", "--output", default=None, metavar="FILE")
    s.set_defaults(func=cmd_snapshot, _parser=s)


def main(argv: Sequence[str] | None = None) -> int:
    from l2l3.cli import parse_args, run

    p = argparse.ArgumentParser(prog="l2l3", description="l2l3 kernel ground truth")
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    args = parse_args(p, argv)
    if isinstance(args, int):
        return args
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
