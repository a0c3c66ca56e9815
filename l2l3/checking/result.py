"""What a check answers: a verdict, an explanation, a witness, and per-spec reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from l2l3.model.packet import Trace
from l2l3.model.types import Check, Query, Spec


class Verdict(enum.Enum):
    """The three answers of a check; ``UNKNOWN`` is never read as ``HOLDS``."""

    HOLDS = "holds"
    # Proved for every packet and every endpoint pair the query names.
    VIOLATED = "violated"
    # A concrete packet (or a pair no packet connects) shows the opposite.
    UNKNOWN = "unknown"
    # The search hit a limit or z3 gave up; nothing is claimed either way.


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer to one query.

    ``witness`` is a trace the concrete simulator produced: for a violated
    ``no reach`` the packet that gets through, for a violated ``reach`` a
    typical packet that dies (where and why), for a holding ``reach`` the
    first pair's delivered packet (for ``connect``, the request, with
    ``answer`` the trace of its answer). ``pairs`` counts the source/destination
    pairs the verdict covers; ``warnings`` are notes on how it was reached
    (excluded self pairs, vacuity).
    """

    query: Query
    status: Verdict
    explanation: str
    witness: Trace | None = None
    check: Check | None = None
    pairs: int = 0
    warnings: tuple[str, ...] = field(default=())
    #: for ``connect``: the answer's trace to the request ``witness`` (None otherwise)
    answer: Trace | None = None

    def __repr__(self) -> str:
        name = f"{self.check.name}: " if self.check is not None else ""
        return f"<CheckResult {name}{self.status.value}: {self.explanation[:80]}>"


@dataclass(frozen=True, slots=True)
class Report:
    """The results of every check of one spec, plus its warnings."""

    spec: Spec
    results: tuple[CheckResult, ...]
    warnings: tuple[str, ...] = field(default=())

    def count(self, v: Verdict) -> int:
        """How many results have verdict ``v``."""
        return sum(1 for r in self.results if r.status is v)

    @property
    def exit_status(self) -> int:
        """0 all hold, 1 some violated, 3 some unknown and none violated."""
        if self.count(Verdict.VIOLATED):
            return 1
        if self.count(Verdict.UNKNOWN):
            return 3
        return 0

    def frame(self) -> Any:
        """The results as a pandas DataFrame, a row per check (needs ``l2l3[tables]``; see :mod:`l2l3.report.frame`)."""
        from l2l3.report.frame import report_frame

        return report_frame([self])
