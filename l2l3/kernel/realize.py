"""Realize a Linux-only spec in real network namespaces, and take it down again.

:func:`realize` refuses (:func:`check_realizable`) what it cannot build
faithfully, then builds the spec (:mod:`l2l3.kernel.build`, which documents
the layout) in namespaces named ``PREFIX-…``; nothing is created in the root
namespace, so :func:`teardown` (:mod:`l2l3.kernel.realization`) removes
exactly what :func:`realize` made by deleting those namespaces by name.
"""

from __future__ import annotations

import re

from l2l3.errors import L2L3Error
from l2l3.kernel.build import Builder
from l2l3.kernel.netns import list_netns
from l2l3.kernel.realization import Realization, save_state, teardown
from l2l3.model.network import Network
from l2l3.model.types import OS, BridgeKind, Span, Spec, StackMode

IFNAMSIZ = 15
_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,15}$")


class RealizeError(L2L3Error):
    """The spec uses something that cannot be realized faithfully here."""

    def __init__(self, span: Span | None, message: str) -> None:
        where = f"{span.file}:{span.line}: " if span is not None and span.line else ""
        super().__init__(f"{where}cannot realize: {message}")
        self.span = span


def _check_name(name: str, span: Span, what: str) -> None:
    if len(name) > IFNAMSIZ or not name or "/" in name or ":" in name or " " in name:
        raise RealizeError(
            span, f"{what} name {name!r} is not a valid Linux interface name (at most 15 characters)"
        )


def check_realizable(spec: Spec) -> None:
    """Raise :class:`RealizeError` naming the spec line of the first thing we refuse."""
    enforcing = [n for n in spec.nodes if n.enforce_policy]
    if enforcing and spec.policies:
        raise RealizeError(
            enforcing[0].span,
            f"node {enforcing[0].name} enforces NetworkPolicy, which realize does not program",
        )
    seg_names = {s.name for s in spec.segments}
    for seg in spec.segments:
        if seg.gateway is not None and seg.gateway not in seg.prefix:
            raise RealizeError(
                seg.span, f"gateway {seg.gateway} of segment {seg.name} is outside {seg.prefix}"
            )
    for ext in spec.externals:
        if ext.via not in seg_names:
            raise RealizeError(ext.span, f"external {ext.name}: no segment {ext.via}")
    for node in spec.nodes:
        if node.os is not OS.LINUX:
            raise RealizeError(
                node.span, f"node {node.name} is a Windows node; only Linux nodes can be realized here"
            )
        if node.outbound_nats:
            raise RealizeError(node.outbound_nats[0].span, "outbound-nat is a Windows HNS policy")
        if node.routes_to_host:
            raise RealizeError(node.routes_to_host[0].span, "route-to-host is a Windows HNS policy")
        names: set[str] = set()
        for nic in node.nics:
            _check_name(nic.name, nic.span, "nic")
            if nic.segment not in seg_names:
                raise RealizeError(nic.span, f"nic {nic.name}: no segment {nic.segment}")
            names.add(nic.name)
        for br in node.bridges:
            if br.kind is BridgeKind.MACVLAN:
                if br.uplink not in {n.name for n in node.nics}:
                    raise RealizeError(br.span, f"macvlan {br.name} needs an uplink nic of node {node.name}")
                on = [p for p in node.pods if p.bridge == br.name and p.mode is StackMode.NO_NETNS]
                if on:
                    raise RealizeError(on[0].span, "a no-netns pod on a macvlan is not realizable")
                names.add(br.name)
                continue
            if br.kind in (BridgeKind.L2BRIDGE, BridgeKind.OVS):
                raise RealizeError(
                    br.span,
                    f"bridge {br.name} is of kind {br.kind.value}; realize builds linux and veth bridges only",
                )
            _check_name(br.name, br.span, "bridge")
            if br.uplink is not None:
                if br.kind is not BridgeKind.LINUX:
                    raise RealizeError(br.span, "an uplink is realized for linux bridges only")
                if br.uplink not in {n.name for n in node.nics}:
                    raise RealizeError(br.span, f"uplink {br.uplink} is not a nic of node {node.name}")
            names.add(br.name)
            if br.kind is BridgeKind.VETH:
                on = [p for p in node.pods if p.bridge == br.name and p.mode is not StackMode.HOST_NETWORK]
                if len(on) > 1:
                    raise RealizeError(br.span, f"veth {br.name} has {len(on)} pods; a veth pair holds one")
                if on and on[0].mode is StackMode.NO_NETNS:
                    raise RealizeError(on[0].span, "a no-netns pod on a veth link is not realizable")
        ports: set[tuple[int, int]] = set()
        for vx in node.vxlans:
            _check_name(vx.name, vx.span, "vxlan")
            if (vx.vni, vx.port) in ports:
                raise RealizeError(vx.span, f"two vxlan devices with vni {vx.vni} port {vx.port} on one node")
            ports.add((vx.vni, vx.port))
            names.add(vx.name)
        for pod in node.pods:
            if pod.mode is StackMode.HOST_NETWORK or pod.bridge is None:
                continue
            if pod.bridge not in {b.name for b in node.bridges}:
                raise RealizeError(pod.span, f"pod {pod.name}: no bridge {pod.bridge} on node {node.name}")
            for r in pod.routes:
                if r.dev is not None and r.dev != "eth0":
                    raise RealizeError(r.span, f"pod route through {r.dev}: a pod has only eth0")
        for r in node.routes:
            if r.dev is not None and r.dev not in names:
                raise RealizeError(r.span, f"route through {r.dev}, which node {node.name} does not have")
        for nb in node.neighbors:
            if nb.dev not in names:
                raise RealizeError(nb.span, f"neighbor on {nb.dev}, which node {node.name} does not have")
        vx_names = {v.name for v in node.vxlans}
        for fd in node.fdbs:
            if fd.dev not in vx_names:
                raise RealizeError(
                    fd.span, f"fdb on {fd.dev}, which is not a vxlan device of node {node.name}"
                )
        for pa in node.proxy_arps:
            if pa.dev not in names:
                raise RealizeError(pa.span, f"proxy-arp on {pa.dev}, which node {node.name} does not have")
        for f in node.filters:
            for d in (f.in_dev, f.out_dev):
                if d is not None and d not in names:
                    raise RealizeError(f.span, f"filter on {d}, which node {node.name} does not have")
        for s in node.snats:
            if s.out is not None and s.out not in names:
                raise RealizeError(s.span, f"masquerade out {s.out}, which node {node.name} does not have")


def realize(spec: Spec, prefix: str, *, net: Network | None = None) -> Realization:
    """Build ``spec`` in namespaces named ``PREFIX-…``; tear down on failure."""
    if not _PREFIX_RE.match(prefix):
        raise L2L3Error(f"prefix {prefix!r}: use 1-16 letters, digits, '_' or '.'")
    check_realizable(spec)
    if list_netns(prefix):
        raise L2L3Error(
            f"namespaces with prefix {prefix}- already exist; run `l2l3 realize --down --prefix {prefix}` first"
        )
    net = net or Network(spec)
    rz = Realization(prefix=prefix, spec=spec, net=net)
    try:
        Builder(rz).build()
    except BaseException:
        teardown(prefix)
        raise
    save_state(rz)
    return rz


__all__ = ["RealizeError", "check_realizable", "realize", "teardown"]  # teardown: kept importable from here
