"""``l2l3 import``: one cluster read from Kubernetes inputs, written as one ``.l2l3`` spec.

The text is :func:`l2l3.dsl.render` of the raw spec (profiles not expanded,
so ``l2l3 expand`` of the output shows what the profile assumes), statement
by statement, with

- ``# from FILE:LINE`` after every statement that came from an input
  (a Kubernetes object, a CNI config, a line of a ``.l2l3`` input);
- an ``# assumed: …`` comment for every assumption, above the statement it
  concerns and in the header;
- a ``# note: …`` line in the header for everything the readers or the
  translation skipped.

Checking the output gives the same verdicts as checking the inputs: it is
the same raw spec (comments never change what a spec parses to).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from l2l3.dsl import render
from l2l3.dsl.render_services import service_lines
from l2l3.kube.errors import Note
from l2l3.kube.inputs import ClusterInput
from l2l3.kube.provenance import input_error
from l2l3.model.services import Service
from l2l3.model.types import NOWHERE, Node, Span, Spec

__all__ = ["render_import", "writable_names"]

#: A name as the spec language writes it (l2l3.lark, NAME).
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NODE_FIELDS = (
    "nics",
    "bridges",
    "vxlans",
    "routes",
    "snats",
    "outbound_nats",
    "dnats",
    "routes_to_host",
    "fdbs",
    "neighbors",
    "proxy_arps",
    "filters",
)


def _from(span: Span | None) -> str:
    if span is None or span is NOWHERE or span.line <= 0:
        return ""
    return f"from {span.file}:{span.line}"


def _tail(line: str, text: str) -> str:
    return f"{line}    # {text}" if text else line


def _one_line(text: str) -> str:
    return " ".join(text.split())


def writable_names(spec: Spec) -> tuple[Spec, list[str]]:
    """``spec`` with every node and pod name the spec language cannot write renamed.

    Kubernetes allows names that start with a digit; the spec language's
    names start with a letter or ``_``, so such a node or pod becomes
    ``_NAME`` (no Kubernetes name starts with ``_``, so none can clash).
    Pod and node names take no part in policy matching, so verdicts do not
    change. A namespace name does (it is the ``kubernetes.io/metadata.name``
    label): one that cannot be written is an input error.
    """
    said: list[str] = []
    for ns in {p.namespace for n in spec.nodes for p in n.pods} | {d.name for d in spec.namespaces}:
        if not NAME.fullmatch(ns):
            where = next((d.span for d in spec.namespaces if d.name == ns), NOWHERE)
            raise input_error(
                where,
                f"namespace {ns!r} cannot be written in the spec language (a name starts with a letter "
                "or _): `l2l3 check` reads these inputs, `l2l3 import` cannot write them yet",
            )

    def fix(name: str, what: str) -> str:
        if NAME.fullmatch(name):
            return name
        said.append(f"{what} is written _{name}: spec names start with a letter or _")
        return "_" + name

    nodes = []
    for n in spec.nodes:
        pods = tuple(replace(p, name=fix(p.name, f"pod {p.namespace}/{p.name}")) for p in n.pods)
        nodes.append(replace(n, name=fix(n.name, f"node {n.name}"), pods=pods))
    return replace(spec, nodes=tuple(nodes)), said


def _lines(spec: Spec) -> list[str]:
    text = render(spec)
    return text.rstrip("\n").split("\n") if text.strip() else []


def _node(n: Node, assumed: dict[object, list[str]]) -> list[str]:
    cm: dict[tuple[object, ...], str] = {}
    for i, p in enumerate(n.pods):
        text = _from(p.span)
        if text:
            cm[(n.name, "pods", i)] = text
    for f in _NODE_FIELDS:
        for i, x in enumerate(getattr(n, f)):
            text = _from(getattr(x, "span", None))
            if text:
                cm[(n.name, f, i)] = text
    lines = render(replace(Spec(), nodes=(n,)), cm).rstrip("\n").split("\n")
    lines[0] = _tail(lines[0], _from(n.span))
    return [f"# assumed: {a}" for a in assumed.get(("node", n.name), [])] + lines


def _policy(spec: Spec, i: int) -> list[str]:
    p = spec.policies[i]
    lines = _lines(replace(Spec(), policies=(p,)))
    lines[0] = _tail(lines[0], _from(p.span))
    rules = list(p.ingress) + list(p.egress)
    types = p.types is not None
    if len(lines) == 3 + len(rules) + types:  # header, select, one line per rule, [types], }
        lines[1] = _tail(lines[1], _from(p.span))  # the podSelector
        for j, r in enumerate(rules):
            lines[2 + j] = _tail(lines[2 + j], _from(r.span))
        if types:
            lines[-2] = _tail(lines[-2], _from(p.span))  # policyTypes
    return lines


def _service(s: Service) -> list[str]:
    """A ``service`` block: the Service's line on its header and ports, each endpoint's slice line on it."""
    lines = service_lines(s)
    lines[0] = _tail(lines[0], _from(s.span))
    spans = [p.span for p in s.ports] + ([s.span] if s.selector is not None else [])
    spans += [e.span for e in s.endpoints or ()]
    for j, span in enumerate(spans, start=1):
        lines[j] = _tail(lines[j], _from(span))
    return lines


def _header(ci: ClusterInput, paths: Sequence[str], renamed: list[str], placed: set[int]) -> list[str]:
    out = ["# l2l3 import of " + " ".join(paths)]
    if ci.cni is not None:
        out.append(f"# cni {ci.cni.profile}: from {ci.cni.source or 'the inputs'}")
    for i, n in enumerate(ci.notes):
        if i in placed:
            continue
        word = "assumed" if n.code == "assumed" else "note"
        out.append(f"# {word}: {n.span.file}:{n.span.line}: {_one_line(n.message)}")
    out += [f"# assumed: {_one_line(r)}" for r in renamed]
    return out


def _by_statement(notes: list[Note], spec: Spec) -> tuple[dict[object, list[str]], set[int]]:
    """Assumptions placed above the statement they concern (node subnets, the underlay),
    and the indices of the notes so placed (the others go to the header)."""
    out: dict[object, list[str]] = {}
    placed: set[int] = set()
    segments = {f"segment {s.name} {s.prefix}": s.name for s in spec.segments}
    nodes = {n.name for n in spec.nodes}
    for i, n in enumerate(notes):
        if n.code != "assumed":
            continue
        text = _one_line(n.message)
        key: tuple[str, str] | None = None
        seg = next((name for words, name in segments.items() if words in text), None)
        if seg is not None:
            key = ("segment", seg)
        elif text.startswith("node ") and text.split(" ")[1].removesuffix("'s") in nodes:
            key = ("node", text.split(" ")[1].removesuffix("'s"))
        if key is not None:
            out.setdefault(key, []).append(text)
            placed.add(i)
    return out, placed


def render_import(ci: ClusterInput, paths: Sequence[str]) -> str:
    """The ``.l2l3`` text of ``ci`` (``l2l3 import`` output)."""
    spec, renamed = writable_names(ci.raw)
    assumed, placed = _by_statement(ci.notes, spec)
    blocks: list[list[str]] = [_header(ci, paths, renamed, placed)]
    if spec.cluster is not None:
        lines = _lines(replace(Spec(), cluster=spec.cluster))
        lines[0] = _tail(lines[0], _from(spec.cluster.span))
        blocks.append(lines)
    if spec.namespaces:
        lines = _lines(replace(Spec(), namespaces=spec.namespaces))
        blocks.append([_tail(line, _from(d.span)) for line, d in zip(lines, spec.namespaces, strict=True)])
    under: list[str] = []
    for seg in spec.segments:
        under += [f"# assumed: {a}" for a in assumed.get(("segment", seg.name), [])]
        under.append(_tail(_lines(replace(Spec(), segments=(seg,)))[0], _from(seg.span)))
    for ext in spec.externals:
        under.append(_tail(_lines(replace(Spec(), externals=(ext,)))[0], _from(ext.span)))
    if under:
        blocks.append(under)
    blocks += [_node(n, assumed) for n in spec.nodes]
    blocks += [_policy(spec, i) for i in range(len(spec.policies))]
    blocks += [_service(s) for s in spec.services]
    if spec.checks:
        lines = _lines(replace(Spec(), checks=spec.checks))
        blocks.append([_tail(line, _from(c.span)) for line, c in zip(lines, spec.checks, strict=True)])
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"
