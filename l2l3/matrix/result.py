"""What the matrix answers: cells per group pair, and the representative queries behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from l2l3.checking import Verdict
from l2l3.matrix.classes import PodClass
from l2l3.model.packet import Trace

__all__ = ["CROSS_NODE", "SAME_NODE", "Cell", "Evaluation", "LiftMismatch", "Matrix"]

#: the two relations a pod pair can be in: both pods on one node, or on two
SAME_NODE = "same-node"
CROSS_NODE = "cross-node"


class LiftMismatch(AssertionError):
    """A sampled pair disagrees with its class representative (a signature bug)."""


class CellStatus(StrEnum):
    """A matrix cell's answer; members equal their names as strings (JSON, text)."""

    ALL = "all"
    # every pair of the cell reaches
    NONE = "none"
    # no pair does
    SOME = "some"
    # some do, some do not
    UNKNOWN = "unknown"
    # a representative query hit a limit
    EMPTY = "empty"
    # the cell has no pair (e.g. one pod with itself)


@dataclass
class Cell:
    """Reachability from one group to another."""

    pairs: int = 0
    reachable: int = 0
    unknown: int = 0
    witness: Trace | None = None
    witness_pair: tuple[str, str] | None = None

    @property
    def status(self) -> CellStatus:
        """How many of the cell's pairs reach (``empty``: the cell has no pair)."""
        if self.pairs == 0:
            return CellStatus.EMPTY
        if self.unknown:
            return CellStatus.UNKNOWN
        if self.reachable == self.pairs:
            return CellStatus.ALL
        if self.reachable == 0:
            return CellStatus.NONE
        return CellStatus.SOME


@dataclass
class Evaluation:
    """One representative query: class pair, relation, answer."""

    src_class: int
    dst_class: int
    relation: str
    src: str
    dst: str
    status: Verdict
    pairs: int
    explanation: str = ""
    witness: Trace | None = None


@dataclass
class Matrix:
    """The reachability matrix between groups (namespaces or classes); rendered by :mod:`l2l3.report.matrix`."""

    by: str
    groups: list[str]
    cells: dict[tuple[str, str], Cell]
    classes: list[PodClass]
    evaluations: list[Evaluation]
    seconds: float = 0.0
    pods: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def cell(self, a: str, b: str) -> Cell:
        """The cell from group ``a`` to group ``b`` (an empty one if no pair)."""
        return self.cells.get((a, b)) or Cell()

    def frame(self) -> Any:
        """The cells as a pandas DataFrame, a row per cell (needs ``l2l3[tables]``; see :mod:`l2l3.report.frame`)."""
        from l2l3.report.frame import matrix_frame

        return matrix_frame(self)
