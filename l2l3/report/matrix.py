"""The reachability matrix (``l2l3 matrix``) as text or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from l2l3.report.text import render_trace

if TYPE_CHECKING:
    from l2l3.matrix import Matrix

__all__ = ["SYMBOL", "matrix_json", "render_matrix_json", "render_matrix_text"]

#: a cell's status -> its character in the text grid
SYMBOL = {"all": "#", "none": ".", "some": "+", "unknown": "?", "empty": " "}


def render_matrix_text(m: Matrix, witnesses: bool = False) -> str:
    """The matrix as a grid (rows: from, columns: to, one character a cell, column names written vertically).

    Then a line per partial or unknown cell with its pair counts; ``--by
    class`` adds what sets each class apart; ``witnesses`` adds each
    reachable cell's representative packet, hop by hop.
    """
    names = m.groups
    width = max([len(g) for g in names] + [4])
    lines = [
        f"reachability by {m.by}: {len(m.classes)} classes of {m.pods} pods, "
        f"{len(m.evaluations)} representative queries, {m.seconds:.2f} s",
        "rows: from, columns: to.  # every pair reaches  . no pair reaches  "
        "+ some pairs reach  ? unknown  (blank: no pair)",
    ]
    hdr_h = max(len(g) for g in names) if names else 0
    for r in range(hdr_h):
        row = " " * (width + 2)
        for g in names:
            row += " " + g.rjust(hdr_h)[r]
        lines.append(row.rstrip())
    for a in names:
        row = a.ljust(width) + "  "
        for b in names:
            row += " " + SYMBOL[m.cell(a, b).status]
        lines.append(row.rstrip())
    partial = [(a, b, c) for (a, b), c in sorted(m.cells.items()) if c.status in ("some", "unknown")]
    if partial:
        lines.append("")
        for a, b, c in partial:
            lines.append(
                f"{a} -> {b}: {c.reachable} of {c.pairs} pod pairs reach"
                + (f", {c.unknown} unknown" if c.unknown else "")
            )
    if m.by == "class":
        lines.append("")
        lines.append("classes:")
        for pc in m.classes:
            ex = ", ".join(pc.members[:3]) + (", …" if len(pc.members) > 3 else "")
            lines.append(f"  {pc.label}: {len(pc.members)} pods, {pc.description} (e.g. {ex})")
    if witnesses:
        for (a, b), c in sorted(m.cells.items()):
            if c.witness is not None and c.witness_pair is not None:
                lines.append("")
                lines.append(f"{a} -> {b}: witness {c.witness_pair[0]} -> {c.witness_pair[1]}")
                lines.append(render_trace(c.witness))
    return "\n".join(lines) + "\n"


def matrix_json(m: Matrix) -> dict[str, Any]:
    """The matrix as a JSON object: ``by``, ``groups``, ``pods``, ``seconds``, ``cells``, ``classes``,
    ``evaluations`` (the representative queries) and ``stats``.

    Each cell has its pair counts and the witness pair and packet of its
    reachable pairs (None when no pair reaches).
    """
    return {
        "by": m.by,
        "groups": m.groups,
        "pods": m.pods,
        "seconds": round(m.seconds, 3),
        "cells": [
            {
                "from": a,
                "to": b,
                "status": c.status,
                "pairs": c.pairs,
                "reachable_pairs": c.reachable,
                "unknown_pairs": c.unknown,
                "witness_pair": list(c.witness_pair) if c.witness_pair else None,
                "witness": c.witness.to_json() if c.witness is not None else None,
            }
            for (a, b), c in sorted(m.cells.items())
        ],
        "classes": [
            {
                "id": pc.label,
                "namespace": pc.namespace,
                "size": len(pc.members),
                "description": pc.description,
                "representative": pc.members[0],
            }
            for pc in m.classes
        ],
        "evaluations": [
            {
                "from_class": f"C{e.src_class}",
                "to_class": f"C{e.dst_class}",
                "relation": e.relation,
                "from": e.src,
                "to": e.dst,
                "status": e.status.value,
                "pairs": e.pairs,
            }
            for e in m.evaluations
        ],
        "stats": m.stats,
    }


def render_matrix_json(m: Matrix) -> str:
    """:func:`matrix_json`, indented, with a final newline (``l2l3 matrix --format json``)."""
    return json.dumps(matrix_json(m), indent=2) + "\n"
