"""``l2l3 graph``: the topology as DOT, SVG (Graphviz) and Mermaid, a witness highlighted hop by hop."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest

from l2l3 import api
from l2l3.cli import main
from l2l3.graph import highlight, to_mermaid, topology

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
RED = "#d62728"
SVG = "{http://www.w3.org/2000/svg}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _witness(path: Path, name: str):  # type: ignore[no-untyped-def]
    spec = api.load(path)
    net = api.Network(spec)
    r = next(r for r in api.check(spec, network=net).results if r.check and r.check.name == name)
    return net, r.witness


def test_topology_has_every_pod_bridge_segment_and_the_vxlan_tunnel() -> None:
    net = api.Network(api.load(EX / "windows-cni-flannel.l2l3"))
    g = topology(net)
    kinds = nx.get_node_attributes(g, "kind")
    assert sorted(v for v, k in kinds.items() if k == "pod") == sorted(f"pod:{p}" for p in net.pods)
    assert {"seg:lan", "gw:lan", "br:win1/vxlan0", "node:win2"} <= set(g)
    assert g.edges["pod:win1/iis", "br:win1/vxlan0"]["label"] == "eth0"
    assert g.edges["vx:win1/flannel.4096", "vx:win2/flannel.4096"]["tunnel"] is True
    assert nx.is_connected(g)


def test_the_witness_is_a_connected_red_path_from_sender_to_receiver() -> None:
    net, w = _witness(EX / "l2bridge-alone.l2l3", "with-routes")
    g = topology(net)
    h = highlight(g, w)
    assert h.vertices["pod:win3/c"] == [1, 2, 3] and h.vertices["pod:win4/d"] == [8]
    path = nx.Graph(tuple(e) for e in h.edges)
    assert nx.has_path(path, "pod:win3/c", "pod:win4/d")
    assert nx.shortest_path(path, "pod:win3/c", "pod:win4/d") == [
        "pod:win3/c",
        "br:win3/cbr0",
        "node:win3",
        "seg:lan",
        "br:win4/cbr0",
        "pod:win4/d",
    ]
    assert "pod:win1/a" not in h.vertices


@pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)
def test_graph_writes_an_svg_with_the_witness_in_red(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "net.svg"
    rc, _, err = run(
        capsys, "graph", str(EX / "l2bridge-alone.l2l3"), "--check", "with-routes", "-o", str(out)
    )
    assert rc == 0, err
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    shapes = {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if title is not None and g.get("class") in ("node", "edge"):
            strokes = {el.get("stroke") for el in g if el.get("stroke")}
            shapes[title.text] = strokes
    assert RED in shapes["pod:win3/c"] and RED in shapes["pod:win4/d"]
    assert RED not in shapes["pod:win1/a"]
    red_edges = {t for t, s in shapes.items() if "--" in (t or "") and RED in s}
    assert "br:win4/cbr0--pod:win4/d" in red_edges and "br:win1/cbr0--pod:win1/a" not in red_edges
    text = "".join(root.itertext())
    assert "with-routes (holds)" in text and "hop 8" in text


def test_a_dropped_packet_is_drawn_up_to_where_it_dies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "dies.l2l3"
    spec.write_text(
        (ROOT / "tests/golden/cli/policy-enforced-everywhere.l2l3").read_text()
        + "check dies: reach fla/dev2 -> fla/shop2\n"
    )
    rc, out, _ = run(capsys, "graph", str(spec), "--check", "dies")
    assert rc == 0 and out.startswith("graph l2l3 {")
    assert "check dies (violated), its packet dies" in out
    red = [line.split(" [")[0].strip() for line in out.splitlines() if f'color="{RED}"' in line]
    assert '"pod:fla/dev2"' in red and '"pod:fla/shop2"' in red  # it dies at shop2's ingress policy
    assert not any("cal" in v for v in red)


def test_mermaid_marks_the_places_and_links_of_the_witness() -> None:
    net, w = _witness(EX / "l2bridge-alone.l2l3", "with-routes")
    g = topology(net)
    mmd = to_mermaid(g, highlight(g, w))
    assert mmd.startswith("flowchart LR\n")
    styled = mmd.split("\n  class ")[1].split(" hop")[0].split(",")
    assert "pod_win3_c" in styled and "pod_win4_d" in styled and "pod_win1_a" not in styled
    assert "linkStyle" in mmd


def test_mermaid_by_suffix_and_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mmd = tmp_path / "net.mmd"
    rc, _, _ = run(capsys, "graph", str(EX / "shared-stack.l2l3"), "-o", str(mmd))
    assert rc == 0 and mmd.read_text().startswith("flowchart LR\n") and "subgraph n_lin1" in mmd.read_text()
    rc, _, err = run(capsys, "graph", str(EX / "shared-stack.l2l3"), "-o", str(tmp_path / "x.jpeg"))
    assert rc == 2 and "write .svg, .png, .dot or .mmd" in err
    rc, _, err = run(capsys, "graph", str(EX / "shared-stack.l2l3"), "--check", "nope")
    assert rc == 2 and "no check is named 'nope'" in err
