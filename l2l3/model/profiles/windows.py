"""Windows families: win-bridge (HNS L2Bridge, §1) and win-overlay (HNS Overlay, §2)."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network

from l2l3.model.profiles import _base as B
from l2l3.model.profiles._base import (
    Ctx,
    NodeBuild,
    host,
    host_prefix,
    iface,
    pod_ip_checks,
    profile_pods,
    vtep_mac,
    with_prefix,
)
from l2l3.model.profiles.linux import calico_tunnel_of, flannel_vxlan_ids, lease_addr
from l2l3.model.types import Bridge, BridgeKind, Vxlan


def overlay_mac(ip: object) -> str:
    """win-overlay endpoint MAC: 0E-2A-<ip bytes> (CNI-SEMANTICS §2(b))."""
    b = ip.packed  # type: ignore[attr-defined]
    return "0e:2a:" + ":".join(f"{x:02x}" for x in b)


def outbound_nat(
    nb: NodeBuild,
    bridge: str,
    config: list[IPv4Network],
    plugin: list[IPv4Network],
    cfg_why: str,
    plugin_why: str,
) -> None:
    """The config's OutBoundNAT plus the plugin's ApplyOutboundNatPolicy (§1(e), §2(e))."""
    added = [c for c in plugin if c not in config]
    if B.HNS_OUTBOUNDNAT_MERGE == "merge" or not config:
        excs = config + added
        if not excs:
            return
        why = " + ".join(w for w, part in ((cfg_why, config), (plugin_why, added)) if part)
        nb.outbound_nat(bridge, excs, f"HNS OutBoundNAT ExceptionList: {why}")
        return
    nb.outbound_nat(bridge, config, f"HNS OutBoundNAT ExceptionList: {cfg_why}")
    if added:
        nb.outbound_nat(bridge, added, f"second HNS OutBoundNAT: {plugin_why} (HNS_OUTBOUNDNAT_MERGE)")


def calico_outbound_nat(nb: NodeBuild, ctx: Ctx, bridge: str, opt: list[IPv4Network] | None) -> None:
    """Calico for Windows' OutBoundNAT: the Service CIDR plus every IP pool, or none.

    tigera/operator ``pkg/render/windows.go`` (``createCalicoPluginConfig``)
    writes one OutBoundNAT whose ExceptionList is the Service CIDRs; calico
    ``cni-plugin`` ``winpol.CalculateEndpointPolicies`` appends the IP pools to
    that list, and drops the policy when the pool's ``natOutgoing`` is false.
    The node segment is not excepted (unlike flannel's E2 sample).
    """
    if not ctx.on("nat-outgoing", True):
        return  # winpol: "NAT-outgoing disabled for this IP pool, ignoring OutBoundNAT policy"
    if opt is None:
        svc = ctx.cluster.service_cidr
        config = [svc] if svc is not None else []
        cfg_why = "config (tigera/operator calico-node-windows: the Service CIDR)"
    else:
        config, cfg_why = opt, "config (cluster option outbound-nat-except)"
    excs = config + [p for p in ctx.pools if p not in config]
    nb.outbound_nat(
        bridge, excs, f"HNS OutBoundNAT ExceptionList: {cfg_why} + the IP pools (calico winpol, natOutgoing)"
    )


def win_bridge_config_exceptions(
    nb: NodeBuild, ctx: Ctx, opt: list[IPv4Network] | None
) -> tuple[list[IPv4Network], str]:
    """The OutBoundNAT ExceptionList a win-bridge config holds: E2's, or the cluster option."""
    if opt is not None:
        return opt, "config (cluster option outbound-nat-except)"
    config: list[IPv4Network] = []
    for what in B.WIN_BRIDGE_DEFAULT_EXCEPTIONS:
        if what == "pod-cidr":
            config += list(ctx.pools)
        elif what == "service-cidr" and ctx.cluster.service_cidr is not None:
            config.append(ctx.cluster.service_cidr)
        elif what == "segment":
            config.append(nb.peer.segment.prefix)
    return config, "config (E2: pod-cidr, service-cidr, node segment)"


def expand_win_bridge(nb: NodeBuild, ctx: Ctx, under: tuple[str, ...]) -> None:
    sub = nb.subnet
    ep = host(sub, 2)
    pod_ip_checks(
        nb,
        {
            host(sub, 1): "the HNS network gateway .1, reserved by the platform (§1(h))",
            ep: "cbr0_ep, the host endpoint .2 (§1(a)(h))",
        },
    )
    nb.bridge(
        Bridge(
            name="cbr0", kind=BridgeKind.L2BRIDGE, ip=iface(ep, sub.prefixlen), uplink="eth0", span=nb.span
        ),
        "HNS L2Bridge network cbr0 (gateway .1 reserved) with host endpoint cbr0_ep .2, bound to eth0; "
        "MAC rewrite to the host's on the wire (CNI-SEMANTICS §1(a)(b)(h))",
    )
    for i, pod in profile_pods(nb):
        nb.pods[i] = replace(pod, ip=with_prefix(pod, sub.prefixlen), ip_has_prefix=True, bridge="cbr0")
        nb.pod_comment(i, "HNS endpoint, HNS-assigned MAC, gateway .2 (CNI-SEMANTICS §1(b)(h))")
    # OutBoundNAT: Calico's (Service CIDR + pools), else the configured exceptions
    # (E2 default or the cluster option) + flannel's ipMasqNetwork
    opt = ctx.exceptions_option()
    if under[0] == "calico":
        calico_outbound_nat(nb, ctx, "cbr0", opt)
    else:
        config, cfg_why = win_bridge_config_exceptions(nb, ctx, opt)
        outbound_nat(
            nb,
            "cbr0",
            config,
            list(ctx.pools) if under[0] == "flannel" else [],
            cfg_why,
            "ipMasqNetwork = cluster CIDR (flannel Windows CNI, §1(e) Gotcha 2)",
        )
    if ctx.cluster.service_cidr is not None:
        nb.route_to_host(
            "cbr0",
            ctx.cluster.service_cidr,
            "HNS ROUTE NeedEncap: Service CIDR to the host (E2, CNI-SEMANTICS §1(e), §9)",
        )
    nb.route_to_host(
        "cbr0", host_prefix(nb.peer.ip), "HNS ROUTE NeedEncap: the node's own IP to the host (E2)"
    )
    if under in (("flannel", "host-gw"), ("calico", "bgp")) or B.STANDALONE_CROSS_NODE_ROUTES:
        who = "flannel hostgw_windows" if under[0] == "flannel" else "calico bgp"
        nb.peer_routes(who, "eth0", who + ": {peer}'s subnet via its node IP on the mgmt vNIC (§1(d))")
    if under[0] == "calico":
        nb.enforce = True


def expand_win_overlay(nb: NodeBuild, ctx: Ctx, under: tuple[str, ...]) -> None:
    sub = nb.subnet
    gw = host(sub, 1)
    pod_ip_checks(nb, {gw: "the HNS overlay network's gateway .1 (§2(h))"})
    nb.bridge(
        Bridge(name="vxlan0", kind=BridgeKind.L2BRIDGE, ip=iface(gw, sub.prefixlen), span=nb.span),
        "HNS Overlay network vxlan0, gateway .1; pods bridged in the vSwitch (CNI-SEMANTICS §2(a)(c)(h))",
    )
    for i, pod in profile_pods(nb):
        assert pod.ip is not None
        nb.pods[i] = replace(
            pod,
            ip=with_prefix(pod, sub.prefixlen),
            ip_has_prefix=True,
            bridge="vxlan0",
            mac=pod.mac or overlay_mac(pod.ip.ip),
        )
        nb.pod_comment(i, "HNS endpoint, MAC 0E-2A-<ip> (CNI-SEMANTICS §2(b))")
    if under[0] == "calico":
        calico_outbound_nat(nb, ctx, "vxlan0", ctx.exceptions_option())
    else:
        outbound_nat(
            nb,
            "vxlan0",
            ctx.exceptions_option() or [],
            [sub],
            "config (cluster option outbound-nat-except)",
            "IPMasq: the local node subnet only (win-overlay, CNI-SEMANTICS §2(e))",
        )
    if ctx.cluster.service_cidr is not None:
        nb.route_to_host(
            "vxlan0",
            ctx.cluster.service_cidr,
            "HNS ROUTE NeedEncap: Service CIDR to the host (CNI-SEMANTICS §9)",
        )
    if under[0] == "flannel" and len(under) > 1:
        vni, port = flannel_vxlan_ids(ctx)
        dev, via, what = (
            f"flannel.{vni}",
            lease_addr,
            "flannel vxlan_windows RemoteSubnetRoute",
        )
    elif under == ("calico", "vxlan"):
        vni, port = 4096, 4789
        dev, via, what = "vxlan.calico", calico_tunnel_of, "calico windows vxlan"
    elif B.STANDALONE_CROSS_NODE_ROUTES:
        vni, port = 4096, 4789
        dev, via, what = "vxlan0.vtep", lease_addr, "standalone win-overlay"
    else:
        return
    nb.vxlan(
        Vxlan(name=dev, vni=vni, port=port, local=nb.peer.ip, mac=vtep_mac(nb.name), span=nb.span),
        f"{what}: VSID {vni}, UDP {port}, PA = node IP, DR MAC = VTEP MAC (CNI-SEMANTICS §2(a)(d))",
    )
    nb.tunnel_peers(dev, via, f"{what} (CNI-SEMANTICS §2(d))")
    if under[0] == "calico":
        nb.enforce = True
