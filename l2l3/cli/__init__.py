"""The ``l2l3`` command: a thin layer over :mod:`l2l3.api`.

Exit status (``l2l3 check``):
    0  every check holds
    1  at least one check is violated
    2  the input is invalid (nothing was checked), or the command line is wrong
    3  at least one check is unknown (a limit was hit) and none is violated
    4  internal error: l2l3 contradicted itself or crashed (please report it)
  141  standard output was closed early (``l2l3 … | head``); nothing more is said

An internal error prints one line on standard error and no traceback; set
``L2L3_DEBUG=1`` to let the exception (and its traceback) through.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import select
import sys
from collections.abc import Callable, Sequence
from ipaddress import AddressValueError, IPv4Address
from typing import Any, NoReturn

from l2l3.errors import L2L3Error, QueryError, ReplayMismatch, SpecError

#: Exit status of an internal error (a bug in l2l3, never in the input).
EXIT_INTERNAL = 4
#: Exit status when standard output is a pipe whose reader went away (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


class _Version(argparse.Action):
    """``--version``: the installed distribution's version (read only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        sys.stdout.write(f"l2l3 {version()}\n")
        parser.exit(0)


def version() -> str:
    """The version of l2l3: the installed distribution's, else the source tree's pyproject."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("l2l3")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


# ---------------------------------------------------------------- argument types
#
# Each raises argparse.ArgumentTypeError, so argparse reports a bad value as
# ``l2l3 SUBCOMMAND: error: argument --OPTION: MESSAGE`` and exits 2.

_INT_RE = re.compile(r"[+-]?[0-9]+")
_MAX_DIGITS = 30  # far beyond any bound below; keeps int() away from huge literals


def int_range(lo: int, hi: int | None = None, *, what: str = "a number") -> Callable[[str], int]:
    """An argparse ``type=``: a whole number in ``lo``..``hi`` (no upper bound when ``hi`` is None)."""

    def parse(text: str) -> int:
        s = text.strip()
        if not _INT_RE.fullmatch(s):
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}")
        too_big = len(s.lstrip("+-").lstrip("0")) > _MAX_DIGITS
        v = int(s) if not too_big else (-1 if s.startswith("-") else 1) * 10**_MAX_DIGITS
        if v < lo or (hi is not None and v > hi):
            shown = s if len(s) <= 40 else s[:20] + "…"
            if hi is None:
                need = "a positive number" if lo == 1 else f"at least {lo}"
                raise argparse.ArgumentTypeError(f"{what} must be {need}, not {shown}")
            raise argparse.ArgumentTypeError(f"{what} must lie in {lo}..{hi}, not {shown}")
        return v

    parse.__name__ = what.replace(" ", "_")
    return parse


#: A TCP or UDP port.
port = int_range(0, 65535, what="a port")
#: A count that must be at least one (``--budget``).
positive_int = int_range(1, what="the value")


def seconds(text: str) -> float:
    """An argparse ``type=``: a positive number of seconds such as ``30`` or ``2.5``."""
    try:
        v = float(text) if len(text) < 40 else float("nan")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not (0 < v < 1e9):
        raise argparse.ArgumentTypeError(f"seconds must be a positive number, not {text[:40]!r}")
    return v


def ipv4_address(text: str) -> IPv4Address:
    """An argparse ``type=``: one IPv4 address such as ``10.0.0.1``."""
    try:
        return IPv4Address(text.strip())
    except (AddressValueError, ValueError):
        hint = ""
        if "/" in text and not text.strip().split("/")[0].replace(".", "").isdigit():
            hint = " (--to takes an address; use the pod's IP)"
        elif "/" in text:
            hint = " (one address, not a prefix)"
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {text!r}{hint}") from None


_ENDPOINT_FORMS = "node/pod, 'node N', 'external E', 'namespace NS', 'pods k=v' or an address"


def endpoint(text: str) -> str:
    """An argparse ``type=``: the text of one endpoint, checked for syntax only.

    Whether the spec has such an endpoint is checked once the spec is loaded.
    """
    from l2l3 import api

    s = text.strip()
    if not s or any(c in s for c in "\n\r;#") or "->" in s or "<->" in s:
        raise argparse.ArgumentTypeError(f"not an endpoint: {text!r} (write {_ENDPOINT_FORMS})")
    try:
        api.parse_endpoint(s)
    except (SpecError, QueryError):
        raise argparse.ArgumentTypeError(f"not an endpoint: {text!r} (write {_ENDPOINT_FORMS})") from None
    return s


def usage_error(args: argparse.Namespace, message: str) -> int:
    """Report a bad argument found after parsing, as argparse would; return 2."""
    p = getattr(args, "_parser", None)
    if isinstance(p, argparse.ArgumentParser):
        p.print_usage(sys.stderr)
        print(f"{p.prog}: error: {message}", file=sys.stderr)
    else:
        print(f"l2l3: error: {message}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------- subcommands


def cmd_import(args: argparse.Namespace) -> int:
    from l2l3.kube.export import render_import
    from l2l3.kube.inputs import load_cluster

    got = load_cluster(args.paths, cni=args.cni)
    text = render_import(got, args.paths)
    for w in got.warnings:
        if w.severity != "note":  # the notes are comments of the output
            print(w.render(), file=sys.stderr)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as e:
            return usage_error(args, f"argument -o: cannot write {args.output}: {e.strerror or e}")
    return 0


def cmd_expand(args: argparse.Namespace) -> int:
    from l2l3.dsl import load_with_warnings, parse_with_warnings, render
    from l2l3.model.profiles import expand_with_comments

    spec, warns = load_with_warnings(args.file)  # reads the file once, and validates the expansion
    raw = parse_with_warnings(spec.source, args.file, expand=False, validate=False)[0]
    comments = expand_with_comments(raw)[2] if raw.cluster is not None else {}
    for w in warns:
        print(w.render(), file=sys.stderr)
    sys.stdout.write(render(spec, comments))
    if spec.services or any(c.host_port for n in spec.nodes for p in n.pods for c in p.ports):
        # kube-proxy's and portmap's rules are derived, not written: shown as comments
        from l2l3.model.network import Network
        from l2l3.model.profiles.services import expansion_text

        sys.stdout.write(expansion_text(Network(spec)))
    return 0


_CNI_HELP = "the cluster's CNI profile, e.g. 'calico bgp' (wins over a cluster block and the CNI configs among the inputs)"


def register_inputs(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 import`` and ``l2l3 expand`` to the command line."""
    i = sub.add_parser("import", help="write a cluster's manifests and CNI configs as one .l2l3 spec")
    i.add_argument("paths", nargs="+", metavar="PATH")
    i.add_argument("--cni", default=None, metavar="PROFILE", help=_CNI_HELP)
    i.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write the spec here (default: stdout)"
    )
    i.set_defaults(func=cmd_import, _parser=i)
    e = sub.add_parser("expand", help="print the spec with every CNI profile expanded into primitives")
    e.add_argument("file", metavar="FILE")
    e.set_defaults(func=cmd_expand, _parser=e)


#: Where each subcommand is registered: ``module:function`` adding it (and its
#: siblings) to the subparsers, imported only when the parser needs it. A
#: subcommand's module imports what it runs on inside its command function, so
#: that ``l2l3 check FILE`` builds and imports the ``check`` subcommand alone.
#: In this order ``l2l3 --help`` lists them.
SUBCOMMANDS: dict[str, str] = {
    "check": "l2l3.cli.check:register",
    "diff": "l2l3.cli.diff:register",
    "graph": "l2l3.cli.graph:register",
    "trace": "l2l3.cli.trace:register",
    "completion": "l2l3.cli.completion:register",
    "import": "l2l3.cli:register_inputs",
    "expand": "l2l3.cli:register_inputs",
    "matrix": "l2l3.matrix.cli:register",
    "generate": "l2l3.generate:register",
    "realize": "l2l3.kernel.cli:register",
    "verify-kernel": "l2l3.kernel.cli:register",
    "snapshot": "l2l3.kernel.cli:register",
}


def _registrar(where: str) -> Callable[[argparse._SubParsersAction], None]:  # type: ignore[type-arg]
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` runs, when its first word names one (else None: ``--help``, a typo, …)."""
    return argv[0] if argv and argv[0] in SUBCOMMANDS else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``l2l3`` parser: every subcommand, or only ``command`` and those its module adds with it.

    ``main`` builds only the subcommand it runs (its module is the only one
    imported); ``--help``, an unknown subcommand and ``l2l3 completion`` get
    them all.
    """
    p = _Parser(
        prog="l2l3",
        description="Model checker for container network reachability and isolation.",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action=_Version, help="print the version of l2l3 and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    wanted = list(SUBCOMMANDS.values()) if command is None else [SUBCOMMANDS[command]]
    for where in dict.fromkeys(wanted):  # each registering function once, in the table's order
        _registrar(where)(sub)
    return p


# ---------------------------------------------------------------- running a command


def _debug() -> bool:
    return os.environ.get("L2L3_DEBUG", "") not in ("", "0")


def _one_line(text: str, limit: int = 500) -> str:
    s = " ".join(text.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def internal_error_line(e: BaseException) -> str:
    """The one line an internal error prints: its type, its message (or where it arose)."""
    msg = _one_line(str(e))
    if not msg:
        import traceback

        frames = traceback.extract_tb(e.__traceback__)
        if frames:
            f = frames[-1]
            msg = f"at {os.path.basename(f.filename)}:{f.lineno} in {f.name}"
    return f"l2l3: internal error ({type(e).__name__}: {msg}); please report it with the input that caused it"


def _stdout_pipe_broken() -> bool:
    """Whether standard output is a pipe nobody reads any more (or cannot be asked)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # not a real file (captured output): trust the error
    try:
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return True


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except (OSError, ValueError):
        pass  # stderr is gone too: the exit status is all we can give


def run(func: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> int:
    """Run one subcommand and map what escapes it to the exit status contract.

    Input errors (:class:`SpecError`, any other :class:`L2L3Error`) exit 2
    with their message; :class:`ReplayMismatch` and every unexpected exception
    exit 4 with one line and no traceback (``L2L3_DEBUG=1`` re-raises them);
    a closed standard output ends the command quietly.
    """
    try:
        rc = int(func(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return rc
    except SpecError as e:
        _say(str(e))
        return 2
    except ReplayMismatch as e:
        if _debug():
            raise
        _say(internal_error_line(e))
        return EXIT_INTERNAL
    except L2L3Error as e:
        _say(f"l2l3: error: {e}")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError as e:
        if _stdout_pipe_broken():
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        if _debug():
            raise
        _say(internal_error_line(e))
        return EXIT_INTERNAL
    except Exception as e:
        if _debug():
            raise
        _say(internal_error_line(e))
        return EXIT_INTERNAL


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status argparse chose (2 on a usage error, 0 after --help)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``l2l3 ARGV…`` and return its exit status (usage errors return 2, not raise)."""
    words = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(build_parser(command_of(words)), words)
    if isinstance(args, int):
        return args
    return run(args.func, args)
