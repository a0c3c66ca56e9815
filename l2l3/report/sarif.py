"""The SARIF 2.1.0 report, for GitHub code scanning and other SARIF viewers.

One rule per query kind (``reach``, ``no-reach``, ``isolated``, ``nat``,
``netns-isolation``, ``no-loops``) plus ``input-error`` and ``warning``. A
check that does not hold is a result at its line: violated is an ``error``,
unknown a ``warning``; its witness becomes a ``codeFlow`` with one
``threadFlow`` location per hop, at the spec line of the rule that acted.
Warnings of the report are ``note`` results. URIs are relative to ``root``
(default: the working directory) under the base id ``%SRCROOT%``, so code
scanning maps them to the repository's files.

:func:`render_sarif_error` gives a valid log for a spec that does not load,
its diagnostics as ``input-error`` results: the upload step always has a file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from l2l3.checking import CheckResult, Report, Verdict
from l2l3.errors import Diagnostic
from l2l3.model.packet import Hop, Trace
from l2l3.model.types import Connect, Isolated, NatAs, NetnsIsolation, NoLoops, Query, Reach

__all__ = ["RULES", "query_kind", "render_sarif", "render_sarif_error"]

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

#: rule id -> (name, short description, full description, help text, default level)
RULES: dict[str, tuple[str, str, str, str, str]] = {
    "reach": (
        "ReachCheck",
        "A reach check does not hold: some pair cannot be reached.",
        "`reach A -> B [proto] [port N] [via mac] [with nat|without nat]` holds when every source in A "
        "can send some packet with those headers that is delivered to every destination in B.",
        "The code flow follows a typical packet of the failing pair hop by hop and shows where it dies "
        "and why: no route, no ARP answer, a filter or policy at its line, a MAC rewrite (via mac), "
        "a NAT rule (without nat). Fix the rule the last step names, or the check.",
        "error",
    ),
    "no-reach": (
        "NoReachCheck",
        "A no-reach check does not hold: a forbidden packet is delivered.",
        "`no reach A -> B ...` holds when no packet with those headers from any source in A is "
        "delivered to any destination in B.",
        "The code flow is the counterexample: a concrete packet and every hop that moved or rewrote it, "
        "each at the spec line of the route, bridge, NAT or policy rule that acted. Block it with a "
        "policy or a filter, or drop the route it takes.",
        "error",
    ),
    "connect": (
        "ConnectCheck",
        "A connect check does not hold: some request or its answer does not get through.",
        "`connect A -> B ...` holds when, for every pair, some request is delivered to the destination "
        "and the answer it sends back (from where the request arrived to where it came from) is "
        "delivered to the source with the addresses the source sent to and from (LANGUAGE.md section 8).",
        "The code flow has two thread flows: the request, and its answer. The explanation says which "
        "half dies, where and why: no route back, an answer that misses the node whose NAT rewrote the "
        "request (asymmetric return), a filter on the answer at its line (see `filter ... established`).",
        "error",
    ),
    "no-connect": (
        "NoConnectCheck",
        "A no-connect check does not hold: a request and its answer both get through.",
        "`no connect A -> B ...` holds when no pair has a request delivered to the destination whose "
        "answer the source takes.",
        "The code flow is the counterexample: the request's path, then its answer's, hop by hop. Block "
        "either half with a policy or a filter.",
        "error",
    ),
    "isolated": (
        "IsolatedCheck",
        "An isolated check does not hold: a packet crosses between the two sides.",
        "`isolated A <-> B` holds when `no reach A -> B` and `no reach B -> A` both hold.",
        "The code flow is the packet that crosses, hop by hop, with the rule of each hop at its line.",
        "error",
    ),
    "nat": (
        "NatCheck",
        "A nat check does not hold: packets arrive with another source address, or not at all.",
        "`nat A -> B as IP` holds when some packet from A is delivered to B and every packet from A "
        "delivered to B arrives with source address IP; unreachable counts as violated.",
        "The code flow shows a packet that arrives with another source address (which SNAT or "
        "masquerade rule rewrote it, or its exception), or where the packets die.",
        "error",
    ),
    "netns-isolation": (
        "NetnsIsolationCheck",
        "A netns-isolation check does not hold: pods share a network stack.",
        "`netns-isolation [on NODE]` holds when no packet from one pod is delivered to another pod's "
        "stack without entering through that pod's own endpoint (no-netns and host-network pods "
        "share their node's stack).",
        "The code flow is a packet from one pod that lands in the stack another pod uses. Give the pod "
        "its own namespace (drop no-netns / host-network) or narrow the check.",
        "error",
    ),
    "no-loops": (
        "NoLoopsCheck",
        "A no-loops check does not hold: a packet can cycle.",
        "`no loops` holds when no packet can cycle in the forwarding graph.",
        "The code flow is a packet going round the loop, each hop at the route or bridge that sends it on.",
        "error",
    ),
    "input-error": (
        "InputError",
        "The input is invalid: nothing was checked.",
        "The spec (or the cluster's manifests) could not be loaded: bad syntax, an unknown name, "
        "a bad value, or an endpoint nothing owns.",
        "Fix the spec at the line and column shown; l2l3 checks nothing until every input error is gone.",
        "error",
    ),
    "warning": (
        "Warning",
        "A warning about the spec or the report.",
        "Something that does not make a check fail but may make it mean less than it says: a policy "
        "no node enforces, a vacuous check, an excluded self pair, an option no profile models.",
        "Read the note; `l2l3 check` prints the same warning on standard error.",
        "note",
    ),
}

_KINDS: list[tuple[type, str]] = [
    (Isolated, "isolated"),
    (NatAs, "nat"),
    (NetnsIsolation, "netns-isolation"),
    (NoLoops, "no-loops"),
]

_WARNING = re.compile(r"^(?P<file>.*?):(?P<line>\d+)(?::(?P<col>\d+))?: (?:warning|note|error): (?P<msg>.*)$")


def query_kind(q: Query) -> str:
    """The rule id of a query: ``reach``, ``no-reach``, ``connect``, ``no-connect``, ``isolated``, ``nat``, ``netns-isolation``, ``no-loops``.

    A query kind this module does not know yet gets the first word of its text.
    """
    if isinstance(q, Connect):
        return "no-connect" if q.negated else "connect"
    if isinstance(q, Reach):
        return "no-reach" if q.negated else "reach"
    for cls, kind in _KINDS:
        if isinstance(q, cls):
            return kind
    return (str(q).split() or ["check"])[0]


class _Log:
    """Rules, results and locations of one run, relative to ``root``."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root if root is not None else Path.cwd()).resolve()
        self.cwd = Path.cwd()
        self.rules: dict[str, dict[str, Any]] = {}
        self.results: list[dict[str, Any]] = []
        for rid in RULES:  # every rule is described, in one order, whatever the results
            self.rule_index(rid)

    # ----------------------------------------------------------- locations

    def artifact(self, file: str) -> dict[str, Any]:
        """The artifactLocation of ``file``: relative to the root when under it, else an absolute URI."""
        if not file or file.startswith("<"):  # <spec>, <query>, <implicit>: no file to map
            return {"uri": quote(file or "unknown", safe="")}
        p = Path(file)
        absolute = (p if p.is_absolute() else self.cwd / p).resolve()
        try:
            rel = absolute.relative_to(self.root)
        except ValueError:
            return {"uri": absolute.as_uri()}
        return {"uri": quote(rel.as_posix()), "uriBaseId": SRCROOT}

    def location(self, file: str, line: int, column: int = 0, message: str | None = None) -> dict[str, Any]:
        """A SARIF location; the region is left out for line 0 (nowhere in the file)."""
        phys: dict[str, Any] = {"artifactLocation": self.artifact(file)}
        if line > 0:
            region: dict[str, Any] = {"startLine": line}
            if column > 0:
                region["startColumn"] = column
            phys["region"] = region
        loc: dict[str, Any] = {"physicalLocation": phys}
        if message is not None:
            loc["message"] = {"text": message}
        return loc

    # --------------------------------------------------------------- rules

    def rule_index(self, rule_id: str) -> int:
        if rule_id not in self.rules:
            name, short, full, help_text, level = RULES.get(
                rule_id,
                (
                    "".join(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", rule_id)) or "Check",
                    f"A {rule_id} check does not hold.",
                    f"A `{rule_id}` check of the spec does not hold.",
                    "The code flow shows the packet that proves it, hop by hop.",
                    "error",
                ),
            )
            self.rules[rule_id] = {
                "id": rule_id,
                "name": name,
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "help": {"text": help_text, "markdown": f"{full}\n\n{help_text}"},
                "defaultConfiguration": {"level": level},
                "properties": {"tags": ["l2l3", "network"]},
            }
        return list(self.rules).index(rule_id)

    def add(self, rule_id: str, level: str, text: str, loc: dict[str, Any], key: str) -> dict[str, Any]:
        """Append a result; ``key`` makes its fingerprint, stable when lines move."""
        digest = hashlib.sha256(f"{rule_id}\0{key}".encode()).hexdigest()[:32]
        res: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": self.rule_index(rule_id),
            "level": level,
            "message": {"text": text},
            "locations": [loc],
            "partialFingerprints": {"l2l3/v1": digest},
        }
        self.results.append(res)
        return res

    # ---------------------------------------------------------------- runs

    def doc(self, *, exit_code: int, ok: bool, properties: dict[str, Any] | None = None) -> str:
        from l2l3 import __version__

        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "l2l3",
                    "version": __version__,
                    "semanticVersion": __version__,
                    "rules": list(self.rules.values()),
                }
            },
            "originalUriBaseIds": {SRCROOT: {"uri": self.root.as_uri().rstrip("/") + "/"}},
            "invocations": [{"executionSuccessful": ok, "exitCode": exit_code}],
            "columnKind": "unicodeCodePoints",
            "results": self.results,
        }
        if properties:
            run["properties"] = properties
        doc = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _label(r: CheckResult) -> str:
    w = r.witness
    if w is None:
        return "witness"
    if r.status is Verdict.VIOLATED:
        return "counterexample" if w.delivered else "where its packets die"
    return "witness" if w.delivered else "where it dies"


def _fate(t: Trace) -> str:
    fate = t.disposition.value + (f" at {t.delivered_to}" if t.delivered_to else "")
    return fate + (f" ({t.reason})" if t.reason else "")


def _hop_location(log: _Log, h: Hop, n: int, file: str, line: int) -> dict[str, Any]:
    here = h.span is not None and h.span.line > 0
    loc = log.location(
        h.span.file if here and h.span else file,
        h.span.line if here and h.span else line,
        h.span.column if here and h.span else 0,
        message=f"{h.at}: {h.action}",
    )
    loc["logicalLocations"] = [{"name": h.at}]
    return {
        "location": loc,
        "state": {"packet": {"text": str(h.packet)}},
        "executionOrder": n,
        "importance": "essential" if here else "important",
    }


def _code_flow(log: _Log, r: CheckResult, file: str, line: int) -> dict[str, Any] | None:
    t = r.witness
    if t is None or not t.hops:
        return None
    locs = [_hop_location(log, h, n, file, line) for n, h in enumerate(t.hops, 1)]
    if isinstance(r.query, Connect):  # two thread flows: the request, then its answer
        flows = [{"message": {"text": f"request: {_fate(t)}"}, "locations": locs}]
        a = r.answer
        if a is not None and a.hops:
            n0 = len(t.hops)
            alocs = [_hop_location(log, h, n0 + n, file, line) for n, h in enumerate(a.hops, 1)]
            flows.append({"message": {"text": f"answer: {_fate(a)}"}, "locations": alocs})
        fate = f"request {_fate(t)}" + (f"; answer {_fate(a)}" if a is not None else "; no answer sent")
        return {"message": {"text": f"{_label(r)}: {t.packet} => {fate}"}, "threadFlows": flows}
    return {
        "message": {"text": f"{_label(r)}: {t.packet} => {_fate(t)}"},
        "threadFlows": [{"message": {"text": _fate(t)}, "locations": locs}],
    }


def _add_result(log: _Log, r: CheckResult, fallback_file: str) -> None:
    c = r.check
    file, line, col = (c.span.file, c.span.line, c.span.column) if c else (fallback_file, 0, 0)
    name = c.name if c else str(r.query)
    kind = query_kind(r.query)
    if r.status is Verdict.VIOLATED:
        text = f"check {name} is violated: {r.query}: {r.explanation}"
        level = "error"
    else:
        text = f"check {name} is unknown (neither proved nor refuted): {r.query}: {r.explanation}"
        level = "warning"
    key = f"{log.artifact(file)['uri']}\0{name}\0{r.status.value}"
    res = log.add(kind, level, text, log.location(file, line, col), key)
    flow = _code_flow(log, r, file, line)
    if flow is not None:
        res["codeFlows"] = [flow]
    res["properties"] = {"status": r.status.value, "query": str(r.query), "pairs": r.pairs}


def _add_warning(log: _Log, warning: str, fallback_file: str) -> None:
    first = warning.split("\n", 1)[0]
    m = _WARNING.match(first)
    if m:
        loc = log.location(m["file"], int(m["line"]), int(m["col"] or 0))
        text = m["msg"]
    else:
        text = first.removeprefix("warning: ")
        loc = log.location(fallback_file, 0)
    log.add("warning", "note", text, loc, text)


def render_sarif(reports: list[Report], *, root: str | Path | None = None) -> str:
    """A SARIF log: every check that does not hold as a result with its hop-by-hop code flow.

    ``root`` is where relative URIs start (``%SRCROOT%``; default the working
    directory): pass the repository's checkout. Checks that hold are only
    counted, in the run's ``properties.summary``.
    """
    log = _Log(root)
    for rep in reports:
        for w in rep.warnings:
            _add_warning(log, w, rep.spec.file)
        for r in rep.results:
            if r.status is not Verdict.HOLDS:
                _add_result(log, r, rep.spec.file)
    statuses = [r.status for rep in reports for r in rep.results]
    summary = {v.value: statuses.count(v) for v in Verdict}
    exit_code = 1 if summary["violated"] else 3 if summary["unknown"] else 0
    return log.doc(exit_code=exit_code, ok=True, properties={"summary": summary})


def render_sarif_error(diagnostics: Sequence[Diagnostic], *, root: str | Path | None = None) -> str:
    """A valid SARIF log for input that did not load: each diagnostic an ``input-error`` result.

    Diagnostics of severity ``warning`` become ``note`` results. The run says
    it did not succeed (exit code 2), so an upload shows why nothing was checked.
    """
    log = _Log(root)
    for d in diagnostics:
        s = d.span
        loc = log.location(s.file, s.line, s.column)
        key = f"{loc['physicalLocation']['artifactLocation']['uri']}\0{d.message}"
        if d.severity == "warning":
            log.add("warning", "note", d.message, loc, key)
        else:
            log.add("input-error", "error", d.message, loc, key)
    return log.doc(exit_code=2, ok=False)
