"""Read live Linux network namespaces and write them as a spec.

Sources (machine-readable only): ``ip -j -d link``, ``ip -j addr``,
``ip -j route``, ``ip -j neigh``, ``ip -j netns list-id``, ``bridge -j fdb``,
``/proc/sys`` (forwarding, proxy_arp) and ``iptables-save`` for the nat and
filter tables. ``iptables-save`` rather than ``nft -j``: rules written by
iptables-nft (what the CNI plugins and kube-proxy use) keep their DNAT/SNAT
arguments in xtables target blobs that ``nft -j`` prints without arguments.

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
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any

from l2l3.kernel.realize import NETNS_DIR, in_netns, sysctl_read
from l2l3.model.types import (
    OS,
    Action,
    Backend,
    Bridge,
    BridgeKind,
    Dnat,
    Fdb,
    Filter,
    Neighbor,
    Nic,
    Node,
    Pod,
    Proto,
    ProxyArp,
    Route,
    Segment,
    SourceNat,
    Spec,
    StackMode,
    Vxlan,
)

_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]")


def _j(cmd: list[str]) -> Any:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        return []
    try:
        return json.loads(p.stdout)
    except ValueError:
        return []


@dataclass
class _Ns:
    name: str
    links: list[dict[str, Any]]
    addrs: dict[str, list[IPv4Interface]]
    routes: list[dict[str, Any]]
    neigh: list[dict[str, Any]]
    fdb: list[dict[str, Any]]
    nsids: dict[int, str]
    forwarding: bool
    proxy_arp: list[str]
    iptables: str
    differences: list[str] = field(default_factory=list)

    def link(self, ifindex: int) -> dict[str, Any] | None:
        return next((x for x in self.links if x["ifindex"] == ifindex), None)

    def by_name(self, name: str) -> dict[str, Any] | None:
        return next((x for x in self.links if x["ifname"] == name), None)


def read_netns(name: str) -> _Ns:
    n = ["ip", "-n", name, "-j"]
    links = [x for x in _j(n + ["-d", "link", "show"]) if x.get("ifname") != "lo"]
    addrs: dict[str, list[IPv4Interface]] = {}
    for x in _j(n + ["addr", "show"]):
        for a in x.get("addr_info", []):
            if a.get("family") == "inet" and x["ifname"] != "lo":
                addrs.setdefault(x["ifname"], []).append(IPv4Interface(f"{a['local']}/{a['prefixlen']}"))
    routes = _j(n + ["route", "show", "table", "main"])
    # an address whose connected route was deleted (the ptp plugin does this)
    # acts as a /32: write it so, or the model would add the route back
    for ifname, lst in addrs.items():
        for k, a in enumerate(lst):
            if a.network.prefixlen < 32 and not any(
                r.get("dev") == ifname and r.get("protocol") == "kernel" and r.get("dst") == str(a.network)
                for r in routes
            ):
                lst[k] = IPv4Interface(f"{a.ip}/32")
    neigh = _j(n + ["neigh", "show", "nud", "permanent"])
    checks: list[str] = []
    fdb = _j(["bridge", "-n", name, "-j", "fdb", "show"])
    nsids = {int(x["nsid"]): x["name"] for x in _j(n + ["netns", "list-id"]) if "name" in x}
    with in_netns(name):
        forwarding = sysctl_read("net/ipv4/ip_forward") == "1"
        # the model's choices (docs/kernel.md): say so where this netns differs
        for key, bad, what in (
            ("net/bridge/bridge-nf-call-iptables", "1", "bridged frames go through iptables (br_netfilter)"),
            ("net/ipv4/conf/all/rp_filter", "1", "reverse-path filter is on (strict)"),
            ("net/ipv4/conf/all/rp_filter", "2", "reverse-path filter is on (loose)"),
            ("net/ipv4/conf/all/arp_ignore", "1", "arp_ignore=1"),
            ("net/ipv4/conf/all/accept_redirects", "1", "ICMP redirects are accepted"),
        ):
            try:
                if sysctl_read(key) == bad and (
                    not key.startswith("net/bridge") or any(_kind(x) == "bridge" for x in links)
                ):
                    checks.append(f"{what}: the model does not do this")
            except OSError:
                pass
        proxy = []
        for x in links:
            try:
                if sysctl_read(f"net/ipv4/conf/{x['ifname']}/proxy_arp") == "1":
                    proxy.append(x["ifname"])
            except OSError:
                pass
    save = subprocess.run(["ip", "netns", "exec", name, "iptables-save"], capture_output=True, text=True)
    return _Ns(
        name,
        links,
        addrs,
        routes,
        neigh,
        fdb,
        nsids,
        forwarding,
        proxy,
        save.stdout if save.returncode == 0 else "",
        checks,
    )


def _kind(link: dict[str, Any]) -> str:
    return str(link.get("linkinfo", {}).get("info_kind", "") or "")


def _master(link: dict[str, Any]) -> str | None:
    return link.get("master")


@dataclass
class Snapshot:
    """A spec read from live namespaces, with where each stack lives."""

    spec: Spec
    text: str
    netns: dict[str, str]  # stack id -> netns name
    notes: list[str] = field(default_factory=list)


def _peer(nss: dict[str, _Ns], ns: _Ns, link: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The other end of a veth: (netns name, link) if it is in a snapshotted netns."""
    if _kind(link) != "veth" or "link_index" not in link:
        return None
    if "link_netnsid" in link:
        other = ns.nsids.get(int(link["link_netnsid"]))
        if other is None or other not in nss:
            return None
    else:
        other = ns.name
    peer = nss[other].link(int(link["link_index"]))
    return (other, peer) if peer is not None else None


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
    notes: list[str] = []
    # 1. underlays: namespaces with bridges and no address
    underlay = {
        n
        for n, ns in nss.items()
        if not ns.addrs
        and any(_kind(x) == "bridge" for x in ns.links)
        and all(_kind(x) in ("bridge", "veth") for x in ns.links)
    }
    seg_of_port: dict[tuple[str, str], str] = {}  # (ns, ifname) of a NIC -> segment
    segments: dict[str, list[IPv4Interface]] = {}
    for n in sorted(underlay):
        ns = nss[n]
        for br in (x for x in ns.links if _kind(x) == "bridge"):
            seg = br["ifname"] if len(underlay) == 1 else f"{_clean(n, strip)}_{br['ifname']}"
            segments.setdefault(seg, [])
            for port in (x for x in ns.links if _master(x) == br["ifname"]):
                pe = _peer(nss, ns, port)
                if pe is not None:
                    seg_of_port[(pe[0], pe[1]["ifname"])] = seg
    # 2. pods: one veth whose peer is a bridge port or an addressed veth elsewhere
    pod_of: dict[str, tuple[str, str]] = {}  # pod netns -> (host netns, host ifname)
    for n, ns in nss.items():
        if n in underlay or len(ns.links) != 1:
            continue
        only = ns.links[0]
        if _kind(only) == "macvlan" and "link_netnsid" in only and "link_index" in only:
            parent_ns = ns.nsids.get(int(only["link_netnsid"]))
            parent = nss[parent_ns].link(int(only["link_index"])) if parent_ns in nss else None
            if parent_ns is not None and parent is not None and parent_ns not in underlay:
                pod_of[n] = (parent_ns, "macvlan:" + parent["ifname"])  # a child of that NIC
            continue
        pe = _peer(nss, ns, only)
        if pe is None or pe[0] == n or pe[0] in underlay:
            continue
        host_ns, host_link = pe
        hn = nss[host_ns]
        if _master(host_link) is not None:
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
    node_names = {n: _clean(n, strip) for n in nss if n not in underlay and n not in pod_of}
    netns_map: dict[str, str] = {}
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
        node_notes: list[str] = list(ns.differences)
        veth_bridges: dict[str, str] = {}  # host veth -> pod netns (ptp style)
        for x in ns.links:
            pe = _peer(nss, ns, x)
            if pe is not None and pe[0] in pod_of and _master(x) is None:
                veth_bridges[x["ifname"]] = pe[0]
        for x in ns.links:
            ifn = x["ifname"]
            kind = _kind(x)
            addrs = ns.addrs.get(ifn, [])
            mac = x.get("address")
            if kind == "bridge":
                if len(addrs) > 1:
                    node_notes.append(f"bridge {ifn} has more addresses than the first: {addrs[1:]}")
                isolated = False
                for port in (p for p in ns.links if _master(p) == ifn):
                    isolated = isolated or bool(
                        port.get("linkinfo", {}).get("info_slave_data", {}).get("isolated")
                    )
                bridges.append(
                    Bridge(
                        name=ifn,
                        kind=BridgeKind.LINUX,
                        ip=addrs[0] if addrs else None,
                        mac=mac,
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
            elif kind == "veth" and _master(x) is None:
                pe = _peer(nss, ns, x)
                if pe is not None and pe[0] in node_names and addrs:
                    key = frozenset({(n, ifn), (pe[0], pe[1]["ifname"])})
                    seg = direct_pairs.setdefault(key, f"link{len(direct_pairs)}")
                    segments.setdefault(seg, [])
                    nics.append(Nic(name=ifn, ip=addrs[0], mac=mac, segment=seg))
                elif pe is not None and pe[0] == n and addrs:
                    # a veth pair inside one netns, the other end a bridge port: a no-netns pod
                    if _master(pe[1]) is not None:
                        pods.append(
                            Pod(
                                name=_clean(ifn, None),
                                ip=addrs[0],
                                mac=mac,
                                bridge=_master(pe[1]),
                                mode=StackMode.NO_NETNS,
                            )
                        )
                    else:
                        node_notes.append(f"veth {ifn} (peer in the same netns) is not expressible")
                elif addrs:
                    seg = f"{name}_{ifn}"
                    segments.setdefault(seg, [])
                    nics.append(Nic(name=ifn, ip=addrs[0], mac=mac, segment=seg))
            elif _master(x) is None and addrs and kind not in ("veth",):
                seg = f"{name}_{ifn}"
                segments.setdefault(seg, [])
                nics.append(Nic(name=ifn, ip=addrs[0], mac=mac, segment=seg))
                node_notes.append(f"{ifn} ({kind or 'device'}) is given a segment of its own")
        for nic in nics:
            segments[nic.segment].append(nic.ip)
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
            node_notes += [f"pod {pns}: {t}" for t in pn.differences]
            eth = pn.links[0]
            addrs = pn.addrs.get(eth["ifname"], [])
            if not addrs:
                node_notes.append(f"pod netns {pns} has no address")
                continue
            if eth["ifname"] != "eth0":
                node_notes.append(f"pod {pns}: its interface is {eth['ifname']}, the language names it eth0")
            bridge: str = hif
            if hl is not None and _master(hl):
                bridge = str(_master(hl))
            proutes, pnotes = _routes(pn, {eth["ifname"]: "eth0"})
            node_notes += [f"pod {pns}: {t}" for t in pnotes]
            gw = br_ip.get(bridge)
            default: tuple[Route, ...] = ()
            if gw is not None:
                default = (Route(prefix=IPv4Network("0.0.0.0/0"), via=gw.ip),)
            if [(r.prefix, r.via) for r in proutes] == [(r.prefix, r.via) for r in default]:
                proutes = []
            pname = _clean(pns, strip)
            if pname.startswith(name + "-"):
                pname = pname[len(name) + 1 :]
            pods.append(
                Pod(name=pname, ip=addrs[0], mac=eth.get("address"), bridge=bridge, routes=tuple(proutes))
            )
            netns_map[f"{name}/{pname}"] = pns
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
                fdbs.append(Fdb(mac=e["mac"], dst=IPv4Address(e["dst"]), dev=e["ifname"]))
        snats, dnats, filters, tnotes = parse_iptables(ns.iptables)
        node_notes += tnotes
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
        notes += [f"node {name} ({n}): {t}" for t in node_notes]
    segs = []
    for seg, ips in segments.items():
        prefix = ips[0].network if ips else IPv4Network("0.0.0.0/32")
        if not ips:
            notes.append(f"segment {seg} has no addressed member")
            continue
        segs.append(Segment(name=seg, prefix=prefix))
    spec = Spec(file="<snapshot>", segments=tuple(segs), nodes=tuple(nodes))
    from l2l3.dsl import render

    header = [f"# l2l3 snapshot of network namespaces matching {pattern!r}"]
    header += [f"# note: {t}" for t in notes]
    text = "\n".join(header) + "\n\n" + render(spec)
    return Snapshot(spec, text, netns_map, notes)


def snapshot_text(pattern: str = "*", *, strip: str | None = None) -> str:
    return snapshot(pattern, strip=strip).text


def _routes(ns: _Ns, rename: dict[str, str]) -> tuple[list[Route], list[str]]:
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


# --------------------------------------------------------------------------
# iptables-save


@dataclass
class _Rule:
    chain: str
    m: dict[str, str]  # option -> value; negated options as "!-d"
    target: str
    targs: dict[str, str]
    text: str


def _parse_rule(line: str) -> _Rule | None:
    try:
        toks = shlex.split(line)
    except ValueError:
        toks = line.split()
    if len(toks) < 2 or toks[0] != "-A":
        return None
    chain = toks[1]
    m: dict[str, str] = {}
    target, targs = "", {}
    i, neg = 2, False
    in_target = False
    while i < len(toks):
        t = toks[i]
        if t == "!":
            neg = True
            i += 1
            continue
        if t in ("-j", "-g"):
            target = toks[i + 1] if i + 1 < len(toks) else ""
            in_target = True
            i += 2
            continue
        if t.startswith("-"):
            val = []
            j = i + 1
            while j < len(toks) and not toks[j].startswith("-") and toks[j] != "!":
                val.append(toks[j])
                j += 1
            key = ("!" if neg else "") + t
            if in_target:
                targs[t] = " ".join(val)
            elif t == "-m":
                m.setdefault("-m", "")
                m["-m"] += " " + " ".join(val)
            else:
                m[key] = " ".join(val).strip('"')
            neg = False
            i = j
            continue
        i += 1
    return _Rule(chain, m, target, targs, line)


_IGNORED = {"-m", "--comment"}


def _unexpressible(r: _Rule, allowed: set[str]) -> list[str]:
    mods = set((r.m.get("-m") or "").split()) - {"comment", "tcp", "udp", "icmp"}
    bad = [k for k in r.m if k not in allowed and k not in _IGNORED]
    return bad + [f"-m {x}" for x in mods]


def parse_iptables(save: str) -> tuple[list[SourceNat], list[Dnat], list[Filter], list[str]]:
    """masquerade/snat (nat POSTROUTING), dnat (nat PREROUTING), filter (FORWARD) rules."""
    tables: dict[str, dict[str, list[_Rule]]] = {}
    policies: dict[tuple[str, str], str] = {}
    table = ""
    for line in save.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            tables.setdefault(table, {})
        elif line.startswith(":"):
            parts = line[1:].split()
            tables.setdefault(table, {}).setdefault(parts[0], [])
            if len(parts) > 1:
                policies[(table, parts[0])] = parts[1]
        elif line.startswith("-A"):
            r = _parse_rule(line)
            if r is not None:
                tables.setdefault(table, {}).setdefault(r.chain, []).append(r)
    notes: list[str] = []
    snats = _snats(tables.get("nat", {}), notes)
    dnats = _dnats(tables.get("nat", {}), notes)
    filters = _filters(tables.get("filter", {}), policies, notes)
    return snats, dnats, filters, notes


def _net(v: str) -> IPv4Network:
    return IPv4Network(v if "/" in v else v + "/32", strict=False)


def _snats(nat: dict[str, list[_Rule]], notes: list[str]) -> list[SourceNat]:
    out: list[SourceNat] = []
    allowed = {"-s", "-o", "!-d"}
    for r in nat.get("POSTROUTING", []):
        if r.target in ("MASQUERADE", "SNAT"):
            bad = _unexpressible(r, allowed)
            if bad:
                notes.append(f"nat rule not expressible ({', '.join(bad)}): {r.text}")
                continue
            out.append(_snat_of(r, r, (_net(r.m["!-d"]),) if "!-d" in r.m else ()))
            continue
        if r.target in nat:  # a jump into a user chain
            bad = _unexpressible(r, {"-s", "-o"})
            if bad:
                notes.append(f"nat rule not expressible ({', '.join(bad)}): {r.text}")
                continue
            exc: list[IPv4Network] = []
            for c in nat[r.target]:
                if c.target in ("RETURN", "ACCEPT") and set(c.m) - _IGNORED == {"-d"}:
                    exc.append(_net(c.m["-d"]))  # (ACCEPT ends NAT; RETURN tries later rules)
                    continue
                if c.target in ("MASQUERADE", "SNAT") and not _unexpressible(c, {"!-d"}):
                    if "!-d" in c.m:
                        exc.append(_net(c.m["!-d"]))
                    out.append(_snat_of(r, c, tuple(exc)))
                    break
                notes.append(f"nat rule in {r.target} not expressible: {c.text}")
                break
            continue
        if r.target in ("RETURN", "ACCEPT") and not r.m:
            break
        if r.target not in ("", "CNI-HOSTPORT-MASQ"):
            notes.append(f"nat POSTROUTING rule not expressible: {r.text}")
    return out


def _snat_of(outer: _Rule, r: _Rule, exc: tuple[IPv4Network, ...]) -> SourceNat:
    src = _net(outer.m["-s"]) if "-s" in outer.m else IPv4Network("0.0.0.0/0")
    to = None
    if r.target == "SNAT":
        to = IPv4Address(r.targs.get("--to-source", "").split(":")[0].split("-")[0])
    return SourceNat(source=src, to=to, exceptions=exc, out=outer.m.get("-o"))


def _dnats(nat: dict[str, list[_Rule]], notes: list[str]) -> list[Dnat]:
    out = []
    for r in nat.get("PREROUTING", []):
        if "-d" not in r.m:
            if r.target not in ("", "RETURN") and not r.target.startswith("CNI-HOSTPORT"):
                notes.append(f"nat PREROUTING rule not expressible: {r.text}")
            elif r.target.startswith("CNI-HOSTPORT"):
                notes.append(f"host ports (portmap) are not expressible: {r.text}")
            continue
        proto = Proto[r.m["-p"].upper()] if r.m.get("-p", "").upper() in ("TCP", "UDP") else None
        port = int(r.m["--dport"]) if "--dport" in r.m else None
        rules = [r] if r.target == "DNAT" else nat.get(r.target, [])
        backends = []
        stack = list(rules)
        while stack:
            c = stack.pop(0)
            if c.target == "DNAT":
                to = c.targs.get("--to-destination", "")
                ip, _, p = to.partition(":")
                b = Backend(ip=IPv4Address(ip), port=int(p) if p else None)
                if b not in backends:
                    backends.append(b)
            elif c.target in nat:
                stack.extend(nat[c.target])
        if backends:
            out.append(
                Dnat(vip=_net(r.m["-d"]).network_address, proto=proto, port=port, backends=tuple(backends))
            )
        else:
            notes.append(f"nat PREROUTING rule without DNAT: {r.text}")
    return out


def _filters(
    flt: dict[str, list[_Rule]], policies: dict[tuple[str, str], str], notes: list[str]
) -> list[Filter]:
    for ch in ("FORWARD", "INPUT"):
        if policies.get(("filter", ch), "ACCEPT") != "ACCEPT":
            notes.append(
                f"filter {ch} policy {policies[('filter', ch)]} is not expressible (the model allows by default)"
            )
    flat: list[tuple[dict[str, str], str, str]] = []

    def walk(chain: str, ctx: dict[str, str], depth: int) -> None:
        for r in flt.get(chain, []):
            m = {**ctx, **{k: v for k, v in r.m.items() if k not in _IGNORED}}
            mods = set((r.m.get("-m") or "").split()) - {"comment", "tcp", "udp", "icmp"}
            if mods:
                m["?"] = " ".join(sorted(mods))
            if r.target in flt and depth < 8:
                walk(r.target, m, depth + 1)
            elif r.target in ("ACCEPT", "DROP", "REJECT"):
                flat.append((m, r.target, r.text))
            elif r.target == "RETURN":
                if not (set(m) - set(ctx)):
                    return
                notes.append(f"filter RETURN with conditions is not expressible: {r.text}")
            elif r.target:
                notes.append(f"filter target {r.target} is not expressible: {r.text}")

    walk("FORWARD", {}, 0)
    if not any(t != "ACCEPT" for _m, t, _x in flat):
        return []  # only allow rules, and the default allows: nothing to say
    out = []
    for m, target, text in flat:
        if "?" in m:
            if "conntrack" in m["?"] or "state" in m["?"]:
                continue  # connection-state rules never match a new connection's first packet
            notes.append(f"filter rule not expressible (-m {m['?']}): {text}")
            continue
        bad = [k for k in m if k not in ("-i", "-o", "-s", "-d", "-p", "--dport")]
        if bad:
            notes.append(f"filter rule not expressible ({', '.join(bad)}): {text}")
            continue
        proto = Proto[m["-p"].upper()] if m.get("-p", "").upper() in ("TCP", "UDP", "ICMP") else None
        out.append(
            Filter(
                action=Action.ALLOW if target == "ACCEPT" else Action.DENY,
                in_dev=m.get("-i"),
                out_dev=m.get("-o"),
                source=_net(m["-s"]) if "-s" in m else None,
                dest=_net(m["-d"]) if "-d" in m else None,
                proto=proto,
                port=int(m["--dport"]) if "--dport" in m else None,
            )
        )
    if flt.get("INPUT") and any(r.target in ("DROP", "REJECT") for r in flt["INPUT"]) and not out:
        notes.append("INPUT has drop rules and FORWARD has none: the language's filter applies to both")
    return out


__all__ = ["Snapshot", "parse_iptables", "read_netns", "snapshot", "snapshot_text"]

_ = (Path, replace)
