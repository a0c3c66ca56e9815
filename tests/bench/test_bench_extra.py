"""The rows issue 15 added, at small scale: every one prints a figure and a verdict (met or gap)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import run as bench


@pytest.mark.slow  # child interpreters: ~20 s on a loaded 2-core machine
def test_issue15_rows_print_figures(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    flags = "--scale small --repeat 1 --jobs 1 --peer skip --rows cold-start,set-10k,map-5k,incremental"
    rc = bench.main([*flags.split(), "--json", str(out), "--results", str(tmp_path / "RESULTS.md")])
    assert rc == 0
    rows = {r["key"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"cold-start", "set-10k", "map-5k", "incremental"}
    assert all(r["verdict"] in ("met", "gap") for r in rows.values())
    cold = rows["cold-start"]["details"]
    assert len(cold["wall_s"]) >= 5 and min(cold["cpu_s"]) > 0
    s = rows["set-10k"]["details"]
    assert s["status"] == "holds" and s["pairs"] > 0  # one namespace reaches itself under calico
    assert rows["map-5k"]["details"]["classes"] > 0
    assert rows["incremental"]["details"]["changes"]  # measured now (test_bench_small checks the figures)
    assert "cold-start" in (tmp_path / "RESULTS.md").read_text()
