"""Connection tracking: what a request leaves behind, and how its answer is undone.

Every stack a request passes (not encapsulated: a VXLAN outer header is a
tunnel flow of its own) keeps one entry, as Linux conntrack and the HNS/VFP
flow table do: the request's 5-tuple as it entered the stack (or was sent by
it) and as it left (after the stack's DNAT and SNAT). The answer to the
request matches an entry when it arrives with the entry's *reply tuple* (the
tuple it left with, swapped). At a stack whose entry it matches:

- no NAT rule of the stack applies to it (the NAT table sees only the first
  packet of a connection);
- the stack's SNAT is undone before routing (PREROUTING, or OUTPUT when the
  stack itself answers): destination back to the request's source as it
  entered;
- the stack's DNAT is undone after filtering (POSTROUTING, or at local
  delivery): source back to the request's destination as it entered;
- a ``filter … established`` rule matches it.

At a stack whose entry it does not match (a path the request did not take,
or headers another NAT should have restored), it is a packet like any
other. docs/semantics.md ("Connections") states the whole model.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from l2l3.model.packet import Packet, Trace
from l2l3.model.types import OS, Proto

if TYPE_CHECKING:
    from l2l3.model.network import Stack

#: (proto, src, sport, dst, dport) of an un-encapsulated packet.
Tup = tuple[Proto, IPv4Address, int, IPv4Address, int]


def tup(p: Packet) -> Tup:
    """The 5-tuple conntrack keys a packet by."""
    return (p.proto, p.src, p.sport, p.dst, p.dport)


def swapped(t: Tup) -> Tup:
    """The tuple of a packet going the other way."""
    proto, src, sport, dst, dport = t
    return (proto, dst, dport, src, sport)


@dataclass(frozen=True, slots=True)
class Visit:
    """One conntrack entry a request left: at ``stack``, ``before`` -> ``after``."""

    stack: str
    before: Tup
    after: Tup
    #: a source NAT rule of the stack rewrote the request (undone on its answer here)
    snat: bool = False
    #: a destination NAT rule of the stack rewrote the request (undone on its answer here)
    dnat: bool = False

    @property
    def reply(self) -> Tup:
        """The tuple an answer arrives with when it belongs to this entry."""
        return swapped(self.after)


@dataclass(frozen=True, slots=True)
class CtHit:
    """An answer at ``stack`` matched that stack's entry; ``restore`` is the source
    (address, port) the stack's DNAT is undone to on the way out, once."""

    stack: str
    restore: tuple[IPv4Address, int] | None


def match(visits: tuple[Visit, ...], stack: str, answer: Packet) -> Visit | None:
    """The entry of ``stack`` that the answer packet belongs to, if any."""
    if answer.outer is not None:
        return None
    t = tup(answer)
    return next((v for v in visits if v.stack == stack and v.reply == t), None)


def vfp_host(st: Stack) -> str | None:
    """The Windows node whose NAT state a pod's HNS endpoint also holds, for a pod's stack.

    HNS applies OutBoundNAT and the kube-proxy (winkernel) load balancers as VFP
    rules of the endpoint's vSwitch port, and VFP keeps flow state there: an
    answer is un-NATed as it enters the endpoint, whichever way it came
    (UNVERIFIED: inferred from where those policies live; the node-stack DNAT
    l2l3 writes for them would otherwise leave every Windows pod's answer from a
    Service backend on another node un-NATed, which real clusters do not see).
    """
    if st.os is OS.WINDOWS and st.node is not None and st.id != st.node:
        return st.node
    return None


def answer_packet(request: Trace) -> Packet:
    """The answer a delivered request gets: from where it arrived, to where it came from."""
    f = request.final
    assert f is not None and request.delivered
    return Packet(src=f.dst, dst=f.src, proto=f.proto, sport=f.dport, dport=f.sport)


def answer_accepted(request: Trace, answer: Trace, sender: str) -> bool:
    """The answer is delivered into ``sender`` carrying the addresses and ports the
    request was sent to and from (the source's socket takes it)."""
    if not answer.delivered or answer.delivered_to != sender or answer.final is None:
        return False
    return tup(answer.final) == swapped(tup(request.packet))
