"""``l2l3 check``: run the checks of specs or of a cluster, in the format CI reads.

Beyond LANGUAGE.md §5: ``--check NAME`` (a glob, repeatable) runs only the
checks it names; ``--witness violated|all|none`` says whose witness the text
shows (JSON, SARIF and JUnit keep every witness their format carries);
``--strict`` makes a vacuous check and a policy some pod's node does not
enforce fail the run with exit 1, as a violated check does.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from l2l3.cli import _CNI_HELP, positive_int, seconds, usage_error
from l2l3.cli.style import Style, add_color_option, phases
from l2l3.errors import SpecError

if TYPE_CHECKING:  # the checker, the model and the readers are imported when a check runs
    from l2l3 import api
    from l2l3.checking import Report
    from l2l3.model.types import Spec

__all__ = ["StrictFinding", "cmd_check", "register", "strict_findings"]


@dataclass(frozen=True, slots=True)
class StrictFinding:
    """Something ``--strict`` fails the run for: a vacuous check, an unenforced policy."""

    file: str
    line: int
    kind: str  # "vacuous-check" or "unenforced-policy"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: strict: {self.message}"

    def to_json(self) -> dict[str, object]:
        """``{"file", "line", "kind", "message"}``."""
        return {"file": self.file, "line": self.line, "kind": self.kind, "message": self.message}


def strict_findings(report: Report, net: api.Network) -> list[StrictFinding]:
    """What ``--strict`` fails ``report`` for: its vacuous checks, its policies not enforced everywhere."""
    from l2l3.checking import Verdict
    from l2l3.model.policy import unenforced_policies

    out = []
    for r in report.results:
        if r.check is None or r.status is not Verdict.HOLDS:
            continue
        vacuous = r.explanation.startswith("holds vacuously") or any(
            w.startswith("vacuous:") for w in r.warnings
        )
        if vacuous:
            out.append(
                StrictFinding(
                    r.check.span.file,
                    r.check.span.line,
                    "vacuous-check",
                    f"check {r.check.name} {r.explanation}",
                )
            )
    for pol, pods in unenforced_policies(net):
        out.append(
            StrictFinding(
                pol.span.file,
                pol.span.line,
                "unenforced-policy",
                f"policy {pol.namespace}/{pol.name} is not enforced on {len(pods)} pod(s) it selects",
            )
        )
    return out


def select_checks(specs: list[Spec], patterns: list[str]) -> list[Spec] | str:
    """Each spec with only the checks some pattern names (``fnmatch`` globs), or what is wrong."""
    if not patterns:
        return specs
    names = [c.name for s in specs for c in s.checks]
    unmatched = [p for p in patterns if not any(fnmatchcase(n, p) for n in names)]
    if unmatched:
        known = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
        return f"argument --check: no check is named {unmatched[0]!r} (the checks: {known or 'none'})"
    return [
        replace(s, checks=tuple(c for c in s.checks if any(fnmatchcase(c.name, p) for p in patterns)))
        for s in specs
    ]


def _exit_status(reports: list[Report], strict: list[StrictFinding]) -> int:
    worst = [r.exit_status for r in reports]
    if 1 in worst or strict:
        return 1
    if 3 in worst:
        return 3
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Load, check, render; the exit status of LANGUAGE.md §5 (and ``--strict``)."""
    from l2l3 import api
    from l2l3.kube.inputs import load_inputs
    from l2l3.report import RENDERERS
    from l2l3.report.warnings import group_warnings

    bar = phases(not args.quiet)
    try:
        with bar.phase("load"):
            loaded = load_inputs(args.files, cni=args.cni)
        chosen = select_checks([s for s, _ in loaded], args.check or [])
        if isinstance(chosen, str):
            return usage_error(args, chosen)
        reports, strict = [], []
        for spec, (_, warns) in zip(chosen, loaded, strict=True):
            with bar.phase("build"):
                net = api.Network(spec)
            with bar.phase("check", total=len(spec.checks), unit="check") as step:
                rep = api.check(
                    spec,
                    extra_warnings=warns,
                    budget=args.budget,
                    time_limit=args.time_limit,
                    network=net,
                    on_result=lambda _r: step(),
                )
            reports.append(rep)
            if args.strict:
                strict += strict_findings(rep, net)
    except SpecError as e:
        bar.close()
        print(str(e), file=sys.stderr)
        if args.format == "sarif":  # a valid log even for invalid input (code scanning uploads it)
            from l2l3.report.sarif import render_sarif_error

            sys.stdout.write(render_sarif_error(e.diagnostics, root=args.sarif_root))
        elif args.format == "junit":
            from l2l3.report.junit import render_junit_error

            sys.stdout.write(render_junit_error(e.diagnostics))
        return 2
    bar.close()
    if args.format == "sarif":
        from l2l3.report.sarif import render_sarif

        text = render_sarif(reports, root=args.sarif_root)
    elif args.format == "text":
        from l2l3.report.text import render_text

        text = render_text(reports, witness=args.witness)
        if args.strict:
            text += "".join(f"{f}\n" for f in strict)
            if strict:
                text += f"--strict: {len(strict)} finding(s) fail the run (exit 1)\n"
        text = Style.for_stream(sys.stdout, args.color).paint_report(text)
    elif args.format == "json" and args.strict:
        import json

        doc = json.loads(RENDERERS["json"](reports))
        doc["strict"] = [f.to_json() for f in strict]
        text = json.dumps(doc, indent=2) + "\n"
    else:
        text = RENDERERS[args.format](reports)
    sys.stdout.write(text)
    if args.format != "text":
        for rep in reports:
            for w in group_warnings(rep.warnings):
                print(w, file=sys.stderr)
        for f in strict:
            print(f, file=sys.stderr)
    return _exit_status(reports, strict)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 check`` to the command line."""
    c = sub.add_parser(
        "check",
        help="run every check of the spec files (or of a cluster's manifests, CNI configs, directories)",
    )
    c.add_argument("files", nargs="+", metavar="PATH")
    c.add_argument("--cni", default=None, metavar="PROFILE", help=_CNI_HELP)
    c.add_argument("--format", choices=["text", "json", "sarif", "junit"], default="text")
    c.add_argument(
        "--check",
        action="append",
        default=None,
        metavar="NAME",
        help="run only the checks of this name; a glob such as 'tenant-*'; may be repeated",
    )
    c.add_argument(
        "--witness",
        choices=["violated", "all", "none"],
        default="violated",
        help="text: whose witness to show (default: violated, i.e. checks that do not hold)",
    )
    c.add_argument(
        "--strict",
        action="store_true",
        help="a vacuous check, or a policy not enforced on some pod it selects, fails the run (exit 1)",
    )
    c.add_argument(
        "--budget",
        type=positive_int,
        default=None,
        metavar="N",
        help="at most N solver checks per search; beyond it a check is unknown (default 200000)",
    )
    c.add_argument(
        "--time-limit",
        type=seconds,
        default=None,
        metavar="S",
        help="at most S seconds per check; beyond it the check is unknown (default: none)",
    )
    c.add_argument(
        "--sarif-root",
        default=None,
        metavar="DIR",
        help="SARIF file URIs relative to DIR (default: the working directory)",
    )
    add_color_option(c)
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bars (shown only on a terminal)")
    c.set_defaults(func=cmd_check, _parser=c)
