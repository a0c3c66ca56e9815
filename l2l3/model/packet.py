"""Concrete packets and traces: the vocabulary of every answer.

A :class:`Packet` is one concrete set of header values; a :class:`Trace` is
what happened to it, hop by hop (names follow Batfish: flow, trace, hop,
disposition). Both the simulator and the solver's decoder speak these types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any

from l2l3.model.types import Proto, Span

if TYPE_CHECKING:
    from l2l3.model.conntrack import Visit

#: TTL every sender writes (Linux's default; Windows uses 128, which only
#: matters for paths longer than 64 routed hops).
INITIAL_TTL = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Outer:
    """The outer header of a VXLAN-encapsulated packet (UDP, one level)."""

    src: IPv4Address
    dst: IPv4Address
    dport: int
    vni: int
    ttl: int = INITIAL_TTL
    smac: str | None = None
    dmac: str | None = None

    def __str__(self) -> str:
        macs = f" {self.smac} > {self.dmac}" if self.smac else ""
        return f"[vxlan vni {self.vni} {self.src} > {self.dst} udp/{self.dport} ttl {self.ttl}{macs}]"


@dataclass(frozen=True, slots=True, kw_only=True)
class Packet:
    """One concrete packet. MACs are None until the packet is put on a wire."""

    src: IPv4Address
    dst: IPv4Address
    proto: Proto
    sport: int = 0
    dport: int = 0
    ttl: int = INITIAL_TTL
    smac: str | None = None
    dmac: str | None = None
    outer: Outer | None = None

    def with_(self, **changes: Any) -> Packet:
        return replace(self, **changes)

    def __str__(self) -> str:
        ports = f" {self.sport} > {self.dport}" if self.proto != Proto.ICMP else ""
        macs = f" {self.smac} > {self.dmac}" if self.smac or self.dmac else ""
        outer = f" {self.outer}" if self.outer else ""
        return f"{self.proto} {self.src} > {self.dst}{ports} ttl {self.ttl}{macs}{outer}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "src": str(self.src),
            "dst": str(self.dst),
            "proto": str(self.proto),
            "sport": self.sport,
            "dport": self.dport,
            "ttl": self.ttl,
            "src_mac": self.smac,
            "dst_mac": self.dmac,
        }
        if self.outer is not None:
            o = self.outer
            out["outer"] = {
                "src": str(o.src),
                "dst": str(o.dst),
                "proto": "udp",
                "dport": o.dport,
                "vni": o.vni,
                "ttl": o.ttl,
                "src_mac": o.smac,
                "dst_mac": o.dmac,
            }
        return out


class Disposition(enum.Enum):
    DELIVERED = "delivered"
    # The packet entered the stack (or external) that owns its destination.
    DROPPED = "dropped"
    # The packet died; the trace's reason says where and why.
    LOOPED = "looped"
    # The packet came back to a place it had been with the same headers.


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One step: where the packet is, what acted on it, the headers after it."""

    at: str
    action: str
    packet: Packet
    span: Span | None = None

    def __str__(self) -> str:
        where = f"  ({self.span.file}:{self.span.line})" if self.span and self.span.line else ""
        return f"{self.at}: {self.action}{where}"

    def to_json(self) -> dict[str, Any]:
        has_line = self.span is not None and self.span.line > 0
        return {
            "at": self.at,
            "rule": self.action,
            "file": self.span.file if has_line and self.span else None,
            "line": self.span.line if has_line and self.span else None,
            "packet": self.packet.to_json(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """The fate of one packet along one path.

    ``delivered_to`` names the receiving place: a stack id (``node``,
    ``node/pod``, ``gateway lan``) or ``external NAME``; ``entered_by`` is the
    interface it came in through (None for a packet a stack sent to itself).
    """

    packet: Packet
    hops: tuple[Hop, ...]
    disposition: Disposition
    reason: str = ""
    delivered_to: str | None = None
    entered_by: str | None = None
    routed: bool = False
    nat: bool = False
    final: Packet | None = None
    #: the conntrack entries the packet left on its way (l2l3.model.conntrack)
    tracked: tuple[Visit, ...] = field(default=(), compare=False)

    @property
    def delivered(self) -> bool:
        return self.disposition is Disposition.DELIVERED

    @property
    def via_mac(self) -> bool:
        """Crossed only L2, and arrived with the MACs its sender wrote."""
        if not self.delivered or self.routed or self.final is None or not self.hops:
            return False
        sent = next((h.packet for h in self.hops if h.packet.dmac is not None), None)
        return sent is not None and sent.smac == self.final.smac and sent.dmac == self.final.dmac

    def path(self) -> tuple[str, ...]:
        return tuple(h.at for h in self.hops)

    def to_json(self) -> dict[str, Any]:
        return {
            "packet": self.packet.to_json(),
            "disposition": self.disposition.value,
            "reason": self.reason,
            "delivered_to": self.delivered_to,
            "hops": [h.to_json() for h in self.hops],
        }
