"""Replay every spec kept under ``regressions/`` against the kernel.

A file may declare ``# known: CLASS`` lines (classes of
:data:`l2l3.kernel.compare.KNOWN_DIFFERENCES`): the model is known to differ
from Linux there, and has been reported. Every disagreement must then fall
in a declared class, and each declared class must still reproduce (so a
model fix shows up here: remove the line). Files without ``known`` lines
must agree on every probe.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import STRICT, Agreement

pytestmark = pytest.mark.kernel

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.l2l3"))


def declared(path: Path) -> set[str]:
    out = set()
    for line in path.read_text().splitlines():
        if line.startswith("# known:"):
            out |= {w.strip() for w in line.split(":", 1)[1].split(",") if w.strip()}
    return out


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression(path: Path, prefix: str, agreement: Agreement) -> None:
    import l2l3
    from l2l3.kernel.compare import KNOWN_DIFFERENCES, compare
    from l2l3.kernel.realize import realize

    spec = l2l3.load(path)
    rz = realize(spec, prefix)
    comps = compare(rz)
    agreement.record(comps, path.name)
    known = declared(path)
    assert known <= set(KNOWN_DIFFERENCES), f"unknown class in {path.name}: {known - set(KNOWN_DIFFERENCES)}"
    bad = [c for c in comps if not c.agree]
    unexplained = [c for c in bad if STRICT or c.known not in known]
    assert not unexplained, "\n".join(c.explain() for c in unexplained[:10])
    seen = {c.known for c in bad}
    assert known <= seen, (
        f"{path.name}: declared model difference(s) {sorted(known - seen)} no longer reproduce"
    )
