"""Probe a realized spec with real packets, and compare with the model.

A probe is one packet kind (ICMP echo request, UDP datagram to a listener,
TCP SYN to a listener) from one sender stack to one destination address.
The sender is a socket created inside the sender's namespace and bound to
the source address the model's sender would use. In *every* namespace of
the realization the prober keeps:

* raw IPv4 sockets for ICMP, TCP and UDP with ``IP_PKTINFO``: they see a
  packet only once it has passed netfilter INPUT and is being delivered to
  that stack — this is what "delivered" means, here and in the model;
  ``IP_PKTINFO`` names the interface the stack received it on;
* an ``AF_PACKET`` socket: the frame's MAC addresses and TTL as it arrived
  on that interface (and, in the sender's namespace, as it was sent);
* a TCP listener and a UDP socket on each probed port.

Packets carry a token (ICMP id/seq and payload, UDP payload, TCP source
port) so every observation is attributed to one try of one probe.

How a probe decides: neighbours are warmed up first (one throw-away packet
per pair), then each probe is sent up to ``tries`` times; a probe counts as
delivered as soon as one try is seen delivered, and as "not delivered" only
when every try failed. :func:`compare` re-runs every probe whose answer
disagrees with the model (more tries, longer waits) before it counts.

The kernel-wide neighbour table limits (``gc_thresh1..3``, one table shared
by every namespace) are raised for the duration by
:func:`neighbour_capacity` from the root namespace, and put back after.
"""

from __future__ import annotations

import errno
import os
import random
import resource
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from l2l3.kernel.realize import Realization, external_address, in_netns
from l2l3.model.network import Network
from l2l3.model.packet import INITIAL_TTL, Packet
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import Proto

MAGIC = b"L2L3"
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
IP_PKTINFO = 8
SPORT_LO, SPORT_HI = 20000, 60000
PROBE_PORTS = (80,)


# --------------------------------------------------------------------------
# neighbour table limits


_NEIGH_KEYS = ("gc_thresh1", "gc_thresh2", "gc_thresh3")
_neigh_lock = threading.Lock()
_neigh_users = 0
_neigh_saved: dict[str, tuple[int, int]] = {}


def _neigh_path(key: str) -> str:
    return f"/proc/sys/net/ipv4/neigh/default/{key}"


def _neigh_read(key: str) -> int:
    with open(_neigh_path(key)) as f:
        return int(f.read())


@contextmanager
def neighbour_capacity(gc_thresh3: int = 32768) -> Iterator[None]:
    """Raise the kernel-wide ARP table limits for the body; restore them after.

    Must run in the root network namespace (the limits exist only there).
    Nested and concurrent uses share one raise; the last one out restores
    each value, unless someone else changed it in the meantime.
    """
    global _neigh_users
    wanted = {"gc_thresh1": gc_thresh3 // 4, "gc_thresh2": gc_thresh3 // 2, "gc_thresh3": gc_thresh3}
    with _neigh_lock:
        if _neigh_users == 0:
            _neigh_saved.clear()
            for k in _NEIGH_KEYS:
                try:
                    cur = _neigh_read(k)
                except OSError:
                    continue
                new = max(cur, wanted[k])
                if new != cur:
                    try:
                        with open(_neigh_path(k), "w") as f:
                            f.write(str(new))
                    except OSError:
                        continue
                _neigh_saved[k] = (cur, new)
        _neigh_users += 1
    try:
        yield
    finally:
        with _neigh_lock:
            _neigh_users -= 1
            if _neigh_users == 0:
                for k, (old, new) in _neigh_saved.items():
                    try:
                        if _neigh_read(k) == new and new != old:
                            with open(_neigh_path(k), "w") as f:
                                f.write(str(old))
                    except OSError:
                        pass
                _neigh_saved.clear()


# --------------------------------------------------------------------------
# probes and answers


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

    def __str__(self) -> str:
        port = f" port {self.dport}" if self.proto != Proto.ICMP else ""
        to = f" ({self.dst_label})" if self.dst_label else ""
        return f"{self.src} [{self.src_ip}] -> {self.dst}{to} {self.proto}{port}"

    def packet(self, sport: int = 40000) -> Packet:
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
    actions: tuple[str, ...] = ()  # model only: "place|action" of every hop of every trace

    @property
    def delivered(self) -> bool:
        return bool(self.outcomes)

    def __str__(self) -> str:
        if not self.outcomes:
            return "not delivered" + (f" ({self.reason})" if self.reason else "")
        return "; ".join(str(o) for o in sorted(self.outcomes))


def model_answer(net: Network, probe: Probe) -> Answer:
    """What the model says happens to ``probe``'s packet."""
    if probe.src.startswith("external "):
        origin = Origin(external=probe.src.split(" ", 1)[1])
    else:
        origin = Origin(stack=probe.src, pod=probe.pod)
    traces = simulate(net, origin, probe.packet())
    outs, details = set(), []
    for t in traces:
        if not t.delivered or t.final is None or t.delivered_to is None:
            continue
        outs.add(Outcome(t.delivered_to, t.final.src, t.via_mac, t.final.dst))
        sent = next((h.packet for h in t.hops if h.packet.dmac is not None), None)
        details.append(
            Detail(
                t.delivered_to,
                t.entered_by or "-",
                t.final.src,
                t.final.dst,
                t.final.ttl,
                t.final.smac,
                t.final.dmac,
                sent.smac if sent else None,
                sent.dmac if sent else None,
            )
        )
    reasons = "; ".join(sorted({t.reason for t in traces if not t.delivered and t.reason}))
    actions = tuple(dict.fromkeys(f"{h.at}|{h.action}" for t in traces for h in t.hops))
    return Answer(frozenset(outs), tuple(details), reason=reasons if not outs else "", actions=actions)


def agrees(model: Answer, kernel: Answer) -> bool:
    """The kernel's outcomes are the model's: equal sets, or (several model
    outcomes, e.g. a DNAT with several backends) a non-empty subset."""
    if model.outcomes == kernel.outcomes:
        return True
    if len(model.outcomes) > 1 and kernel.outcomes and kernel.outcomes <= model.outcomes:
        return True
    return False


# --------------------------------------------------------------------------
# endpoints


def endpoints(
    rz: Realization,
    *,
    protos: Iterable[Proto] = (Proto.ICMP, Proto.TCP, Proto.UDP),
    ports: Iterable[int] = PROBE_PORTS,
    externals_send: bool = True,
) -> list[Probe]:
    """Every probe between the realized endpoints: each stack (and external)
    to each address the model knows (and one address of each external)."""
    net = rz.net
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


# --------------------------------------------------------------------------
# the prober


@dataclass
class _Rx:
    netns: str
    iface: str
    src: IPv4Address
    dst: IPv4Address
    ttl: int


@dataclass
class _Frame:
    netns: str
    iface: str
    outgoing: bool
    smac: str
    dmac: str
    ttl: int


@dataclass
class _Try:
    probe: Probe
    sender_ns: str
    sock: socket.socket | None = None
    sent: bool = False
    error: str = ""
    rx: list[_Rx] = field(default_factory=list)
    frames: list[_Frame] = field(default_factory=list)


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Prober:
    """Sockets in every namespace of a realization, and a collector thread."""

    def __init__(self, rz: Realization, ports: Iterable[int] = PROBE_PORTS) -> None:
        self.rz = rz
        self.ports = sorted(set(ports))
        self.places: dict[str, str] = {}  # netns -> place
        for sid, ns in rz.netns.items():
            self.places[ns] = sid
        for ext, ns in rz.external_ns.items():
            self.places[ns] = f"external {ext}"
        self.socks: dict[int, tuple[str, str, socket.socket]] = {}  # fd -> (netns, kind, sock)
        self.ifnames: dict[str, dict[int, str]] = {}
        self.tries: dict[int, _Try] = {}
        self.tcp_ports: dict[tuple[int, int], int] = {}
        self.lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self.thread: threading.Thread | None = None
        self.next_tok = random.randrange(1 << 20, 1 << 30)
        self.next_sport = random.randrange(SPORT_LO, SPORT_HI)
        self.keep: list[socket.socket] = []

    # ---------------------------------------------------------------- setup
    def __enter__(self) -> Prober:
        # one TCP socket per try stays open until its run ends: allow plenty of files
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        try:
            for ns in self.places:
                self._open(ns)
        except BaseException:
            self.close()
            raise
        self.thread = threading.Thread(target=self._collect, name="l2l3-probe-collector", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, ns: str) -> None:
        with in_netns(ns):
            self.ifnames[ns] = {i: n for i, n in socket.if_nameindex()}
            for proto, kind in (
                (socket.IPPROTO_ICMP, "icmp"),
                (socket.IPPROTO_TCP, "tcp"),
                (socket.IPPROTO_UDP, "udp"),
            ):
                s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
                s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                self._big(s)
                self._add(ns, kind, s)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self._big(s)
            self._add(ns, "packet", s)
            for port in self.ports:
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind(("0.0.0.0", port))
                t.listen(1024)
                t.setblocking(False)
                self._add(ns, "listen", t)
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind(("0.0.0.0", port))
                self._add(ns, "udpsink", u)

    @staticmethod
    def _big(s: socket.socket) -> None:
        try:
            s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)

    def _add(self, ns: str, kind: str, s: socket.socket) -> None:
        s.setblocking(False)
        self.socks[s.fileno()] = (ns, kind, s)

    def close(self) -> None:
        if self.thread is not None:
            os.write(self._stop_w, b"x")
            self.thread.join(5)
            self.thread = None
        for _ns, _k, s in self.socks.values():
            s.close()
        self.socks.clear()
        for s in self.keep:
            s.close()
        self.keep.clear()
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stop_r = self._stop_w = -1

    # -------------------------------------------------------------- collect
    def _collect(self) -> None:
        poller = select.poll()
        for fd in self.socks:
            poller.register(fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            for fd, _ev in poller.poll(200):
                if fd == self._stop_r:
                    return
                ns, kind, s = self.socks[fd]
                for _ in range(256):
                    try:
                        if kind == "packet":
                            data, addr = s.recvfrom(65535)
                            self._on_frame(ns, data, addr)
                        elif kind in ("icmp", "tcp", "udp"):
                            data, anc, _fl, _addr = s.recvmsg(65535, socket.CMSG_SPACE(12))
                            self._on_rx(ns, data, anc)
                        elif kind == "listen":
                            c, _ = s.accept()
                            c.close()
                        else:
                            s.recv(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break

    def _token(self, ip: bytes) -> tuple[int | None, int]:
        """(token, ttl) of an IPv4 packet carrying a probe, else (None, 0)."""
        if len(ip) < 20 or ip[0] >> 4 != 4:
            return None, 0
        ihl = (ip[0] & 15) * 4
        proto, ttl = ip[9], ip[8]
        pl = ip[ihl:]
        if proto == 1:
            if len(pl) >= 16 and pl[0] == 8 and pl[8:12] == MAGIC:
                return struct.unpack("!I", pl[12:16])[0], ttl
        elif proto == 17:
            if len(pl) >= 16 and pl[8:12] == MAGIC:
                return struct.unpack("!I", pl[12:16])[0], ttl
        elif proto == 6 and len(pl) >= 14:
            flags = pl[13]
            if flags & 0x02 and not flags & 0x10:
                sport, dport = struct.unpack("!HH", pl[:4])
                with self.lock:
                    return self.tcp_ports.get((sport, dport)), ttl
        return None, 0

    def _on_rx(self, ns: str, data: bytes, anc: list[tuple[int, int, bytes]]) -> None:
        tok, ttl = self._token(data)
        if tok is None:
            return
        ifindex = 0
        for level, typ, cdata in anc:
            if level == socket.IPPROTO_IP and typ == IP_PKTINFO and len(cdata) >= 12:
                ifindex = struct.unpack("I", cdata[:4])[0]
        rx = _Rx(
            ns,
            self.ifnames[ns].get(ifindex, str(ifindex)),
            IPv4Address(data[12:16]),
            IPv4Address(data[16:20]),
            ttl,
        )
        with self.lock:
            t = self.tries.get(tok)
            if t is not None:
                t.rx.append(rx)

    def _on_frame(self, ns: str, data: bytes, addr: tuple) -> None:  # type: ignore[type-arg]
        if len(data) < 34 or struct.unpack("!H", data[12:14])[0] != ETH_P_IP:
            return
        tok, ttl = self._token(data[14:])
        if tok is None:
            return
        fr = _Frame(ns, addr[0], addr[2] == PACKET_OUTGOING, _mac(data[6:12]), _mac(data[0:6]), ttl)
        with self.lock:
            t = self.tries.get(tok)
            if t is not None:
                t.frames.append(fr)

    # ----------------------------------------------------------------- send
    def _new_tok(self) -> int:
        self.next_tok = (self.next_tok + 1) & 0xFFFFFFFF
        return self.next_tok

    def _new_sport(self) -> int:
        self.next_sport += 1
        if self.next_sport >= SPORT_HI:
            self.next_sport = SPORT_LO
        return self.next_sport

    def _sender_ns(self, probe: Probe) -> str:
        if probe.src.startswith("external "):
            return self.rz.external_ns[probe.src.split(" ", 1)[1]]
        return self.rz.netns[probe.src]

    def send(self, probe: Probe, *, warm: bool = False) -> int | None:
        """Send one try of ``probe``; return its token (None for a warm-up)."""
        ns = self._sender_ns(probe)
        tok = self._new_tok()
        t = _Try(probe, ns)
        payload = MAGIC + struct.pack("!I", tok) + b"\0" * 16
        try:
            if warm:
                with in_netns(ns):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    s.bind((str(probe.src_ip), 0))
                    s.sendto(b"warm", (str(probe.dst), 9))
                finally:
                    s.close()
                return None
            with self.lock:
                self.tries[tok] = t
            if probe.proto == Proto.ICMP:
                with in_netns(ns):
                    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
                try:
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, INITIAL_TTL)
                    s.bind((str(probe.src_ip), 0))
                    body = payload
                    hdr = struct.pack("!BBHHH", 8, 0, 0, tok & 0xFFFF, (tok >> 16) & 0xFFFF)
                    csum = _checksum(hdr + body)
                    hdr = struct.pack("!BBHHH", 8, 0, csum, tok & 0xFFFF, (tok >> 16) & 0xFFFF)
                    s.sendto(hdr + body, (str(probe.dst), 0))
                finally:
                    s.close()
            elif probe.proto == Proto.UDP:
                with in_netns(ns):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, INITIAL_TTL)
                    s.bind((str(probe.src_ip), self._new_sport()))
                    s.sendto(payload, (str(probe.dst), probe.dport))
                finally:
                    s.close()
            else:
                with in_netns(ns):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, INITIAL_TTL)
                s.setblocking(False)
                sport = self._new_sport()
                with self.lock:
                    self.tcp_ports[(sport, probe.dport)] = tok
                try:
                    s.bind((str(probe.src_ip), sport))
                except OSError:
                    s.close()
                    raise
                self.keep.append(s)
                rc = s.connect_ex((str(probe.dst), probe.dport))
                if rc not in (0, errno.EINPROGRESS):
                    raise OSError(rc, os.strerror(rc))
            t.sent = True
        except OSError as e:
            t.error = e.strerror or str(e)
        return tok

    # ---------------------------------------------------------------- judge
    def answer(self, toks: list[int]) -> Answer:
        outs: set[Outcome] = set()
        uncertain: set[Outcome] = set()
        details: list[Detail] = []
        errors = []
        with self.lock:
            tries = [self.tries[k] for k in toks if k in self.tries]
        for t in tries:
            if t.error:
                errors.append(t.error)
            sent = next((f for f in t.frames if f.netns == t.sender_ns and f.outgoing), None)
            for rx in t.rx:
                place = self.places.get(rx.netns, rx.netns)
                fr = next(
                    (f for f in t.frames if f.netns == rx.netns and f.iface == rx.iface and not f.outgoing),
                    None,
                )
                via = (
                    fr is not None
                    and sent is not None
                    and rx.ttl == INITIAL_TTL
                    and (fr.smac, fr.dmac) == (sent.smac, sent.dmac)
                )
                if fr is None or sent is None:
                    uncertain.add(Outcome(place, rx.src, via, rx.dst))
                else:
                    outs.add(Outcome(place, rx.src, via, rx.dst))
                details.append(
                    Detail(
                        place,
                        rx.iface,
                        rx.src,
                        rx.dst,
                        rx.ttl,
                        fr.smac if fr else None,
                        fr.dmac if fr else None,
                        sent.smac if sent else None,
                        sent.dmac if sent else None,
                    )
                )
        for u in uncertain:  # a frame the capture missed: trust the delivery, not its MACs
            if not any((o.to, o.src) == (u.to, u.src) for o in outs):
                outs.add(u)
        reason = "" if outs else ("; ".join(sorted(set(errors))) or "no try seen at any receiver")
        return Answer(frozenset(outs), tuple(details), len(tries), reason)

    def delivered(self, toks: list[int]) -> bool:
        with self.lock:
            return any(self.tries[k].rx for k in toks if k in self.tries)

    def run(
        self,
        probes: list[Probe],
        *,
        tries: int = 3,
        expect: set[Probe] | None = None,
        first_window: float = 1.0,
        window: float = 0.3,
        warm: bool = True,
    ) -> dict[Probe, Answer]:
        """Send every probe up to ``tries`` times; stop retrying once delivered.

        ``expect`` (probes the model delivers) lets the first window end
        early, as soon as all of them have been seen.
        """
        toks: dict[Probe, list[int]] = {p: [] for p in probes}
        if warm:
            seen = set()
            for p in probes:
                key = (p.src, p.src_ip, p.dst)
                if key not in seen:
                    seen.add(key)
                    self.send(p, warm=True)
            time.sleep(0.05)
        pending = list(probes)
        for n in range(tries):
            for p in pending:
                tok = self.send(p)
                assert tok is not None
                toks[p].append(tok)
            deadline = time.monotonic() + (first_window if n == 0 else window)
            want = [p for p in pending if expect is None or p in expect]
            while time.monotonic() < deadline:
                time.sleep(0.02)
                if n == 0 and expect is not None and all(self.delivered(toks[p]) for p in want):
                    time.sleep(0.1)  # a grace period for unexpected deliveries
                    break
            pending = [p for p in pending if not self.delivered(toks[p])]
            if not pending:
                break
        time.sleep(0.05)
        out = {p: self.answer(toks[p]) for p in probes}
        for sock in self.keep:  # the TCP clients of this run
            sock.close()
        self.keep.clear()
        return out


# --------------------------------------------------------------------------
# comparing with the model


#: Documented classes where the model and Linux differ (reported; see
#: docs/kernel.md). None is open: the four found so far (martian-source,
#: gateway-is-local, vip-needs-route, fdb-unicast-multi) were fixed in the
#: model, and their regression specs must now agree on every probe.
KNOWN_DIFFERENCES: dict[str, str] = {}


def known_difference(net: Network, probe: Probe, model: Answer) -> str | None:
    """The documented class of model/kernel difference ``probe`` falls in, if any."""
    del net, probe, model  # no open class; add a matcher here when one is found
    return None


@dataclass
class Comparison:
    probe: Probe
    model: Answer
    kernel: Answer
    known: str | None = None  # a documented model difference this probe falls in

    @property
    def agree(self) -> bool:
        return agrees(self.model, self.kernel)

    @property
    def explained(self) -> bool:
        """Disagrees, but in a documented class of model difference."""
        return not self.agree and self.known is not None

    def __str__(self) -> str:
        mark = "agree" if self.agree else ("KNOWN " + str(self.known) if self.known else "DISAGREE")
        return f"{mark}: {self.probe}\n  model:  {self.model}\n  kernel: {self.kernel}"

    def explain(self) -> str:
        lines = [str(self)]
        for d in self.model.details:
            lines.append(f"  model frame:  {d}")
        for d in self.kernel.details:
            lines.append(f"  kernel frame: {d}")
        return "\n".join(lines)


def compare(
    rz: Realization,
    probes: list[Probe] | None = None,
    *,
    tries: int = 3,
    rerun_tries: int = 4,
    prober: Prober | None = None,
) -> list[Comparison]:
    """Probe (every endpoint pair by default) and compare with the model.

    Every disagreeing probe is re-run (``rerun_tries`` more tries with longer
    windows) before it counts; its final answer merges all tries.
    """
    probes = probes if probes is not None else endpoints(rz)
    models = {p: model_answer(rz.net, p) for p in probes}
    expect = {p for p, m in models.items() if m.delivered}
    ports = sorted({p.dport for p in probes if p.proto != Proto.ICMP} | set(PROBE_PORTS))
    with neighbour_capacity():
        own = prober is None
        pr = prober or Prober(rz, ports).__enter__()
        try:
            kern = pr.run(probes, tries=tries, expect=expect)
            bad = [p for p in probes if not agrees(models[p], kern[p])]
            if bad:
                again = pr.run(
                    bad, tries=rerun_tries, expect=expect & set(bad), first_window=2.0, window=1.0, warm=True
                )
                for p in bad:
                    k1, k2 = kern[p], again[p]
                    # every delivery seen is a fact; "not delivered" needs every try to fail
                    kern[p] = Answer(
                        k1.outcomes | k2.outcomes,
                        k1.details + k2.details,
                        k1.tries + k2.tries,
                        k2.reason or k1.reason,
                    )
        finally:
            if own:
                pr.close()
    out = []
    for p in probes:
        c = Comparison(p, models[p], kern[p])
        if not c.agree:
            c.known = known_difference(rz.net, p, models[p])
        out.append(c)
    return out


# --------------------------------------------------------------------------
# checks, as the kernel answers them


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


def _satisfies(q: object, d_ep: object, probe: Probe, o: Outcome) -> bool:
    from l2l3.model.types import NatMode, Reach

    if getattr(d_ep, "stack", None) is not None:
        if o.to != d_ep.stack:  # type: ignore[attr-defined]
            return False
    elif getattr(d_ep, "external", None) is not None:
        if o.to != f"external {d_ep.external}":  # type: ignore[attr-defined]
            return False
    if isinstance(q, Reach):
        if q.via_mac and not o.via_mac:
            return False
        natted = o.src != probe.src_ip or (o.dst is not None and o.dst != probe.dst)
        if q.nat is NatMode.WITH and not natted:
            return False
        if q.nat is NatMode.WITHOUT and natted:
            return False
    return True


def check_probes(
    rz: Realization, query: object, witness: Packet | None = None
) -> list[tuple[object, object, list[Probe]]]:
    """The probes that measure ``query``: per (source, destination) endpoint pair,
    ICMP/TCP/UDP (or the query's protocol) to port 80 (or the query's port),
    plus the checker's witness packet when it has one."""
    from l2l3.model.endpoints import as_destination, resolve
    from l2l3.model.types import Isolated, NatAs, Reach

    net = rz.net
    out: list[tuple[object, object, list[Probe]]] = []
    dirs = []
    if isinstance(query, Reach | NatAs):
        dirs.append((query.src, query.dst, query.headers))
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
                protos = [h.proto] if h.proto is not None else [Proto.ICMP, Proto.TCP, Proto.UDP]
                probes = []
                for pr in protos:
                    port = 0 if pr == Proto.ICMP else (h.port if h.port is not None else 80)
                    probes.append(Probe(sid, src_ip, dst, pr, port, s.pod, d.label))
                if witness is not None and witness.src == src_ip and witness.dst == dst:
                    wp = Probe(
                        sid,
                        src_ip,
                        dst,
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
    query: object, measured: list[tuple[object, object, list[Probe]]], answers: dict[Probe, Answer]
) -> KernelCheck:
    from l2l3.model.types import Isolated, NatAs, Reach

    if not isinstance(query, Reach | NatAs | Isolated):
        return KernelCheck("not measured", [], "probes measure reach, isolated and nat queries only")
    pairs = []
    for s, d, probes in measured:
        ok = any(_satisfies(query, d, p, o) for p in probes for o in answers[p].outcomes)
        pr = PairResult(s.label, d.label, probes, ok)  # type: ignore[attr-defined]
        if isinstance(query, NatAs):
            outs = [o for p in probes for o in answers[p].outcomes if _satisfies(query, d, p, o)]
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
