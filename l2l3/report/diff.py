"""``l2l3 diff`` as text or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from l2l3.report.text import render_trace

if TYPE_CHECKING:
    from l2l3.diff import SpecDiff

__all__ = ["diff_json", "render_diff_json", "render_diff_text"]

_LABEL = {"gained": "where it now arrives", "lost": "where it now dies", "unknown": "new network"}


def render_diff_text(d: SpecDiff, old: str, new: str, witness: bool = True) -> str:
    """Gained pairs with their witness, lost ones with where their packet dies, changed checks, a summary."""
    lines = [
        f"l2l3 diff {old} {new}: {d.queries} queries ({d.sources} sources x {d.destinations} destinations"
        f" x {', '.join(map(str, d.services))})"
    ]
    for kind in ("gained", "lost", "unknown"):
        for c in d.of_kind(kind):
            lines.append(f"{kind}: {c.src} -> {c.dst} {c.service}  ({c.old.value} -> {c.new.value})")
            if kind == "unknown" or not witness or c.witness is None:
                if c.explanation:
                    lines.append(f"  {c.explanation}")
                continue
            lines.append(f"  {_LABEL[kind]}:")
            lines.append(render_trace(c.witness))
    for ch in d.checks:
        lines.append(f"check {ch.name}: {ch.old.value} -> {ch.new.value}: {ch.new_explanation}")
    if d.only_old:
        lines.append(f"only in {old}: {', '.join(d.only_old)}")
    if d.only_new:
        lines.append(f"only in {new}: {', '.join(d.only_new)}")
    n = {k: len(d.of_kind(k)) for k in ("gained", "lost", "unknown")}
    verdict = "equal" if d.equal else "different"
    lines.append(
        f"{verdict}: {n['gained']} gained, {n['lost']} lost, {n['unknown']} unknown, "
        f"{len(d.checks)} checks changed, {len(d.only_old) + len(d.only_new)} endpoints in one only"
    )
    return "\n".join(lines) + "\n"


def diff_json(d: SpecDiff, old: str, new: str) -> dict[str, Any]:
    """``{"old", "new", "equal", "queries", "services", "gained", "lost", "unknown", "checks", "only_old", "only_new"}``."""
    return {
        "old": old,
        "new": new,
        "equal": d.equal,
        "queries": d.queries,
        "services": [str(s) for s in d.services],
        **{k: [c.to_json() for c in d.of_kind(k)] for k in ("gained", "lost", "unknown")},
        "checks": [
            {"name": c.name, "old": c.old.value, "new": c.new.value, "explanation": c.new_explanation}
            for c in d.checks
        ],
        "only_old": d.only_old,
        "only_new": d.only_new,
    }


def render_diff_json(d: SpecDiff, old: str, new: str) -> str:
    """:func:`diff_json`, indented, with a final newline."""
    return json.dumps(diff_json(d, old, new), indent=2) + "\n"
