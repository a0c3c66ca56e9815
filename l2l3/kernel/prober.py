"""Probe a realized spec with real packets, observed at the receiver.

A probe (:class:`~l2l3.kernel.probes.Probe`) is one packet kind (ICMP echo
request, UDP datagram to a listener, TCP SYN to a listener, SCTP INIT on a
raw socket) from one sender
stack to one destination address. The sender is a socket created inside the
sender's namespace and bound to the source address the model's sender would
use. In *every* namespace of the realization the prober keeps:

* raw IPv4 sockets for ICMP, TCP, UDP and SCTP with ``IP_PKTINFO``: they see a
  packet only once it has passed netfilter INPUT and is being delivered to
  that stack — this is what "delivered" means, here and in the model;
  ``IP_PKTINFO`` names the interface the stack received it on;
* an ``AF_PACKET`` socket: the frame's MAC addresses and TTL as it arrived
  on that interface (and, in the sender's namespace, as it was sent);
* a TCP listener and a UDP socket on each probed port.

Packets carry a token (ICMP id/seq and payload, UDP payload, TCP source
port) so every observation is attributed to one try of one probe
(:mod:`l2l3.kernel.wire`).

How a probe decides: neighbours are warmed up first (one throw-away packet
per pair), then each probe is sent up to ``tries`` times; a probe counts as
delivered as soon as one try is seen delivered, and as "not delivered" only
when every try failed.
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from l2l3.kernel.netns import in_netns
from l2l3.kernel.probes import PROBE_PORTS, Answer, Detail, Outcome, Probe
from l2l3.kernel.realization import Realization
from l2l3.kernel.wire import (
    ETH_P_IP,
    IPPROTO_SCTP,
    PACKET_OUTGOING,
    icmp_echo,
    ip_token,
    mac_str,
    pktinfo_ifindex,
    probe_payload,
    receivers,
    sctp_init,
)
from l2l3.model.packet import INITIAL_TTL
from l2l3.model.types import Proto

SPORT_LO, SPORT_HI = 20000, 60000


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
    error: str = ""
    rx: list[_Rx] = field(default_factory=list)
    frames: list[_Frame] = field(default_factory=list)


class NetnsSockets:
    """Sockets in every namespace of a realization, read by one collector thread.

    The base of :class:`Prober` (single packets) and
    :class:`~l2l3.kernel.exchange.Exchanger` (request and answer): a
    subclass opens its sockets in :meth:`_open` and reads them in
    :meth:`_collect`, which must return once :attr:`stop_fd` is readable.
    """

    collector_name = "l2l3-collector"

    def __init__(self, rz: Realization) -> None:
        self.rz = rz
        self.places: dict[str, str] = {ns: sid for sid, ns in rz.netns.items()}  # netns -> place
        self.places.update({ns: f"external {ext}" for ext, ns in rz.external_ns.items()})
        self.socks: dict[int, tuple[str, str, socket.socket]] = {}  # fd -> (netns, kind, sock)
        self.lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self.thread: threading.Thread | None = None

    @property
    def stop_fd(self) -> int:
        """Readable once the collector must stop."""
        return self._stop_r

    def __enter__(self) -> NetnsSockets:
        try:
            for ns in self.places:
                self._open(ns)
        except BaseException:
            self.close()
            raise
        self.thread = threading.Thread(target=self._collect, name=self.collector_name, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, ns: str) -> None:
        raise NotImplementedError

    def _collect(self) -> None:
        raise NotImplementedError

    def _poller(self) -> select.poll:
        """A poll object with every socket and :attr:`stop_fd` registered for reading."""
        poller = select.poll()
        for fd in (*self.socks, self.stop_fd):
            poller.register(fd, select.POLLIN)
        return poller

    def _add(self, ns: str, kind: str, s: socket.socket) -> None:
        s.setblocking(False)
        self.socks[s.fileno()] = (ns, kind, s)

    def _sender_ns(self, probe: Probe) -> str:
        if probe.src.startswith("external "):
            return self.rz.external_ns[probe.src.split(" ", 1)[1]]
        return self.rz.netns[probe.src]

    def close(self) -> None:
        """Stop the collector and close every socket."""
        if self.thread is not None:
            os.write(self._stop_w, b"x")
            self.thread.join(5)
            self.thread = None
        for _ns, _k, s in self.socks.values():
            s.close()
        self.socks.clear()
        for fd in (self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._stop_r = self._stop_w = -1


class Prober(NetnsSockets):
    """Raw receivers in every namespace, and single probe packets sent from the senders."""

    collector_name = "l2l3-probe-collector"

    def __init__(self, rz: Realization, ports: Iterable[int] = PROBE_PORTS) -> None:
        super().__init__(rz)
        self.ports = sorted(set(ports))
        self.ifnames: dict[str, dict[int, str]] = {}
        self.tries: dict[int, _Try] = {}
        self.tcp_ports: dict[tuple[int, int], int] = {}
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
        super().__enter__()
        return self

    def _open(self, ns: str) -> None:
        with in_netns(ns):
            self.ifnames[ns] = {i: n for i, n in socket.if_nameindex()}
            for kind, s in receivers(self.ports):
                self._add(ns, kind, s)

    def close(self) -> None:
        """Stop the collector and close every socket (the run's TCP clients too)."""
        super().close()
        for s in self.keep:
            s.close()
        self.keep.clear()

    # -------------------------------------------------------------- collect
    def _collect(self) -> None:
        poller = self._poller()
        while True:
            for fd, _ev in poller.poll(200):
                if fd == self.stop_fd:
                    return
                ns, kind, s = self.socks[fd]
                for _ in range(256):
                    try:
                        if kind == "packet":
                            data, addr = s.recvfrom(65535)
                            self._on_frame(ns, data, addr)
                        elif kind in ("icmp", "tcp", "udp", "sctp"):
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

    def _tcp_token(self, sport: int, dport: int) -> int | None:
        """The token of the TCP try sent from ``sport`` to ``dport``, if any."""
        with self.lock:
            got = self.tcp_ports.get((sport, dport))
            if got is None:  # a DNAT rewrote the port (a target port): the source port names the try
                got = next((t for (sp, _dp), t in self.tcp_ports.items() if sp == sport), None)
            return got

    def _token(self, ip: bytes) -> tuple[int | None, int]:
        """(token, ttl) of an IPv4 packet carrying a probe, else (None, 0)."""
        return ip_token(ip, self._tcp_token)

    def _on_rx(self, ns: str, data: bytes, anc: list[tuple[int, int, bytes]]) -> None:
        tok, ttl = self._token(data)
        if tok is None:
            return
        ifindex = pktinfo_ifindex(anc)
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
        fr = _Frame(ns, addr[0], addr[2] == PACKET_OUTGOING, mac_str(data[6:12]), mac_str(data[0:6]), ttl)
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

    def send(self, probe: Probe, *, warm: bool = False) -> int | None:
        """Send one try of ``probe``; return its token (None for a warm-up)."""
        ns = self._sender_ns(probe)
        tok = self._new_tok()
        t = _Try(probe, ns)
        payload = probe_payload(tok)
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
                    s.sendto(icmp_echo(tok, payload), (str(probe.dst), 0))
                finally:
                    s.close()
            elif probe.proto == Proto.SCTP:
                with in_netns(ns):
                    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
                try:
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, INITIAL_TTL)
                    s.bind((str(probe.src_ip), 0))
                    s.sendto(sctp_init(self._new_sport(), probe.dport, tok), (str(probe.dst), 0))
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
        except OSError as e:
            t.error = e.strerror or str(e)
        return tok

    # ---------------------------------------------------------------- judge
    def answer(self, toks: list[int]) -> Answer:
        """What the tries ``toks`` of one probe show: where it was delivered and how it arrived."""
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
        """Whether any of the tries ``toks`` has been seen delivered."""
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
