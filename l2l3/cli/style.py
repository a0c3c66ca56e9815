"""How the command looks on a terminal: colour (``--color``, ``NO_COLOR``) and progress bars.

Colour follows https://no-color.org: ``NO_COLOR`` set to anything but the
empty string turns it off; ``--color auto`` (the default) colours only a
terminal that is not ``TERM=dumb``; ``always`` and ``never`` override both.
Progress bars (tqdm, on standard error) show only when standard error is a
terminal, so a CI log never holds them; tqdm is imported only then, which
keeps the cold start of ``l2l3 check`` in a pipeline free of it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["Phases", "Style", "add_color_option", "phases"]

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}

# text report lines -> what to colour in them
_VERDICT = re.compile(r"^(  )(holds|VIOLATED|unknown)(:)", re.M)
_VERDICT_COLOUR = {"holds": "green", "VIOLATED": "red", "unknown": "yellow"}
_WARNING = re.compile(r"^(\S+?:\d+(?::\d+)?: )(warning|strict)(: )", re.M)
_SUMMARY = re.compile(r"^(\d+ checks: .*)$", re.M)


def add_color_option(p: argparse.ArgumentParser) -> None:
    """Add ``--color auto|always|never`` to a subcommand."""
    p.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the text (default auto: on a terminal, unless NO_COLOR is set)",
    )


class Style:
    """Colours, or none: :meth:`paint` returns its text unchanged when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: IO[str], mode: str = "auto") -> Style:
        """The style for ``stream`` under ``--color mode`` and the environment."""
        if mode != "auto":
            return cls(mode == "always")
        if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
            return cls(False)
        try:
            return cls(stream.isatty())
        except (AttributeError, ValueError):
            return cls(False)

    def paint(self, text: str, colour: str) -> str:
        """``text`` in ``colour`` (a name of ``_CODES``), or as it is."""
        if not self.enabled or not text:
            return text
        return f"\033[{_CODES[colour]}m{text}\033[0m"

    def paint_report(self, text: str) -> str:
        """The text report with its verdicts, warnings and summary coloured."""
        if not self.enabled:
            return text
        text = _VERDICT.sub(lambda m: m[1] + self.paint(m[2], _VERDICT_COLOUR[m[2]]) + m[3], text)
        text = _WARNING.sub(lambda m: m[1] + self.paint(m[2], "yellow") + m[3], text)
        return _SUMMARY.sub(lambda m: self.paint(m[1], "bold"), text)


class Phases:
    """Progress bars over a command's phases (load, build, check), on standard error."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: list[Any] = []

    @contextmanager
    def phase(self, name: str, total: int | None = None, unit: str = "it") -> Iterator[Callable[[], None]]:
        """A bar for one phase while the block runs; the block gets a function that advances it."""
        if not self.enabled:
            yield lambda: None
            return
        from tqdm import tqdm

        fmt = None if total else "l2l3: {desc}… {elapsed}"
        bar = tqdm(total=total, desc=name, unit=unit, leave=False, file=sys.stderr, bar_format=fmt)
        bar.refresh()
        self._bars.append(bar)
        try:
            yield lambda: bar.update(1)
        finally:
            bar.close()
            self._bars.remove(bar)

    def close(self) -> None:
        """Close any bar still open (an error ended a phase early)."""
        for bar in list(self._bars):
            bar.close()
        self._bars.clear()


def phases(wanted: bool, stream: IO[str] | None = None) -> Phases:
    """Bars if ``wanted`` and ``stream`` (standard error by default) is a terminal."""
    s = stream if stream is not None else sys.stderr
    try:
        tty = s.isatty()
    except (AttributeError, ValueError):
        tty = False
    return Phases(wanted and tty)
