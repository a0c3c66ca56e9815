"""Read live Linux network namespaces and write them as a spec.

Each namespace is read by :func:`l2l3.kernel.live.read_netns` (its NAT and
filter rules by :func:`l2l3.kernel.iptables.parse_iptables`).

How namespaces become a spec:

* a namespace holding only bridges (no IPv4 address) is an *underlay*: each
  bridge becomes a ``segment``; a veth of another namespace whose peer is a
  port of it is a ``nic`` on that segment. A veth pair joining two node
  namespaces directly becomes a two-member segment;
* a namespace whose one interface is a veth whose peer is a bridge port in
  another namespace, or whose address that namespace routes as a /32 through
  its end of the veth (ptp), or a macvlan child of a NIC there, is a *pod*;
* every other namespace is a ``node``: bridges, VXLAN devices, routes
  (``proto kernel`` connected routes left out), permanent neighbours, VXLAN
  fdb entries, ``forwarding``, ``proxy-arp``, masquerade/snat/dnat and filter
  rules. What the language cannot say is written as a comment, never
  approximated silently.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from l2l3.kernel.iptables import parse_iptables
from l2l3.kernel.live import LiveNetns, link_kind, link_master, read_netns, veth_peer
from l2l3.kernel.netns import NETNS_DIR
from l2l3.kernel.snapshot_find import FoundNetns
from l2l3.kernel.snapshot_rules import (
    iptables_unread,
    nft_notes,
    port_flags,
    routing_notes,
    service_rules,
    stack_rules_notes,
)
from l2l3.model.network import pod_ids
from l2l3.model.types import (
    OS,
    Bridge,
    BridgeKind,
    Fdb,
    Neighbor,
    Nic,
    Node,
    Pod,
    ProxyArp,
    Route,
    Segment,
    Spec,
    StackMode,
    Vxlan,
)

_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class Snapshot:
    """A spec read from live namespaces, with where each stack lives."""

    spec: Spec
    text: str
    netns: dict[str, str]  # stack id -> netns name
    notes: list[str] = field(default_factory=list)


def _clean(name: str, strip: str | None) -> str:
    if strip and name.startswith(strip):
        name = name[len(strip) :].lstrip("-_.")
    name = _NAME_RE.sub("_", name) or "ns"
    if not re.match(r"[A-Za-z_]", name[0]):
        name = "n" + name
    return name


def snapshot(pattern: str = "*", *, strip: str | None = None) -> Snapshot:
    """Read every named netns matching ``pattern`` (a glob) into a spec."""
    names = sorted(
        n for n in (os.listdir(NETNS_DIR) if NETNS_DIR.is_dir() else []) if fnmatch.fnmatch(n, pattern)
    )
    nss = {n: read_netns(n) for n in names}
    return build(nss, [f"# l2l3 snapshot of network namespaces matching {pattern!r}"], strip=strip)


def build(
    nss: dict[str, LiveNetns],
    header: list[str],
    *,
    strip: str | None = None,
    found: dict[str, FoundNetns] | None = None,
    names: dict[str, str] | None = None,
    notes: list[str] | None = None,
) -> Snapshot:
    """The spec of namespaces ``nss`` (key -> what was read). ``found`` says how each
    was found (provenance, CNI cache: pod names); ``names`` fixes node names by key."""
    found = found or {}
    header = list(header)
    notes = list(notes or [])
    # 1. underlays: namespaces with bridges and no address
    underlay = {
        n
        for n, ns in nss.items()
        if not ns.addrs
        and any(link_kind(x) == "bridge" for x in ns.links)
        and all(link_kind(x) in ("bridge", "veth") for x in ns.links)
    }
    seg_of_port: dict[tuple[str, str], str] = {}  # (ns, ifname) of a NIC -> segment
    segments: dict[str, list[IPv4Interface]] = {}
    for n in sorted(underlay):
        ns = nss[n]
        for br in (x for x in ns.links if link_kind(x) == "bridge"):
            seg = br["ifname"] if len(underlay) == 1 else f"{_clean(n, strip)}_{br['ifname']}"
            segments.setdefault(seg, [])
            for port in (x for x in ns.links if link_master(x) == br["ifname"]):
                pe = veth_peer(nss, ns, port)
                if pe is not None:
                    seg_of_port[(pe[0], pe[1]["ifname"])] = seg
    # 2. pods: one veth whose peer is a bridge port or an addressed veth elsewhere
    pod_of: dict[str, tuple[str, str]] = {}  # pod netns -> (host netns, host ifname)
    for n, ns in nss.items():
        if n in underlay or len(ns.links) != 1:
            continue
        only = ns.links[0]
        if link_kind(only) == "macvlan" and "link_netnsid" in only and "link_index" in only:
            parent_ns = ns.nsids.get(int(only["link_netnsid"]))
            parent = nss[parent_ns].link(int(only["link_index"])) if parent_ns in nss else None
            if parent_ns is not None and parent is not None and parent_ns not in underlay:
                pod_of[n] = (parent_ns, "macvlan:" + parent["ifname"])  # a child of that NIC
            continue
        pe = veth_peer(nss, ns, only)
        if pe is None or pe[0] == n or pe[0] in underlay:
            continue
        host_ns, host_link = pe
        hn = nss[host_ns]
        if link_master(host_link) is not None:
            pod_of[n] = (host_ns, host_link["ifname"])  # a bridge port: a pod on that bridge
            continue
        # a point-to-point pod (ptp, calico, kindnet): the host routes the pod's
        # own address (/32) through its end of the veth
        mine = [a.ip for a in ns.addrs.get(only["ifname"], [])]
        if any(
            r.get("dev") == host_link["ifname"]
            and "/" not in r.get("dst", "/")
            and r.get("dst") != "default"
            and IPv4Address(r["dst"]) in mine
            for r in hn.routes
        ):
            pod_of[n] = (host_ns, host_link["ifname"])
    # nodes
    names = names or {}
    node_names = {
        n: _clean(names[n], None) if n in names else _clean(_short(n), strip)
        for n in nss
        if n not in underlay and n not in pod_of
    }
    netns_map: dict[str, str] = {}
    comments: dict[tuple[object, ...], str] = {}
    direct_pairs: dict[frozenset[tuple[str, str]], str] = {}
    nodes = []
    for n in sorted(node_names):
        ns = nss[n]
        name = node_names[n]
        netns_map[name] = n
        nics: list[Nic] = []
        bridges: list[Bridge] = []
        vxlans: list[Vxlan] = []
        pods: list[Pod] = []
        pod_ns: dict[int, str] = {}  # index in pods -> its netns
        node_notes: list[str] = list(ns.differences)
        veth_bridges: dict[str, str] = {}  # host veth -> pod netns (ptp style)
        pod_ports = {hif for hns, hif in pod_of.values() if hns == n}
        if n in found:
            header.append(f"# node {name}: {found[n].origin()}")
        for x in ns.links:
            pe = veth_peer(nss, ns, x)
            if pe is not None and pe[0] in pod_of and link_master(x) is None:
                veth_bridges[x["ifname"]] = pe[0]
        for x in ns.links:
            ifn = x["ifname"]
            kind = link_kind(x)
            addrs = ns.addrs.get(ifn, [])
            mac = x.get("address")
            if kind == "bridge":
                if len(addrs) > 1:
                    node_notes.append(f"bridge {ifn} has more addresses than the first: {addrs[1:]}")
                hairpin, isolated, fnotes = port_flags(ns, ifn, pod_ports)
                node_notes += fnotes
                bridges.append(
                    Bridge(
                        name=ifn,
                        kind=BridgeKind.LINUX,
                        ip=addrs[0] if addrs else None,
                        mac=mac,
                        hairpin=hairpin,
                        isolated_ports=isolated,
                    )
                )
            elif kind == "vxlan":
                d = x.get("linkinfo", {}).get("info_data", {})
                local = d.get("local")
                if local is None:
                    node_notes.append(f"vxlan {ifn} has no local address: not expressible")
                    continue
                if d.get("learning"):
                    node_notes.append(f"vxlan {ifn} learns MACs (the model's VXLAN does not)")
                for opt in ("group", "remote", "proxy", "rsc", "l2miss", "l3miss", "external", "vnifilter"):
                    if d.get(opt):
                        node_notes.append(f"vxlan {ifn} {opt} {d[opt]} is not expressible")
                vxlans.append(
                    Vxlan(
                        name=ifn,
                        vni=int(d.get("id", 0)),
                        port=int(d.get("port", 8472)),
                        local=IPv4Address(local),
                        mac=mac,
                        ip=addrs[0] if addrs else None,
                    )
                )
            elif ifn in veth_bridges:
                bridges.append(
                    Bridge(name=ifn, kind=BridgeKind.VETH, ip=addrs[0] if addrs else None, mac=mac)
                )
            elif (n, ifn) in seg_of_port:
                if addrs:
                    nics.append(Nic(name=ifn, ip=addrs[0], mac=mac, segment=seg_of_port[(n, ifn)]))
                else:
                    node_notes.append(f"{ifn} is on segment {seg_of_port[(n, ifn)]} without an address")
            elif kind == "veth" and link_master(x) is None:
                pe = veth_peer(nss, ns, x)
                if pe is not None and pe[0] in node_names and addrs:
                    key = frozenset({(n, ifn), (pe[0], pe[1]["ifname"])})
                    seg = direct_pairs.setdefault(key, f"link{len(direct_pairs)}")
                    segments.setdefault(seg, [])
                    nics.append(Nic(name=ifn, ip=addrs[0], mac=mac, segment=seg))
                elif pe is not None and pe[0] == n and addrs:
                    # a veth pair inside one netns, the other end a bridge port: a no-netns pod
                    if link_master(pe[1]) is not None:
                        pods.append(
                            Pod(
                                name=_clean(ifn, None),
                                ip=addrs[0],
                                mac=mac,
                                bridge=link_master(pe[1]),
                                mode=StackMode.NO_NETNS,
                            )
                        )
                    else:
                        node_notes.append(f"veth {ifn} (peer in the same netns) is not expressible")
                elif addrs:
                    seg = f"{name}_{ifn}"
                    segments.setdefault(seg, [])
                    nics.append(Nic(name=ifn, ip=addrs[0], mac=mac, segment=seg))
            elif link_master(x) is None and addrs and kind not in ("veth",):
                seg = f"{name}_{ifn}"
                segments.setdefault(seg, [])
                nics.append(Nic(name=ifn, ip=addrs[0], mac=mac, segment=seg))
                node_notes.append(f"{ifn} ({kind or 'device'}) is given a segment of its own")
        for nic in nics:
            segments[nic.segment].append(nic.ip)
        node_notes += _unread_links(ns, nics, bridges, vxlans, pod_ports)
        for mv_parent in sorted(
            {h.split(":", 1)[1] for hn_, h in pod_of.values() if hn_ == n and h.startswith("macvlan:")}
        ):
            bridges.append(Bridge(name=f"mv_{mv_parent}", kind=BridgeKind.MACVLAN, uplink=mv_parent))
        # pods of this node
        br_ip = {b.name: b.ip for b in bridges}
        for pns, (hns, hif) in sorted(pod_of.items()):
            if hns != n:
                continue
            hl = ns.by_name(hif)
            if hif.startswith("macvlan:"):
                hl, hif = None, f"mv_{hif.split(':', 1)[1]}"
                mode = nss[pns].links[0].get("linkinfo", {}).get("info_data", {}).get("mode")
                if mode != "bridge":
                    node_notes.append(f"pod {pns}: macvlan mode {mode} (the model's macvlan is bridge mode)")
            pn = nss[pns]
            node_notes += [f"pod {_short(pns)}: {t}" for t in pn.differences + stack_rules_notes(pn)]
            eth = pn.links[0]
            addrs = pn.addrs.get(eth["ifname"], [])
            if not addrs:
                node_notes.append(f"pod netns {pns} has no address")
                continue
            if eth["ifname"] != "eth0":
                node_notes.append(f"pod {pns}: its interface is {eth['ifname']}, the language names it eth0")
            bridge: str = hif
            if hl is not None and link_master(hl):
                bridge = str(link_master(hl))
            proutes, pnotes = _routes(pn, {eth["ifname"]: "eth0"})
            node_notes += [f"pod {pns}: {t}" for t in pnotes]
            gw = br_ip.get(bridge)
            default: tuple[Route, ...] = ()
            if gw is not None:
                default = (Route(prefix=IPv4Network("0.0.0.0/0"), via=gw.ip),)
            if [(r.prefix, r.via) for r in proutes] == [(r.prefix, r.via) for r in default]:
                proutes = []
            pname = _clean(_short(pns), strip)
            if pname.startswith(name + "-"):
                pname = pname[len(name) + 1 :]
            kns = "default"
            where = found.get(pns)
            kube = next((c.pod for c in where.cni if c.pod), None) if where else None
            if kube is not None:
                kns, pname = _clean(kube[0], None), _clean(kube[1], None)
            if any(p.name == pname and p.namespace == kns for p in pods):
                pname = f"{pname}_{len(pods)}"
            if where is not None:
                comments[(name, "pods", len(pods))] = "from " + where.origin()
            pods.append(
                Pod(
                    name=pname,
                    ip=addrs[0],
                    mac=eth.get("address"),
                    bridge=bridge,
                    namespace=kns,
                    routes=tuple(proutes),
                )
            )
            pod_ns[len(pods) - 1] = pns
        routes, rnotes = _routes(ns, {})
        node_notes += rnotes
        neighbors = []
        for e in ns.neigh:
            if "lladdr" in e and "dst" in e and ":" not in e["dst"]:
                neighbors.append(Neighbor(ip=IPv4Address(e["dst"]), mac=e["lladdr"], dev=e["dev"]))
        vx_names = {v.name for v in vxlans}
        fdbs = []
        for e in ns.fdb:
            if e.get("ifname") in vx_names and "dst" in e and ":" not in str(e["dst"]):
                if e.get("mac") == "00:00:00:00:00:00":
                    node_notes.append(
                        f"vxlan {e['ifname']} default destination {e['dst']} (flooding) is not expressible"
                    )
                    continue
                fdbs.append(Fdb(mac=e["mac"], dst=IPv4Address(e["dst"]), dev=e["ifname"]))
            elif e.get("state") == "static" and "master" in e:
                node_notes.append(
                    f"static bridge fdb entry {e.get('mac')} dev {e.get('ifname')} is not expressible"
                )
        snats, dnats, filters, tnotes = parse_iptables(ns.iptables)
        local = [a.ip for lst in ns.addrs.values() for a in lst]
        sdnats, snotes, handled, origin = service_rules(ns.iptables, local)
        node_notes += [t for t in tnotes if not any(h in t for h in handled)] + snotes
        for d in sdnats:
            if d not in dnats:
                comments[(name, "dnats", len(dnats))] = f"from {origin[d]} (iptables-save)"
                dnats.append(d)
        node_notes += routing_notes(ns) + nft_notes(ns) + iptables_unread(ns.iptables)
        nodes.append(
            Node(
                name=name,
                os=OS.LINUX,
                nics=tuple(nics),
                bridges=tuple(bridges),
                pods=tuple(pods),
                routes=tuple(routes),
                snats=tuple(snats),
                dnats=tuple(dnats),
                vxlans=tuple(vxlans),
                fdbs=tuple(fdbs),
                neighbors=tuple(neighbors),
                proxy_arps=tuple(ProxyArp(dev=d) for d in ns.proxy_arp),
                filters=tuple(filters),
                forwarding=ns.forwarding,
            )
        )
        for k, pid in enumerate(pod_ids(nodes[-1])):
            if k in pod_ns:
                netns_map[pid] = pod_ns[k]
        notes += [f"node {name} ({_short(n)}): {t}" for t in node_notes]
    segs = []
    for seg, ips in segments.items():
        prefix = ips[0].network if ips else IPv4Network("0.0.0.0/32")
        if not ips:
            notes.append(f"segment {seg} has no addressed member")
            continue
        segs.append(Segment(name=seg, prefix=prefix))
    spec = Spec(file="<snapshot>", segments=tuple(segs), nodes=tuple(nodes))
    from l2l3.dsl import render

    header = header + [f"# note: {t}" for t in notes]
    text = "\n".join(header) + "\n\n" + render(spec, comments)
    return Snapshot(spec, text, netns_map, notes)


def _unread_links(
    ns: LiveNetns,
    nics: list[Nic],
    bridges: list[Bridge],
    vxlans: list[Vxlan],
    pod_ports: set[str],
) -> list[str]:
    """Links of a node the spec does not hold, and addresses past the first: each named."""
    said = {x.name for x in nics} | {x.name for x in bridges} | {x.name for x in vxlans} | pod_ports
    kinds = {x["ifname"]: link_kind(x) for x in ns.links}
    notes = []
    for x in ns.links:
        ifn, master = x["ifname"], link_master(x)
        extra = ns.addrs.get(ifn, [])[1:]
        if extra and kinds.get(ifn) != "bridge" and ifn in said:
            notes.append(f"{ifn} has more addresses than the first: {', '.join(map(str, extra))} not read")
        if master is not None and kinds.get(master) == "bridge":
            same_ns_veth = kinds.get(ifn) == "veth" and "link_netnsid" not in x  # a no-netns pod's
            if ifn not in pod_ports and not same_ns_veth:
                notes.append(
                    f"{ifn} ({kinds[ifn] or 'device'}) is a port of bridge {master} but no pod's: "
                    "the bridge's link through it is not expressible"
                )
        elif master is not None:
            notes.append(f"{ifn} is enslaved to {master} ({kinds.get(master) or 'device'}): not expressible")
        elif ifn not in said and not ns.addrs.get(ifn) and kinds.get(ifn) != "veth":
            notes.append(f"{ifn} ({kinds[ifn] or 'device'}) has no address and is not read")
    return notes


def _short(key: str) -> str:
    """A namespace's name for naming: its netns name, or ``pidN`` for /proc/N/ns/net."""
    if key in ("/proc/self/ns/net", "/proc/1/ns/net"):
        return "root"
    m = re.fullmatch(r"/proc/(\d+)/ns/net", key)
    return f"pid{m.group(1)}" if m else key.rsplit("/", 1)[-1]


def snapshot_text(
    pattern: str | None = None,
    *,
    strip: str | None = None,
    root: str | None = None,
    name: str | None = None,
    cache_dirs: tuple[Path, ...] | None = None,
    recording: str | None = None,
) -> str:
    """The spec text of a snapshot (its notes as comments): of the named namespaces
    matching ``pattern``, else of a node (:func:`l2l3.kernel.snapshot_node.snapshot_node`,
    or the file ``recording`` that ``l2l3 snapshot --record`` wrote)."""
    if pattern is not None:
        return snapshot(pattern, strip=strip).text
    from l2l3.kernel import snapshot_node as sn

    if recording is not None:
        return sn.from_recording(sn.load_recording(recording), name=name, strip=strip).text
    dirs = cache_dirs if cache_dirs is not None else sn.CNI_CACHE_DIRS
    return sn.snapshot_node(root, name=name, cache_dirs=dirs, strip=strip).text


def _routes(ns: LiveNetns, rename: dict[str, str]) -> tuple[list[Route], list[str]]:
    out, notes = [], []
    for r in ns.routes:
        dst = r.get("dst", "")
        dev = rename.get(r.get("dev", ""), r.get("dev"))
        rtype = r.get("type", "unicast")
        if dst == "default":
            dst = "0.0.0.0/0"
        if rtype != "unicast":
            notes.append(f"{rtype} route {dst} is not expressible")
            continue
        if "/" not in dst:
            dst += "/32"
        try:
            prefix = IPv4Network(dst, strict=False)
        except ValueError:
            continue
        if r.get("protocol") == "kernel" and r.get("scope") == "link" and "gateway" not in r:
            addrs = ns.addrs.get(r.get("dev", ""), [])
            if any(a.network == prefix for a in addrs):
                continue  # the connected route of an address
        if "nexthops" in r:
            notes.append(f"multipath route {dst} is not expressible")
            continue
        via = IPv4Address(r["gateway"]) if "gateway" in r else None
        onlink = "onlink" in r.get("flags", [])
        out.append(Route(prefix=prefix, via=via, dev=dev, onlink=onlink))
    return out, notes


__all__ = ["Snapshot", "snapshot", "snapshot_text"]
