"""Incremental checking: change one policy, pod or node, re-answer only what it touches.

>>> import l2l3.incremental as inc
>>> s = inc.Session.from_text(open("examples/policy-enforced.l2l3").read())  # doctest: +SKIP
>>> up = s.relabel_pod("n1/web", {"app": "db"})                              # doctest: +SKIP
>>> {n: r.status.value for n, r in up.answered.items()}, up.unaffected       # doctest: +SKIP

A :class:`Session` holds the spec as written and as expanded, its
:class:`~l2l3.model.network.Network`, one :class:`~l2l3.checking.Checker` and
the last answer of each of the spec's checks. Each change patches the
network in place (:mod:`l2l3.model.update`), drops the checker's memos it
invalidates, and answers again every check that could depend on it; the
others keep their answers, with the reason they are unaffected
(:class:`Update`). The dependency rule and what each change costs are in
docs/incremental.md; tests/property/test_incremental.py compares every
answer with a fresh load of the changed spec.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, TypeVar, cast

from l2l3.checking import Checker, CheckResult, Verdict
from l2l3.checking.admitted import admission_note
from l2l3.errors import Diagnostic, QueryError, SpecError
from l2l3.model import update
from l2l3.model.base import quiet_gc
from l2l3.model.endpoints import check_query_endpoints
from l2l3.model.footprint import Footprint, affected, footprint, steering
from l2l3.model.network import Network, pod_ids
from l2l3.model.types import (
    Check,
    Connect,
    Isolated,
    LabelRef,
    NamespaceRef,
    Node,
    Pod,
    PodRef,
    Policy,
    Reach,
    Spec,
)

__all__ = ["Session", "Update"]

_F = TypeVar("_F", bound=Callable[..., Any])
#: most searches a set query is answered again with for its changed members (more: in full)
_DELTA_LIMIT = 8
#: most members with changed rules searched one by one (more: by the changed policies' selector)
ONE_BY_ONE = 4


@dataclass(frozen=True)
class Update:
    """What one change did: the checks answered again and those kept, with why."""

    change: str
    answered: dict[str, CheckResult]
    #: check name -> why nothing it can depend on changed
    unaffected: dict[str, str]
    #: non-empty when every check was answered again, and why
    everything: str = ""
    seconds: float = 0.0


def _quiet(change: _F) -> _F:
    """Run a change with the cyclic collector off (see :func:`l2l3.model.base.quiet_gc`).

    A session holds millions of objects and makes no cycles; one full
    collection during a change costs a second at 10,000 pods.
    """

    @functools.wraps(change)
    def run(*args: Any, **kw: Any) -> Any:
        with quiet_gc():
            return change(*args, **kw)

    return cast(_F, run)


class Session:
    """A spec, its network and checker, and the last answers of its checks (module docstring)."""

    def __init__(
        self,
        raw: Spec,
        spec: Spec | None = None,
        *,
        budget: int | None = None,
        time_limit: float | None = None,
    ) -> None:
        """``raw``: the spec as written (profiles not expanded); ``spec``: it expanded and validated."""
        if spec is None:
            from l2l3.model.profiles import expand

            spec = expand(raw)[0] if raw.cluster is not None else raw
        self.raw = raw
        self.spec = spec
        self.budget, self.time_limit = budget, time_limit
        self._keep: list[object] = []  # retired objects some memo still names by identity
        with quiet_gc():
            self._rebuild()

    @classmethod
    def from_text(cls, text: str, file: str = "<spec>", **kw: object) -> Session:
        from l2l3.dsl import parse

        raw = parse(text, file, expand=False, validate=False)
        return cls(raw, parse(text, file), **kw)  # type: ignore[arg-type]

    @classmethod
    def from_path(cls, path: str | Path, **kw: object) -> Session:
        return cls.from_text(Path(path).read_text(), str(path), **kw)

    # ---------------------------------------------------------------- state

    def _rebuild(self) -> None:
        self.net = Network(self.spec)
        self.checker = Checker(self.net, budget=self.budget, time_limit=self.time_limit)
        self._steer: Counter[IPv4Address] = Counter()
        self._steer_of: dict[str, set[IPv4Address]] = {}
        self._dnat_of: dict[str, list[tuple[IPv4Address, IPv4Address]]] = {}
        self._account(set(self.net.stacks))
        self.answers: dict[str, CheckResult] = {}
        self.footprints: dict[str, Footprint] = {}
        for c in self.spec.checks:
            self._answer(c)

    def _account(self, stacks: set[str]) -> None:
        """Refresh the steering addresses and DNAT pairs of ``stacks`` (gone ones drop out)."""
        for sid in stacks:
            self._steer.subtract(self._steer_of.pop(sid, set()))
            self._dnat_of.pop(sid, None)
            st = self.net.stacks.get(sid)
            if st is None:
                continue
            self._steer_of[sid] = mine = steering(st)
            self._steer.update(mine)
            pairs = [(d.vip, b.ip) for d in st.dnats for b in d.backends]
            if pairs:
                self._dnat_of[sid] = pairs
        self._dnats = [p for pairs in self._dnat_of.values() for p in pairs]

    def _steers(self, addrs: list[IPv4Network]) -> bool:
        for n in addrs:
            if n.prefixlen == 32:
                if self._steer.get(n.network_address, 0) > 0:
                    return True
            elif any(a in n for a, k in self._steer.items() if k > 0):
                return True
        return False

    def _answer(self, c: Check, r: CheckResult | None = None, fp: Footprint | None = None) -> CheckResult:
        """Record the answer of ``c`` (``r``, or the checker's) and its footprint (``fp``, or computed)."""
        if r is None:
            r = self.checker.evaluate(c.query)
        why = r.explanation + admission_note(self.net, r.witness)  # as l2l3.check words it
        out = CheckResult(c.query, r.status, why, r.witness, c, r.pairs, r.warnings, r.answer)
        self.answers[c.name] = out
        self.footprints[c.name] = fp if fp is not None else footprint(self.net, c.query, self._dnats)
        return out

    def _delta(self, c: Check, was: Footprint, now: Footprint, d: update.Delta) -> CheckResult | None:
        """A ``no reach``/``isolated`` between sets that held, answered for its new pairs only.

        When nothing but the sets' members changed for the pairs it had
        (``affected`` of its old footprint, endpoints aside, is empty) those
        pairs still hold; the pairs with a new source or destination are
        searched, one new member at a time. None: answer it in full.
        """
        q = c.query
        if isinstance(q, Connect) or not (isinstance(q, Isolated) or (isinstance(q, Reach) and q.negated)):
            return None
        if self.answers[c.name].status is not Verdict.HOLDS or was.members is None:
            return None
        if now.members is None:
            return None
        # the pairs it keeps: without the members that left (their pairs are gone) and
        # without the members whose own rules changed (their pairs are searched again)
        gone: set[str] = set()
        for (a0, b0), (a1, b1) in zip(was.members, now.members, strict=True):
            gone |= (a0 - a1) | (b0 - b1)
        dnatted = {a for pair in self._dnats for a in pair}
        ips = {i.pod.ip.ip for i in d.pods if i.id in gone and i.pod.ip is not None} - dnatted
        kept = replace(
            was,
            refs=(),
            senders=was.senders - gone - d.egress,
            receivers=was.receivers - gone - d.ingress,
            dst_addrs=was.dst_addrs - ips,
        )
        if affected(kept, d):
            return None
        legs = [(q.a, q.b), (q.b, q.a)] if isinstance(q, Isolated) else [(q.src, q.dst)]
        total, searched = 0, 0
        for (src, dst), (a0, b0), (a1, b1) in zip(legs, was.members, now.members, strict=True):
            leg = q if isinstance(q, Reach) else Reach(src=src, dst=dst, negated=True, headers=q.headers)
            from_src = _members_subs(leg, "src", src, a1 - a0, a1 & d.egress - (a1 - a0), d)
            from_dst = _members_subs(leg, "dst", dst, b1 - b0, b1 & d.ingress - (b1 - b0), d)
            if from_src is None or from_dst is None or len(from_src) + len(from_dst) > _DELTA_LIMIT:
                return None
            subs = from_src + from_dst
            n = len(a1) * len(b1) - len(a1 & b1)  # plan.pair_count: set ends leave self pairs out
            for sub in subs:
                r = self.checker.evaluate(sub)
                searched += 1
                if r.status is not Verdict.HOLDS:
                    return replace(r, query=q, pairs=n)
            total += n
        if total == 0:
            return None  # vacuous now: worded as a fresh answer words it
        return CheckResult(
            q,
            Verdict.HOLDS,
            f"proved: none of {total} pairs has a packet that gets through (searched again for the "
            f"changed members only, {searched} search(es); the other pairs are unchanged by this change)",
            pairs=total,
        )

    def _forget(self, d: update.Delta) -> None:
        """Drop every memo of the checker (its screen's and its engine's): a fresh checker.

        The network's own memos were patched by :mod:`l2l3.model.update`; the
        checker's are cheap to refill and belong to the checking layer, so
        they are rebuilt rather than patched one by one.
        """
        self._keep += d.retired
        self.checker = Checker(self.net, budget=self.budget, time_limit=self.time_limit)

    def _plan(self, d: update.Delta) -> tuple[list[Check], dict[str, str]]:
        """The checks ``d`` can affect, and why each other one is not (call after the patch)."""
        self._forget(d)
        if d.addrs and not d.everything and self._steers(d.addrs):  # as the network was
            d.everything = "a changed address is a next hop, tunnel end, neighbour or NAT source"
        self._account(d.stacks)
        if d.addrs and not d.everything and self._steers(d.addrs):  # as it is now
            d.everything = "a changed address is a next hop, tunnel end, neighbour or NAT source"
        redo, kept = [], {}
        for c in self.spec.checks:
            if affected(self.footprints[c.name], d):
                redo.append(c)
            else:
                kept[c.name] = _unaffected_note(d)
        # their new footprints; resolving them raises QueryError for a vanished endpoint
        self._next = {c.name: footprint(self.net, c.query, self._dnats) for c in redo}
        for c in redo:
            if self._next[c.name].whole:
                check_query_endpoints(self.net, c.query)
        return redo, kept

    def _settle(
        self, change: str, d: update.Delta, redo: list[Check], kept: dict[str, str], t0: float
    ) -> Update:
        answered = {}
        for c in redo:
            now = self._next[c.name]
            answered[c.name] = self._answer(c, self._delta(c, self.footprints[c.name], now, d), now)
        return Update(change, answered, kept, d.everything, time.process_time() - t0)

    # -------------------------------------------------------------- changes

    @_quiet
    def add_policy(self, policy: Policy | str) -> Update:
        """Add a policy (a :class:`Policy` or its text)."""
        pol = _policy(policy)
        if any((p.namespace, p.name) == (pol.namespace, pol.name) for p in self.spec.policies):
            raise _error(f"duplicate policy {pol.name} in namespace {pol.namespace}")
        return self._swap_policy(None, pol, f"add policy {pol.namespace}/{pol.name}")

    @_quiet
    def replace_policy(self, policy: Policy | str) -> Update:
        """Replace the policy of the same namespace and name."""
        pol = _policy(policy)
        return self._swap_policy(
            self._find_policy(pol.namespace, pol.name), pol, f"replace policy {pol.namespace}/{pol.name}"
        )

    @_quiet
    def remove_policy(self, namespace: str, name: str) -> Update:
        return self._swap_policy(
            self._find_policy(namespace, name), None, f"remove policy {namespace}/{name}"
        )

    def _find_policy(self, namespace: str, name: str) -> Policy:
        for p in self.spec.policies:
            if (p.namespace, p.name) == (namespace, name):
                return p
        raise _error(f"no policy {name} in namespace {namespace}")

    def _swap_policy(self, old: Policy | None, new: Policy | None, change: str) -> Update:
        t0 = time.process_time()
        pols = list(self.spec.policies)
        if old is None:
            assert new is not None
            pols.append(new)
        else:
            i = pols.index(old)
            pols[i : i + 1] = [new] if new is not None else []
        raw_pols = [
            p for p in self.raw.policies if old is None or (p.namespace, p.name) != (old.namespace, old.name)
        ]
        if new is not None:
            k = next(
                (
                    i
                    for i, p in enumerate(self.raw.policies)
                    if old is not None and p.name == old.name and p.namespace == old.namespace
                ),
                len(raw_pols),
            )
            raw_pols.insert(k, new)
        self.raw = replace(self.raw, policies=tuple(raw_pols))
        self.spec = replace(self.spec, policies=tuple(pols))
        d = update.replace_policy(self.net, self.spec, old, new)
        redo, kept = self._plan(d)
        return self._settle(change, d, redo, kept, t0)

    @_quiet
    def add_pod(self, node: str, pod: Pod | str) -> Update:
        """Add a pod (a :class:`Pod` or its text, ``pod NAME ip …``) to ``node``, as written."""
        p = _pod(node, pod)
        raw = self._raw_node(node)
        return self._swap_node(replace(raw, pods=(*raw.pods, p)), f"add pod {node}/{p.name}")

    @_quiet
    def remove_pod(self, pod_id: str) -> Update:
        """Remove pod ``NODE/POD`` (or ``NODE/NS/POD``)."""
        raw, i = self._raw_pod(pod_id)
        return self._swap_node(replace(raw, pods=raw.pods[:i] + raw.pods[i + 1 :]), f"remove pod {pod_id}")

    @_quiet
    def relabel_pod(self, pod_id: str, labels: dict[str, str] | tuple[tuple[str, str], ...]) -> Update:
        """Give pod ``pod_id`` these labels (all of them: the old ones are replaced)."""
        t0 = time.process_time()
        raw, i = self._raw_pod(pod_id)
        lab = tuple(sorted(labels.items())) if isinstance(labels, dict) else tuple(labels)
        info = self.net.pods[pod_id]
        self.raw = _with_pod(self.raw, raw.name, i, replace(raw.pods[i], labels=lab))
        node = next(n for n in self.spec.nodes if n.name == raw.name)
        k = next(
            j for j, p in enumerate(node.pods) if (p.name, p.namespace) == (info.pod.name, info.pod.namespace)
        )
        self.spec = _with_pod(self.spec, raw.name, k, replace(node.pods[k], labels=lab))
        d = update.relabel_pod(self.net, self.spec, pod_id)
        redo, kept = self._plan(d)
        return self._settle(f"relabel pod {pod_id}", d, redo, kept, t0)

    @_quiet
    def replace_node(self, node: Node | str) -> Update:
        """Replace the node of that name with ``node`` as written (a :class:`Node` or its text)."""
        n = node if isinstance(node, Node) else cast(Node, _parse_one(node, "nodes"))
        old = self._raw_node(n.name)
        shorthand = (old.os, old.ip, old.segment, old.subnet)
        if shorthand != (n.os, n.ip, n.segment, n.subnet):
            return self._full(
                replace(self.raw, nodes=tuple(n if x is old else x for x in self.raw.nodes)),
                f"replace node {n.name}",
                "the node's address or pod subnet changed (every peer's routes)",
            )
        return self._swap_node(n, f"replace node {n.name}")

    def _raw_node(self, name: str) -> Node:
        for n in self.raw.nodes:
            if n.name == name:
                return n
        raise _error(f"no node {name}")

    def _raw_pod(self, pod_id: str) -> tuple[Node, int]:
        info = self.net.pods.get(pod_id)
        if info is None:
            raise _error(f"no pod {pod_id}")
        raw = self._raw_node(info.node)
        ids = [
            i for i, p in enumerate(raw.pods) if (p.name, p.namespace) == (info.pod.name, info.pod.namespace)
        ]
        return raw, ids[0]

    def _swap_node(self, raw_node: Node, change: str) -> Update:
        t0 = time.process_time()
        if self.spec.services or any(c.host_port for i in self.net.pods.values() for c in i.pod.ports):
            nodes = tuple(raw_node if n.name == raw_node.name else n for n in self.raw.nodes)
            return self._full(
                replace(self.raw, nodes=nodes),
                change,
                "Services or host ports (kube-proxy's rules follow every pod)",
            )
        expanded = update.expand_node(self.raw, raw_node)
        self._validate(expanded)
        old_raw, old_spec = self.raw, self.spec
        self.raw = replace(
            self.raw, nodes=tuple(raw_node if n.name == raw_node.name else n for n in self.raw.nodes)
        )
        self.spec = replace(
            self.spec, nodes=tuple(expanded if n.name == raw_node.name else n for n in self.spec.nodes)
        )
        d = update.replace_node(self.net, self.spec, raw_node.name)
        try:
            redo, kept = self._plan(d)  # the checks kept resolve as before
        except QueryError as e:
            back = update.replace_node(self.net, old_spec, raw_node.name)
            self.raw, self.spec = old_raw, old_spec
            self._plan(back)
            raise _error(f"{change}: {e}") from None
        return self._settle(change, d, redo, kept, t0)

    def _validate(self, node: Node) -> None:
        """What a fresh load would reject in the changed node (the rest was validated before)."""
        from l2l3.dsl.resolve import diagnose

        mini = replace(self.spec, nodes=(node,), checks=(), services=())
        errors = [
            x for x in diagnose(mini, [], has_cluster=self.raw.cluster is not None) if x.severity == "error"
        ]
        old = next(n for n in self.spec.nodes if n.name == node.name)
        mine = {node.name} | {self.net.pods[p].stack for p in pod_ids(old)}
        for p in node.pods:
            if p.ip is None:
                continue
            other = [i for i in self.net.owners.get(p.ip.ip, []) if i.stack not in mine]
            if other:
                errors.append(Diagnostic(p.span, f"pod {p.name} ip {p.ip.ip} is already used by {other[0]}"))
        if errors:
            raise SpecError(errors)

    def _full(self, raw: Spec, change: str, why: str) -> Update:
        """Load ``raw`` afresh (validated) and answer every check again."""
        from l2l3.dsl.resolve import diagnose
        from l2l3.model.profiles import expand

        t0 = time.process_time()
        spec = expand(raw)[0] if raw.cluster is not None else raw
        errors = [x for x in diagnose(spec, [], has_cluster=raw.cluster is not None) if x.severity == "error"]
        if errors:
            raise SpecError(errors)
        self.raw, self.spec = raw, spec
        self._rebuild()
        return Update(change, dict(self.answers), {}, why, time.process_time() - t0)


def _members_subs(
    leg: Reach,
    end: str,
    ref: object,
    joined: set[str] | frozenset[str],
    ruled: set[str] | frozenset[str],
    d: update.Delta,
) -> list[Reach] | None:
    """Sub-queries of ``leg`` covering every pair of its ``end`` members ``joined`` or ``ruled``.

    A joined member is named alone; members whose rules changed, when many,
    as the changed policies' selector in the end's namespace (a subset of a
    ``namespace`` end); None when that cannot be said exactly.
    """
    out = [_with_end(leg, end, _pod_ref(p)) for p in sorted(joined)]
    if not ruled:
        return out
    if len(ruled) <= ONE_BY_ONE:
        return out + [_with_end(leg, end, _pod_ref(p)) for p in sorted(ruled)]
    if not isinstance(ref, NamespaceRef):
        return None
    sels = {sel for ns, sel in d.selectors if ns == ref.namespace}
    if not sels:
        return None
    return out + [_with_end(leg, end, LabelRef(selector=sel, namespace=ref.namespace)) for sel in sels]


def _with_end(leg: Reach, end: str, ref: PodRef | LabelRef) -> Reach:
    return replace(leg, src=ref) if end == "src" else replace(leg, dst=ref)


def _pod_ref(pid: str) -> PodRef:
    node, rest = pid.split("/", 1)
    return PodRef(node=node, pod=rest)


def _with_pod(spec: Spec, node: str, i: int, pod: Pod) -> Spec:
    """``spec`` with pod ``i`` of ``node`` replaced by ``pod``."""
    nodes = []
    for n in spec.nodes:
        if n.name == node:
            n = replace(n, pods=(*n.pods[:i], pod, *n.pods[i + 1 :]))
        nodes.append(n)
    return replace(spec, nodes=tuple(nodes))


def _unaffected_note(d: update.Delta) -> str:
    parts = ["its endpoints name no changed pod or node"]
    if d.addrs:
        shown = ", ".join(str(a) for a in d.addrs[:3]) + (" …" if len(d.addrs) > 3 else "")
        parts.append(f"no packet meeting its goal carries a changed destination ({shown})")
    if d.ingress or d.egress:
        parts.append("no pod it sends from or delivers to has changed rules")
    return "; ".join(parts)


def _error(message: str) -> SpecError:
    from l2l3.model.types import Span

    return SpecError([Diagnostic(Span("<change>", 1, 1), message)])


def _parse_one(text: str, what: str) -> object:
    from l2l3.dsl import parse

    got = getattr(
        parse(text if text.endswith("\n") else text + "\n", "<change>", expand=False, validate=False), what
    )
    if len(got) != 1:
        raise _error(f"expected one {what[:-1]}, got {len(got)}")
    return got[0]


def _policy(p: Policy | str) -> Policy:
    return p if isinstance(p, Policy) else _parse_one(p, "policies")  # type: ignore[return-value]


def _pod(node: str, p: Pod | str) -> Pod:
    if isinstance(p, Pod):
        return p
    n = _parse_one(f"node {node} linux {{\n    {p.strip()}\n}}\n", "nodes")
    pods = n.pods  # type: ignore[attr-defined]
    if len(pods) != 1:
        raise _error(f"expected one pod, got {len(pods)}")
    return pods[0]  # type: ignore[no-any-return]
