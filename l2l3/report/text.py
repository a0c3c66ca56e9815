"""The text report: each check's verdict, and its witness as a traceroute with headers."""

from __future__ import annotations

from l2l3.checking import CheckResult, Report, Verdict
from l2l3.model.packet import Hop, Packet, Trace
from l2l3.model.types import Connect
from l2l3.report.warnings import group_warnings

__all__ = ["render_text", "render_trace", "render_trace_summary"]

_MARK = {Verdict.HOLDS: "holds", Verdict.VIOLATED: "VIOLATED", Verdict.UNKNOWN: "unknown"}


def _diff(before: Packet | None, after: Packet) -> str:
    """The header fields a hop changed, as ``field a -> b``."""
    if before is None:
        return ""
    parts = []
    for name in ("src", "dst", "dport", "smac", "dmac"):
        a, b = getattr(before, name), getattr(after, name)
        if a != b and a is not None:
            parts.append(f"{name} {a} -> {b}")
    if (before.outer is None) != (after.outer is None):
        parts.append("encapsulated" if after.outer else "decapsulated")
    return ", ".join(parts)


def render_trace(t: Trace, indent: str = "    ") -> str:
    """One packet's path, hop by hop: where, which rule (and its line), the headers after it.

    A hop that rewrote headers names the fields it changed; the last line is
    the packet's fate (delivered where, or dropped and why). No final newline.
    """
    lines = [f"{indent}packet: {t.packet}"]
    prev: Packet | None = None
    for n, h in enumerate(t.hops, 1):
        lines.append(f"{indent}{n:>2}  {_hop_line(h)}")
        changed = _diff(prev, h.packet)
        lines.append(f"{indent}      {h.packet}" + (f"   [{changed}]" if changed else ""))
        prev = h.packet
    fate = t.disposition.value + (f" at {t.delivered_to}" if t.delivered_to else "")
    if t.reason:
        fate += f" ({t.reason})"
    lines.append(f"{indent}=> {fate}")
    return "\n".join(lines)


def _hop_line(h: Hop) -> str:
    where = f"  [{h.span.file}:{h.span.line}]" if h.span is not None and h.span.line else ""
    return f"{h.at:<22} {h.action}{where}"


#: hop actions ``trace --summary`` leaves out: moving a frame, not deciding where the packet goes
_L2_ACTIONS = ("L2 ", "sends out ", "neighbor ")


def render_trace_summary(t: Trace, indent: str = "  ") -> str:
    """The routed hops of a path only (like ``ovn-trace --summary``): sending, route decisions,
    NAT, encapsulation, the fate; L2 forwarding and ARP are left out. Hop numbers are those of
    :func:`render_trace`; a hop that rewrote headers names the fields. No final newline.
    """
    lines = [f"{indent}packet: {t.packet}"]
    prev: Packet | None = None
    for n, h in enumerate(t.hops, 1):
        changed = ", ".join(
            c for c in _diff(prev, h.packet).split(", ") if not c.startswith(("smac", "dmac"))
        )
        prev = h.packet
        if h.action.startswith(_L2_ACTIONS) and not changed and n != len(t.hops):
            continue
        lines.append(f"{indent}{n:>2}  {_hop_line(h)}" + (f"   [{changed}]" if changed else ""))
    fate = t.disposition.value + (f" at {t.delivered_to}" if t.delivered_to else "")
    lines.append(f"{indent}=> {fate}" + (f" ({t.reason})" if t.reason else ""))
    return "\n".join(lines)


def render_text(reports: list[Report], witness: str = "all") -> str:
    """``l2l3 check`` for a person: warnings (grouped), then each result, then a summary line.

    ``witness`` says whose witness is shown: ``all``, ``violated`` (checks
    that do not hold) or ``none``.
    """
    out: list[str] = []
    for rep in reports:
        out.extend(group_warnings(rep.warnings))
        for r in rep.results:
            shown = witness == "all" or (witness == "violated" and r.status is not Verdict.HOLDS)
            out.append(_result_text(r, shown))
    total = [r for rep in reports for r in rep.results]
    h = sum(r.status is Verdict.HOLDS for r in total)
    v = sum(r.status is Verdict.VIOLATED for r in total)
    u = sum(r.status is Verdict.UNKNOWN for r in total)
    out.append(f"{len(total)} checks: {h} hold, {v} violated, {u} unknown")
    return "\n".join(out) + "\n"


def _result_text(r: CheckResult, witness: bool = True) -> str:
    c = r.check
    head = f"{c.span.file}:{c.span.line}: {c.name}: " if c is not None else ""
    lines = [f"{head}{r.query}", f"  {_MARK[r.status]}: {r.explanation}"]
    if r.witness is not None and witness:
        label = "witness" if r.witness.delivered or r.status is Verdict.VIOLATED else "where it dies"
        if r.status is Verdict.VIOLATED and not r.witness.delivered:
            label = "where its packets die"
        elif r.status is Verdict.VIOLATED:
            label = "counterexample"
        if isinstance(r.query, Connect):
            lines.append(f"  {connect_label(r)}:")
            lines += connect_lines(r)
        else:
            lines.append(f"  {label}:")
            lines.append(render_trace(r.witness))
    return "\n".join(lines)


def connect_label(r: CheckResult) -> str:
    """What a connect's witness is: the connection, the counterexample, or where it fails."""
    if r.status is Verdict.VIOLATED:
        return "counterexample" if isinstance(r.query, Connect) and r.query.negated else "where it fails"
    return "connection"


def connect_lines(r: CheckResult, indent: str = "    ") -> list[str]:
    """A connect's witness: the request's path, then its answer's (or that none was sent)."""
    assert r.witness is not None
    out = [f"{indent}request:", render_trace(r.witness, indent + "  ")]
    if r.answer is not None:
        out += [f"{indent}answer:", render_trace(r.answer, indent + "  ")]
    else:
        out.append(f"{indent}answer: none (the request is not delivered)")
    return out
