"""Read one live Linux network namespace: links, addresses, routes, neighbours, fdb, sysctls, iptables.

Sources (machine-readable only): ``ip -j -d link``, ``ip -j addr``,
``ip -j route`` (every table), ``ip -j rule``, ``ip -j neigh``,
``ip -j netns list-id``, ``bridge -j fdb``, ``/proc/sys`` (forwarding,
proxy_arp, and the sysctls where the netns differs from the model's choices),
``iptables-save`` and ``nft -j list ruleset``.

A namespace is named either by its name under /var/run/netns or by a path
(``/proc/PID/ns/net``, ``/proc/1/ns/net`` for the root): a path is entered
with ``nsenter --net=PATH``. Reading never changes a namespace.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from typing import Any

from l2l3.kernel.netns import in_netns, sysctl_read


def _j(cmd: list[str]) -> Any:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not p.stdout.strip():
        return []
    try:
        return json.loads(p.stdout)
    except ValueError:
        return []


@dataclass
class LiveNetns:
    """What :func:`read_netns` read from one namespace (``ip -j`` objects as parsed JSON)."""

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
    differences: list[str] = field(default_factory=list)  # where the netns differs from the model's choices
    rules: list[dict[str, Any]] = field(default_factory=list)  # ``ip -j rule``
    other_routes: list[dict[str, Any]] = field(default_factory=list)  # routes of tables but main and local
    nft: Any = None  # ``nft -j list ruleset`` (parsed), None where nft is missing

    def link(self, ifindex: int) -> dict[str, Any] | None:
        """The link with index ``ifindex``, if any."""
        return next((x for x in self.links if x["ifindex"] == ifindex), None)

    def by_name(self, name: str) -> dict[str, Any] | None:
        """The link named ``name``, if any."""
        return next((x for x in self.links if x["ifname"] == name), None)


def enter(name: str) -> list[str]:
    """The command prefix that runs a tool inside ``name`` (a netns name or a /proc path)."""
    return ["nsenter", f"--net={name}"] if name.startswith("/") else ["ip", "netns", "exec", name]


SYSCTL_CHECKS = (
    ("net/bridge/bridge-nf-call-iptables", "1", "bridged frames go through iptables (br_netfilter)"),
    ("net/ipv4/conf/all/rp_filter", "1", "reverse-path filter is on (strict)"),
    ("net/ipv4/conf/all/rp_filter", "2", "reverse-path filter is on (loose)"),
    ("net/ipv4/conf/all/arp_ignore", "1", "arp_ignore=1"),
    ("net/ipv4/conf/all/accept_redirects", "1", "ICMP redirects are accepted"),
)
IFACE_SYSCTLS = ("proxy_arp", "rp_filter", "forwarding")


def collect(name: str, nsids: dict[int, str] | None = None) -> dict[str, Any]:
    """What the tools print in netns ``name`` (a name or a path), as one JSON-able mapping.

    ``nsids`` (nsid -> name of the other netns) replaces ``ip netns list-id``,
    which names only namespaces under /var/run/netns. This is what
    :func:`parse_outputs` reads; a recorded copy of it reads the same offline.
    """
    n = ["ip", "-n", name, "-j"] if not name.startswith("/") else [*enter(name), "ip", "-j"]
    out: dict[str, Any] = {
        "link": _j(n + ["-d", "link", "show"]),
        "addr": _j(n + ["addr", "show"]),
        "route": _j(n + ["route", "show", "table", "main"]),
        "route_all": _j(n + ["route", "show", "table", "all"]),
        "rule": _j(n + ["rule", "show"]),
        "neigh": _j(n + ["neigh", "show", "nud", "permanent"]),
        "fdb": _j([*enter(name), "bridge", "-j", "fdb", "show"]),
    }
    if nsids is None:
        nsids = {int(x["nsid"]): x["name"] for x in _j(n + ["netns", "list-id"]) if "name" in x}
    out["nsids"] = {str(k): v for k, v in nsids.items()}
    sysctls: dict[str, str] = {}
    with in_netns(name):
        keys = ["net/ipv4/ip_forward", *dict.fromkeys(k for k, _b, _w in SYSCTL_CHECKS)]
        keys += [f"net/ipv4/conf/{x['ifname']}/{k}" for x in out["link"] for k in IFACE_SYSCTLS]
        for key in keys:
            try:
                sysctls[key] = sysctl_read(key)
            except OSError:
                pass
    out["sysctl"] = sysctls
    save = subprocess.run([*enter(name), "iptables-save"], capture_output=True, text=True)
    out["iptables-save"] = save.stdout if save.returncode == 0 else ""
    out["nft"] = _j([*enter(name), "nft", "-j", "list", "ruleset"]) or None
    return out


def read_netns(name: str, nsids: dict[int, str] | None = None) -> LiveNetns:
    """Read netns ``name`` (a name or a path): :func:`collect`, then :func:`parse_outputs`."""
    return parse_outputs(name, collect(name, nsids))


def parse_outputs(name: str, out: dict[str, Any]) -> LiveNetns:
    """A :class:`LiveNetns` from :func:`collect`'s mapping (``lo`` left out; an
    address without its connected route as a /32)."""
    links = [x for x in out.get("link", []) if x.get("ifname") != "lo"]
    addrs: dict[str, list[IPv4Interface]] = {}
    for x in out.get("addr", []):
        for a in x.get("addr_info", []):
            if a.get("family") == "inet" and x["ifname"] != "lo":
                addrs.setdefault(x["ifname"], []).append(IPv4Interface(f"{a['local']}/{a['prefixlen']}"))
    routes = list(out.get("route", []))
    other_routes = [r for r in out.get("route_all", []) if r.get("table") not in (None, "main", "local")]
    # an address whose connected route was deleted (the ptp plugin does this)
    # acts as a /32: write it so, or the model would add the route back
    for ifname, lst in addrs.items():
        for k, a in enumerate(lst):
            if a.network.prefixlen < 32 and not any(
                r.get("dev") == ifname and r.get("protocol") == "kernel" and r.get("dst") == str(a.network)
                for r in routes
            ):
                lst[k] = IPv4Interface(f"{a.ip}/32")
    sc: dict[str, str] = out.get("sysctl", {})
    forwarding = sc.get("net/ipv4/ip_forward") == "1"
    # the model's choices (docs/kernel.md): say so where this netns differs
    checks: list[str] = []
    for key, bad, what in SYSCTL_CHECKS:
        if sc.get(key) == bad and (
            not key.startswith("net/bridge") or any(link_kind(x) == "bridge" for x in links)
        ):
            checks.append(f"{what}: the model does not do this")
    proxy = []
    for x in links:
        conf = f"net/ipv4/conf/{x['ifname']}/"
        if sc.get(conf + "proxy_arp") == "1":
            proxy.append(x["ifname"])
        rpf = sc.get(conf + "rp_filter")
        if rpf in ("1", "2"):
            checks.append(f"rp_filter {rpf} on {x['ifname']}: the model does not filter by reverse path")
        if conf + "forwarding" in sc and (sc[conf + "forwarding"] == "1") != forwarding:
            checks.append(f"forwarding on {x['ifname']} differs from ip_forward: not expressible")
    return LiveNetns(
        name,
        links,
        addrs,
        routes,
        list(out.get("neigh", [])),
        list(out.get("fdb", [])),
        {int(k): v for k, v in out.get("nsids", {}).items()},
        forwarding,
        proxy,
        out.get("iptables-save", ""),
        checks,
        list(out.get("rule", [])),
        other_routes,
        out.get("nft"),
    )


def link_kind(link: dict[str, Any]) -> str:
    """A link's kind (``bridge``, ``veth``, ``vxlan``, ``macvlan``, …; '' for a plain device)."""
    return str(link.get("linkinfo", {}).get("info_kind", "") or "")


def link_master(link: dict[str, Any]) -> str | None:
    """The bridge a link is a port of, if any."""
    return link.get("master")


def veth_peer(
    nss: dict[str, LiveNetns], ns: LiveNetns, link: dict[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """The other end of a veth: (netns name, link) if it is in a snapshotted netns."""
    if link_kind(link) != "veth" or "link_index" not in link:
        return None
    if "link_netnsid" in link:
        other = ns.nsids.get(int(link["link_netnsid"]))
        if other is None or other not in nss:
            return None
    else:
        other = ns.name
    peer = nss[other].link(int(link["link_index"]))
    return (other, peer) if peer is not None else None
