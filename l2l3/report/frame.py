"""Results as pandas DataFrames (the optional extra ``l2l3[tables]``), as pybatfish answers are.

pandas is imported only here, inside the functions, so ``l2l3 check`` never
pays for it; without pandas they raise ImportError saying what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from l2l3.report.matrix import render_matrix_csv
from l2l3.report.sarif import query_kind

if TYPE_CHECKING:
    import pandas as pd

    from l2l3.checking import Report
    from l2l3.matrix import Matrix

__all__ = ["matrix_frame", "report_frame"]

#: the columns of :func:`report_frame`, in order
REPORT_COLUMNS = ["file", "line", "name", "kind", "query", "status", "pairs", "explanation", "hops", "fate"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as e:
        raise ImportError("tables need pandas: pip install 'l2l3[tables]'") from e
    return pandas


def report_frame(reports: list[Report]) -> pd.DataFrame:
    """A row per check: where, which, the verdict, how many pairs, the explanation, the witness's length and fate."""
    pd = _pandas()
    rows = []
    for rep in reports:
        for r in rep.results:
            c, w = r.check, r.witness
            fate = None
            if w is not None:
                fate = w.disposition.value + (f" at {w.delivered_to}" if w.delivered_to else "")
            rows.append(
                {
                    "file": c.span.file if c else None,
                    "line": c.span.line if c else None,
                    "name": c.name if c else None,
                    "kind": query_kind(r.query),
                    "query": str(r.query),
                    "status": r.status.value,
                    "pairs": r.pairs,
                    "explanation": r.explanation,
                    "hops": len(w.hops) if w is not None else None,
                    "fate": fate,
                }
            )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def matrix_frame(m: Matrix) -> pd.DataFrame:
    """A row per cell, as ``l2l3 matrix -o csv`` writes it (``from``, ``to``, ``status``, counts, witness pair).

    ``frame.pivot(index="from", columns="to", values="status")`` gives the grid.
    """
    import io

    pd = _pandas()
    return pd.read_csv(
        io.StringIO(render_matrix_csv(m)), keep_default_na=False, dtype={"from": str, "to": str}
    )
