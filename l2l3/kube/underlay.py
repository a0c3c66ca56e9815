"""The underlay of a cluster read from manifests (LANGUAGE.md §7, "The underlay").

Each node's InternalIP sits on the segment of a ``.l2l3`` file among the
inputs whose prefix contains it (the longest such prefix). The nodes no
segment holds share one assumed L2 segment: the smallest prefix covering
their addresses, with an assumed gateway (the first address of it that no
node holds, widening the prefix by one bit at a time until there is one),
because every CNI expects a default route (Calico's proxy ARP answers only
for routable addresses, CNI-SEMANTICS §12). Both assumptions are notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network

from l2l3.kube.objects import Node as KubeNode
from l2l3.kube.provenance import Notes, model_span
from l2l3.model.types import Segment

__all__ = ["ASSUMED_SEGMENT", "place_nodes"]

#: The name of the assumed segment (another name if a .l2l3 file uses it).
ASSUMED_SEGMENT = "underlay"


def covering(ips: Sequence[IPv4Address]) -> IPv4Network:
    """The smallest prefix holding every address of ``ips``."""
    lo, hi = int(min(ips)), int(max(ips))
    plen = 32 - (lo ^ hi).bit_length()
    return IPv4Network((lo >> (32 - plen) << (32 - plen) if plen else 0, plen))


def _gateway(net: IPv4Network, used: set[IPv4Address]) -> tuple[IPv4Network, IPv4Address]:
    while True:
        if net.prefixlen <= 30:
            for ip in net.hosts():
                if ip not in used:
                    return net, ip
        net = net.supernet()


def _shown(ips: list[IPv4Address], n: int = 4) -> str:
    words = [str(i) for i in ips[:n]]
    return ", ".join(words) + (f" and {len(ips) - n} more" if len(ips) > n else "")


def place_nodes(
    notes: Notes, nodes: Sequence[tuple[KubeNode, IPv4Address]], segments: Sequence[Segment]
) -> tuple[dict[str, Segment], list[Segment]]:
    """Each node's segment, and the assumed segment (if one is needed) to add to the spec."""
    out: dict[str, Segment] = {}
    left: list[tuple[KubeNode, IPv4Address]] = []
    by_len = sorted(segments, key=lambda s: -s.prefix.prefixlen)
    for node, ip in nodes:
        seg = next((s for s in by_len if ip in s.prefix), None)
        if seg is None:
            left.append((node, ip))
        else:
            out[node.name] = seg
    if not left:
        return out, []
    ips = [ip for _, ip in left]
    names = {s.name for s in segments}
    name, n = ASSUMED_SEGMENT, 1
    while name in names:
        n += 1
        name = f"{ASSUMED_SEGMENT}{n}"
    first = covering(ips)
    prefix, gateway = _gateway(first, {ip for _, ip in nodes})
    seg = Segment(name=name, prefix=prefix, gateway=gateway, span=model_span(left[0][0].span))
    who = ", ".join(n.name for n, _ in left[:4]) + (f" and {len(left) - 4} more" if len(left) > 4 else "")
    widened = f" (widened from {first} to leave room for it)" if prefix != first else ""
    notes.assumed(
        left[0][0].span,
        f"no segment of a .l2l3 input holds the InternalIP of node{'s' if len(left) > 1 else ''} {who} "
        f"({_shown(sorted(ips))}): one L2 segment {name} {prefix} holds them, with gateway {gateway}, "
        f"an address no node has{widened}; write `segment NAME CIDR gateway IP` in a .l2l3 file to say otherwise",
    )
    for node, _ in left:
        out[node.name] = seg
    return out, [seg]
