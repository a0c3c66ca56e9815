"""Probes and answers: one kind of packet from one sender to one address, and what became of it.

:func:`endpoints` lists every probe between the endpoints of a realization;
the same :class:`Answer` type holds what the model says (:mod:`l2l3.kernel.compare`)
and what the kernel did (:mod:`l2l3.kernel.prober`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address

from l2l3.kernel.realization import Realization, external_address
from l2l3.model.network import Network
from l2l3.model.packet import Packet
from l2l3.model.types import Proto

PROBE_PORTS = (80,)


@dataclass(frozen=True, slots=True)
class Probe:
    """One kind of packet from one sender to one destination address."""

    src: str  # place sending: stack id or "external NAME"
    src_ip: IPv4Address
    dst: IPv4Address
    proto: Proto
    dport: int = 0
    pod: str | None = None  # the pod whose process sends, if any
    dst_label: str = ""
    bound: bool = True  # False: an exchange from an unbound socket (the stack picks the source)

    def __str__(self) -> str:
        port = f" port {self.dport}" if self.proto != Proto.ICMP else ""
        to = f" ({self.dst_label})" if self.dst_label else ""
        src = f"[{self.src_ip}]" if self.bound else f"[unbound, model: {self.src_ip}]"
        return f"{self.src} {src} -> {self.dst}{to} {self.proto}{port}"

    def packet(self, sport: int = 40000) -> Packet:
        """The model's packet for this probe (TCP/UDP from ``sport``)."""
        if self.proto == Proto.ICMP:
            return Packet(src=self.src_ip, dst=self.dst, proto=self.proto)
        return Packet(src=self.src_ip, dst=self.dst, proto=self.proto, sport=sport, dport=self.dport)


@dataclass(frozen=True, slots=True, order=True)
class Outcome:
    """Where a packet was delivered and how it arrived."""

    to: str
    src: IPv4Address
    via_mac: bool
    dst: IPv4Address | None = None  # as delivered (after any DNAT)

    def __str__(self) -> str:
        to = f" as {self.dst}" if self.dst is not None else ""
        return f"delivered to {self.to}{to} from {self.src}{' via mac' if self.via_mac else ''}"


@dataclass(frozen=True, slots=True)
class Detail:
    """The measured (or modelled) frame at the receiver, for reports."""

    to: str
    iface: str
    src: IPv4Address
    dst: IPv4Address
    ttl: int
    smac: str | None
    dmac: str | None
    sent_smac: str | None
    sent_dmac: str | None

    def __str__(self) -> str:
        return (
            f"{self.to} on {self.iface}: {self.src} > {self.dst} ttl {self.ttl} "
            f"{self.smac} > {self.dmac} (sent {self.sent_smac} > {self.sent_dmac})"
        )


@dataclass
class Answer:
    """The set of outcomes (empty: not delivered) with supporting detail."""

    outcomes: frozenset[Outcome]
    details: tuple[Detail, ...] = ()
    tries: int = 0
    reason: str = ""

    @property
    def delivered(self) -> bool:
        """Delivered somewhere."""
        return bool(self.outcomes)

    def __str__(self) -> str:
        if not self.outcomes:
            return "not delivered" + (f" ({self.reason})" if self.reason else "")
        return "; ".join(str(o) for o in sorted(self.outcomes))


def endpoints(
    rz: Realization,
    *,
    protos: Iterable[Proto] | None = None,
    ports: Iterable[int] = PROBE_PORTS,
    externals_send: bool = True,
) -> list[Probe]:
    """Every probe between the realized endpoints: each stack (and external)
    to each address the model knows (and one address of each external).

    ``protos`` defaults to ICMP, TCP and UDP, and SCTP where the spec can
    tell it from those (:attr:`Network.sctp_distinct`).
    """
    net = rz.net
    protos = list(protos) if protos is not None else default_protos(net)
    dsts: dict[IPv4Address, str] = {}
    for addr, ifaces in sorted(net.owners.items()):
        if ifaces[0].stack in rz.netns:
            dsts[addr] = ifaces[0].stack
    for ext in net.spec.externals:
        if ext.name in rz.external_ns:
            a = external_address(net, ext.name)
            if a is not None:
                dsts.setdefault(a, f"external {ext.name}")
    for st in net.stacks.values():
        for d in st.dnats:
            dsts.setdefault(d.vip, f"vip on {st.id}")
    senders: list[tuple[str, str | None]] = []
    for sid, st in net.stacks.items():
        if sid not in rz.netns or st.kind == "gateway":
            continue  # a gateway is no endpoint of the language: it only forwards
        senders.append((sid, sid if st.kind == "pod" else None))
    if externals_send:
        senders += [(f"external {e}", None) for e in rz.external_ns]
    ports = list(ports)
    out: list[Probe] = []
    for sid, pod in senders:
        for dst, label in dsts.items():
            src_ip = source_for(rz, sid, dst)
            if src_ip is None:
                continue
            if not sid.startswith("external ") and dst in net.stacks[sid].local_addrs:
                continue
            if sid.startswith("external ") and (
                label.startswith("gateway ") or net.external_owner(dst) == sid.split(" ", 1)[1]
            ):
                continue  # the external-gateway link is not modelled; nor is an external's own loop
            for proto in protos:
                for port in ports if proto != Proto.ICMP else [0]:
                    out.append(Probe(sid, src_ip, dst, proto, port, pod, label))
    return out


def default_protos(net: Network) -> list[Proto]:
    """The protocols probed when nothing names one: ICMP, TCP, UDP, and SCTP where it is distinct."""
    return [Proto.ICMP, Proto.TCP, Proto.UDP] + ([Proto.SCTP] if net.sctp_distinct else [])


def source_for(rz: Realization, sid: str, dst: IPv4Address) -> IPv4Address | None:
    """The source address the model's sender writes (as :func:`l2l3.trace`)."""
    net = rz.net
    if sid.startswith("external "):
        return external_address(net, sid.split(" ", 1)[1])
    st = net.stacks[sid]
    if st.kind == "pod":
        return st.ifaces["eth0"].primary
    r = net.lookup(st, dst)
    if r is not None:
        return st.primary_addr(r.dev)
    return st.primary_addr(next(iter(st.ifaces), ""))
