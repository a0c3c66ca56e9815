"""CNI profile expansion: one ``cluster`` line -> the primitives a plugin programs.

API
---
``expand(spec) -> (spec, warnings)``
    Returns the spec with every shorthand node (``node N OS ip IP on SEG
    subnet CIDR``) replaced by primitives: ``nic eth0``, the default route,
    the plugin's bridges/veths, pods with ``bridge`` set and their full prefix
    (and routes/MACs where the plugin fixes them), routes, NAT, tunnels,
    ``enforce_policy`` and ``cni`` (a label for messages). ``warnings`` is a
    list of :class:`~l2l3.errors.Diagnostic`. A spec without ``cluster`` is
    returned unchanged; the ``cluster`` itself is kept. Nodes written with
    primitives only (no ``ip … subnet …`` shorthand) are left as written, so
    expanding an expanded spec changes nothing. Bad profile input raises
    :class:`~l2l3.errors.SpecError` at the cluster's, node's or pod's span.
    Pure and deterministic: names (``cni0``, ``cbr0``, ``vxlan0``,
    ``flannel.<vni>``, ``cali<sha1(ns.pod)[:11]>``, ``veth<sha1(ns.pod)[:8]>``,
    ``antrea-gw0``, ``antrea-tun0``, ``vxlan.calico``, ``macvlan0``) and MACs
    (VTEP MACs from the node name) depend only on the spec.

``expand_with_comments(spec) -> (spec, warnings, comments)``
    The same, plus ``comments: dict[tuple, str]`` saying what each generated
    line stands for (iptables chain, HNS policy, reference section). Keys:

    - ``(node,)`` -> the profile the node got (e.g. ``win-bridge (flannel host-gw)``);
    - ``(node, FIELD, i)`` -> ``Node.FIELD[i]`` of the expanded node, FIELD one
      of ``nics bridges routes snats outbound_nats routes_to_host vxlans fdbs
      neighbors proxy_arps``;
    - ``(node, "pods", i)`` -> the pod ``Node.pods[i]``;
    - ``(node, "pods", i, "routes", j)`` -> that pod's ``routes[j]``.

    Lines the user wrote in a shorthand node come first in each list and have
    no comment.

Profiles (``Cluster.cni``): ``bridge``, ``win-bridge``, ``win-overlay``,
``flannel host-gw``, ``flannel vxlan`` (``flannel`` alone = vxlan, the
kube-flannel.yml default), ``calico bgp|ipip|vxlan``, ``antrea``, ``kindnet``,
``macvlan``. Options (``Cluster.options``): ``ipmasq on|off`` (bridge,
flannel), ``vni N`` / ``port N`` (flannel vxlan), ``nat-outgoing on|off``
(calico), ``outbound-nat-except CIDR[,CIDR…]`` (Windows nodes). The switches
for every choice the reference leaves open are in :mod:`._base` (``CHOICES``)
and docs/profiles.md.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Network

from l2l3.errors import Diagnostic
from l2l3.model.profiles import _base as B
from l2l3.model.profiles import linux, windows
from l2l3.model.profiles._base import CHOICES, Ctx, NodeBuild, Peer, base_node
from l2l3.model.types import OS, Spec, StackMode

__all__ = ["expand", "expand_with_comments", "CHOICES", "PROFILES", "OPTIONS"]

#: profile words -> the options it accepts (key -> allowed values, None = an integer / free text)
_WIN = {"outbound-nat-except": None}
OPTIONS: dict[tuple[str, ...], dict[str, tuple[str, ...] | None]] = {
    ("bridge",): {"ipmasq": ("on", "off")},
    ("win-bridge",): dict(_WIN),
    ("win-overlay",): dict(_WIN),
    ("flannel", "host-gw"): {"ipmasq": ("on", "off"), **_WIN},
    ("flannel", "vxlan"): {"ipmasq": ("on", "off"), "vni": None, "port": None, **_WIN},
    ("calico", "bgp"): {"nat-outgoing": ("on", "off"), **_WIN},
    ("calico", "ipip"): {"nat-outgoing": ("on", "off")},
    ("calico", "vxlan"): {"nat-outgoing": ("on", "off"), **_WIN},
    ("antrea",): {},
    ("kindnet",): {},
    ("macvlan",): {},
}
#: kube-proxy's switches (l2l3.model.profiles.services), accepted under every profile
for _opts in OPTIONS.values():
    _opts.update({"kube-proxy-masquerade-all": ("on", "off"), "windows-dsr": ("on", "off")})
PROFILES = tuple(" ".join(p) for p in OPTIONS)
_LINUX_ONLY = {("bridge",), ("kindnet",), ("macvlan",)}
_WINDOWS_ONLY = {("win-bridge",), ("win-overlay",)}
#: plugins that program nothing between nodes (macvlan pods sit on the LAN itself)
_STANDALONE = {("bridge",), ("win-bridge",), ("win-overlay",)}


def expand(spec: Spec) -> tuple[Spec, list[Diagnostic]]:
    """The spec with every profile expanded into primitives, plus warnings."""
    out, warnings, _ = expand_with_comments(spec, keep_comments=False)
    return out, warnings


def expand_with_comments(
    spec: Spec, keep_comments: bool = True
) -> tuple[Spec, list[Diagnostic], dict[tuple[object, ...], str]]:
    """:func:`expand`, plus what each generated line stands for (see module doc)."""
    cl = spec.cluster
    if cl is None:
        return spec, [], {}
    ctx = Ctx(spec=spec, cluster=cl, profile=(), options={}, peers=[], keep_comments=keep_comments)
    ctx.profile = _profile(ctx)
    ctx.options = _options(ctx)
    ctx.peers = _peers(ctx)
    nodes = []
    peer_of = {p.name: p for p in ctx.peers}
    for node in spec.nodes:
        peer = peer_of.get(node.name)
        if peer is None:
            nodes.append(node)  # written with primitives: left as is
            continue
        family, cni = _family(ctx, node.os, node.span)
        nb = NodeBuild(ctx, node, peer, family, cni)
        for pod in node.pods:
            if pod.ip is None and pod.mode is not StackMode.HOST_NETWORK:
                raise ctx.error(pod.span, f"pod {pod.name} needs an ip (or host-network)")
        base_node(nb)
        _FAMILIES[family](nb, ctx)
        nodes.append(nb.build())
    if ctx.profile in _STANDALONE and len(ctx.peers) > 1 and not B.STANDALONE_CROSS_NODE_ROUTES:
        name = " ".join(ctx.profile)
        ctx.warn(
            cl.span,
            f"the {name} plugin programs no routes between nodes: pods on different nodes "
            "reach each other only through routes you add (CNI-SEMANTICS §1(d), §3(d))",
        )
    return replace(spec, nodes=tuple(nodes)), ctx.warnings, ctx.comments


# --------------------------------------------------------------------------


def _profile(ctx: Ctx) -> tuple[str, ...]:
    words = tuple(w.lower() for w in ctx.cluster.cni)
    if words == ("flannel",):
        words = ("flannel", "vxlan")  # kube-flannel.yml default backend (E3)
    if words in OPTIONS:
        return words
    if not words:
        msg = "cluster has no cni profile; expected one of: " + ", ".join(PROFILES)
    elif words[0] in {p[0] for p in OPTIONS} and len(words) > 1:
        modes = [p[1] for p in OPTIONS if p[0] == words[0] and len(p) > 1]
        msg = f"unknown {words[0]} mode {' '.join(words[1:])!r}; expected one of: {', '.join(modes)}"
    elif words[0] == "calico":
        msg = "cni calico needs a mode: bgp, ipip or vxlan"
    else:
        msg = f"unknown cni profile {' '.join(words)!r}; expected one of: " + ", ".join(PROFILES)
    raise ctx.error(ctx.cluster.span, msg)


def _options(ctx: Ctx) -> dict[str, str]:
    allowed = OPTIONS[ctx.profile]
    out: dict[str, str] = {}
    name = " ".join(ctx.profile)
    for key, value in ctx.cluster.options:
        key, value = key.lower(), value.strip()
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise ctx.error(ctx.cluster.span, f"unknown option {key!r} for cni {name}; options: {known}")
        vals = allowed[key]
        if vals is not None and value.lower() not in vals:
            raise ctx.error(ctx.cluster.span, f"option {key} takes {' or '.join(vals)}, not {value!r}")
        if key in ("vni", "port") and not (
            value.isdigit() and 0 < int(value) < (1 << 24 if key == "vni" else 65536)
        ):
            raise ctx.error(ctx.cluster.span, f"option {key} takes a number, not {value!r}")
        if key == "outbound-nat-except" and key in out:
            value = out[key] + "," + value
        out[key] = value.lower() if vals is not None else value
    return out


def _peers(ctx: Ctx) -> list[Peer]:
    segments = {s.name: s for s in ctx.spec.segments}
    pod_cidr = ctx.cluster.pod_cidr
    out: list[Peer] = []
    for node in ctx.spec.nodes:
        if node.ip is None:
            if node.subnet is not None or node.segment is not None:
                raise ctx.error(
                    node.span, f"node {node.name}: the shorthand needs 'ip IP on SEGMENT subnet CIDR'"
                )
            continue
        if node.segment is None or node.subnet is None:
            raise ctx.error(
                node.span,
                f"node {node.name}: the shorthand needs 'on SEGMENT' and 'subnet CIDR' "
                "(the node's pod subnet)",
            )
        seg = segments.get(node.segment)
        if seg is None:
            raise ctx.error(node.span, f"node {node.name}: no segment {node.segment!r}")
        if node.ip not in seg.prefix:
            raise ctx.error(
                node.span, f"node {node.name}: ip {node.ip} is outside segment {seg.name} ({seg.prefix})"
            )
        if pod_cidr is not None and not node.subnet.subnet_of(pod_cidr):
            raise ctx.error(
                node.span,
                f"node {node.name}: subnet {node.subnet} is outside the cluster pod-cidr {pod_cidr}",
            )
        out.append(Peer(node.name, node.os, node.ip, IPv4Network(node.subnet), seg, node.span))
    if _any_overlap([p.subnet for p in out]):  # then find the first one in file order
        for i, node_peer in enumerate(out):
            for p in out[:i]:
                if p.subnet.overlaps(node_peer.subnet):
                    raise ctx.error(
                        node_peer.span,
                        f"node {node_peer.name}: subnet {node_peer.subnet} overlaps {p.name}'s {p.subnet}",
                    )
    return out


def _any_overlap(nets: list[IPv4Network]) -> bool:
    """Whether two of ``nets`` overlap (sorted sweep: n log n)."""
    end = -1
    for n in sorted(nets, key=lambda n: int(n.network_address)):
        if int(n.network_address) <= end:
            return True
        end = max(end, int(n.broadcast_address))
    return False


def _family(ctx: Ctx, os: OS, span: object) -> tuple[str, str]:
    prof = ctx.profile
    name = " ".join(prof)
    if os is OS.WINDOWS:
        if prof in _LINUX_ONLY:
            raise ctx.error(span, f"cni {name} does not run on Windows nodes")  # type: ignore[arg-type]
        fam = B.WINDOWS_UNDER.get(prof)
        if fam is None:
            raise ctx.error(span, f"cni {name} has no Windows dataplane")  # type: ignore[arg-type]
        return fam, (name if fam == name else f"{fam} ({name})")
    if prof in _WINDOWS_ONLY:
        raise ctx.error(span, f"cni {name} is a Windows plugin; this node is linux")  # type: ignore[arg-type]
    return name, name


def _win_bridge(nb: NodeBuild, ctx: Ctx) -> None:
    windows.expand_win_bridge(nb, ctx, ctx.profile)


def _win_overlay(nb: NodeBuild, ctx: Ctx) -> None:
    windows.expand_win_overlay(nb, ctx, ctx.profile)


def _antrea(nb: NodeBuild, ctx: Ctx) -> None:
    linux.expand_antrea(nb, ctx)  # Windows Antrea: same OVS model (§8 Windows; WINDOWS_UNDER)


_FAMILIES = {
    "bridge": linux.expand_bridge,
    "flannel host-gw": lambda nb, ctx: linux.expand_flannel(nb, ctx, "host-gw"),
    "flannel vxlan": lambda nb, ctx: linux.expand_flannel(nb, ctx, "vxlan"),
    "calico bgp": lambda nb, ctx: linux.expand_calico(nb, ctx, "bgp"),
    "calico ipip": lambda nb, ctx: linux.expand_calico(nb, ctx, "ipip"),
    "calico vxlan": lambda nb, ctx: linux.expand_calico(nb, ctx, "vxlan"),
    "antrea": _antrea,
    "kindnet": linux.expand_kindnet,
    "macvlan": linux.expand_macvlan,
    "win-bridge": _win_bridge,
    "win-overlay": _win_overlay,
}
