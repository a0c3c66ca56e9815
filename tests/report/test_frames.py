"""Report.frame() and Matrix.frame(): results as pandas DataFrames (the extra l2l3[tables])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from l2l3 import api
from l2l3.matrix import matrix

pd = pytest.importorskip("pandas")
EX = Path(__file__).resolve().parents[2] / "examples"


def test_report_frame_has_a_row_per_check_with_the_verdicts() -> None:
    rep = api.check(api.load(EX / "shared-stack.l2l3"))
    df = rep.frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == [
        "file",
        "line",
        "name",
        "kind",
        "query",
        "status",
        "pairs",
        "explanation",
        "hops",
        "fate",
    ]
    assert list(df["name"]) == [r.check.name for r in rep.results if r.check]
    assert df["status"].value_counts().to_dict() == {"violated": 2, "holds": 1}
    bad = df[df["status"] == "violated"]
    assert (bad["hops"] > 0).all() and bad["fate"].str.startswith("delivered").all()
    assert set(df["kind"]) == {"netns-isolation"}  # the SARIF rule ids


def test_matrix_frame_pivots_into_the_grid() -> None:
    net = api.Network(api.load(EX / "policy-enforced.l2l3"))
    m = matrix(net, progress=False)
    df = m.frame()
    assert len(df) == len(m.groups) ** 2
    grid = df.pivot(index="from", columns="to", values="status")
    for a in m.groups:
        for b in m.groups:
            assert grid.loc[a, b] == str(m.cell(a, b).status)
    row = df[(df["from"] == "dev2") & (df["to"] == "shop2")].iloc[0]
    assert (row["reachable_pairs"], row["witness_from"]) == (1, "fla/dev2")


def test_l2l3_check_does_not_import_pandas() -> None:
    code = "import sys; from l2l3.cli import main; main(['--version']); print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False"
