"""Brute-force verdicts: every query answered by the concrete simulator alone.

For a small network the header space is finite up to equivalence: the
destination addresses of :func:`domain` cover every class of packet the
network can tell apart (every owned address, every VIP, the edges of every
prefix any rule, route, policy or query names), with every protocol and
every port a rule names plus one it does not. Every sender sends from every
address it may send from. A verdict is then the plain reading of
LANGUAGE.md section 4 over those traces; no search, no screen, no classes.

Only endpoint *resolution* is shared with the checker (l2l3.model.endpoints,
one place by design); what a pair is, which pairs count, what "reached"
means and what each query demands are written here again, independently.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from l2l3.checking import Verdict
from l2l3.model.endpoints import Endpoint, as_destination, bound_sources, pod_endpoint, resolve
from l2l3.model.network import Network, Stack
from l2l3.model.packet import Disposition, Packet, Trace
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import (
    AddressRef,
    CidrPeer,
    ExternalRef,
    Headers,
    Isolated,
    NatAs,
    NatMode,
    NetnsIsolation,
    NodeRef,
    NoLoops,
    PodRef,
    Proto,
    Query,
    Reach,
    StackMode,
)
from tests.property.netgen import header_domain

A = IPv4Address


def _edges(p: IPv4Network) -> set[IPv4Address]:
    lo, hi = int(p.network_address), int(p.broadcast_address)
    return {A(lo), A(hi), A(min(lo + 1, hi)), A(max(lo - 1, 0)), A(min(hi + 1, 2**32 - 1))}


def domain(net: Network, extra: list[IPv4Network]) -> list[tuple[IPv4Address, Proto, int]]:
    """netgen's header domain, widened by policy CIDRs, query prefixes and second subnets."""
    base = header_domain(net)
    dsts = {d for d, _, _ in base}
    prefixes: set[IPv4Network] = set(extra)
    for pol in net.policies:
        for r in (*pol.ingress, *pol.egress):
            for peer in r.peers:
                if isinstance(peer, CidrPeer):
                    prefixes |= {peer.cidr, *peer.exceptions}
    for st in net.stacks.values():
        prefixes |= {r.prefix for r in st.routes}
    for p in prefixes:
        dsts |= _edges(p)
    ports = sorted({port for _, _, port in base if port} | {9})
    out = []
    for d in sorted(dsts):
        out.append((d, Proto.ICMP, 0))
        for proto in (Proto.TCP, Proto.UDP, Proto.SCTP):
            out.extend((d, proto, port) for port in ports)
    return out


class Brute:
    """Verdicts of one network's queries by exhaustive simulation (traces memoised)."""

    def __init__(self, net: Network, extra_prefixes: list[IPv4Network]) -> None:
        self.net = net
        self.dom = domain(net, extra_prefixes)
        self._traces: dict[tuple[Origin, IPv4Address | None], list[Trace]] = {}

    # ---------------------------------------------------------------- senders

    def _route_source(self, st: Stack, dst: IPv4Address) -> list[IPv4Address]:
        """What a stack process writes as source when it binds none (Engine._originate)."""
        if dst in st.local_addrs:
            return sorted(st.local_addrs)
        r = self.net.lookup(st, dst)
        if r is None:
            return [next(iter(sorted(st.local_addrs)), A(0))]  # dies: no route (any source)
        a = st.primary_addr(r.dev)
        return [a] if a is not None else []

    def _sources(self, s: Endpoint, dst: IPv4Address) -> list[IPv4Address]:
        if s.src is not None:
            return [s.src]
        if s.external is not None:
            owned = [d for d, _, _ in self.dom if self.net.external_owner(d) == s.external]
            if s.prefix is not None:
                owned = [a for a in owned if a in s.prefix]
            return sorted(set(owned))
        assert s.stack is not None
        out = self._route_source(self.net.stacks[s.stack], dst)
        info = self.net.pods.get(s.pod) if s.pod else None
        return sorted(set(out) | set(bound_sources(info)))  # a no-netns pod may bind its own

    def traces(self, s: Endpoint, headers: Headers = Headers()) -> list[Trace]:
        """Every trace of every packet ``s`` may send (within ``headers``)."""
        out = []
        for dst, proto, port in self.dom:
            if headers.proto is not None and proto is not headers.proto:
                continue
            if headers.port is not None and (proto is Proto.ICMP or port != headers.port):
                continue
            for src in self._sources(s, dst):
                key = (s.origin, src, dst, proto, port)
                hit = self._traces.get(key)  # type: ignore[arg-type]
                if hit is None:
                    pkt = Packet(
                        src=src, dst=dst, proto=proto, sport=0 if proto is Proto.ICMP else 40000, dport=port
                    )
                    hit = self._traces[key] = simulate(self.net, s.origin, pkt)  # type: ignore[index]
                out.extend(hit)
        return out

    # ------------------------------------------------------------------ pairs

    @staticmethod
    def _one(ref: object) -> bool:
        return isinstance(ref, PodRef | NodeRef | ExternalRef)

    def _pairs(self, a: object, b: object) -> list[tuple[Endpoint, Endpoint]]:
        srcs, dsts = resolve(self.net, a), as_destination(self.net, b)  # type: ignore[arg-type]
        keep_self = self._one(a) and self._one(b)
        return [
            (s, d)
            for s in srcs
            for d in dsts
            if keep_self or (s.stack, s.pod, s.external, s.prefix) != (d.stack, d.pod, d.external, d.prefix)
        ]

    @staticmethod
    def _arrives(t: Trace, d: Endpoint, via_mac: bool, nat: NatMode) -> bool:
        if t.disposition is not Disposition.DELIVERED:
            return False
        if d.prefix is not None and d.stack is None and d.external is None:
            if t.packet.dst not in d.prefix:
                return False
        elif d.external is not None:
            if t.delivered_to != f"external {d.external}":
                return False
        elif t.delivered_to != d.stack:
            return False
        if via_mac and not t.via_mac:
            return False
        if nat is NatMode.WITH and not t.nat:
            return False
        return not (nat is NatMode.WITHOUT and t.nat)

    def _delivered(self, s: Endpoint, d: Endpoint, q: Reach | NatAs) -> list[Trace]:
        via_mac = isinstance(q, Reach) and q.via_mac
        nat = q.nat if isinstance(q, Reach) else NatMode.ANY
        return [t for t in self.traces(s, q.headers) if self._arrives(t, d, via_mac, nat)]

    # --------------------------------------------------------------- verdicts

    def verdict(self, q: Query) -> Verdict:
        """What LANGUAGE.md section 4 says ``q`` is, over the finite domain."""
        if isinstance(q, Reach):
            ps = self._pairs(q.src, q.dst)
            got = [bool(self._delivered(s, d, q)) for s, d in ps]
            ok = all(got) if not q.negated else not any(got)
            return Verdict.HOLDS if ok else Verdict.VIOLATED
        if isinstance(q, Isolated):
            both = [
                Reach(src=q.a, dst=q.b, negated=True, headers=q.headers),
                Reach(src=q.b, dst=q.a, negated=True, headers=q.headers),
            ]
            return Verdict.HOLDS if all(self.verdict(r) is Verdict.HOLDS for r in both) else Verdict.VIOLATED
        if isinstance(q, NatAs):
            ps = self._pairs(q.src, q.dst)
            if not ps:
                return Verdict.VIOLATED
            for s, d in ps:
                got = self._delivered(s, d, q)
                if not got or any(t.final is None or t.final.src != q.ip for t in got):
                    return Verdict.VIOLATED
            return Verdict.HOLDS
        if isinstance(q, NetnsIsolation):
            return self._netns(q)
        if isinstance(q, NoLoops):
            senders = [
                Endpoint(sid, stack=sid) for sid, st in self.net.stacks.items() if st.kind != "gateway"
            ]
            senders += [Endpoint(e, external=e) for e in self.net.externals]
            looped = any(t.disposition is Disposition.LOOPED for s in senders for t in self.traces(s))
            return Verdict.VIOLATED if looped else Verdict.HOLDS
        raise AssertionError(q)

    def _netns(self, q: NetnsIsolation) -> Verdict:
        for b, info in self.net.pods.items():
            if info.pod.mode is StackMode.NETNS or (q.node is not None and info.node != q.node):
                continue
            target = pod_endpoint(self.net, b)
            for a in self.net.pods:
                if a == b:
                    continue
                for t in self.traces(pod_endpoint(self.net, a)):
                    if t.disposition is Disposition.DELIVERED and t.delivered_to == target.stack:
                        if target.iface is None or t.entered_by != target.iface:
                            return Verdict.VIOLATED
        return Verdict.HOLDS


def query_prefixes(q: Query) -> list[IPv4Network]:
    """The address ranges a query names (their edges join the domain)."""
    refs = [getattr(q, f, None) for f in ("src", "dst", "a", "b")]
    return [r.prefix for r in refs if isinstance(r, AddressRef)]
