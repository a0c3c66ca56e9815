"""A semantic diff of two networks: which pairs (and ports) gained or lost reachability.

For every pod both networks have, towards every other such pod and every
external both declare, ``reach SRC -> DST`` is asked of each network with
no header constraint and once per service (``tcp/80``, ``udp/53``) that
either spec mentions: a policy's port, a container port, a filter's port, a
DNAT's port. A pair/service whose verdict differs is *gained* (the new
network reaches, with the replayed witness) or *lost* (with the packet that
now dies, where and why); a query unknown on either side is listed as such
and never counted as equal. Checks of the same name in both specs are
compared too. This is the differential question of Batfish's differential
reachability and of netpol-analyzer's ``diff``, answered by the checker.

Cost: pods² × (1 + services) queries per network, so a large cluster wants
``services`` narrowed (``l2l3 diff --service``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from l2l3.checking import Checker, CheckResult, Verdict
from l2l3.model.network import Network
from l2l3.model.packet import Trace
from l2l3.model.types import Headers, Proto, Reach, Spec

__all__ = ["CheckChange", "PairChange", "SpecDiff", "Service", "diff_networks", "mentioned_services"]

#: how many services :func:`mentioned_services` keeps (the lowest numbers) unless told otherwise
MAX_SERVICES = 12


@dataclass(frozen=True, slots=True, order=True)
class Service:
    """A protocol and port (``tcp/80``), or any packet at all (``proto`` None)."""

    proto: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        if self.proto is None:
            return "any"
        return self.proto if self.port is None else f"{self.proto}/{self.port}"

    @classmethod
    def parse(cls, text: str) -> Service:
        """``tcp/80``, ``udp/53``, ``icmp`` or ``any``; raises ValueError."""
        t = text.strip().lower()
        if t == "any":
            return cls()
        proto, _, port = t.partition("/")
        if proto not in ("tcp", "udp", "sctp", "icmp"):
            raise ValueError(f"not a service: {text!r} (write tcp/80, udp/53, icmp or any)")
        if not port:
            return cls(proto)
        if proto == "icmp" or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"not a service: {text!r} (write tcp/80, udp/53, icmp or any)")
        return cls(proto, int(port))

    def headers(self) -> Headers:
        """The query headers that ask for this service."""
        return Headers(proto=Proto[self.proto.upper()] if self.proto else None, port=self.port)


@dataclass(frozen=True, slots=True)
class PairChange:
    """One source/destination/service whose answer differs between the networks."""

    src: str
    dst: str
    service: Service
    old: Verdict
    new: Verdict
    #: the new network's trace: the delivered packet (gained) or where it now dies (lost)
    witness: Trace | None = None
    explanation: str = ""

    @property
    def kind(self) -> str:
        """``gained``, ``lost`` or ``unknown`` (one side could not be decided)."""
        if Verdict.UNKNOWN in (self.old, self.new):
            return "unknown"
        return "gained" if self.new is Verdict.HOLDS else "lost"

    def to_json(self) -> dict[str, Any]:
        """``{"from", "to", "service", "kind", "old", "new", "explanation", "witness"}``."""
        return {
            "from": self.src,
            "to": self.dst,
            "service": str(self.service),
            "kind": self.kind,
            "old": self.old.value,
            "new": self.new.value,
            "explanation": self.explanation,
            "witness": self.witness.to_json() if self.witness is not None else None,
        }


@dataclass(frozen=True, slots=True)
class CheckChange:
    """A check of one name whose verdict differs between the specs."""

    name: str
    old: Verdict
    new: Verdict
    new_explanation: str = ""


@dataclass
class SpecDiff:
    """What differs between two networks; :attr:`equal` when nothing does."""

    queries: int = 0
    sources: int = 0
    destinations: int = 0
    services: list[Service] = field(default_factory=list)
    changes: list[PairChange] = field(default_factory=list)
    checks: list[CheckChange] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[PairChange]:
        """The changes of one kind (``gained``, ``lost``, ``unknown``)."""
        return [c for c in self.changes if c.kind == kind]

    @property
    def equal(self) -> bool:
        """No pair, check or endpoint differs and nothing was left undecided."""
        return not (self.changes or self.checks or self.only_old or self.only_new)

    @property
    def exit_status(self) -> int:
        """0 equal, 1 some difference is known, 3 only undecided queries stand in the way."""
        if self.only_old or self.only_new or self.checks or self.of_kind("gained") or self.of_kind("lost"):
            return 1
        return 3 if self.changes else 0


def mentioned_services(specs: Iterable[Spec], limit: int = MAX_SERVICES) -> list[Service]:
    """``any``, then each protocol/port the specs' policies, pods, filters and DNATs name (at most ``limit``)."""
    found: set[Service] = set()
    for s in specs:
        for pol in s.policies:
            for rule in (*pol.ingress, *pol.egress):
                for ps in rule.ports:
                    if isinstance(ps.port, int):
                        found.add(Service(str(ps.proto), ps.port))
        for node in s.nodes:
            for pod in node.pods:
                found.update(Service(str(cp.proto), cp.port) for cp in pod.ports)
            for f in node.filters:
                if f.port is not None and f.proto is not None:
                    found.add(Service(str(f.proto), f.port))
            found.update(Service(str(d.proto), d.port) for d in node.dnats if d.port and d.proto)
    return [Service(), *sorted(found, key=lambda s: (s.port or 0, s.proto or ""))[:limit]]


def _endpoints(net: Network) -> tuple[list[str], list[str]]:
    """The pods (as sources and destinations) and externals (destinations) of ``net``, as endpoint text."""
    return sorted(net.pods), [f"external {n}" for n in sorted(net.externals)]


def diff_networks(
    old: Network,
    new: Network,
    *,
    services: list[Service] | None = None,
    old_checks: tuple[CheckResult, ...] = (),
    new_checks: tuple[CheckResult, ...] = (),
    budget: int | None = None,
    time_limit: float | None = None,
    on_query: Callable[[], None] | None = None,
) -> SpecDiff:
    """Compare ``old`` with ``new`` over the endpoints both have (see the module's docstring)."""
    from l2l3.api import parse_endpoint

    svc = services if services is not None else mentioned_services([old.spec, new.spec])
    old_pods, old_ext = _endpoints(old)
    new_pods, new_ext = _endpoints(new)
    pods = sorted(set(old_pods) & set(new_pods))
    dsts = pods + sorted(set(old_ext) & set(new_ext))
    out = SpecDiff(services=list(svc), sources=len(pods), destinations=len(dsts))
    out.only_old = sorted(set(old_pods + old_ext) - set(new_pods + new_ext))
    out.only_new = sorted(set(new_pods + new_ext) - set(old_pods + old_ext))
    ends = {e: parse_endpoint(e) for e in dsts}
    a = Checker(old, budget=budget, time_limit=time_limit)
    b = Checker(new, budget=budget, time_limit=time_limit)
    for src in pods:
        for dst in dsts:
            if dst == src:
                continue
            for s in svc:
                q = Reach(src=ends[src], dst=ends[dst], headers=s.headers())
                ra, rb = a.evaluate(q), b.evaluate(q)
                out.queries += 1
                if on_query is not None:
                    on_query()
                if ra.status is rb.status and ra.status is not Verdict.UNKNOWN:
                    continue
                out.changes.append(PairChange(src, dst, s, ra.status, rb.status, rb.witness, rb.explanation))
    olds = {r.check.name: r for r in old_checks if r.check is not None}
    for r in new_checks:
        if r.check is not None and r.check.name in olds and olds[r.check.name].status is not r.status:
            out.checks.append(CheckChange(r.check.name, olds[r.check.name].status, r.status, r.explanation))
    return out
