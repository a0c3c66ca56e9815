"""Where a node's state puts the node: its host address, its segment; docker networks as HNS ones.

The host's address is the networks' ``ManagementIP`` (hcsshim HNSNetwork),
else the local /32 route of ``Get-NetRoute`` on an interface with an on-link
prefix holding it (Windows lists each local address as a /32 host route).
The segment is the ``.l2l3`` one holding that address, else the on-link
prefix with the default route's next hop as gateway (an assumption, said).
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network

from l2l3.kube.errors import Span as KSpan
from l2l3.kube.provenance import Notes, model_span
from l2l3.kube.windows.state import DockerNetwork, Endpoint, Network, OutboundNat, State
from l2l3.model.types import Segment

__all__ = ["docker_networks", "host_address", "onlink_segment", "segments_for"]

DOCKER_TYPES = {"l2bridge": "L2Bridge", "l2tunnel": "L2Tunnel", "nat": "NAT", "overlay": "Overlay"}
SPECIAL = [IPv4Network(n) for n in ("127.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "169.254.0.0/16")]
ZERO = IPv4Address("0.0.0.0")


def docker_networks(state: State) -> list[tuple[Network, list[Endpoint]]]:
    """docker networks as HNS networks and endpoints (when no HNS network of the same subnet is given)."""
    out = []
    hns = {p for n in state.networks for p, _ in n.subnets}
    for d in state.dockers:
        if any(p in hns for p, _ in d.subnets):
            continue
        net = _docker_network(d)
        eps = [
            Endpoint(
                id=c.endpoint_id,
                name=c.name,
                network_id=net.id,
                network_name=net.name,
                ip=c.ip.ip if c.ip else None,
                prefix_len=c.ip.network.prefixlen if c.ip else None,
                mac=c.mac,
                gateway=d.subnets[0][1] if d.subnets else None,
                remote=False,
                policies=(OutboundNat(exceptions=d.exceptions, span=d.exceptions_span),)
                if d.outbound_nat
                else (),
                dns_servers=d.dns_servers,
                span=c.span,
            )
            for c in d.containers
        ]
        out.append((net, eps))
    return out


def _docker_network(d: DockerNetwork) -> Network:
    return Network(
        id=f"docker:{d.name}",
        name=d.hns_name or d.name,
        type=DOCKER_TYPES.get(d.driver.lower(), d.driver),
        subnets=d.subnets,
        management_ip=None,
        source_mac=None,
        dns_servers=d.dns_servers,
        vsid=None,
        vxlan_port=None,
        dr_mac=None,
        remote_subnets=(),
        version=1,
        span=d.span,
    )


def host_address(state: State) -> tuple[IPv4Address, str | None] | None:
    """The host's address (and the Get-NetRoute alias it is on): ManagementIP, else a local /32 route."""
    for n in state.networks:
        if n.management_ip is not None:
            alias = next(
                (
                    r.alias
                    for r in state.routes
                    if r.prefix.prefixlen == 32 and r.prefix.network_address == n.management_ip
                ),
                None,
            )
            return n.management_ip, alias
    pods = [p for n in state.networks for p, _ in n.subnets] + [
        p for d in state.dockers for p, _ in d.subnets
    ]
    eps = {e.ip for e in state.endpoints}
    for r in state.routes:
        a = r.prefix.network_address
        if r.prefix.prefixlen != 32 or r.next_hop != ZERO or a in eps:
            continue
        if any(a in s for s in SPECIAL + pods):
            continue
        onlink = [
            x.prefix
            for x in state.routes
            if x.alias == r.alias and x.next_hop == ZERO and x.prefix.prefixlen < 31 and a in x.prefix
        ]
        if any(a not in (p.network_address, p.broadcast_address) for p in onlink):
            return a, r.alias
    return None


def onlink_segment(
    state: State, ip: IPv4Address, alias: str | None
) -> tuple[IPv4Network, IPv4Address | None] | None:
    """The host NIC's on-link prefix and default gateway, from Get-NetRoute."""
    nets = sorted(
        (
            r.prefix
            for r in state.routes
            if r.next_hop == ZERO
            and r.prefix.prefixlen < 31
            and ip in r.prefix
            and (alias is None or r.alias == alias)
        ),
        key=lambda p: -p.prefixlen,
    )
    if not nets:
        return None
    gw = next(
        (
            r.next_hop
            for r in sorted(state.routes, key=lambda r: r.metric)
            if r.prefix.prefixlen == 0 and r.next_hop in nets[0]
        ),
        None,
    )
    return nets[0], gw


def segments_for(
    notes: Notes, placed: Sequence[tuple[str, IPv4Address, State, str | None]], segments: Sequence[Segment]
) -> dict[str, Segment]:
    """Each state node's segment: a .l2l3 one holding its address, else one from its on-link route."""
    out: dict[str, Segment] = {}
    made: dict[IPv4Network, Segment] = {}
    taken = {s.name for s in segments}
    for name, ip, state, alias in placed:
        seg = next((s for s in sorted(segments, key=lambda s: -s.prefix.prefixlen) if ip in s.prefix), None)
        if seg is None:
            got = onlink_segment(state, ip, alias)
            prefix, gw = got if got is not None else (IPv4Network(f"{ip}/24", strict=False), None)
            seg = made.get(prefix)
            if seg is None:
                sname, n = "underlay", 1
                while sname in taken:
                    n += 1
                    sname = f"underlay{n}"
                taken.add(sname)
                where = state.routes[0].span if got is not None else KSpan(state.files[0], 1, 1)
                seg = made[prefix] = Segment(name=sname, prefix=prefix, gateway=gw, span=model_span(where))
                why = (
                    "its on-link route in Get-NetRoute"
                    if got is not None
                    else "no Get-NetRoute on-link route: a /24 around it"
                )
                notes.assumed(
                    where,
                    f"no segment of a .l2l3 input holds node {name}'s address {ip}: segment {sname} {prefix} ({why})"
                    + (f", gateway {gw}" if gw else ""),
                )
        out[name] = seg
    return out
