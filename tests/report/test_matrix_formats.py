"""``l2l3 matrix``: headers that fit, and the csv, Markdown and DOT forms."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest

from l2l3.cli import main
from l2l3.matrix import Cell, Matrix
from l2l3.report.matrix import (
    render_matrix_csv,
    render_matrix_dot,
    render_matrix_markdown,
    render_matrix_text,
)

EX = Path(__file__).resolve().parents[2] / "examples"


def _matrix() -> Matrix:
    groups = ["ingress-nginx", "kube-system", "shop"]
    cells = {
        ("ingress-nginx", "shop"): Cell(pairs=4, reachable=3, witness_pair=("n0/nginx", "n1/web")),
        ("kube-system", "ingress-nginx"): Cell(pairs=2, reachable=2, witness_pair=("n0/dns", "n0/nginx")),
        ("shop", "kube-system"): Cell(pairs=2, reachable=0, unknown=1),
        ("shop", "shop"): Cell(pairs=2, reachable=0),
    }
    return Matrix(by="namespace", groups=groups, cells=cells, classes=[], evaluations=[], pods=5)


def test_long_names_number_the_columns_so_the_header_is_one_line() -> None:
    grid = render_matrix_text(_matrix()).splitlines()[2:6]
    assert grid == [
        "                  1 2 3",
        "ingress-nginx 1       +",
        "  kube-system 2   #",
        "         shop 3     ? .",
    ]


def test_csv_has_a_row_per_cell_with_counts_and_the_witness_pair() -> None:
    rows = list(csv.DictReader(io.StringIO(render_matrix_csv(_matrix()))))
    assert len(rows) == 9
    by = {(r["from"], r["to"]): r for r in rows}
    assert by["ingress-nginx", "shop"] == {
        "from": "ingress-nginx",
        "to": "shop",
        "status": "some",
        "pairs": "4",
        "reachable_pairs": "3",
        "unknown_pairs": "0",
        "witness_from": "n0/nginx",
        "witness_to": "n1/web",
    }
    assert by["shop", "kube-system"]["status"] == "unknown" and by["shop", "shop"]["status"] == "none"
    assert by["shop", "ingress-nginx"]["status"] == "empty"


def test_markdown_is_a_table_with_cells_in_words() -> None:
    md = render_matrix_markdown(_matrix()).splitlines()
    assert md[0] == "| from \\ to | ingress-nginx | kube-system | shop |"
    assert md[1] == "|---|---|---|---|"
    assert md[2] == "| **ingress-nginx** |  |  | some 3/4 |"
    assert md[4] == "| **shop** |  | unknown 1/2 | none |"


def test_dot_draws_an_arrow_per_cell_some_pair_reaches() -> None:
    dot = render_matrix_dot(_matrix())
    assert '"kube-system" -> "ingress-nginx" [style=solid, label="2/2"];' in dot
    assert '"ingress-nginx" -> "shop" [style=dashed, label="3/4"];' in dot
    assert '"shop" -> "shop"' not in dot
    dot_exe = __import__("shutil").which("dot")
    if dot_exe:  # Graphviz reads it
        proc = subprocess.run([dot_exe, "-Tsvg"], input=dot, capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and "<svg" in proc.stdout


@pytest.mark.parametrize("fmt", ["csv", "md", "dot", "json", "text"])
def test_matrix_command_writes_each_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["matrix", str(EX / "policy-enforced.l2l3"), "-q", "-o", fmt])
    out = capsys.readouterr().out
    assert rc == 0
    first = {
        "csv": "from,to,status,",
        "md": "| from \\ to | dev |",
        "dot": "digraph matrix {",
        "json": "{",
        "text": "reachability by namespace",
    }
    assert out.startswith(first[fmt])
    if fmt == "csv":
        assert "dev2,shop2,all,1,1,0,fla/dev2,fla/shop2" in out
