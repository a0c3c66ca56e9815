"""Probe packets on the wire: the token they carry, and the raw sockets that see them.

Every probe packet carries a 32-bit token: an ICMP echo request in its id
and sequence number and, after :data:`MAGIC`, in its payload; a UDP datagram
in its payload; a TCP SYN by its (source port, destination port), which the
sender registers; an SCTP INIT (sent on a raw socket: the kernel needs no
SCTP module for that) in its initiate tag, with its initial TSN the tag
xor :data:`MAGIC`. :func:`ip_token` finds it again in a received IPv4 packet.

:func:`receivers` opens, in the calling thread's netns, the sockets that see
probes arrive: raw IPv4 sockets (delivered packets, with ``IP_PKTINFO``), an
``AF_PACKET`` socket (frames, with their MACs) and a TCP listener and UDP
socket per probed port.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterable, Iterator

MAGIC = b"L2L3"
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
IP_PKTINFO = 8
IPPROTO_SCTP = 132


def mac_str(b: bytes) -> str:
    """Six bytes as ``aa:bb:cc:dd:ee:ff``."""
    return ":".join(f"{x:02x}" for x in b)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def probe_payload(tok: int) -> bytes:
    """The payload of a probe packet carrying token ``tok``."""
    return MAGIC + struct.pack("!I", tok) + b"\0" * 16


def icmp_echo(tok: int, body: bytes) -> bytes:
    """An ICMP echo request (id and sequence from ``tok``) with ``body``, checksummed."""
    hdr = struct.pack("!BBHHH", 8, 0, 0, tok & 0xFFFF, (tok >> 16) & 0xFFFF)
    csum = checksum(hdr + body)
    hdr = struct.pack("!BBHHH", 8, 0, csum, tok & 0xFFFF, (tok >> 16) & 0xFFFF)
    return hdr + body


def _crc32c_table() -> tuple[int, ...]:
    out = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        out.append(c)
    return tuple(out)


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the SCTP checksum (RFC 4960 appendix B)."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


_MAGIC_INT = struct.unpack("!I", MAGIC)[0]


def sctp_init(sport: int, dport: int, tok: int) -> bytes:
    """An SCTP packet with one INIT chunk carrying ``tok`` (verification tag 0, as INIT needs).

    Conntrack and NAT take it as the first packet of an association (and
    check its CRC-32C); the initiate tag holds the token.
    """
    tag = tok or 1
    chunk = struct.pack("!BBHIIHHI", 1, 0, 20, tag, 65536, 1, 1, tag ^ _MAGIC_INT)
    head = struct.pack("!HHII", sport, dport, 0, 0)
    csum = crc32c(head + chunk)
    return struct.pack("!HHI", sport, dport, 0) + struct.pack("<I", csum) + chunk


def ip_token(ip: bytes, tcp_token: Callable[[int, int], int | None]) -> tuple[int | None, int]:
    """(token, ttl) of an IPv4 packet carrying a probe, else (None, 0).

    A TCP SYN's token is ``tcp_token(sport, dport)``.
    """
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
    elif proto == 132:
        if len(pl) >= 32 and pl[12] == 1:
            tag, tsn = struct.unpack("!I", pl[16:20])[0], struct.unpack("!I", pl[28:32])[0]
            if tsn == tag ^ _MAGIC_INT:
                return tag, ttl
    elif proto == 6 and len(pl) >= 14:
        flags = pl[13]
        if flags & 0x02 and not flags & 0x10:
            sport, dport = struct.unpack("!HH", pl[:4])
            return tcp_token(sport, dport), ttl
    return None, 0


def pktinfo_ifindex(anc: list[tuple[int, int, bytes]]) -> int:
    """The receiving interface's index from ``recvmsg`` ancillary data (0 if absent)."""
    ifindex = 0
    for level, typ, cdata in anc:
        if level == socket.IPPROTO_IP and typ == IP_PKTINFO and len(cdata) >= 12:
            ifindex = struct.unpack("I", cdata[:4])[0]
    return ifindex


def _big(s: socket.socket) -> None:
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)


def receivers(ports: Iterable[int]) -> Iterator[tuple[str, socket.socket]]:
    """Open the receiving sockets in the calling thread's netns, one at a time, as (kind, socket).

    Kinds: ``icmp``/``tcp``/``udp``/``sctp`` (raw, ``IP_PKTINFO``), ``packet``
    (``AF_PACKET``), and per port ``listen`` (TCP) and ``udpsink``. Iterate
    inside the netns; each socket is the caller's once yielded.
    """
    for proto, kind in (
        (socket.IPPROTO_ICMP, "icmp"),
        (socket.IPPROTO_TCP, "tcp"),
        (socket.IPPROTO_UDP, "udp"),
        (IPPROTO_SCTP, "sctp"),
    ):
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        _big(s)
        yield kind, s
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    _big(s)
    yield "packet", s
    for port in ports:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(("0.0.0.0", port))
        t.listen(1024)
        t.setblocking(False)
        yield "listen", t
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", port))
        yield "udpsink", u
