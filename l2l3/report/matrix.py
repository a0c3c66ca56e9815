"""The reachability matrix (``l2l3 matrix``) as text or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from l2l3.report.text import render_trace

if TYPE_CHECKING:
    from l2l3.matrix import Matrix

__all__ = [
    "MATRIX_RENDERERS",
    "SYMBOL",
    "matrix_json",
    "render_matrix_csv",
    "render_matrix_dot",
    "render_matrix_json",
    "render_matrix_markdown",
    "render_matrix_text",
]

#: a cell's status -> its character in the text grid
SYMBOL = {"all": "#", "none": ".", "some": "+", "unknown": "?", "empty": " "}
#: group names longer than this make the text grid number its columns instead of spelling them
VERTICAL = 6


def render_matrix_text(m: Matrix, witnesses: bool = False) -> str:
    """The matrix as a grid (rows: from, columns: to, one character a cell).

    Column names are written vertically when none is longer than
    :data:`VERTICAL`; otherwise columns are numbered and each row ends its
    name with its number (``ingress-nginx 3``), so the header takes at most
    as many lines as the count of groups has digits.

    Then a line per partial or unknown cell with its pair counts; ``--by
    class`` adds what sets each class apart; ``witnesses`` adds each
    reachable cell's representative packet, hop by hop.
    """
    names = m.groups
    lines = [
        f"reachability by {m.by}: {len(m.classes)} classes of {m.pods} pods, "
        f"{len(m.evaluations)} representative queries, {m.seconds:.2f} s",
        "rows: from, columns: to.  # every pair reaches  . no pair reaches  "
        "+ some pairs reach  ? unknown  (blank: no pair)",
    ]
    # short names head their columns, written vertically; longer ones are numbered
    # (the rows say which number is which), so the header is never taller than VERTICAL
    numbered = bool(names) and max(len(g) for g in names) > VERTICAL
    heads = [str(i) for i in range(1, len(names) + 1)] if numbered else names
    rows = [f"{g} {i}" for i, g in enumerate(names, 1)] if numbered else names
    width = max([len(r) for r in rows] + [4])
    hdr_h = max(len(h) for h in heads) if heads else 0
    for r in range(hdr_h):
        row = " " * (width + 2)
        for h in heads:
            row += " " + h.rjust(hdr_h)[r]
        lines.append(row.rstrip())
    for label, a in zip(rows, names, strict=True):
        row = (label.rjust(width) if numbered else label.ljust(width)) + "  "
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


def _count(c: Any) -> str:
    """A cell as words: ``all``, ``none``, ``some 3/4``, ``unknown 2/4``, or empty."""
    if c.status == "some":
        return f"some {c.reachable}/{c.pairs}"
    if c.status == "unknown":
        return f"unknown {c.unknown}/{c.pairs}"
    return "" if c.status == "empty" else str(c.status)


def render_matrix_csv(m: Matrix) -> str:
    """One row per cell (``from,to,status,pairs,reachable_pairs,unknown_pairs,witness_from,witness_to``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["from", "to", "status", "pairs", "reachable_pairs", "unknown_pairs", "witness_from", "witness_to"]
    )
    for a in m.groups:
        for b in m.groups:
            c = m.cell(a, b)
            wf, wt = c.witness_pair or ("", "")
            w.writerow([a, b, str(c.status), c.pairs, c.reachable, c.unknown, wf, wt])
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_matrix_markdown(m: Matrix) -> str:
    """A Markdown table: a row per source group, a column per destination, each cell in words."""
    head = "| from \\ to | " + " | ".join(_md(g) for g in m.groups) + " |"
    lines = [head, "|---|" + "---|" * len(m.groups)]
    for a in m.groups:
        lines.append(f"| **{_md(a)}** | " + " | ".join(_count(m.cell(a, b)) for b in m.groups) + " |")
    return "\n".join(lines) + "\n"


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_matrix_dot(m: Matrix) -> str:
    """Graphviz DOT: a vertex per group, an arrow per cell some pair reaches (solid: all, dashed: some,
    dotted: unknown; the label counts the pairs)."""
    lines = [
        "digraph matrix {",
        "  rankdir=LR; node [shape=box, fontname=Helvetica]; edge [fontname=Helvetica];",
    ]
    lines += [f"  {_dq(g)};" for g in m.groups]
    style = {"all": "solid", "some": "dashed", "unknown": "dotted"}
    for a in m.groups:
        for b in m.groups:
            c = m.cell(a, b)
            if c.status in style:
                label = f"{c.reachable}/{c.pairs}" + (f", {c.unknown} unknown" if c.unknown else "")
                lines.append(f"  {_dq(a)} -> {_dq(b)} [style={style[c.status]}, label={_dq(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


#: ``l2l3 matrix --format`` name -> renderer (text takes ``witnesses=`` too)
MATRIX_RENDERERS: dict[str, Callable[[Matrix], str]] = {
    "text": render_matrix_text,
    "json": render_matrix_json,
    "csv": render_matrix_csv,
    "md": render_matrix_markdown,
    "dot": render_matrix_dot,
}
