"""A small run of the benchmark (python -m benchmarks.run --scale small), so that it keeps working.

It runs the rows in child interpreters exactly as the full benchmark does,
at a size that takes seconds, and checks that every figure is produced and
that the verdicts are the expected ones: with one deny-other-namespaces
policy per namespace, calico isolates namespaces (every ``no reach`` holds)
and flannel does not (it enforces no NetworkPolicy).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import run as bench
from benchmarks.measure import fit_slope, worker
from l2l3.generate import plan, spec_text


def test_small_benchmark_produces_every_row(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    md = tmp_path / "RESULTS.md"
    rc = bench.main(
        [
            "--scale",
            "small",
            "--repeat",
            "2",
            "--jobs",
            "1",
            "--peer",
            "skip",
            "--rows",
            "check-10k,audit-150k,api-10k,growth,peer,profile",
            "--json",
            str(out),
            "--results",
            str(md),
        ]
    )
    assert rc == 0
    doc = json.loads(out.read_text())
    rows = {r["key"]: r for r in doc["rows"]}
    assert doc["profiles"] and doc["profiles"][0][1]  # (pods, events, status, rss)
    assert set(rows) == {"check-10k", "audit-150k", "api-10k", "growth", "peer"}
    for key in ("check-10k", "audit-150k"):
        d = rows[key]["details"]
        for how in ("matrix", "check"):
            assert d[how]["wall_s"] > 0 and d[how]["peak_mib"] > 0, (key, how, d[how])
            # 3 namespaces: 6 ordered pairs, all isolated under calico, and netns-isolation
            assert (d[how]["holds"], d[how]["violated"], d[how]["unknown"]) == (7, 0, 0), (key, how, d[how])
        assert d["matrix"]["classes"] == 3
    api = rows["api-10k"]["details"]
    assert api["median_ms"] > 0
    statuses = [q["status"] for q in api["queries"].values()]
    assert statuses == ["holds", "violated", "violated"]  # same namespace reaches, the others are isolated
    g = rows["growth"]["details"]
    assert len(g["points"]) == 3 and all("wall_s" in p for p in g["points"])
    assert g["slope"] is not None and math.isfinite(g["slope"])
    assert rows["peer"]["verdict"] == "skipped"
    text = md.read_text()
    assert "nproc" in text and "| check-10k |" in text and "## Profile at" in text and "cProfile" in text
    # re-measure one row, keep the others (and the profiles) from the first run
    md2 = tmp_path / "RESULTS2.md"
    assert (
        bench.main(
            [
                "--scale",
                "small",
                "--repeat",
                "1",
                "--jobs",
                "1",
                "--rows",
                "api-10k",
                "--keep",
                str(out),
                "--results",
                str(md2),
            ]
        )
        == 0
    )
    text2 = md2.read_text()
    assert all(f"| {k} |" in text2 for k in rows) and "## Profile at" in text2


@pytest.mark.parametrize(("cni", "expect"), [("calico bgp", "holds"), ("flannel host-gw", "violated")])
def test_isolation_verdicts_per_cni(tmp_path: Path, cni: str, expect: str) -> None:
    path = tmp_path / "c.l2l3"
    path.write_text(spec_text(plan(3, 5, cni, 3, 1, 0.0, 0, "all")))
    for task in ("matrix", "check"):
        r = worker(task, path, 120, None)
        assert r.status == "ok", r.stderr
        checks = [e for e in r.events if e["event"] == "check"]
        assert len(checks) == 7
        pairs = [e["status"] for e in checks if e["name"] != "stacks"]
        assert set(pairs) == {expect}, (task, cni, pairs)
        assert next(e["status"] for e in checks if e["name"] == "stacks") == "holds"


def test_growth_slope_fit() -> None:
    assert fit_slope([(1000, 1.0), (10000, 10.0), (100000, 100.0)]) == pytest.approx(1.0)
    assert fit_slope([(1000, 1.0), (10000, 100.0)]) == pytest.approx(2.0)
    assert fit_slope([(1000, 1.0)]) is None


def test_cap_cuts_a_run_and_reports_progress(tmp_path: Path) -> None:
    path = tmp_path / "c.l2l3"
    path.write_text(spec_text(plan(3, 5, "calico bgp", 3, 1, 0.0, 0, "all")))
    r = worker("check", path, 0.05, None)
    assert r.status == "timeout"
    assert r.progress()


def _one_row(tmp_path: Path, key: str) -> dict:  # type: ignore[type-arg]
    """Run one row of the small benchmark and return it as the JSON report holds it."""
    out = tmp_path / "rows.json"
    argv = ["--scale", "small", "--repeat", "1", "--jobs", "1", "--peer", "skip", "--rows", key]
    assert bench.main([*argv, "--json", str(out), "--results", str(tmp_path / "R.md")]) == 0
    row: dict = json.loads(out.read_text())["rows"][0]  # type: ignore[type-arg]
    assert row["key"] == key, row
    return row


def test_set_pairs_row_answers_every_namespace_pair(tmp_path: Path) -> None:
    row = _one_row(tmp_path, "set-150k")
    assert row["verdict"] == "met", row
    d = row["details"]
    # 3 namespaces under calico with one isolating policy each: a namespace reaches
    # itself (3 holds), never another one (6 violated)
    assert d["queries"] == 9 and d["counts"] == {"holds": 3, "violated": 6}, d
    assert d["pairs"] > 0


def test_incremental_row_times_every_kind_of_change(tmp_path: Path) -> None:
    row = _one_row(tmp_path, "incremental")
    assert row["verdict"] in ("met", "gap"), row
    changes = row["details"]["changes"]
    assert {"relabel a pod", "add a pod", "add a policy"} <= set(changes), changes
    assert all(v["ms"] > 0 and v["answered"] >= 0 for v in changes.values()), changes
    assert ("over 100 ms" in row["result"]) == (row["verdict"] == "gap"), row
