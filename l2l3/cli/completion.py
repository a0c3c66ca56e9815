"""``l2l3 completion bash|zsh|tcsh``: a shell completion script, generated from the parser by shtab.

The script completes subcommands, options and their choices (``--format``,
``--witness``, …), and file names where an argument is a path. Install:
``l2l3 completion bash > ~/.local/share/bash-completion/completions/l2l3``
or, for zsh, ``l2l3 completion zsh > "${fpath[1]}/_l2l3"``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]

#: metavars of arguments that name files or directories
_PATHS = {"FILE", "PATH", "OLD", "NEW", "OUT", "DIR"}


def _mark_paths(parser: argparse.ArgumentParser, file: object) -> None:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                _mark_paths(sub, file)
        elif a.metavar in _PATHS and not a.choices:
            a.complete = file  # type: ignore[attr-defined]  # shtab reads this attribute


def cmd_completion(args: argparse.Namespace) -> int:
    """Print the completion script for ``args.shell``."""
    import shtab

    from l2l3.cli import build_parser

    parser = build_parser()
    _mark_paths(parser, shtab.FILE)
    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``l2l3 completion`` to the command line."""
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh, tcsh)")
    p.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    p.set_defaults(func=cmd_completion, _parser=p)
