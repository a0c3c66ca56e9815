"""Goals and packet spaces: what a search asks for, as plain data.

A query becomes searches. Each search ranges over a :class:`PacketSpace`
(the initial packets a sender may send) and looks for a path whose end meets
a :class:`Goal`. A goal has one meaning and three evaluators that must agree:

- :meth:`Goal.met_by` on a simulator :class:`~l2l3.model.packet.Trace` (here,
  the reference);
- ``l2l3.solver.goal.leaf_condition`` as a z3 condition over a symbolic leaf;
- ``l2l3.kernel.verdict`` on what a kernel probe observed.

A ``connect`` asks for a pair of paths, a request and its answer: a
:class:`ConnectGoal`, with the same three readings (:meth:`ConnectGoal.met_by`
on two traces, ``l2l3.solver.goal.answer_condition``, and
:meth:`ConnectGoal.met_by_exchange` on what a kernel exchange observed).

>>> from l2l3.model.packet import Disposition
>>> Goal(receivers=frozenset({"n1/web"}), via_mac=True).describe()
'delivered into n1/web via mac'
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from l2l3.model.conntrack import answer_accepted, swapped, tup
from l2l3.model.endpoints import Endpoint
from l2l3.model.packet import Disposition, Packet, Trace
from l2l3.model.types import NatAs, NatMode, Proto, Reach


@dataclass(frozen=True, slots=True, kw_only=True)
class Goal:
    """A fate the path of one packet must end in (all fields ANDed).

    ``disposition``: how the path ends (``DELIVERED`` or ``LOOPED``).
    ``receivers``: the places it must be delivered into — stack ids
    (``node``, ``node/pod``) or ``external NAME``; None means any receiver
    (an address-literal destination counts wherever it is delivered).
    ``bypassing``: the receiver's own interface the packet must *not* have
    entered by (netns-isolation: a delivery into a pod's stack that did not
    pass its endpoint). ``via_mac``: never routed, and it arrives with the
    MACs its sender wrote. ``nat``: whether some rule rewrote an address on
    the way. ``src_not``: the source it arrives with is none of these.
    """

    disposition: Disposition = Disposition.DELIVERED
    receivers: frozenset[str] | None = None
    bypassing: str | None = None
    via_mac: bool = False
    nat: NatMode = NatMode.ANY
    src_not: frozenset[IPv4Address] = frozenset()
    #: a ``service`` destination: delivered into one of these (receiver, protocol, port),
    #: i.e. into an endpoint's stack at its target port (LANGUAGE.md section 9); None: any port
    arrive: frozenset[tuple[str, Proto, int]] | None = None

    def met_by(self, t: Trace) -> bool:
        """Whether the concrete trace ``t`` meets this goal (the reference meaning)."""
        if t.disposition is not self.disposition:
            return False
        if self.disposition is not Disposition.DELIVERED:
            return True
        if self.receivers is not None and t.delivered_to not in self.receivers:
            return False
        if self.bypassing is not None and t.entered_by == self.bypassing:
            return False
        if self.via_mac and not t.via_mac:
            return False
        if self.nat is NatMode.WITH and not t.nat:
            return False
        if self.nat is NatMode.WITHOUT and t.nat:
            return False
        if self.arrive is not None and (
            t.final is None or (t.delivered_to, t.final.proto, t.final.dport) not in self.arrive
        ):
            return False
        return not (self.src_not and (t.final is None or t.final.src in self.src_not))

    def describe(self) -> str:
        """One line for explanations and error messages."""
        if self.disposition is not Disposition.DELIVERED:
            return self.disposition.value
        where = "anywhere" if self.receivers is None else " or ".join(sorted(self.receivers))
        parts = [f"delivered into {where}"]
        if self.bypassing:
            parts.append(f"not through {self.bypassing}")
        if self.via_mac:
            parts.append("via mac")
        if self.nat is not NatMode.ANY:
            parts.append(self.nat.value)
        if self.arrive is not None:
            ports = sorted({f"{p}/{proto}" for _, proto, p in self.arrive})
            parts.append("at target port " + " or ".join(ports) if ports else "at no target port")
        if self.src_not:
            parts.append("from a source other than " + ", ".join(map(str, sorted(self.src_not))))
        return " ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketSpace:
    """The initial packets a search ranges over (fields ANDed; None: any).

    ``src`` fixes the source address; ``srcs`` lets it be any of several
    (a class of alike senders, one address each); with neither, a stack
    picks the address of the interface its route leaves by and an external
    sends from any address it owns (inside ``src_prefix`` when given). ``dst``, ``dst_in`` and ``dst_prefix``
    restrict the destination as written by the sender.
    """

    proto: Proto | None = None
    dport: int | None = None
    src: IPv4Address | None = None
    srcs: frozenset[IPv4Address] | None = None
    src_prefix: IPv4Network | None = None
    dst: IPv4Address | None = None
    dst_in: frozenset[IPv4Address] | None = None
    dst_prefix: IPv4Network | None = None

    def admits(self, src: IPv4Address, dst: IPv4Address, proto: Proto, dport: int) -> bool:
        """Whether a concrete initial packet lies in this space (for replays and tests)."""
        if self.proto is not None and proto is not self.proto:
            return False
        if self.dport is not None and (proto is Proto.ICMP or dport != self.dport):
            return False
        if self.src is not None and src != self.src:
            return False
        if self.srcs is not None and src not in self.srcs:
            return False
        if self.src_prefix is not None and src not in self.src_prefix:
            return False
        if self.dst is not None and dst != self.dst:
            return False
        if self.dst_in is not None and dst not in self.dst_in:
            return False
        return not (self.dst_prefix is not None and dst not in self.dst_prefix)


def delivery_goal(
    dsts: list[Endpoint], q: Reach | NatAs, src_not: frozenset[IPv4Address] = frozenset()
) -> Goal:
    """What ``q`` asks of a packet towards ``dsts``: delivered into one of them
    (anywhere, for an address range), with the query's ``via mac`` and NAT flags."""
    places = {d.place for d in dsts}
    receivers = None if None in places else frozenset(p for p in places if p is not None)
    via_mac = isinstance(q, Reach) and q.via_mac
    nat = q.nat if isinstance(q, Reach) else NatMode.ANY
    arrive = None
    if dsts and all(d.arrive is not None for d in dsts):  # service destinations (section 9)
        arrive = frozenset(a for d in dsts for a in d.arrive or ())
        receivers = frozenset(a[0] for a in arrive)
    return Goal(receivers=receivers, via_mac=via_mac, nat=nat, src_not=src_not, arrive=arrive)


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """What a kernel request/answer exchange observed (TCP handshake, UDP or ICMP echo).

    A kernel prober reports, for one request it sent as ``sent`` (addresses
    and ports as the source's socket wrote them):

    - ``request_to``: where the request was delivered (stack id or ``external
      NAME``; None: nowhere), and ``request_seen`` its headers as the
      destination's socket read them (None: not delivered);
    - ``answer_to``: where the destination's answer (sent from
      ``request_seen.dst:dport`` to ``request_seen.src:sport``) was delivered,
      and ``answer_seen`` its headers as the source's socket read them (a TCP
      SYN-ACK the source's stack took for its SYN, a UDP datagram the
      connected socket received, an echo reply); None: it never arrived;
    - ``via_mac``: both frames kept their senders' MACs and crossed no router.
    """

    sent: Packet
    request_to: str | None
    request_seen: Packet | None
    answer_to: str | None = None
    answer_seen: Packet | None = None
    via_mac: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectGoal:
    """A request that meets ``request`` and an answer the source takes (LANGUAGE.md §8).

    ``request`` is the delivery goal of the request (its ``nat`` is ANY:
    the flag of the query, ``nat``, is judged over both halves). The answer,
    sent by the stack the request was delivered into from the address and
    port it arrived at to the ones it came from, must be delivered into
    ``sender`` (the source's place) with exactly the addresses and ports the
    request was sent with, swapped; ``via_mac`` asks it of both halves;
    ``nat`` WITH: some rule rewrote one of them; WITHOUT: neither.
    """

    request: Goal
    sender: str
    via_mac: bool = False
    nat: NatMode = NatMode.ANY

    def answer_goal(self) -> Goal:
        """What the answer's own path must end in (the addresses are checked apart)."""
        return Goal(receivers=frozenset({self.sender}), via_mac=self.via_mac)

    def nat_ok(self, natted: bool) -> bool:
        """The query's NAT flag, on whether either half was rewritten."""
        return not (self.nat is NatMode.WITH and not natted or self.nat is NatMode.WITHOUT and natted)

    def met_by(self, request: Trace, answer: Trace) -> bool:
        """Whether a request trace and a trace of its answer make the connection."""
        if not self.request.met_by(request) or not self.answer_goal().met_by(answer):
            return False
        return answer_accepted(request, answer, self.sender) and self.nat_ok(request.nat or answer.nat)

    def met_by_exchange(self, ex: Exchange) -> bool:
        """The kernel's reading: what one exchange observed (see :class:`Exchange`)."""
        if ex.request_seen is None or ex.answer_seen is None:
            return False
        if self.request.receivers is not None and ex.request_to not in self.request.receivers:
            return False
        if ex.answer_to != self.sender or tup(ex.answer_seen) != swapped(tup(ex.sent)):
            return False
        if self.via_mac and not ex.via_mac:
            return False
        return self.nat_ok(tup(ex.request_seen) != tup(ex.sent))

    def describe(self) -> str:
        """One line for explanations and error messages."""
        flags = " via mac" if self.via_mac else ""
        flags += f" {self.nat.value}" if self.nat is not NatMode.ANY else ""
        return f"a request {self.request.describe()} and its answer taken by {self.sender}{flags}"


def connect_goal(dsts: list[Endpoint], q: Reach, sender: str) -> ConnectGoal:
    """What the connect query ``q`` asks of a request towards ``dsts`` from the source at ``sender``."""
    request = delivery_goal(dsts, Reach(src=q.src, dst=q.dst, via_mac=q.via_mac))
    return ConnectGoal(request=request, sender=sender, via_mac=q.via_mac, nat=q.nat)
