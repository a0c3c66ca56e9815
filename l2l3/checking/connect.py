"""``connect`` and ``no connect`` (LANGUAGE.md §8): a request and its answer.

Per pair, ``connect`` first tries the typical request concretely (its
answers too); failing that, the engine's complete connect search
(:meth:`l2l3.solver.engine.Engine.search_connect`) decides. ``no connect``
is one complete search per source towards every destination. Every witness,
both halves, is replayed in the simulator before it is shown.

Two shortcuts of ``reach`` are left out here: source classes (the answer
goes back to the member whose address the request carries, not to the
class's representative) and the policy screen (sound for the request half,
but not needed: the search settles it). The destination pre-image split is
kept: only the request's delivery depends on the destination written.

Self pairs are treated as ``reach`` treats them: a single endpoint's
connection to itself is checked (request and answer are delivered locally),
set forms leave their self pairs out and say so.
"""

from __future__ import annotations

import time
from dataclasses import replace
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from l2l3.checking.explain import flags_note, nat_hops, why_missed
from l2l3.checking.plan import pairs, preimage, probe_packet, self_note, stack_targets
from l2l3.checking.result import CheckResult, Verdict
from l2l3.errors import ReplayMismatch
from l2l3.model.endpoints import Endpoint, as_destination, resolve, single
from l2l3.model.goal import ConnectGoal, PacketSpace, connect_goal
from l2l3.model.network import Network
from l2l3.model.packet import Packet, Trace
from l2l3.model.simulate import simulate, simulate_answer
from l2l3.model.types import Connect, NatMode, Proto
from l2l3.solver import SolverUnknown

if TYPE_CHECKING:
    from l2l3.checking.checker import Checker

#: Largest destination pre-image searched one address at a time (as Checker.search).
SPLIT_LIMIT = 512


def sender_place(s: Endpoint) -> str:
    """Where an answer to ``s`` must be delivered: its stack, or ``external NAME``."""
    return s.stack if s.stack is not None else f"external {s.external}"


def connection(net: Network, s: Endpoint, pkt: Packet, goal: ConnectGoal) -> tuple[Trace, Trace] | None:
    """The simulator's request and answer traces of ``pkt`` from ``s`` meeting ``goal``, if any."""
    for t in simulate(net, s.origin, pkt):
        if goal.request.met_by(t):
            for a in simulate_answer(net, t):
                if goal.met_by(t, a):
                    return t, a
    return None


def _space(ck: Checker, q: Connect, s: Endpoint, d: Endpoint | None) -> PacketSpace:
    prefix = d.prefix if d is not None and d.place is None else None
    space = PacketSpace(proto=q.headers.proto, dport=q.headers.port, dst_prefix=prefix)
    if s.src is not None:
        return replace(space, src=s.src)
    if s.external is not None and s.prefix is not None:
        return replace(space, src_prefix=s.prefix)
    return space


def search(ck: Checker, s: Endpoint, dsts: list[Endpoint], q: Connect) -> tuple[Trace, Trace] | None:
    """A replayed (request, answer) from ``s`` to one of ``dsts``, or None (a proof)."""
    eng = ck.engine
    if eng.deadline is not None and time.monotonic() > eng.deadline:
        raise SolverUnknown("time limit reached")
    goal = connect_goal(dsts, q, sender_place(s))
    space = _space(ck, q, s, dsts[0] if len(dsts) == 1 else None)
    targets = stack_targets(dsts)
    splits: list[IPv4Address | None] = [None]
    if targets is not None:
        pre = preimage(ck.net, targets)
        if len(pre) <= SPLIT_LIMIT:
            splits = [*sorted(pre)]
        else:
            space = replace(space, dst_in=pre)
    for dst in splits:
        found = eng.search_connect(s.origin, goal, space if dst is None else replace(space, dst=dst))
        if found is None:
            continue
        got = connection(ck.net, s, found.packet, goal)
        if got is None:
            raise ReplayMismatch(
                f"solver witness {found.packet} from {s.label} should make {goal.describe()}, "
                "but the simulator's request or answer does not"
            )
        return got
    return None


def _addr(ip: object, port: int, with_port: bool) -> str:
    return f"{ip}:{port}" if with_port else str(ip)


def why_no_connection(
    s: Endpoint, d: Endpoint, goal: ConnectGoal, requests: list[Trace], answers: list[Trace]
) -> str:
    """Which half of the typical exchange dies, where and why."""
    req = next((t for t in requests if goal.request.met_by(t)), None)
    if req is None:
        shown = requests[0] if requests else None
        if shown is None:
            return ""
        why = shown.reason if not shown.delivered else why_missed(shown, goal.request)
        return f"; the request dies: {why}" if why else ""
    if not answers:
        return "; the answer is never sent"
    a = answers[0]
    if not a.delivered:
        return f"; the request is delivered to {req.delivered_to}, but its answer dies: {a.reason}"
    if a.delivered_to != goal.sender:
        return f"; the request is delivered, but its answer is delivered to {a.delivered_to}, not {s.label}"
    sent = req.packet
    ports = sent.proto is not Proto.ICMP
    expect = f"{_addr(sent.dst, sent.dport, ports)} > {_addr(sent.src, sent.sport, ports)}"
    f = a.final
    assert f is not None
    got = f"{_addr(f.src, f.sport, ports)} > {_addr(f.dst, f.dport, ports)}"
    if got != expect:
        passed = {h.at for h in a.hops}
        missed = [h for h in nat_hops(req) if h.at not in passed]
        where = ""
        fresh = nat_hops(a)  # a rule of a stack that never saw the request
        if missed:
            h = missed[0]
            line = f" ({h.span.file}:{h.span.line})" if h.span is not None and h.span.line else ""
            where = f": it does not pass {h.at}, whose rule rewrote the request ({h.action}){line}, so nothing undoes it"
        elif fresh:
            h = fresh[0]
            line = f" ({h.span.file}:{h.span.line})" if h.span is not None and h.span.line else ""
            where = f": {h.at} never saw the request, and its rule rewrites the answer ({h.action}){line}"
        return (
            f"; the request is delivered, but its answer arrives at {s.label} as {got}, "
            f"not {expect}: not the connection's answer, refused{where}"
        )
    miss = why_missed(a, goal.answer_goal())
    if miss:
        return f"; the answer is {miss}"
    if goal.nat is NatMode.WITH:
        return "; no rule rewrites the request or its answer"
    rw = nat_hops(req) + nat_hops(a)
    return f"; {rw[0].at} rewrites it ({rw[0].action})" if rw else ""


def connect(ck: Checker, q: Connect) -> CheckResult:
    """``connect A -> B``: every pair has a request and an answer the source takes."""
    srcs, dsts = resolve(ck.net, q.src), as_destination(ck.net, q.dst)
    plan = pairs(srcs, dsts, self_pairs=single(q.src) and single(q.dst))
    if not plan.pairs:
        return ck._vacuous(q, plan.excluded)
    n = len(plan.pairs)
    first: tuple[Trace, Trace] | None = None
    for s, d in plan.pairs:
        goal = connect_goal([d], q, sender_place(s))
        pkt = probe_packet(ck.net, s, d, q.headers)
        got = connection(ck.net, s, pkt, goal) if pkt is not None else None  # fast path
        if got is None:
            got = search(ck, s, [d], q)
        if got is None:
            requests = simulate(ck.net, s.origin, pkt) if pkt is not None else []
            req = next((t for t in requests if goal.request.met_by(t)), requests[0] if requests else None)
            answers = simulate_answer(ck.net, req) if req is not None and req.delivered else []
            text = f"no request from {s.label} to {d.label} gets an answer back{flags_note(q)}"
            text += why_no_connection(s, d, goal, requests, answers)
            return CheckResult(
                q, Verdict.VIOLATED, text, witness=req, answer=answers[0] if answers else None, pairs=n
            )
        first = first or got
    assert first is not None
    return CheckResult(
        q,
        Verdict.HOLDS,
        f"all {n} source/destination pairs connect: request delivered, answer back "
        f"(witness: the first){self_note(plan.excluded)}",
        witness=first[0],
        answer=first[1],
        pairs=n,
    )


def no_connect(ck: Checker, q: Connect) -> CheckResult:
    """``no connect A -> B``: no pair has a request and an answer the source takes."""
    srcs, dsts = resolve(ck.net, q.src), as_destination(ck.net, q.dst)
    self_pairs = single(q.src) and single(q.dst)
    plan = pairs(srcs, dsts, self_pairs=self_pairs)
    if not plan.pairs:
        return ck._vacuous(q, plan.excluded)
    n = len(plan.pairs)
    for s in srcs:
        targets = [d for d in dsts if self_pairs or not s.same_as(d)]
        # one search towards every stack destination at once; an address range alone
        groups = [[d] for d in targets if d.place is None]
        rest = [d for d in targets if d.place is not None]
        for group in [*groups, rest] if rest else groups:
            got = search(ck, s, group, q)
            if got is not None:
                req, ans = got
                return CheckResult(
                    q,
                    Verdict.VIOLATED,
                    f"{s.label} connects to {req.delivered_to}: the request is delivered and its answer comes back",
                    witness=req,
                    answer=ans,
                    pairs=n,
                )
    return CheckResult(
        q,
        Verdict.HOLDS,
        f"proved: none of {n} pairs has a request whose answer comes back{self_note(plan.excluded)}",
        pairs=n,
    )
