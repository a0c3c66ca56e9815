"""Exchanges: a request and its answer through real sockets, NAT and conntrack.

An exchange probe is a :class:`~l2l3.kernel.probes.Probe` run as a
conversation rather than a single packet:

* **TCP** — a real ``connect()`` from the sender's namespace (bound to the
  probe's source address, or unbound so the stack picks its route's source)
  to a listener that every namespace of the realization keeps on the port.
  It succeeds when the handshake completes and a payload carrying the token
  comes back echoed by the server.
* **UDP** — a request datagram to a socket every namespace keeps on the
  port; the server answers from the same socket, from the address the
  request arrived at (``IP_PKTINFO``'s destination as the reply's source,
  as a well-behaved UDP server does), to the address and port it came from.
  The client waits on its own bound socket and records where the answer
  came from.
* **ICMP** — an echo request; the destination kernel's own echo reply.

In every namespace a collector sees what was *delivered*: raw TCP (SYNs) and
ICMP (echo requests) sockets, the accepted TCP connections and the UDP
sockets, each telling which namespace took the request and with which
source and destination (NAT visible). Conntrack does the rest: the kernel
undoes each NAT on the answer where it was applied; an answer that misses
that node keeps the rewritten addresses and the client's stack refuses it
(TCP resets the stray SYN-ACK; a UDP or ICMP answer arrives from the wrong
address, which :attr:`Exchange.ok` rejects).

Every exchange is bounded by ``timeout`` (1 s); exchanges run in parallel
threads, and a failed one is tried again (``tries``) before it counts.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from l2l3.kernel.netns import in_netns
from l2l3.kernel.prober import NetnsSockets
from l2l3.kernel.probes import Probe
from l2l3.kernel.realization import Realization
from l2l3.kernel.wire import IP_PKTINFO, MAGIC, icmp_echo, probe_payload
from l2l3.model.packet import INITIAL_TTL
from l2l3.model.types import Proto

if TYPE_CHECKING:
    from l2l3.model.goal import Exchange as ModelExchange

TIMEOUT = 1.0
WORKERS = 48
_SPORT_LO, _SPORT_HI = 20000, 60000
_PAYLOAD_LEN = len(probe_payload(0))
IP_TRANSPARENT = 19


#: (address, port) of one end of a packet as a socket saw it (port 0 for ICMP)
End = tuple[IPv4Address, int]


@dataclass(frozen=True, slots=True, order=True)
class Exchange:
    """One request as its server took it, and what came back to the client.

    ``to``: the place whose stack the request was delivered into; ``src`` /
    ``dst``: the request's ends as delivered (after any NAT); ``sent``: the
    client's end as it sent (its stack's pick when unbound); ``answer``: the
    answer's (source, destination) as the client's stack received it (None:
    none came back); ``ok``: the answer came from the end the client sent
    to, to the end it sent from, and the client's socket took it (TCP: the
    handshake completed and the payload came back).
    """

    to: str
    src: End
    dst: End
    sent: End
    answer: tuple[End, End] | None = None
    ok: bool = False

    @property
    def answered(self) -> bool:
        """Some answer arrived in the client's stack."""
        return self.answer is not None

    @property
    def answer_src(self) -> IPv4Address | None:
        """The answer's source address as the client's stack received it."""
        return self.answer[0][0] if self.answer is not None else None

    def observed(self, probe: Probe) -> ModelExchange:
        """This exchange as :class:`l2l3.model.goal.Exchange`, the form the model's
        :meth:`~l2l3.model.goal.ConnectGoal.met_by_exchange` reads."""
        from l2l3.model.goal import Exchange as ModelExchange
        from l2l3.model.packet import Packet

        def pkt(a: End, b: End) -> Packet:
            return Packet(src=a[0], dst=b[0], proto=probe.proto, sport=a[1], dport=b[1])

        return ModelExchange(
            sent=pkt(self.sent, (probe.dst, probe.dport)),
            request_to=self.to,
            request_seen=pkt(self.src, self.dst),
            answer_to=probe.src if self.answer is not None else None,
            answer_seen=pkt(*self.answer) if self.answer is not None else None,
        )

    def __str__(self) -> str:
        req = f"request delivered to {self.to} as {_end(self.src)} -> {_end(self.dst)}"
        if self.ok:
            return f"{req}; answered"
        if self.answer is not None:
            return f"{req}; answer arrived from {_end(self.answer[0])} (not the end it was sent to)"
        return f"{req}; no answer came back"


def _end(e: End) -> str:
    return f"{e[0]}:{e[1]}" if e[1] else str(e[0])


@dataclass
class ExchangeAnswer:
    """Every exchange seen for one probe over its tries, and the client's source address."""

    exchanges: frozenset[Exchange]
    sent_from: IPv4Address | None = None  # the client's address (the stack's pick when unbound)
    tries: int = 0
    reason: str = ""

    @property
    def delivered(self) -> bool:
        """Some request was delivered into some stack."""
        return bool(self.exchanges)

    @property
    def connected(self) -> bool:
        """Some exchange completed."""
        return any(e.ok for e in self.exchanges)

    def __str__(self) -> str:
        if not self.exchanges:
            return "request not delivered" + (f" ({self.reason})" if self.reason else "")
        return "; ".join(str(e) for e in sorted(self.exchanges))


@dataclass
class _Seen:
    """A request as one namespace's stack took it."""

    netns: str
    src: End
    dst: End


@dataclass
class _Try:
    probe: Probe
    sender_ns: str
    sport: int = 0  # the client's port (0 for ICMP)
    seen: list[_Seen] = field(default_factory=list)
    sent_from: IPv4Address | None = None
    answer: tuple[End, End] | None = None
    ok: bool = False
    error: str = ""


class Exchanger(NetnsSockets):
    """Servers and a collector in every namespace of a realization; clients on demand."""

    collector_name = "l2l3-exchange-collector"

    def __init__(self, rz: Realization, ports: list[int], *, timeout: float = TIMEOUT) -> None:
        super().__init__(rz)
        self.ports = sorted(set(ports) | {80})
        self.timeout = timeout
        self.conns: dict[
            int, tuple[str, socket.socket, bytearray]
        ] = {}  # accepted, fd -> (netns, conn, data)
        self.tries: dict[int, _Try] = {}
        self.by_sport: dict[int, int] = {}  # TCP client port -> token
        self.next_tok = random.randrange(1 << 20, 1 << 30)
        self.next_sport = random.randrange(_SPORT_LO, _SPORT_HI)

    def __enter__(self) -> Exchanger:
        super().__enter__()
        return self

    def _open(self, ns: str) -> None:
        with in_netns(ns):
            for proto, kind in ((socket.IPPROTO_ICMP, "icmp"), (socket.IPPROTO_TCP, "tcp")):
                s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
                self._add(ns, kind, s)
            for port in self.ports:
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind(("0.0.0.0", port))
                t.listen(1024)
                self._add(ns, "listen", t)
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                # an external owns its whole range through a policy-routed local route that
                # output routing does not see: answering from such an address needs this
                u.setsockopt(socket.IPPROTO_IP, IP_TRANSPARENT, 1)
                u.bind(("0.0.0.0", port))
                self._add(ns, "udp", u)

    def close(self) -> None:
        """Stop the collector; close every socket and accepted connection."""
        super().close()
        for _ns, c, _b in self.conns.values():
            c.close()
        self.conns.clear()

    # -------------------------------------------------------------- collect
    def _collect(self) -> None:
        poller = self._poller()
        while True:
            for fd, _ev in poller.poll(200):
                if fd == self.stop_fd:
                    return
                if fd in self.conns:
                    if not self._on_conn(fd):
                        poller.unregister(fd)
                        self.conns.pop(fd)[1].close()
                    continue
                ns, kind, s = self.socks[fd]
                for _ in range(64):
                    try:
                        if kind == "listen":
                            c, _peer = s.accept()
                            c.setblocking(False)
                            self.conns[c.fileno()] = (ns, c, bytearray())
                            poller.register(c.fileno(), select.POLLIN)
                        elif kind == "udp":
                            data, anc, _fl, peer = s.recvmsg(2048, socket.CMSG_SPACE(12))
                            self._on_udp(ns, s, data, anc, peer)
                        else:
                            self._on_raw(ns, kind, s.recv(65535))
                    except (BlockingIOError, InterruptedError):
                        break
                    except (OSError, ValueError, struct.error):
                        break  # one bad packet or socket must not stop the collector

    def _seen(self, tok: int | None, ns: str, src: tuple[str, int], dst: tuple[str, int]) -> None:
        with self.lock:
            t = self.tries.get(tok) if tok is not None else None
            if t is not None:
                seen = _Seen(ns, (IPv4Address(src[0]), src[1]), (IPv4Address(dst[0]), dst[1]))
                if seen not in t.seen:
                    t.seen.append(seen)

    def _on_raw(self, ns: str, kind: str, ip: bytes) -> None:
        if len(ip) < 20:
            return
        pl = ip[(ip[0] & 15) * 4 :]
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        if kind == "icmp" and len(pl) >= 16 and pl[0] == 8 and pl[8:12] == MAGIC:
            self._seen(struct.unpack("!I", pl[12:16])[0], ns, (src, 0), (dst, 0))
            return
        if kind != "tcp" or len(pl) < 14:
            return
        sport, dport = struct.unpack("!HH", pl[:4])
        if pl[13] & 0x12 == 0x02:  # a SYN
            with self.lock:
                tok = self.by_sport.get(sport)
            self._seen(tok, ns, (src, sport), (dst, dport))
        elif pl[13] & 0x10:  # a SYN-ACK or data coming back: the answer
            with self.lock:
                t = self.tries.get(self.by_sport.get(dport, -1))
                if t is not None and t.sender_ns == ns and (t.answer is None or src != str(t.probe.dst)):
                    # a wrong source, once seen, is what is kept
                    t.answer = ((IPv4Address(src), sport), (IPv4Address(dst), dport))

    def _on_udp(self, ns: str, s: socket.socket, data: bytes, anc: list, peer: tuple) -> None:  # type: ignore[type-arg]
        if data[:4] != MAGIC or len(data) < 8:
            return
        here = _pktinfo_dst(anc)
        if here is None:
            return
        self._seen(struct.unpack("!I", data[4:8])[0], ns, peer, (here, s.getsockname()[1]))
        # the answer: from the address the request arrived at, to where it came from
        info = struct.pack("I4s4s", 0, socket.inet_aton(here), b"\0\0\0\0")
        try:
            s.sendmsg([data], [(socket.IPPROTO_IP, IP_PKTINFO, info)], 0, peer)
        except OSError:
            pass

    def _on_conn(self, fd: int) -> bool:
        ns, c, buf = self.conns[fd]
        try:
            chunk = c.recv(4096)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not chunk:
            return False
        buf += chunk
        if len(buf) < _PAYLOAD_LEN:
            return True
        if buf[:4] == MAGIC:
            try:
                peer, here = c.getpeername(), c.getsockname()
                self._seen(struct.unpack("!I", bytes(buf[4:8]))[0], ns, peer, here)
                c.send(bytes(buf))
            except OSError:
                pass  # reset meanwhile (an answer the client refused): the SYN was seen already
        return False

    # ---------------------------------------------------------------- clients
    def _new(self, probe: Probe) -> tuple[int, int, _Try]:
        with self.lock:
            self.next_tok = (self.next_tok + 1) & 0xFFFFFFFF
            self.next_sport = self.next_sport + 1 if self.next_sport + 1 < _SPORT_HI else _SPORT_LO
            t = _Try(probe, self._sender_ns(probe), self.next_sport if probe.proto != Proto.ICMP else 0)
            self.tries[self.next_tok] = t
            return self.next_tok, self.next_sport, t

    def _socket(self, probe: Probe, kind: int, proto: int = 0) -> socket.socket:
        with in_netns(self._sender_ns(probe)):
            return socket.socket(socket.AF_INET, kind, proto)

    def _route_source(self, probe: Probe) -> IPv4Address | None:
        """The source address the sender's stack picks for ``probe.dst`` (an unbound socket's)."""
        s = self._socket(probe, socket.SOCK_DGRAM)
        try:
            s.connect((str(probe.dst), probe.dport or 9))
            return IPv4Address(s.getsockname()[0])
        except OSError:
            return None
        finally:
            s.close()

    def exchange(self, probe: Probe) -> int:
        """Run one try of ``probe`` (blocking, at most ``timeout``); return its token."""
        tok, sport, t = self._new(probe)
        bind = str(probe.src_ip) if probe.bound else "0.0.0.0"
        try:
            t.sent_from = probe.src_ip if probe.bound else self._route_source(probe)
            if probe.proto == Proto.TCP:
                self._tcp(t, tok, sport, bind)
            elif probe.proto == Proto.UDP:
                self._udp(t, tok, sport, bind)
            elif probe.proto == Proto.ICMP:
                self._icmp(t, tok, bind)
            else:
                t.error = f"{probe.proto} exchanges are not probed"
        except OSError as e:
            t.error = e.strerror or str(e)
        return tok

    def _tcp(self, t: _Try, tok: int, sport: int, bind: str) -> None:
        p = t.probe
        with self.lock:
            self.by_sport[sport] = tok
        s = self._socket(p, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, INITIAL_TTL)
            s.bind((bind, sport))
            end = time.monotonic() + self.timeout
            s.settimeout(self.timeout)
            s.connect((str(p.dst), p.dport))
            t.sent_from = IPv4Address(s.getsockname()[0])
            payload = probe_payload(tok)
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                s.settimeout(max(0.01, end - time.monotonic()))
                chunk = s.recv(len(payload) - len(got))
                if not chunk:
                    break
                got += chunk
            if got == payload:  # the socket took it: the answer came from where it was sent to
                t.answer = ((p.dst, p.dport), (t.sent_from, sport))
                t.ok = True
        except TimeoutError:
            t.error = "timed out"
        finally:
            s.close()

    def _udp(self, t: _Try, tok: int, sport: int, bind: str) -> None:
        p = t.probe
        s = self._socket(p, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, INITIAL_TTL)
            s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            s.bind((bind, sport))
            payload = probe_payload(tok)

            def answer(data: bytes, anc: list, peer: tuple) -> bool:  # type: ignore[type-arg]
                if data != payload:
                    return False
                here = _pktinfo_dst(anc) or "0.0.0.0"
                t.answer = ((IPv4Address(peer[0]), peer[1]), (IPv4Address(here), sport))
                t.ok = t.answer == ((p.dst, p.dport), (t.sent_from, sport))
                return True

            self._ask(s, lambda: s.sendto(payload, (str(p.dst), p.dport)), answer, recvmsg=True)
        finally:
            s.close()

    def _icmp(self, t: _Try, tok: int, bind: str) -> None:
        p = t.probe
        s = self._socket(p, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        try:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, INITIAL_TTL)
            if bind != "0.0.0.0":
                s.bind((bind, 0))
            payload = probe_payload(tok)
            echo = icmp_echo(tok, payload)

            def answer(ip: bytes, _anc: list, _peer: tuple) -> bool:  # type: ignore[type-arg]
                pl = ip[(ip[0] & 15) * 4 :] if ip else b""
                if len(pl) < 8 + len(payload) or pl[0] != 0 or pl[8 : 8 + len(payload)] != payload:
                    return False
                t.answer = ((IPv4Address(ip[12:16]), 0), (IPv4Address(ip[16:20]), 0))
                t.ok = t.answer == ((p.dst, 0), (t.sent_from, 0))
                return True

            self._ask(s, lambda: s.sendto(echo, (str(p.dst), 0)), answer, recvmsg=False)
        finally:
            s.close()

    def _ask(self, s: socket.socket, send, answer, *, recvmsg: bool) -> None:  # type: ignore[no-untyped-def]
        """Send (again every 0.3 s) until ``answer`` accepts something received, or the timeout."""
        s.setblocking(False)
        end = time.monotonic() + self.timeout
        next_send = 0.0
        while (now := time.monotonic()) < end:
            if now >= next_send:
                send()
                next_send = now + 0.3
            r, _w, _x = select.select([s], [], [], max(0.0, min(end, next_send) - now))
            while r:
                try:
                    if recvmsg:
                        data, anc, _fl, peer = s.recvmsg(2048, socket.CMSG_SPACE(12))
                    else:
                        data, anc, peer = s.recv(65535), [], ()
                except (BlockingIOError, InterruptedError):
                    break
                if answer(data, anc, peer):
                    return

    # ----------------------------------------------------------------- run
    def answer(self, toks: list[int]) -> ExchangeAnswer:
        """What the tries ``toks`` of one probe did."""
        outs: set[Exchange] = set()
        errors: list[str] = []
        sent_from = None
        with self.lock:
            tries = [self.tries[k] for k in toks if k in self.tries]
        for t in tries:
            sent_from = sent_from or t.sent_from
            if t.error:
                errors.append(t.error)
            for seen in t.seen:
                place = self.places.get(seen.netns, seen.netns)
                sent = (t.sent_from or IPv4Address(0), t.sport)
                outs.add(Exchange(place, seen.src, seen.dst, sent, t.answer, t.ok))
        reason = "" if outs else ("; ".join(sorted(set(errors))) or "no try seen at any receiver")
        return ExchangeAnswer(frozenset(outs), sent_from, len(tries), reason)

    def run(self, probes: list[Probe], *, tries: int = 2, warm: bool = True) -> dict[Probe, ExchangeAnswer]:
        """Run every probe's exchange (in parallel), again up to ``tries`` times while it fails."""
        toks: dict[Probe, list[int]] = {p: [] for p in probes}
        if warm:
            self._warm(probes)
        pending = list(probes)
        with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(probes)))) as pool:
            for _ in range(tries):
                for p, tok in zip(pending, pool.map(self.exchange, pending), strict=True):
                    toks[p].append(tok)
                time.sleep(0.05)  # late deliveries of the last requests
                pending = [p for p in pending if not self.answer(toks[p]).connected]
                if not pending:
                    break
        return {p: self.answer(toks[p]) for p in probes}

    def _warm(self, probes: list[Probe]) -> None:
        """One throw-away datagram per (sender, destination): neighbours resolved before timing starts."""
        seen = set()
        for p in probes:
            if (p.src, p.dst) in seen:
                continue
            seen.add((p.src, p.dst))
            s = self._socket(p, socket.SOCK_DGRAM)
            try:
                s.bind((str(p.src_ip) if p.bound else "0.0.0.0", 0))
                s.sendto(b"warm", (str(p.dst), 9))
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)


def _pktinfo_dst(anc: list) -> str | None:  # type: ignore[type-arg]
    """The header destination address from ``IP_PKTINFO`` ancillary data."""
    for level, typ, cdata in anc:
        if level == socket.IPPROTO_IP and typ == IP_PKTINFO and len(cdata) >= 12:
            return socket.inet_ntoa(cdata[8:12])
    return None


def run_exchanges(rz: Realization, probes: list[Probe], *, tries: int = 2) -> dict[Probe, ExchangeAnswer]:
    """Run ``probes`` as exchanges on realization ``rz`` (servers on every probed port)."""
    from l2l3.kernel.netns import neighbour_capacity

    ports = sorted({p.dport for p in probes if p.proto != Proto.ICMP} | {80})
    with neighbour_capacity(), Exchanger(rz, ports) as ex:
        return ex.run(probes, tries=tries)
