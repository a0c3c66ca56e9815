"""The checker: queries become searches, every witness is replayed before it is shown.

A query becomes searches for packets whose path meets a
:class:`~l2l3.model.goal.Goal` (delivered to the destination, with the
headers the query asks about). A found packet is replayed in the concrete
simulator, and the replay must meet the same goal: if it does not, l2l3 has
a bug and raises ReplayMismatch rather than report something it cannot show.

Verdicts reached without a witness (a ``holds`` of ``no reach``, the
policy screen, source classes, the pre-image split, vacuous cases) are
covered by tests/property/test_checker_vs_brute.py, which compares
:meth:`Checker.evaluate` with brute-force simulation.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import cached_property
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from l2l3.checking.atoms import ALL, candidates, intersect, query_atoms
from l2l3.checking.connect import connect, no_connect
from l2l3.checking.explain import flags_note, why_missed
from l2l3.checking.plan import (
    destination_space,
    pair_count,
    pairs,
    preimage,
    probe_packet,
    self_note,
    source_classes,
    stack_targets,
)
from l2l3.checking.result import CheckResult, Verdict
from l2l3.checking.screen import INGRESS, PolicyScreen
from l2l3.checking.sets import class_reach
from l2l3.errors import QueryError, ReplayMismatch
from l2l3.model.endpoints import Endpoint, as_destination, pod_endpoint, resolve, single
from l2l3.model.goal import Goal, PacketSpace, delivery_goal
from l2l3.model.network import Network
from l2l3.model.packet import Disposition, Trace
from l2l3.model.simulate import simulate
from l2l3.model.types import (
    Connect,
    Headers,
    Isolated,
    NatAs,
    NetnsIsolation,
    NoLoops,
    Query,
    Reach,
    StackMode,
)
from l2l3.solver import SolverUnknown

if TYPE_CHECKING:  # the engine (and z3) is imported when a check first searches
    from l2l3.solver.engine import Engine, Found

#: Largest destination pre-image searched one address at a time.
SPLIT_LIMIT = 512

_VACUOUS = "holds vacuously: the endpoints name no source/destination pair"


def _space(h: Headers, d: Endpoint | None = None) -> PacketSpace:
    """The packets a query's headers allow, sent towards ``d`` when it is an address range."""
    prefix = d.prefix if d is not None and d.place is None else None
    return PacketSpace(proto=h.proto, dport=h.port, dst_prefix=prefix)


class Checker:
    """Evaluates queries over one network, reusing one engine and one policy screen."""

    def __init__(self, net: Network, *, budget: int | None = None, time_limit: float | None = None) -> None:
        self.net = net
        self._budget = budget
        self._deadline: float | None = None
        self.screen = PolicyScreen(net)
        #: seconds one query may take before it is answered unknown (None: no limit)
        self.time_limit = time_limit

    @cached_property
    def engine(self) -> Engine:
        """The symbolic engine, made (and z3 imported) when a check first searches."""
        from l2l3.solver.engine import Engine

        eng = Engine(self.net) if self._budget is None else Engine(self.net, budget=self._budget)
        eng.deadline = self._deadline
        return eng

    # ------------------------------------------------------------ searching

    def _replay(self, sender: Endpoint, found: Found, goal: Goal) -> Trace:
        traces = simulate(self.net, sender.origin, found.packet)
        for t in traces:
            if goal.met_by(t):
                return t
        fates = "; ".join(f"{t.disposition.value} {t.delivered_to or t.reason}" for t in traces)
        raise ReplayMismatch(
            f"solver witness {found.packet} from {sender.label} should be {goal.describe()}, "
            f"but the simulator gives: {fates}"
        )

    def search(
        self, members: list[Endpoint], goal: Goal, space: PacketSpace, targets: set[str] | None = None
    ) -> Trace | None:
        """A replayed trace of a packet from one of ``members`` meeting ``goal``, or None (a proof).

        ``members`` is one sender or a class of alike ones (the search runs
        from the first, with the source any member's address). With the
        receiving stacks known, the destination can only be one of their
        pre-image; when that set is small, the search runs once per
        destination address, with everything else symbolic.
        """
        if self.engine.deadline is not None and time.monotonic() > self.engine.deadline:
            raise SolverUnknown("time limit reached")
        rep = members[0]
        if len(members) > 1:
            space = replace(space, srcs=frozenset(m.src for m in members if m.src is not None))
        elif rep.src is not None:
            space = replace(space, src=rep.src)
        elif rep.external is not None and rep.prefix is not None:
            space = replace(space, src_prefix=rep.prefix)  # an address range owned by an external
        dsts: list[IPv4Address | None] = [None]
        if targets is not None:
            pre = preimage(self.net, targets)
            if len(pre) <= SPLIT_LIMIT:
                dsts = [*sorted(pre)]
            else:
                space = replace(space, dst_in=pre)
        for dst in dsts:
            found = self.engine.search(rep.origin, goal, space if dst is None else replace(space, dst=dst))
            if found is not None:
                sender = rep
                if len(members) > 1:  # replay from the member that owns the address
                    sender = next(m for m in members if m.src == found.packet.src)
                return self._replay(sender, found, goal)
        return None

    def _typical(self, s: Endpoint, d: Endpoint, h: Headers) -> list[Trace]:
        pkt = probe_packet(self.net, s, d, h)
        return simulate(self.net, s.origin, pkt) if pkt is not None else []

    def _candidate(self, s: Endpoint, d: Endpoint, q: Reach, goal: Goal, tried: list[Trace]) -> Trace | None:
        """A concrete trace meeting ``goal`` among a few packets policy may admit, or None.

        When policy governs the pair, the headers both the sender's egress
        and the destination's ingress admit (the screen's atoms, inside the
        query's headers) name a few protocols and ports; each is simulated
        as a typical packet. A hit is a trace of the concrete simulator, so
        it needs no further argument; a miss proves nothing.
        """
        atoms = intersect(self.screen.admitted(s, d, q.headers), query_atoms(q.headers))
        if atoms == ALL:
            return None  # policy does not narrow the headers: nothing new to try
        seen = {(t.packet.proto, t.packet.dport) for t in tried}
        for h in candidates(atoms):
            pkt = probe_packet(self.net, s, d, h)
            if pkt is None or (pkt.proto, pkt.dport) in seen:
                continue
            seen.add((pkt.proto, pkt.dport))
            t = next((x for x in simulate(self.net, s.origin, pkt) if goal.met_by(x)), None)
            if t is not None:
                return t
        return None

    # -------------------------------------------------------------- queries

    def evaluate(self, q: Query) -> CheckResult:
        """Answer one query: ``holds`` is a proof, ``violated`` carries a replayed
        witness (or, for a ``reach`` that fails, a typical packet that dies and
        why), ``unknown`` says which limit was hit. Unknown endpoint names
        raise :class:`~l2l3.errors.QueryError`."""
        self._deadline = None if self.time_limit is None else time.monotonic() + self.time_limit
        if "engine" in self.__dict__:  # made already (else it starts with this deadline)
            self.engine.deadline = self._deadline
        try:
            if isinstance(q, Connect):  # before Reach: a Connect is one by its fields
                return no_connect(self, q) if q.negated else connect(self, q)
            if isinstance(q, Reach):
                return self._no_reach(q) if q.negated else self._reach(q)
            if isinstance(q, Isolated):
                return self._isolated(q)
            if isinstance(q, NatAs):
                return self._nat_as(q)
            if isinstance(q, NetnsIsolation):
                return self._netns(q)
            if isinstance(q, NoLoops):
                return self._no_loops(q)
        except SolverUnknown as e:
            return CheckResult(q, Verdict.UNKNOWN, f"gave up: {e}")
        raise QueryError(f"unsupported query {q!r}")

    def _vacuous(self, q: Query, excluded: int, *, verdict: Verdict = Verdict.HOLDS) -> CheckResult:
        if excluded:
            why = f"every one of its {excluded} pairs is an endpoint with itself, and set queries leave those out"
            text = f"holds vacuously: {why}" if verdict is Verdict.HOLDS else f"nothing to check: {why}"
            return CheckResult(q, verdict, text, warnings=(f"vacuous: {why}",))
        text = (
            _VACUOUS if verdict is Verdict.HOLDS else "no source/destination pair, so nothing arrives at all"
        )
        return CheckResult(q, verdict, text)

    def _reach(self, q: Reach) -> CheckResult:
        by_classes = class_reach(self, q)  # many pod pairs: by classes (l2l3.checking.sets)
        if by_classes is not None:
            return by_classes
        srcs, dsts = resolve(self.net, q.src), as_destination(self.net, q.dst)
        plan = pairs(srcs, dsts, self_pairs=single(q.src) and single(q.dst))
        if not plan.pairs:
            return self._vacuous(q, plan.excluded)
        first: Trace | None = None
        n = len(plan.pairs)
        for s, d in plan.pairs:
            goal = delivery_goal([d], q)
            typical = self._typical(s, d, q.headers)
            t = next((x for x in typical if goal.met_by(x)), None)  # fast path: confirmed concretely
            refused = self.screen.refusals([s], [d], q.headers).get(0) if t is None else None
            if t is None and refused is None:
                t = self._candidate(s, d, q, goal, typical)  # packets policy admits, simulated
            if t is None and refused is None:
                t = self.search([s], goal, _space(q.headers, d), stack_targets([d]))
            if t is None:
                shown = typical[0] if typical else None
                text = f"no packet from {s.label} reaches {d.label}{flags_note(q)}"
                if shown is not None and not shown.delivered:
                    text += f"; a typical one dies: {shown.reason}"
                elif shown is not None and why_missed(shown, goal):
                    text += f"; a typical one is {why_missed(shown, goal)}"
                elif refused == INGRESS:
                    text += f"; a typical one dies: {d.label}'s ingress policy admits no source address it can arrive with"
                elif refused is not None:
                    text += (
                        f"; policy admits none: {s.label}'s egress and {d.label}'s ingress rules "
                        "have no packet in common"
                    )
                return CheckResult(q, Verdict.VIOLATED, text, witness=shown, pairs=n)
            first = first or t
        where, warn = _where_delivered(self.net, plan.pairs[0][1], first)
        return CheckResult(
            q,
            Verdict.HOLDS,
            f"all {n} source/destination pairs reach (witness: the first){where}{self_note(plan.excluded)}",
            witness=first,
            pairs=n,
            warnings=warn,
        )

    def _no_reach(self, q: Reach) -> CheckResult:
        srcs, dsts = resolve(self.net, q.src), as_destination(self.net, q.dst)
        self_pairs = single(q.src) and single(q.dst)
        n, excluded = pair_count(srcs, dsts, self_pairs=self_pairs)
        if n == 0:
            return self._vacuous(q, excluded)
        refused = self.screen.refusals(srcs, dsts, q.headers)
        open_dsts = [d for i, d in enumerate(dsts) if i not in refused]
        classes: list[list[Endpoint]] = []
        if open_dsts:  # the pre-image walks every stack's DNATs: only when something is left to search
            receivers = {d.stack for d in dsts if d.stack is not None}
            dst_addrs, dst_prefixes = destination_space(self.net, open_dsts)
            classes = source_classes(self.net, srcs, receivers, dst_addrs, dst_prefixes)
        for members in classes:
            own = {m.key for m in members}
            targets = [d for d in open_dsts if self_pairs or d.key not in own]
            # one search per class of sources, towards every destination at
            # once (an address range constrains the packet, so it goes alone)
            groups = [[d] for d in targets if d.place is None]
            rest = [d for d in targets if d.place is not None]
            for group in [*groups, rest] if rest else groups:
                t = self.search(
                    members, delivery_goal(group, q), _space(q.headers, group[0]), stack_targets(group)
                )
                if t is not None:
                    who = t.hops[0].at if t.hops else members[0].label
                    return CheckResult(
                        q, Verdict.VIOLATED, f"{who} reaches {t.delivered_to}", witness=t, pairs=n
                    )
        how = ""
        by_ingress = sum(k == INGRESS for k in refused.values())  # the others: egress, or ports
        if by_ingress:
            how = (
                f" ({by_ingress} of {len(dsts)} destinations refuse, by ingress policy, "
                "every source address a packet from the senders can arrive with)"
            )
        return CheckResult(
            q,
            Verdict.HOLDS,
            f"proved: none of {n} pairs has a packet that gets through{how}{self_note(excluded)}",
            pairs=n,
        )

    def _isolated(self, q: Isolated) -> CheckResult:
        total, notes, results = 0, list[str](), list[CheckResult]()
        for a, b in ((q.a, q.b), (q.b, q.a)):
            r = self._no_reach(Reach(src=a, dst=b, negated=True, headers=q.headers))
            if r.status is not Verdict.HOLDS:
                return replace(r, query=q)
            results.append(r)
            total += r.pairs
            notes.extend(w for w in r.warnings if w not in notes)
        if total == 0:
            return replace(results[0], query=q)
        return CheckResult(
            q,
            Verdict.HOLDS,
            f"proved: no packet crosses in either direction ({total} pairs)",
            pairs=total,
            warnings=tuple(notes),
        )

    def _nat_as(self, q: NatAs) -> CheckResult:
        srcs, dsts = resolve(self.net, q.src), as_destination(self.net, q.dst)
        plan = pairs(srcs, dsts, self_pairs=single(q.src) and single(q.dst))
        if not plan.pairs:
            return self._vacuous(q, plan.excluded, verdict=Verdict.VIOLATED)
        n = len(plan.pairs)
        first = None
        for s, d in plan.pairs:
            space, targets = _space(q.headers, d), stack_targets([d])
            got = self.search([s], delivery_goal([d], q), space, targets)
            if got is None:
                typical = self._typical(s, d, q.headers)
                shown = typical[0] if typical else None
                why = f": {shown.reason}" if shown is not None and shown.reason else ""
                return CheckResult(
                    q, Verdict.VIOLATED, f"{s.label} cannot reach {d.label} at all{why}", shown, pairs=n
                )
            first = first or got
            bad = self.search([s], delivery_goal([d], q, src_not=frozenset({q.ip})), space, targets)
            if bad is not None:
                assert bad.final is not None
                return CheckResult(
                    q,
                    Verdict.VIOLATED,
                    f"{s.label} reaches {d.label} with source {bad.final.src}, not {q.ip}",
                    bad,
                    pairs=n,
                )
        return CheckResult(
            q,
            Verdict.HOLDS,
            f"proved: every delivered packet arrives from {q.ip}{self_note(plan.excluded)}",
            first,
            pairs=n,
        )

    def _netns(self, q: NetnsIsolation) -> CheckResult:
        shared = [
            p
            for p, i in sorted(self.net.pods.items())
            if i.pod.mode is not StackMode.NETNS and (q.node is None or i.node == q.node)
        ]
        if not shared:
            where = f"on {q.node}" if q.node else "anywhere"
            return CheckResult(
                q,
                Verdict.HOLDS,
                f"proved: every pod {where} has its own stack, entered only through its endpoint",
            )
        for b in shared:
            here = self.net.pods[b].node
            # neighbours on the same node first: their witness is the telling one
            senders = sorted(self.net.pods, key=lambda p: (self.net.pods[p].node != here, p))
            target = pod_endpoint(self.net, b)
            assert target.stack is not None
            goal = Goal(receivers=frozenset({target.stack}), bypassing=target.iface)
            for a in senders:
                if a == b:
                    continue
                src = pod_endpoint(self.net, a)
                space = PacketSpace() if src.src is None else PacketSpace(src=src.src)
                t = self.search([src], goal, space, {target.stack})
                if t is not None:
                    mode = self.net.pods[b].pod.mode.value
                    return CheckResult(
                        q,
                        Verdict.VIOLATED,
                        f"{b} is {mode} and shares the stack of {self.net.pods[b].stack}: "
                        f"a packet from {a} lands in it without passing {b}'s own endpoint",
                        t,
                    )
        return CheckResult(q, Verdict.HOLDS, "proved: no pod's packet enters a shared stack")

    def _no_loops(self, q: NoLoops) -> CheckResult:
        senders = [
            Endpoint(sid, stack=sid) for sid, st in sorted(self.net.stacks.items()) if st.kind != "gateway"
        ]
        senders += [Endpoint(f"external {e}", external=e) for e in sorted(self.net.externals)]
        goal = Goal(disposition=Disposition.LOOPED)
        for s in senders:
            t = self.search([s], goal, PacketSpace())
            if t is not None:
                return CheckResult(q, Verdict.VIOLATED, f"a packet from {s.label} loops", t)
        return CheckResult(q, Verdict.HOLDS, f"proved: no packet from any of {len(senders)} senders loops")


def _where_delivered(net: Network, d: Endpoint, t: Trace | None) -> tuple[str, tuple[str, ...]]:
    """For an address destination: where the witness was delivered, and a warning when an
    address of the Service CIDR only reaches an external (no Service answers there)."""
    if t is None or d.place is not None or t.delivered_to is None:
        return "", ()
    text = f"; the witness is delivered into {t.delivered_to}"
    if d.arrive is not None and t.final is not None:
        return f"{text} at {t.final.proto} port {t.final.dport}", ()
    cl = net.spec.cluster
    vip = t.packet.dst
    if (
        t.delivered_to.startswith("external ")
        and cl is not None
        and cl.service_cidr
        and vip in cl.service_cidr
    ):
        return text, (
            f"{vip} is in the service CIDR {cl.service_cidr}, but the witness leaves by a route to "
            f"{t.delivered_to}: no Service answers it (`service NS/NAME` is the strict destination)",
        )
    return text, ()


def evaluate(net: Network, q: Query) -> CheckResult:
    """Answer ``q`` over ``net`` with a fresh :class:`Checker`."""
    return Checker(net).evaluate(q)
