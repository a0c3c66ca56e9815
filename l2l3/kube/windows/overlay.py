"""An HNS Overlay network's VXLAN tunnel, from its RemoteSubnetRoute policies.

flannel's Windows vxlan backend (CNI-SEMANTICS §2(a)(d)) makes an HNS
``Overlay`` network with a VSID (the VNI, 4096 by default, UDP port 4789)
and one ``RemoteSubnetRoute`` network policy per remote lease:
``DestinationPrefix`` (the remote pod subnet), ``ProviderAddress`` (the
remote node's address), ``DistributedRouterMacAddress`` (the remote VTEP's
MAC, the inner frame's destination: "Windows overlay decap works at L2 and so
it needs the correct destination MAC"), ``IsolationId`` (the VNI). These
become what a hand-written flannel vxlan node holds: a ``vxlan`` device
(local = the node's address), and per remote subnet a route through it to
the lease's .0 (onlink), a permanent neighbour with the DR MAC and an fdb
entry sending that MAC to the provider address.

The local device's MAC is the network's own DR MAC (v2 ``DrMacAddress``
policy), else the DR MAC the other nodes' states use for this node's
address, else the model's VTEP MAC of the node (an assumption, said).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from l2l3.kube.provenance import Notes, model_span
from l2l3.kube.windows.state import Network
from l2l3.model.profiles._base import vtep_mac
from l2l3.model.types import Fdb, Neighbor, Route, Vxlan

__all__ = ["Tunnel", "tunnel"]

#: flannel's default VNI on Windows, and the only UDP port Windows supports (CNI-SEMANTICS §2(a))
DEFAULT_VNI = 4096
WINDOWS_VXLAN_PORT = 4789


@dataclass
class Tunnel:
    vxlan: Vxlan
    routes: list[Route] = field(default_factory=list)
    neighbors: list[Neighbor] = field(default_factory=list)
    fdbs: list[Fdb] = field(default_factory=list)


def tunnel(
    notes: Notes, net: Network, node: str, ip: IPv4Address, dev: str, dr_macs: dict[IPv4Address, str]
) -> Tunnel:
    """The VXLAN device ``dev`` of overlay network ``net`` on ``node`` (at ``ip``), with its remote subnets."""
    span = model_span(net.span)
    vni = net.vsid or next((r.vsid for r in net.remote_subnets if r.vsid), None)
    if vni is None:
        vni = DEFAULT_VNI
        notes.assumed(net.span, f"overlay network {net.name} names no VSID: flannel's default VNI {vni}")
    mac = net.dr_mac or dr_macs.get(ip)
    if mac is None:
        mac = vtep_mac(node)
        notes.assumed(
            net.span,
            f"overlay network {net.name}: no DR MAC for {node}'s VTEP (no DrMacAddress policy, no other node's "
            f"RemoteSubnetRoute to {ip}): the model's {mac}",
        )
    out = Tunnel(
        vxlan=Vxlan(
            name=dev, vni=vni, port=net.vxlan_port or WINDOWS_VXLAN_PORT, local=ip, mac=mac, span=span
        )
    )
    for rs in net.remote_subnets:
        rspan = model_span(rs.span)
        if rs.dr_mac is None:
            notes.add(rs.span, f"RemoteSubnetRoute {rs.prefix} has no DistributedRouterMacAddress: left out")
            continue
        if rs.vsid is not None and rs.vsid != vni:
            notes.add(
                rs.span,
                f"RemoteSubnetRoute {rs.prefix} is for VSID {rs.vsid}, not the network's {vni}: left out",
            )
            continue
        gw = rs.prefix.network_address
        out.routes.append(Route(prefix=rs.prefix, via=gw, dev=dev, onlink=True, span=rspan))
        out.neighbors.append(Neighbor(ip=gw, mac=rs.dr_mac, dev=dev, span=rspan))
        out.fdbs.append(Fdb(mac=rs.dr_mac, dst=rs.provider, dev=dev, span=rspan))
    return out
