"""Pictures of a network: its nodes, bridges, pods, segments, tunnels and externals, and a witness on it.

:func:`topology` builds an undirected :mod:`networkx` graph of the spec as
the model derives it: each node's stack, its bridges and VXLAN devices and
pods inside a box per node, NICs as edges to their segments, VXLAN devices
of one VNI joined by a dashed tunnel edge, externals behind their segment's
gateway. :func:`highlight` marks the places a trace passes, hop by hop
(the hop numbers label the edges it takes). :func:`to_dot` writes Graphviz
DOT, :func:`to_mermaid` Mermaid flowchart text for Markdown; rendering DOT
to SVG or PNG is Graphviz's ``dot`` (the Debian package ``graphviz``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

    from l2l3.model.network import Network
    from l2l3.model.packet import Trace

__all__ = ["Highlight", "highlight", "render_graphviz", "to_dot", "to_mermaid", "topology"]

_SHAPE = {"node": "box3d", "bridge": "ellipse", "vxlan": "hexagon", "pod": "box", "segment": "octagon"}
_SHAPE |= {"gateway": "diamond", "external": "cds"}


def topology(net: Network) -> nx.Graph:
    """The network as a graph: vertices carry ``kind``, ``label``, ``group`` (their node); edges a ``label``."""
    import networkx as nx

    g = nx.Graph()
    spec = net.spec
    for seg in spec.segments:
        g.add_node(f"seg:{seg.name}", kind="segment", label=f"{seg.name}\n{seg.prefix}", group=None)
        if seg.gateway is not None:
            g.add_node(f"gw:{seg.name}", kind="gateway", label=f"gateway\n{seg.gateway}", group=None)
            g.add_edge(f"seg:{seg.name}", f"gw:{seg.name}", label="")
    for ext in spec.externals:
        g.add_node(f"ext:{ext.name}", kind="external", label=f"external {ext.name}\n{ext.prefix}", group=None)
        via = f"gw:{ext.via}" if f"gw:{ext.via}" in g else f"seg:{ext.via}"
        if via in g:
            g.add_edge(via, f"ext:{ext.name}", label="")
    vnis: dict[int, list[str]] = {}
    for node in spec.nodes:
        n = f"node:{node.name}"
        cni = f" ({node.cni})" if node.cni else ""
        g.add_node(n, kind="node", label=f"{node.name}\n{node.os.value}{cni}", group=node.name)
        for nic in node.nics:
            if f"seg:{nic.segment}" in g:
                g.add_edge(n, f"seg:{nic.segment}", label=f"{nic.name} {nic.ip.ip}")
        for br in node.bridges:
            b = f"br:{node.name}/{br.name}"
            g.add_node(b, kind="bridge", label=f"{br.name}\n{br.kind.value}", group=node.name)
            if br.ip is not None:
                g.add_edge(b, n, label=str(br.ip.ip))
            up = next((nic for nic in node.nics if nic.name == br.uplink), None)
            if up is not None and f"seg:{up.segment}" in g:
                g.add_edge(b, f"seg:{up.segment}", label=f"uplink {up.name}")
        for vx in node.vxlans:
            v = f"vx:{node.name}/{vx.name}"
            g.add_node(v, kind="vxlan", label=f"{vx.name}\nvni {vx.vni}", group=node.name)
            g.add_edge(v, n, label=str(vx.ip.ip) if vx.ip else "")
            vnis.setdefault(vx.vni, []).append(v)
    for info in net.pods.values():
        p = f"pod:{info.id}"
        ip = f"\n{info.pod.ip.ip}" if info.pod.ip is not None else ""
        g.add_node(p, kind="pod", label=f"{info.pod.namespace}/{info.pod.name}{ip}", group=info.node)
        b = f"br:{info.node}/{info.pod.bridge}"
        if info.pod.bridge is not None and b in g:
            g.add_edge(p, b, label="eth0")
        else:
            g.add_edge(p, f"node:{info.node}", label=info.pod.mode.value, style="dashed")
    for members in vnis.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                g.add_edge(a, b, label="vxlan", style="dashed", tunnel=True)
    return g


def _place(g: nx.Graph, name: str) -> str | None:
    """The vertex of a hop's place name (``win1/iis``, ``win1/cbr0``, ``win1``, ``lan``, ``gateway lan``)."""
    for cand in (f"pod:{name}", f"br:{name}", f"vx:{name}", f"node:{name}", f"seg:{name}"):
        if cand in g:
            return cand
    if name.startswith("gateway ") and f"gw:{name[8:]}" in g:
        return f"gw:{name[8:]}"
    if name.startswith("external ") and f"ext:{name[9:]}" in g:
        return f"ext:{name[9:]}"
    return None


@dataclass
class Highlight:
    """The vertices and edges a trace passes, each with the hop numbers that were there."""

    vertices: dict[str, list[int]] = field(default_factory=dict)
    edges: dict[frozenset[str], list[int]] = field(default_factory=dict)


def highlight(g: nx.Graph, t: Trace) -> Highlight:
    """Where ``t`` goes on ``g``: consecutive places joined along the graph's shortest path between them."""
    import networkx as nx

    h = Highlight()
    prev: str | None = None
    for n, hop in enumerate(t.hops, 1):
        places = [p for part in hop.at.split(" > ") if (p := _place(g, part.strip())) is not None]
        for p in places:
            h.vertices.setdefault(p, [])
            if n not in h.vertices[p]:
                h.vertices[p].append(n)
            if prev is not None and prev != p:
                try:
                    path = nx.shortest_path(g, prev, p)
                except nx.NetworkXNoPath:
                    path = [prev, p]
                for a, b in zip(path, path[1:], strict=False):
                    h.edges.setdefault(frozenset((a, b)), []).append(n)
            prev = p
    if t.delivered_to is not None:
        last = _place(g, t.delivered_to)
        if last is not None and prev is not None and last != prev and nx.has_path(g, prev, last):
            path = nx.shortest_path(g, prev, last)
            for a, b in zip(path, path[1:], strict=False):
                h.edges.setdefault(frozenset((a, b)), []).append(len(t.hops))
            h.vertices.setdefault(last, []).append(len(t.hops))
    return h


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _nums(ns: list[int]) -> str:
    return ",".join(map(str, sorted(set(ns))))


def to_dot(g: nx.Graph, h: Highlight | None = None, title: str = "") -> str:
    """Graphviz DOT of ``g``: one cluster box per node; ``h``'s vertices and edges drawn red and thick."""
    hl = h or Highlight()
    lines = ["graph l2l3 {", "  graph [rankdir=LR, fontname=Helvetica, fontsize=11, compound=true];"]
    lines.append("  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];")
    if title:
        lines.append(f"  label={_q(title)}; labelloc=t;")

    def vertex(v: str, indent: str) -> str:
        d = g.nodes[v]
        hops = f"\nhop {_nums(hl.vertices[v])}" if v in hl.vertices else ""
        attrs = [f"label={_q(d['label'] + hops)}", f"shape={_SHAPE[d['kind']]}"]
        if v in hl.vertices:
            attrs += [
                'color="#d62728"',
                "penwidth=3",
                "style=filled",
                'fillcolor="#fde0dd"',
                'fontcolor="#000000"',
            ]
        return f"{indent}{_q(v)} [{', '.join(attrs)}];"

    groups: dict[str | None, list[str]] = {}
    for v in sorted(g.nodes):
        groups.setdefault(g.nodes[v]["group"], []).append(v)
    for grp, members in sorted(groups.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
        if grp is None:
            lines += [vertex(v, "  ") for v in members]
            continue
        lines.append(f"  subgraph {_q('cluster_' + grp)} {{")
        lines.append(f'    label={_q("node " + grp)}; style=rounded; color="#888888";')
        lines += [vertex(v, "    ") for v in members]
        lines.append("  }")
    for a, b in sorted(tuple(sorted(e)) for e in g.edges):
        d = g.edges[a, b]
        attrs = [f"label={_q(d.get('label', ''))}"] if d.get("label") else []
        if d.get("style"):
            attrs.append(f"style={d['style']}")
        hops = hl.edges.get(frozenset((a, b)))
        if hops:
            attrs += ['color="#d62728"', "penwidth=3", f"xlabel={_q('hop ' + _nums(hops))}"]
        lines.append(f"  {_q(a)} -- {_q(b)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")


def to_mermaid(g: nx.Graph, h: Highlight | None = None) -> str:
    """Mermaid flowchart text (for Markdown) of ``g``, ``h``'s places and links styled red."""
    hl = h or Highlight()
    ids = {v: _MERMAID_ID.sub("_", v) for v in g.nodes}

    def label(v: str) -> str:
        text = g.nodes[v]["label"].replace('"', "'").replace("\n", "<br/>")
        if v in hl.vertices:
            text += f"<br/>hop {_nums(hl.vertices[v])}"
        return f'{ids[v]}["{text}"]'

    lines = ["flowchart LR"]
    groups: dict[str | None, list[str]] = {}
    for v in sorted(g.nodes):
        groups.setdefault(g.nodes[v]["group"], []).append(v)
    for grp, members in sorted(groups.items(), key=lambda kv: (kv[0] is not None, kv[0] or "")):
        if grp is None:
            lines += [f"  {label(v)}" for v in members]
            continue
        lines.append(f'  subgraph {_MERMAID_ID.sub("_", "n_" + grp)}["node {grp}"]')
        lines += [f"    {label(v)}" for v in members]
        lines.append("  end")
    red: list[int] = []
    for i, (a, b) in enumerate(sorted(tuple(sorted(e)) for e in g.edges)):
        d = g.edges[a, b]
        link = "-.-" if d.get("style") == "dashed" else "---"
        text = d.get("label", "").replace('"', "'")
        lines.append(f"  {ids[a]} {link}{'|' + text + '|' if text else ''} {ids[b]}")
        if frozenset((a, b)) in hl.edges:
            red.append(i)
    if hl.vertices:
        lines.append("  classDef hop fill:#fde0dd,stroke:#d62728,stroke-width:3px")
        lines.append(f"  class {','.join(ids[v] for v in sorted(hl.vertices))} hop")
    if red:
        lines.append(f"  linkStyle {','.join(map(str, red))} stroke:#d62728,stroke-width:3px")
    return "\n".join(lines) + "\n"


def render_graphviz(dot: str, fmt: str) -> bytes:
    """``dot`` rendered by Graphviz to ``fmt`` (``svg``, ``png``); raises FileNotFoundError without Graphviz."""
    exe = shutil.which("dot")
    if exe is None:
        raise FileNotFoundError("Graphviz's dot is not installed (Debian/Ubuntu: apt-get install graphviz)")
    proc = subprocess.run(
        [exe, f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
    return proc.stdout
