"""Answering queries: the solver searches, the simulator confirms.

Every query becomes searches for packets whose path ends in a *goal* leaf
(delivered to the destination, with the headers the query asks about). A
found packet is replayed in the concrete simulator, and the replay must meet
the same goal: if it does not, l2l3 has a bug and raises ReplayMismatch
rather than report something it cannot show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

import z3

from l2l3.checking.result import CheckResult, Verdict
from l2l3.errors import QueryError, ReplayMismatch
from l2l3.model.endpoints import Endpoint, as_destination, resolve
from l2l3.model.network import Network
from l2l3.model.packet import Disposition, Packet, Trace
from l2l3.model.policy import CompiledRule, governing_rules
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import (
    Headers,
    Isolated,
    NatAs,
    NatMode,
    NetnsIsolation,
    NoLoops,
    Proto,
    Query,
    Reach,
    StackMode,
)
from l2l3.solver.encode import TRUE, Bool, in_prefix, ip_const, one_of, proto_is, val
from l2l3.solver.engine import Engine, Found, Leaf, SolverUnknown

#: Largest destination pre-image searched one address at a time.
SPLIT_LIMIT = 512


@dataclass(frozen=True, slots=True)
class _Goal:
    """A leaf predicate (symbolic) and the same predicate on a concrete trace."""

    leaf: Callable[[Leaf], Bool | None]
    trace: Callable[[Trace], bool]


def _origin(src: Endpoint) -> Origin:
    return Origin(stack=src.stack, pod=src.pod, external=src.external)


def _header_constraints(engine: Engine, h: Headers) -> list[Bool]:
    out: list[Bool] = []
    if h.proto is not None:
        out.append(proto_is(engine.proto0, h.proto))
    if h.port is not None:
        out.append(engine.dport0 == val(h.port, 16))
    return out


def _delivered_to(dst: Endpoint, leaf_to: str | None, disp: Disposition) -> bool:
    if disp is not Disposition.DELIVERED:
        return False
    if dst.prefix is not None and dst.stack is None and dst.external is None:
        return True  # an address literal: delivered anywhere
    if dst.external is not None:
        return leaf_to == f"external {dst.external}"
    return leaf_to == dst.stack


def _reach_goal(dst: Endpoint, q: Reach | NatAs, extra_src: IPv4Address | None = None) -> _Goal:
    via_mac = isinstance(q, Reach) and q.via_mac
    nat = q.nat if isinstance(q, Reach) else NatMode.ANY

    def flags_ok(
        routed: bool,
        natted: bool,
        sent: tuple[str | None, str | None],
        arrived: tuple[str | None, str | None],
    ) -> bool:
        if via_mac and (routed or sent != arrived or sent[1] is None):
            return False
        if nat is NatMode.WITH and not natted:
            return False
        return not (nat is NatMode.WITHOUT and natted)

    def leaf(lf: Leaf) -> Bool | None:
        if not _delivered_to(dst, lf.to, lf.disposition):
            return None
        if not flags_ok(lf.routed, lf.nat, lf.sent_macs, (lf.pkt.smac, lf.pkt.dmac)):
            return None
        if extra_src is not None:
            return lf.pkt.src != ip_const(extra_src)
        return TRUE

    def trace(t: Trace) -> bool:
        if not _delivered_to(dst, t.delivered_to, t.disposition) or t.final is None:
            return False
        if via_mac and not t.via_mac:
            return False
        if nat is NatMode.WITH and not t.nat:
            return False
        if nat is NatMode.WITHOUT and t.nat:
            return False
        return not (extra_src is not None and t.final.src == extra_src)

    return _Goal(leaf, trace)


def _any_goal(goals: list[_Goal]) -> _Goal:
    """Met when any of ``goals`` is: the disjunction, leaf by leaf."""

    def leaf(lf: Leaf) -> Bool | None:
        conds = [c for c in (g.leaf(lf) for g in goals) if c is not None]
        return z3.Or(conds) if conds else None

    return _Goal(leaf, lambda t: any(g.trace(t) for g in goals))


class Checker:
    """Evaluates queries over one network, reusing one solver."""

    def __init__(self, net: Network, *, budget: int | None = None) -> None:
        self.net = net
        self.engine = Engine(net) if budget is None else Engine(net, budget=budget)
        self.replays = 0
        self._nat_src: frozenset[IPv4Address] | None = None
        self._screen_cache: dict[tuple[object, ...], bool] = {}
        self._guards: dict[str, tuple[int, ...] | None] = {}
        self._rules_by_id: dict[int, CompiledRule] = {}

    # ------------------------------------------------------------ plumbing

    def _replay(self, src: Endpoint, found: Found, goal: _Goal) -> Trace:
        self.replays += 1
        traces = simulate(self.net, _origin(src), found.packet)
        for t in traces:
            if goal.trace(t):
                return t
        fates = "; ".join(f"{t.disposition.value} {t.delivered_to or t.reason}" for t in traces)
        raise ReplayMismatch(
            f"solver witness {found.packet} from {src.label} should end {found.leaf.disposition.value} "
            f"at {found.leaf.to or found.leaf.at}, but the simulator gives: {fates}"
        )

    def _preimage(self, stacks: set[str]) -> set[IPv4Address]:
        """Destinations a packet can be sent to and end up delivered into ``stacks``.

        Delivery needs the destination to be a local address of the receiver,
        and only DNAT changes a destination; so the pre-image is those
        addresses plus, to a fixpoint, every VIP with a backend among them.
        """
        addrs = {a for s in stacks for a in self.net.stacks[s].local_addrs}
        changed = True
        while changed:
            changed = False
            for st in self.net.stacks.values():
                for d in st.dnats:
                    if d.vip not in addrs and any(b.ip in addrs for b in d.backends):
                        addrs.add(d.vip)
                        changed = True
        return addrs

    def _search(
        self,
        src: Endpoint,
        goal: _Goal,
        constraints: list[Bool],
        targets: set[str] | None = None,
        members: list[Endpoint] | None = None,
    ) -> Trace | None:
        """A replayed trace of a packet from ``src`` meeting ``goal``, or None.

        With receiving stacks known, the destination can only be one of their
        pre-image (see :meth:`_preimage`); when that set is small, the search
        runs once per destination address, with everything else symbolic.
        """
        dsts: list[IPv4Address | None] = [None]  # None: the destination stays symbolic
        if targets is not None:
            pre = self._preimage(targets)
            if len(pre) <= SPLIT_LIMIT:
                dsts = [*sorted(pre)]
            else:
                constraints = [*constraints, one_of(self.engine.dst0, pre)]
        for dst in dsts:
            grouped = members is not None and len(members) > 1
            found = self.engine.search(
                stack=src.stack,
                pod=src.pod,
                external=src.external,
                src=None if grouped else src.src,
                srcs=[m.src for m in members if m.src is not None] if grouped and members else None,
                dst=dst,
                constraints=constraints,
                goal=goal.leaf,
            )
            if found:
                sender = src
                if grouped and members:  # replay from the member that owns the address
                    sender = next(m for m in members if m.src == found[0].packet.src)
                return self._replay(sender, found[0], goal)
        return None

    def _source_classes(self, srcs: list[Endpoint], avoid: set[str]) -> list[list[Endpoint]]:
        """Senders grouped into classes that behave alike, each searched once.

        Two pods are alike when swapping them changes nothing but their own
        address: netns pods of one node, on one bridge, with the same routes,
        namespace and labels (so the same policies), none of them a receiver
        of the query. Anything else is a class of its own. Whatever the
        grouping, every witness is replayed from the pod that owns its source
        address, so a wrong grouping fails loudly instead of passing quietly.
        """
        classes: dict[object, list[Endpoint]] = {}
        alone: list[list[Endpoint]] = []
        for s in srcs:
            info = self.net.pods.get(s.pod) if s.pod else None
            if (
                info is None
                or info.pod.mode is not StackMode.NETNS
                or s.stack in avoid
                or s.src is None
                or info.pod.ip is None
            ):
                alone.append([s])
                continue
            p = info.pod
            prefixlen = p.ip.network.prefixlen if p.ip is not None else 32
            key = (info.node, p.bridge, p.routes, p.namespace, p.labels, prefixlen)
            classes.setdefault(key, []).append(s)
        return alone + list(classes.values())

    # ------------------------------------------------------- policy screen

    def _nat_sources(self) -> frozenset[IPv4Address]:
        """Every address a NAT rule anywhere can write into a packet's source.

        SNAT writes its ``to`` or an address of the stack it runs on; HNS
        OutBoundNAT writes an address of its node (:func:`outbound_nat_source`).
        Only these rules change a source on the way (the engines change it
        nowhere else), so a packet arrives with its original source or one of
        these.
        """
        if self._nat_src is None:
            out: set[IPv4Address] = set()
            for st in self.net.stacks.values():
                if st.snats or st.outbound_nats:
                    out |= st.local_addrs
                out |= {r.to for r in st.snats if r.to is not None}
            self._nat_src = frozenset(out)
        return self._nat_src

    def _arriving_sources(self, srcs: list[Endpoint]) -> frozenset[IPv4Address] | None:
        """The source addresses a packet from any of ``srcs`` can arrive with; None if unbounded."""
        out: set[IPv4Address] = set(self._nat_sources())
        for s in srcs:
            if s.src is not None and s.external is None:
                out.add(s.src)
            elif s.stack is not None and s.external is None:
                out |= self.net.stacks[s.stack].local_addrs  # the stack picks one of its own
            else:
                return None  # an external sends from any address of its prefix
        return frozenset(out)

    def _refuses_all(
        self, d: Endpoint, sources: frozenset[IPv4Address] | None, sender_stacks: set[str | None]
    ) -> bool:
        """d's ingress policy refuses every packet that can arrive from ``sources``.

        A sound shortcut, no search: it holds when d is a pod with its own
        stack, entered only through its own interfaces (so every delivery
        into it passes d's ingress policy, see Engine._deliver), none of the
        senders lives in that stack, and no allow rule governing d admits
        any address in ``sources``, whatever the port (ports are ignored,
        which only makes the test stricter).
        """
        if sources is None or d.pod is None or d.stack is None or d.prefix is not None:
            return False
        if d.stack in sender_stacks:
            return False
        rules = self._guarded_by(d.pod, d.stack)
        if rules is None:
            return False
        key = (sources, rules)
        hit = self._screen_cache.get(key)
        if hit is None:
            hit = self._screen_cache[key] = not any(self._rules_by_id[r].peers.meets(sources) for r in rules)
        return hit

    def _guarded_by(self, pod: str, stack: str) -> tuple[int, ...] | None:
        """Ids of the ingress rules every delivery into ``pod``'s own stack passes, or None.

        None unless the pod has a stack of its own (netns), entered only
        through its own interfaces, and some policy governs its ingress.
        """
        if pod in self._guards:
            return self._guards[pod]
        out: tuple[int, ...] | None = None
        info = self.net.pods[pod]
        st = self.net.stacks[stack]
        if (
            info.pod.mode is StackMode.NETNS
            and st.kind == "pod"
            and all(i.pod == pod for i in st.ifaces.values())
        ):
            rules = governing_rules(self.net, info, "ingress")
            if rules is not None:
                out = tuple(id(r) for r in rules)
                self._rules_by_id.update((id(r), r) for r in rules)
        self._guards[pod] = out
        return out

    def _screen(self, srcs: list[Endpoint], dsts: list[Endpoint]) -> set[int]:
        """Indexes of ``dsts`` whose ingress policy refuses every packet from ``srcs``."""
        sources = self._arriving_sources(srcs)
        stacks = {s.stack for s in srcs}
        return {i for i, d in enumerate(dsts) if self._refuses_all(d, sources, stacks)}

    def _probe_packet(self, src: Endpoint, dst: Endpoint, h: Headers) -> Packet | None:
        """A typical packet (to the destination's own address) for fast paths and explanations."""
        if dst.address is None:
            return None
        proto = h.proto or (Proto.TCP if h.port is not None else Proto.ICMP)
        s = src.src or IPv4Address(0)
        if src.src is None and src.stack is not None:
            st = self.net.stacks[src.stack]
            r = self.net.lookup(st, dst.address)
            a = st.primary_addr(r.dev) if r else None
            s = a or s
        if src.src is None and src.external is not None:
            ext = self.net.externals[src.external]
            s = (
                next(
                    (a for a in ext.prefix.hosts() if self.net.external_owner(a) == ext.name),
                    ext.prefix.network_address,
                )
                if ext.prefix.prefixlen < 31
                else ext.prefix.network_address
            )
        return Packet(
            src=s,
            dst=dst.address,
            proto=proto,
            sport=0 if proto == Proto.ICMP else 40000,
            dport=0 if proto == Proto.ICMP else (h.port or 80),
        )

    def _typical_trace(self, src: Endpoint, dst: Endpoint, h: Headers) -> Trace | None:
        pkt = self._probe_packet(src, dst, h)
        if pkt is None:
            return None
        traces = simulate(self.net, _origin(src), pkt)
        return traces[0] if traces else None

    def _dst_constraints(self, dst: Endpoint) -> list[Bool]:
        if dst.prefix is not None and dst.stack is None and dst.external is None:
            return [in_prefix(self.engine.dst0, dst.prefix)]
        return []

    # -------------------------------------------------------------- queries

    def evaluate(self, q: Query) -> CheckResult:
        try:
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
        except z3.Z3Exception as e:  # a resource limit inside z3
            return CheckResult(q, Verdict.UNKNOWN, f"gave up: z3 error {e}")
        raise QueryError(f"unsupported query {q!r}")

    def _pairs(self, a: list[Endpoint], b: list[Endpoint]) -> list[tuple[Endpoint, Endpoint]]:
        return [(s, d) for s in a for d in b if not s.same_as(d)]

    def _reach(self, q: Reach) -> CheckResult:
        pairs = self._pairs(resolve(self.net, q.src), as_destination(self.net, q.dst))
        if not pairs:
            return CheckResult(
                q, Verdict.HOLDS, "holds vacuously: the endpoints name no source/destination pair"
            )
        first: Trace | None = None
        for s, d in pairs:
            goal = _reach_goal(d, q)
            # fast path: a typical packet, confirmed concretely
            pkt = self._probe_packet(s, d, q.headers)
            t = None
            if pkt is not None:
                t = next((x for x in simulate(self.net, _origin(s), pkt) if goal.trace(x)), None)
            refused = t is None and bool(self._screen([s], [d]))
            if t is None and not refused:
                t = self._search(
                    s,
                    goal,
                    _header_constraints(self.engine, q.headers) + self._dst_constraints(d),
                    _stack_targets([d]),
                )
            if t is None:
                typical = self._typical_trace(s, d, q.headers)
                why = f": {typical.reason}" if typical is not None and typical.reason else ""
                if refused and not why:
                    why = f": {d.label}'s ingress policy admits no source address it can arrive with"
                extra = _flags_note(q)
                return CheckResult(
                    q,
                    Verdict.VIOLATED,
                    f"no packet from {s.label} reaches {d.label}{extra}; a typical one dies{why}"
                    if why
                    else f"no packet from {s.label} reaches {d.label}{extra}",
                    witness=typical,
                    pairs=len(pairs),
                )
            first = first or t
        return CheckResult(
            q,
            Verdict.HOLDS,
            f"all {len(pairs)} source/destination pairs reach (witness: the first)",
            witness=first,
            pairs=len(pairs),
        )

    def _no_reach(self, q: Reach) -> CheckResult:
        srcs = resolve(self.net, q.src)
        dsts = as_destination(self.net, q.dst)
        n = _pair_count(srcs, dsts)
        cons = _header_constraints(self.engine, q.headers)
        receivers = {d.stack for d in dsts if d.stack is not None}
        refused = self._screen(srcs, dsts)
        open_dsts = [d for i, d in enumerate(dsts) if i not in refused]
        for members in self._source_classes(srcs, receivers) if open_dsts else []:
            s = members[0]
            own = {m.key for m in members}
            targets = [d for d in open_dsts if d.key not in own]
            if not targets:
                continue
            # one search per class of sources, towards every destination at
            # once (an address literal constrains the packet, so it goes alone)
            groups = [[d] for d in targets if d.prefix is not None] + [
                [d for d in targets if d.prefix is None]
            ]
            for group in groups:
                if not group:
                    continue
                t = self._search(
                    s,
                    _any_goal([_reach_goal(d, q) for d in group]),
                    cons + self._dst_constraints(group[0]),
                    _stack_targets(group),
                    members,
                )
                if t is not None:
                    who = t.hops[0].at if t.hops else s.label
                    return CheckResult(
                        q, Verdict.VIOLATED, f"{who} reaches {t.delivered_to}", witness=t, pairs=n
                    )
        if n == 0:
            return CheckResult(
                q, Verdict.HOLDS, "holds vacuously: the endpoints name no source/destination pair"
            )
        how = ""
        if refused:
            how = (
                f" ({len(refused)} of {len(dsts)} destinations refuse, by ingress policy, "
                "every source address a packet from the senders can arrive with)"
            )
        return CheckResult(
            q, Verdict.HOLDS, f"proved: none of {n} pairs has a packet that gets through{how}", pairs=n
        )

    def _isolated(self, q: Isolated) -> CheckResult:
        pairs = 0
        for a, b in ((q.a, q.b), (q.b, q.a)):
            r = self._no_reach(Reach(src=a, dst=b, negated=True, headers=q.headers))
            if r.status is not Verdict.HOLDS:
                return CheckResult(q, r.status, r.explanation, r.witness, pairs=r.pairs)
            pairs += r.pairs
        if pairs == 0:
            return CheckResult(
                q, Verdict.HOLDS, "holds vacuously: the endpoints name no source/destination pair"
            )
        return CheckResult(
            q, Verdict.HOLDS, f"proved: no packet crosses in either direction ({pairs} pairs)", pairs=pairs
        )

    def _nat_as(self, q: NatAs) -> CheckResult:
        pairs = self._pairs(resolve(self.net, q.src), as_destination(self.net, q.dst))
        if not pairs:
            return CheckResult(q, Verdict.VIOLATED, "no source/destination pair, so nothing arrives at all")
        cons = _header_constraints(self.engine, q.headers)
        first = None
        for s, d in pairs:
            got = self._search(s, _reach_goal(d, q), cons + self._dst_constraints(d), _stack_targets([d]))
            if got is None:
                typical = self._typical_trace(s, d, q.headers)
                why = f": {typical.reason}" if typical is not None and typical.reason else ""
                return CheckResult(
                    q,
                    Verdict.VIOLATED,
                    f"{s.label} cannot reach {d.label} at all{why}",
                    typical,
                    pairs=len(pairs),
                )
            first = first or got
            bad = self._search(
                s, _reach_goal(d, q, extra_src=q.ip), cons + self._dst_constraints(d), _stack_targets([d])
            )
            if bad is not None:
                assert bad.final is not None
                return CheckResult(
                    q,
                    Verdict.VIOLATED,
                    f"{s.label} reaches {d.label} with source {bad.final.src}, not {q.ip}",
                    bad,
                    pairs=len(pairs),
                )
        return CheckResult(
            q, Verdict.HOLDS, f"proved: every delivered packet arrives from {q.ip}", first, pairs=len(pairs)
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
            all_pods = sorted(self.net.pods, key=lambda p: (self.net.pods[p].node != here, p))
            target = resolve(self.net, _podref(b))[0]
            for a in all_pods:
                if a == b:
                    continue
                src = resolve(self.net, _podref(a))[0]

                def leaf(lf: Leaf, target: Endpoint = target) -> Bool | None:
                    ok = lf.disposition is Disposition.DELIVERED and lf.to == target.stack
                    return TRUE if ok and (target.iface is None or lf.entered_by != target.iface) else None

                def trace(t: Trace, target: Endpoint = target) -> bool:
                    ok = t.disposition is Disposition.DELIVERED and t.delivered_to == target.stack
                    return ok and (target.iface is None or t.entered_by != target.iface)

                assert target.stack is not None
                t = self._search(src, _Goal(leaf, trace), [], {target.stack})
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
        senders: list[Endpoint] = []
        for sid, st in sorted(self.net.stacks.items()):
            if st.kind != "gateway":
                senders.append(Endpoint(sid, stack=sid))
        senders += [Endpoint(f"external {e}", external=e) for e in sorted(self.net.externals)]
        goal = _Goal(
            lambda lf: TRUE if lf.disposition is Disposition.LOOPED else None,
            lambda t: t.disposition is Disposition.LOOPED,
        )
        for s in senders:
            t = self._search(s, goal, [])
            if t is not None:
                return CheckResult(q, Verdict.VIOLATED, f"a packet from {s.label} loops", t)
        return CheckResult(q, Verdict.HOLDS, f"proved: no packet from any of {len(senders)} senders loops")


def _pair_count(srcs: list[Endpoint], dsts: list[Endpoint]) -> int:
    """Pairs of a source and a destination that are not the same endpoint."""
    seen = Counter(s.key for s in srcs)
    return len(srcs) * len(dsts) - sum(seen[d.key] for d in dsts)


def _stack_targets(dsts: list[Endpoint]) -> set[str] | None:
    """The receiving stacks, or None when a destination is not a stack."""
    out = set()
    for d in dsts:
        if d.stack is None:
            return None
        out.add(d.stack)
    return out


def _podref(pid: str):  # type: ignore[no-untyped-def]
    from l2l3.model.types import PodRef

    node, pod = pid.split("/", 1)
    return PodRef(node=node, pod=pod)


def _flags_note(q: Reach) -> str:
    parts = []
    if q.via_mac:
        parts.append("via mac")
    if q.nat is not NatMode.ANY:
        parts.append(q.nat.value)
    if str(q.headers):
        parts.insert(0, str(q.headers))
    return f" ({' '.join(parts)})" if parts else ""


def evaluate(net: Network, q: Query) -> CheckResult:
    return Checker(net).evaluate(q)
