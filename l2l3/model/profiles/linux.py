"""Linux CNI families: bridge, flannel, kindnet (ptp), calico, antrea, macvlan.

Each function expands one shorthand node (its NIC and default route are
already there) into what the plugin and its daemon program on that node.
The CNI-SEMANTICS section behind each fact is named in the comment it
records, which ``l2l3 expand`` prints next to the line.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

from l2l3.model.profiles import _base as B
from l2l3.model.profiles._base import (
    ANY,
    CALICO_GATEWAY,
    CALICO_HOST_MAC,
    MULTICAST,
    Ctx,
    NodeBuild,
    Peer,
    complement,
    host,
    host_iface,
    host_prefix,
    iface,
    minus,
    pod_ip_checks,
    profile_pods,
    short_hash,
    vtep_mac,
    with_prefix,
)
from l2l3.model.types import Bridge, BridgeKind, Pod, Route, Vxlan

_CALICO_GATEWAY_32 = host_prefix(CALICO_GATEWAY)

# --------------------------------------------------------------------------
# Linux bridge (§3) and the NAT shapes that go with it


def linux_bridge(nb: NodeBuild, hairpin: bool, why: str) -> IPv4Address:
    """``cni0`` with the gateway .1 on it, pods at the subnet's length (§3(a)(h))."""
    gw = host(nb.subnet, 1)
    nb.bridge(
        Bridge(
            name="cni0",
            kind=BridgeKind.LINUX,
            ip=iface(gw, nb.subnet.prefixlen),
            hairpin=hairpin,
            span=nb.span,
        ),
        f"{why}: Linux bridge cni0, isGateway -> host-local gateway .1 (CNI-SEMANTICS §3(a)(h))",
    )
    pod_ip_checks(nb, {gw: "cni0's gateway address (.1)"})
    for i, pod in profile_pods(nb):
        nb.pods[i] = replace(pod, ip=with_prefix(pod, nb.subnet.prefixlen), ip_has_prefix=True, bridge="cni0")
        nb.pod_comment(i, "veth on cni0, default route via .1 (isDefaultGateway, §3(h))")
    return gw


def bridge_ipmasq(nb: NodeBuild, network: str) -> None:
    """bridge ipMasq (§3(e)): per pod, everything but its own subnet and multicast."""
    for _i, pod in profile_pods_placed(nb):
        assert pod.ip is not None
        chain = "CNI-" + short_hash(f"{network}/{nb.name}/{pod.namespace}/{pod.name}", 24)
        nb.masquerade(
            host_prefix(pod.ip.ip),
            [pod.ip.network, MULTICAST],
            pod.span,
            f"{chain}: POSTROUTING -s {pod.ip.ip} -j {chain}; -d {pod.ip.network} ACCEPT; "
            f"! -d 224.0.0.0/4 MASQUERADE (bridge ipMasq, CNI-SEMANTICS §3(e))",
        )


def profile_pods_placed(nb: NodeBuild) -> list[tuple[int, Pod]]:
    """Pods the profile placed (bridge set by us or by the user) with an address."""
    return [(i, p) for i, p in enumerate(nb.pods) if p.bridge is not None and p.ip is not None]


def expand_bridge(nb: NodeBuild, ctx: Ctx) -> None:
    """Plain `bridge` plugin (E4): cni0, ipMasq option (default on)."""
    linux_bridge(nb, hairpin=False, why="bridge")
    if ctx.on("ipmasq", True):
        bridge_ipmasq(nb, "bridge")


# --------------------------------------------------------------------------
# flannel (§6)


def flannel_postrtg(nb: NodeBuild, ctx: Ctx) -> None:
    """FLANNEL-POSTRTG (§6) as masquerade lines with the same packet set.

    Chain (mark rule aside: the model has no kube-proxy marks)::

        -s P -d C RETURN; -s C -d P RETURN; ! -s C -d P RETURN
        -s C ! -d 224.0.0.0/4 MASQUERADE; ! -s C -d C MASQUERADE

    i.e. masquerade (src in P, dst not in C or multicast) or (src in C\\P,
    dst not in P or multicast) or (src not in C, dst in C\\P).
    """
    P = nb.subnet
    C = list(ctx.pools)
    head = "FLANNEL-POSTRTG (flanneld --ip-masq, CNI-SEMANTICS §6)"
    nb.masquerade(
        P,
        C + [MULTICAST],
        ctx.cluster.span,
        f"{head}: -s {P} -d {','.join(map(str, C))} RETURN, then -s C ! -d 224.0.0.0/4 MASQUERADE "
        "- this node's pods",
    )
    if B.FLANNEL_MASQ != "exact":
        return
    for c in C:
        for x in minus(c, P):
            nb.masquerade(
                x,
                [P, MULTICAST],
                ctx.cluster.span,
                f"{head}: -d {P} RETURN, then -s C ! -d 224.0.0.0/4 MASQUERADE - other cluster sources",
            )
    inside = [y for c in C for y in minus(c, P)]
    outside = complement(C)
    for y in outside:
        nb.masquerade(
            y,
            outside + [P],
            ctx.cluster.span,
            f"{head}: -d {P} RETURN, then ! -s C -d C MASQUERADE - non-cluster sources to "
            f"{', '.join(map(str, inside)) or 'other nodes'}",
        )


def expand_flannel(nb: NodeBuild, ctx: Ctx, mode: str) -> None:
    ipmasq = ctx.on("ipmasq", True)
    linux_bridge(nb, hairpin=True, why=f"flannel {mode} (delegate bridge, E3 hairpinMode)")
    if ipmasq:
        flannel_postrtg(nb, ctx)
    else:
        # flannel sets the delegate's ipMasq = !flanneld_ipmasq (§6 CNI, §3(e))
        bridge_ipmasq(nb, "cbr0")
    if mode == "host-gw":
        for peer in ctx.peers:
            if peer.name != nb.name and peer.segment.name != nb.peer.segment.name:
                ctx.warn(
                    peer.span,
                    f"flannel host-gw needs direct L2 between hosts: {peer.name} is not on "
                    f"{nb.peer.segment.name} with {nb.name} (CNI-SEMANTICS §6)",
                )
        nb.peer_routes(
            "flannel host-gw", "eth0", "flannel host-gw: {peer}'s lease via its PublicIP (CNI-SEMANTICS §6)"
        )
    else:
        vni, port = flannel_vxlan_ids(ctx)
        dev = f"flannel.{vni}"
        nb.vxlan(
            Vxlan(
                name=dev,
                vni=vni,
                port=port,
                local=nb.peer.ip,
                mac=vtep_mac(nb.name),
                ip=iface(host(nb.subnet, 0), 32),
                span=nb.span,
            ),
            f"flannel vxlan: {dev}, VNI {vni}, port {port}, lease .0/32, learning off (CNI-SEMANTICS §6)",
        )
        nb.tunnel_peers(dev, lease_addr, "flannel vxlan (CNI-SEMANTICS §6)")


def flannel_vxlan_ids(ctx: Ctx) -> tuple[int, int]:
    """VNI 1 / port 8472 on Linux (§6); 4096 / 4789 when a Windows node is in (§2(a))."""
    windows = any(p.os.value == "windows" for p in ctx.peers)
    vni = int(ctx.option("vni", "4096" if windows else "1"))
    port = int(ctx.option("port", "4789" if windows else "8472"))
    if windows and (vni < 4096 or port != 4789):
        raise ctx.error(
            ctx.cluster.span,
            "flannel vxlan with Windows nodes needs vni >= 4096 and port 4789 (CNI-SEMANTICS §2(a))",
        )
    return vni, port


# --------------------------------------------------------------------------
# kindnet = ptp + host-local + KIND-MASQ-AGENT (§5)


def expand_kindnet(nb: NodeBuild, ctx: Ctx) -> None:
    gw = host(nb.subnet, 1)
    pod_ip_checks(nb, {gw: "the ptp gateway address on every host veth (.1)"})
    for i, pod in profile_pods(nb):
        assert pod.ip is not None
        dev = unique_dev(nb, "veth" + short_hash(f"{pod.namespace}.{pod.name}", 8))
        nb.bridge(
            Bridge(name=dev, kind=BridgeKind.VETH, ip=iface(gw, 32), span=pod.span),
            f"ptp: host veth for {pod.name} holds the gateway {gw}/32, same on every veth (CNI-SEMANTICS §5)",
        )
        routes = pod.routes or (
            Route(prefix=host_prefix(gw), dev="eth0", span=pod.span),
            Route(prefix=nb.subnet, via=gw, dev="eth0", onlink=True, span=pod.span),
            Route(prefix=ANY, via=gw, dev="eth0", onlink=True, span=pod.span),
        )
        nb.pods[i] = replace(pod, ip=iface(pod.ip.ip, 32), ip_has_prefix=True, bridge=dev, routes=routes)
        nb.pod_comment(i, "ptp: subnet route deleted, everything via the gateway (CNI-SEMANTICS §5(g)(h))")
        if not pod.routes:
            for j, text in enumerate(
                (
                    f"{gw}/32 dev eth0 scope link",
                    "<subnet> via gw (ptp)",
                    "default via gw (kindnet ipam routes 0.0.0.0/0, E5)",
                )
            ):
                nb.comment(("pods", i, "routes", j), text)
        nb.route(
            host_prefix(pod.ip.ip),
            None,
            dev,
            span=pod.span,
            comment=f"ptp: {pod.ip.ip}/32 dev {dev} scope host (CNI-SEMANTICS §5)",
        )
    nb.peer_routes(
        "kindnet", "eth0", "kindnetd syncRoute: {peer}'s podCIDR via its InternalIP (CNI-SEMANTICS §5)"
    )
    pools = list(ctx.pools)
    nb.masquerade(
        ANY,
        pools,
        ctx.cluster.span,
        "KIND-MASQ-AGENT: POSTROUTING ! --dst-type LOCAL -j KIND-MASQ-AGENT; "
        f"-d {', '.join(map(str, pools))} RETURN; MASQUERADE (CNI-SEMANTICS §5 masq.go)",
    )
    nb.enforce = True


def unique_dev(nb: NodeBuild, name: str) -> str:
    base, n = name, 1
    while nb.has_iface(name):
        name = f"{base}{n}"
        n += 1
    return name


# --------------------------------------------------------------------------
# Calico (§7)
#
# Pod routes via the gateway are written ``onlink``: the kernel accepts them
# because of the link route before them; ``onlink`` says the same without
# depending on that order (the model resolves both identically).


def calico_tunnel_addr(subnet: IPv4Network) -> IPv4Address:
    return host(subnet, B.TUNNEL_ADDRESS_INDEX)


def calico_tunnel_of(peer: Peer) -> IPv4Address:
    return calico_tunnel_addr(peer.subnet)


def lease_addr(peer: Peer) -> IPv4Address:
    """flannel's VTEP address: the lease's .0 (§6)."""
    return host(peer.subnet, 0)


def _lease_gw(peer: Peer) -> IPv4Address:
    """antrea's gateway address: the subnet's .1 (§8)."""
    return host(peer.subnet, 1)


def expand_calico(nb: NodeBuild, ctx: Ctx, mode: str) -> None:
    tunnel = mode == "vxlan" or (mode == "ipip" and B.CALICO_IPIP_ENCODING == "tunnel")
    reserved = {calico_tunnel_addr(nb.subnet): "the node's tunnel (VTEP) address"} if tunnel else {}
    pod_ip_checks(nb, reserved, network_and_broadcast=False)
    if nb.peer.segment.gateway is None:
        ctx.warn(
            nb.span,
            f"calico: {nb.name} has no default route, so proxy ARP on cali* will not answer "
            f"for {CALICO_GATEWAY} (the kernel answers only for routable addresses, §7(g))",
        )
    keep = ctx.keep_comments  # the comments only `l2l3 expand` shows are not even formatted otherwise
    for i, pod in profile_pods(nb):
        assert pod.ip is not None
        dev = unique_dev(nb, "cali" + short_hash(f"{pod.namespace}.{pod.name}", 11))
        nb.bridge(
            Bridge(name=dev, kind=BridgeKind.VETH, mac=CALICO_HOST_MAC, span=pod.span),
            f"calico: host veth of {pod.name}, MAC ee:ee:ee:ee:ee:ee (CNI-SEMANTICS §7(b))" if keep else "",
        )
        nb.proxy_arp(
            dev,
            pod.span,
            f"calico: proxy_arp=1 on {dev}, answers for {CALICO_GATEWAY} (§7(g))" if keep else "",
        )
        routes = pod.routes or (
            Route(prefix=_CALICO_GATEWAY_32, dev="eth0", span=pod.span),
            Route(prefix=ANY, via=CALICO_GATEWAY, dev="eth0", onlink=True, span=pod.span),
        )
        ip32 = host_iface(pod.ip)
        nb.pods[i] = replace(pod, ip=ip32, ip_has_prefix=True, bridge=dev, routes=routes)
        if keep:
            nb.pod_comment(i, "calico: /32 address (CNI-SEMANTICS §7(g)(h))")
            if not pod.routes:
                nb.comment(("pods", i, "routes", 0), "169.254.1.1 dev eth0 scope link (§7(h))")
                nb.comment(("pods", i, "routes", 1), "default via 169.254.1.1 (§7(h))")
        nb.route(
            ip32.network,
            None,
            dev,
            span=pod.span,
            comment=f"calico SetupRoutes: {pod.ip.ip}/32 dev {dev} scope link (§7(g))" if keep else None,
        )
    if tunnel:
        if mode == "vxlan":
            dev, vni, port, what = (
                "vxlan.calico",
                4096,
                4789,
                "calico vxlan (felix vxlan_mgr, CNI-SEMANTICS §7(d))",
            )
        else:
            dev, vni, port, what = "tunl0", 0, 0, "calico ipip as a tunnel stand-in (CALICO_IPIP_ENCODING)"
        nb.vxlan(
            Vxlan(
                name=dev,
                vni=vni,
                port=port,
                local=nb.peer.ip,
                mac=vtep_mac(nb.name),
                ip=iface(calico_tunnel_addr(nb.subnet), 32),
                span=nb.span,
            ),
            f"{what}: VNI {vni}, port {port}",
        )
        nb.tunnel_peers(dev, calico_tunnel_of, what)
    elif mode == "bgp":
        nb.peer_routes(
            "calico bgp", "eth0", "calico bgp (BIRD): {peer}'s block via its node IP (CNI-SEMANTICS §7(d))"
        )
    else:
        nb.peer_routes(
            "calico ipip",
            "eth0",
            "calico ipip: {peer}'s block via tunl0 to its node IP; the outer "
            "IPIP header is not modelled (CNI-SEMANTICS §7(d), CALICO_IPIP_ENCODING)",
            onlink=True,
        )
    calico_nat_outgoing(nb, ctx)
    nb.enforce = True


def calico_nat_outgoing(nb: NodeBuild, ctx: Ctx) -> None:
    if not ctx.on("nat-outgoing", True):
        return
    pools = list(ctx.pools)
    for pool in pools:
        nb.masquerade(
            pool,
            pools,
            ctx.cluster.span,
            "cali-nat-outgoing: -m set --match-set cali40masq-ipam-pools src "
            "-m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE (natOutgoing, CNI-SEMANTICS §7(e))",
        )


# --------------------------------------------------------------------------
# Antrea (§8)


def expand_antrea(nb: NodeBuild, ctx: Ctx) -> None:
    gw = host(nb.subnet, 1)
    pod_ip_checks(nb, {gw: "antrea-gw0's address (.1)"})
    nb.bridge(
        Bridge(name="antrea-gw0", kind=BridgeKind.OVS, ip=iface(gw, nb.subnet.prefixlen), span=nb.span),
        "antrea: OVS bridge br-int with the gateway port antrea-gw0 at .1 (CNI-SEMANTICS §8(a)(h))",
    )
    for i, pod in profile_pods(nb):
        nb.pods[i] = replace(
            pod, ip=with_prefix(pod, nb.subnet.prefixlen), ip_has_prefix=True, bridge="antrea-gw0"
        )
        nb.pod_comment(i, "antrea: veth on br-int, default via antrea-gw0 (§8(c)(h))")
    dev = "antrea-tun0"
    what = "antrea Geneve tunnel (CNI-SEMANTICS §8(d); ANTREA_TUNNEL_PORT)"
    nb.vxlan(
        Vxlan(
            name=dev, vni=0, port=B.ANTREA_TUNNEL_PORT, local=nb.peer.ip, mac=vtep_mac(nb.name), span=nb.span
        ),
        f"{what}: port {B.ANTREA_TUNNEL_PORT}",
    )
    nb.tunnel_peers(dev, _lease_gw, what)
    pools = list(ctx.pools)
    nb.masquerade(
        nb.subnet,
        pools,
        ctx.cluster.span,
        f"ANTREA-POSTROUTING: -s {nb.subnet} -m set ! --match-set ANTREA-POD-IP dst ! -o antrea-gw0 "
        "-j MASQUERADE (CNI-SEMANTICS §8(e); '! -o antrea-gw0' is implied: only pod "
        "destinations leave by antrea-gw0)",
    )
    nb.enforce = True


# --------------------------------------------------------------------------
# macvlan (§4)


def expand_macvlan(nb: NodeBuild, ctx: Ctx) -> None:
    seg = nb.peer.segment
    if not nb.subnet.subnet_of(seg.prefix):
        raise ctx.error(
            nb.span,
            f"macvlan: node {nb.name}'s subnet {nb.subnet} must lie in segment "
            f"{seg.name} ({seg.prefix}): the pods sit on the LAN (CNI-SEMANTICS §4)",
        )
    reserved = {seg.gateway: f"{seg.name}'s gateway"} if seg.gateway else {}
    pod_ip_checks(nb, reserved, network_and_broadcast=False)
    nb.bridge(
        Bridge(name="macvlan0", kind=BridgeKind.MACVLAN, uplink="eth0", span=nb.span),
        "macvlan: bridge-mode children of eth0; the host cannot reach them (CNI-SEMANTICS §4)",
    )
    for i, pod in profile_pods(nb):
        routes = pod.routes
        if not routes and seg.gateway is not None:
            routes = (Route(prefix=ANY, via=seg.gateway, dev="eth0", span=pod.span),)
            nb.comment(("pods", i, "routes", 0), "gateway from IPAM: the LAN router (§4(h))")
        nb.pods[i] = replace(
            pod,
            ip=with_prefix(pod, seg.prefix.prefixlen),
            ip_has_prefix=True,
            bridge="macvlan0",
            routes=routes,
        )
        nb.pod_comment(i, "macvlan child on the LAN, own MAC (§4(b)(d))")
