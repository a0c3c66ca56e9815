"""What probe outcomes mean for a query: the kernel's verdict on a check.

:func:`check_probes` picks the probes that measure a query (per endpoint
pair); :func:`kernel_verdict` judges the query over their answers, with
:func:`outcome_meets` reading the query's :class:`~l2l3.model.goal.Goal` on one outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2l3.kernel.exchange import ExchangeAnswer
from l2l3.kernel.probes import Answer, Outcome, Probe, default_protos, source_for
from l2l3.kernel.realization import Realization, external_address
from l2l3.model.endpoints import Endpoint
from l2l3.model.goal import Goal, connect_goal, delivery_goal
from l2l3.model.packet import Packet
from l2l3.model.types import Connect, NatAs, NatMode, Proto, Reach


@dataclass
class PairResult:
    """One (source, destination) pair of a check, with the probes sent."""

    src: str
    dst: str
    probes: list[Probe]
    ok: bool = False  # some probe satisfied the query's conditions


@dataclass
class KernelCheck:
    """The kernel's verdict on one query, over the packets it probed."""

    status: str  # "holds" | "violated" | "not measured"
    pairs: list[PairResult]
    note: str = ""


#: What a ``connect`` probes when it names no protocol (SCTP exchanges are not run).
EXCHANGE_PROTOS = (Proto.ICMP, Proto.TCP, Proto.UDP)


def is_connect(query: object) -> bool:
    """Whether ``query`` is a ``connect`` / ``no connect`` query (language section 8)."""
    return isinstance(query, Connect)


def outcome_meets(goal: Goal, probe: Probe, o: Outcome) -> bool:
    """The kernel's reading of :meth:`Goal.met_by`: on what one probe observed.

    A probe outcome is a delivery (where, with which source and destination,
    whether the frame kept its sender's MACs); NAT shows as a source or
    destination that differs from what was sent.
    """
    if goal.receivers is not None and o.to not in goal.receivers:
        return False
    if goal.arrive is not None and o.to not in {a[0] for a in goal.arrive}:
        return False  # the probes observe where, not at which port: the DNAT rules fix that
    if goal.via_mac and not o.via_mac:
        return False
    natted = o.src != probe.src_ip or (o.dst is not None and o.dst != probe.dst)
    if goal.nat is NatMode.WITH and not natted:
        return False
    if goal.nat is NatMode.WITHOUT and natted:
        return False
    return o.src not in goal.src_not


def check_probes(
    rz: Realization, query: object, witness: Packet | None = None, *, exchanges: bool | None = None
) -> list[tuple[Endpoint, Endpoint, list[Probe]]]:
    """The probes that measure ``query``: per (source, destination) endpoint pair,
    ICMP/TCP/UDP (SCTP too where it is distinct; or the query's protocol) to
    port 80 (or the query's port),
    plus the checker's witness packet when it has one.

    For a ``connect`` query (:func:`is_connect`) the probes are exchanges
    (:mod:`l2l3.kernel.exchange`): ICMP, TCP and UDP (or the query's
    protocol), and where the model lets the stack pick its source (a node or
    external sender) each once more from an unbound socket. ``exchanges=True``
    asks for those for the request of another query (a ``reach``)."""
    from l2l3.model.endpoints import as_destination, resolve
    from l2l3.model.types import Isolated

    net = rz.net
    out: list[tuple[Endpoint, Endpoint, list[Probe]]] = []
    dirs = []
    connect = is_connect(query) if exchanges is None else exchanges
    if isinstance(query, Reach | NatAs) or connect:
        dirs.append((query.src, query.dst, query.headers))  # type: ignore[attr-defined]
    elif isinstance(query, Isolated):
        dirs += [(query.a, query.b, query.headers), (query.b, query.a, query.headers)]
    for a, b, h in dirs:
        for s in resolve(net, a):
            for d in as_destination(net, b):
                if s.same_as(d) or (s.stack is not None and s.stack == d.stack):
                    continue
                if s.external is not None:
                    sid = f"external {s.external}"
                    if s.external not in rz.external_ns:
                        continue
                elif s.stack is not None and s.stack in rz.netns:
                    sid = s.stack
                else:
                    continue
                if d.external is not None and d.external in rz.external_ns:
                    dst = external_address(net, d.external) or d.address
                else:
                    dst = d.address
                if dst is None:
                    continue
                src_ip = s.src or source_for(rz, sid, dst)
                if src_ip is None:
                    continue
                protos = [h.proto] if h.proto is not None else default_protos(net)
                if connect and h.proto is None:
                    protos = list(EXCHANGE_PROTOS)
                probes = []
                for pr in protos:
                    port = 0 if pr == Proto.ICMP else (h.port if h.port is not None else 80)
                    probes.append(Probe(sid, src_ip, dst, pr, port, s.pod, d.label))
                    if connect and s.src is None and s.stack is not None:
                        probes.append(Probe(sid, src_ip, dst, pr, port, s.pod, d.label, bound=False))
                for pr, port in d.ports:  # a service destination: its own ports (section 9)
                    if (h.proto in (None, pr)) and (h.port in (None, port)):
                        sp = Probe(sid, src_ip, dst, pr, port, s.pod, d.label)
                        probes += [] if sp in probes else [sp]
                # the witness may reach a stack destination through another address (a VIP)
                to = dst if d.place is None else witness.dst if witness is not None else dst
                if witness is not None and witness.src == src_ip and witness.dst == to:
                    wp = Probe(
                        sid,
                        src_ip,
                        to,
                        witness.proto,
                        witness.dport if witness.proto != Proto.ICMP else 0,
                        s.pod,
                        d.label,
                    )
                    if wp not in probes:
                        probes.append(wp)
                out.append((s, d, probes))
    return out


def kernel_verdict(
    query: object, measured: list[tuple[Endpoint, Endpoint, list[Probe]]], answers: dict[Probe, Answer]
) -> KernelCheck:
    """The kernel's verdict on ``query``, over the probes of :func:`check_probes` and their answers."""
    from l2l3.model.types import Isolated

    if is_connect(query):
        return KernelCheck("not measured", [], "connect is measured on exchanges (connect_verdict)")
    if not isinstance(query, Reach | NatAs | Isolated):
        return KernelCheck("not measured", [], "probes measure reach, isolated and nat queries only")
    pairs = []
    for s, d, probes in measured:
        goal = (
            delivery_goal([d], query)
            if isinstance(query, Reach | NatAs)
            else delivery_goal([d], Reach(src=query.a, dst=query.b))
        )
        ok = any(outcome_meets(goal, p, o) for p in probes for o in answers[p].outcomes)
        pr = PairResult(s.label, d.label, probes, ok)
        if isinstance(query, NatAs):
            outs = [o for p in probes for o in answers[p].outcomes if outcome_meets(goal, p, o)]
            pr.ok = bool(outs) and all(o.src == query.ip for o in outs)
        pairs.append(pr)
    if not pairs:
        return KernelCheck("not measured", [], "no endpoint pair could be probed")
    if isinstance(query, Reach) and not query.negated:
        status = "holds" if all(p.ok for p in pairs) else "violated"
    elif isinstance(query, NatAs):
        status = "holds" if all(p.ok for p in pairs) else "violated"
    else:  # no reach / isolated
        status = "violated" if any(p.ok for p in pairs) else "holds"
    return KernelCheck(status, pairs, "over the packets probed")


def connect_verdict(
    query: object,
    measured: list[tuple[Endpoint, Endpoint, list[Probe]]],
    answers: dict[Probe, ExchangeAnswer],
) -> KernelCheck:
    """The kernel's verdict on a ``connect`` / ``no connect`` query over the exchanges
    of :func:`check_probes` (run by :class:`~l2l3.kernel.exchange.Exchanger`).

    A pair connects when one of its exchanges meets the query's
    :class:`~l2l3.model.goal.ConnectGoal` as
    :meth:`~l2l3.model.goal.ConnectGoal.met_by_exchange` reads it (the same
    meaning the simulator and the engine use). ``query`` is a ``Connect`` or,
    for the same request, a ``Reach``; ``via mac`` is not measured on exchanges.
    """
    q: Reach = query  # type: ignore[assignment]
    if q.via_mac:
        return KernelCheck("not measured", [], "exchanges do not measure via mac")
    if q.headers.proto is not None and q.headers.proto not in EXCHANGE_PROTOS:
        return KernelCheck("not measured", [], f"{q.headers.proto} exchanges are not probed")
    pairs = []
    for s, d, probes in measured:
        ok = False
        for p in probes:
            goal = connect_goal([d], q, p.src)
            ok = ok or any(goal.met_by_exchange(e.observed(p)) for e in answers[p].exchanges)
        pairs.append(PairResult(s.label, d.label, probes, ok))
    if not pairs:
        return KernelCheck("not measured", [], "no endpoint pair could be probed")
    if q.negated:
        status = "violated" if any(p.ok for p in pairs) else "holds"
    else:
        status = "holds" if all(p.ok for p in pairs) else "violated"
    return KernelCheck(status, pairs, "over the exchanges probed")
