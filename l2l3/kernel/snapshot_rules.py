"""What a real node holds beyond links and routes, for :mod:`l2l3.kernel.snapshot`.

* :func:`port_flags`: a bridge's per-port flags (``ip -d -j link``
  ``info_slave_data``). ``hairpin`` and ``isolated`` are said on the bridge
  when every pod port has them; a mix, and every other flag that changes
  forwarding (learning, flood, bcast_flood, mcast_flood, proxy_arp,
  neigh_suppress, locked, mab, vlan_tunnel, a port not forwarding) and the
  bridge's own vlan_filtering, stp and nf_call_iptables, is a note.
* :func:`routing_notes`: ``ip rule`` entries other than the three defaults
  and routes of tables other than main/local (the model has one table).
* :func:`nft_notes`: every rule of an nftables table that iptables-nft did
  not write (those are read through ``iptables-save``).
* :func:`service_rules`: the NAT rules :func:`l2l3.kernel.iptables.parse_iptables`
  leaves as notes that have a ``dnat`` form: portmap's ``CNI-HOSTPORT-DNAT``
  (one dnat per local address, or per ``-d`` host IP) and kube-proxy's
  ``KUBE-SERVICES`` (one dnat per ClusterIP port, backends from the
  ``KUBE-SEP-…`` DNAT rules). Their masquerade marks (``CNI-HOSTPORT-SETMARK``,
  ``KUBE-MARK-MASQ``) and kube-proxy's NodePorts, firewalls and local-traffic
  chains are named in notes.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from l2l3.kernel.iptables import _Rule, parse_tables
from l2l3.kernel.live import LiveNetns, link_master
from l2l3.model.types import Backend, Dnat, Proto

# flags whose non-default value changes which frames a port passes
PORT_DEFAULTS: dict[str, object] = {
    "learning": True,
    "flood": True,
    "bcast_flood": True,
    "mcast_flood": True,
    "proxy_arp": False,
    "proxy_arp_wifi": False,
    "neigh_suppress": False,
    "locked": False,
    "mab": False,
    "vlan_tunnel": False,
    "mcast_to_unicast": False,
}


def port_flags(ns: LiveNetns, bridge: str, pod_ports: set[str]) -> tuple[bool, bool, list[str]]:
    """(hairpin, isolated, notes) of ``bridge``'s ports; ``pod_ports`` are the ports of pods."""
    notes: list[str] = []
    ports = [x for x in ns.links if link_master(x) == bridge]
    flags = {x["ifname"]: x.get("linkinfo", {}).get("info_slave_data", {}) for x in ports}
    said: dict[str, bool] = {}
    for flag in ("hairpin", "isolated"):
        on = sorted(p for p, d in flags.items() if d.get(flag))
        pods = sorted(pod_ports & set(flags))
        said[flag] = bool(pods) and all(p in on for p in pods)
        if said[flag]:
            others = [p for p in on if p not in pod_ports]
            if others:
                notes.append(f"bridge {bridge}: {flag} on non-pod ports {', '.join(others)} too (not said)")
        elif on:
            off = [p for p in pods if p not in on]
            notes.append(
                f"bridge {bridge}: {flag} on ports {', '.join(on)} but off on {', '.join(off) or 'none'}: "
                f"the language says {flag} per bridge, so it is left off"
            )
    for p, d in sorted(flags.items()):
        for flag, default in PORT_DEFAULTS.items():
            if flag in d and d[flag] != default:
                notes.append(f"bridge {bridge} port {p}: {flag} {d[flag]} is not expressible")
        link = ns.by_name(p) or {}
        if d.get("state") not in (None, "forwarding") and "UP" in link.get("flags", []):
            notes.append(f"bridge {bridge} port {p}: state {d['state']} (not forwarding) is not expressible")
    br = ns.by_name(bridge) or {}
    bd = br.get("linkinfo", {}).get("info_data", {})
    for key, default in (("vlan_filtering", 0), ("stp_state", 0), ("nf_call_iptables", 0)):
        if key in bd and bd[key] != default:
            notes.append(f"bridge {bridge}: {key} {bd[key]} is not expressible")
    return said["hairpin"], said["isolated"], notes


DEFAULT_RULES = {(0, "local"), (32766, "main"), (32767, "default")}


def routing_notes(ns: LiveNetns) -> list[str]:
    """Policy routing the model cannot say: extra ``ip rule`` entries, other tables' routes."""
    notes = []
    for r in ns.rules:
        plain = r.get("src") == "all" and not (set(r) - {"priority", "src", "table"})
        if plain and (r.get("priority"), r.get("table")) in DEFAULT_RULES:
            continue
        what = " ".join(f"{k} {v}" for k, v in r.items() if k != "priority")
        notes.append(f"ip rule {r.get('priority')}: {what} is not expressible (the model has one table)")
    for r in ns.other_routes:
        notes.append(
            f"route {r.get('dst')} in table {r.get('table')}"
            + (f" via {r['gateway']}" if "gateway" in r else "")
            + (f" dev {r['dev']}" if "dev" in r else "")
            + " is not expressible (only table main is read)"
        )
    return notes


def nft_notes(ns: LiveNetns) -> list[str]:
    """Every rule of an nftables table iptables-nft did not make (those are in iptables-save)."""
    doc = ns.nft
    if not isinstance(doc, dict):
        return []
    items = doc.get("nftables", [])
    xt = {("ip", t) for t in ("filter", "nat", "mangle", "raw", "security")}
    xt |= {("ip6", t) for t in ("filter", "nat", "mangle", "raw", "security")}
    notes = []
    for it in items:
        ch = it.get("chain") if isinstance(it, dict) else None
        if (
            isinstance(ch, dict)
            and (ch.get("family"), ch.get("table")) not in xt
            and ch.get("policy") == "drop"
        ):
            notes.append(
                f"nftables chain {ch.get('family')} {ch.get('table')} {ch.get('name')} (hook {ch.get('hook')}) "
                "has policy drop: not read"
            )
        r = it.get("rule") if isinstance(it, dict) else None
        if not isinstance(r, dict) or (r.get("family"), r.get("table")) in xt:
            continue
        notes.append(
            f"nftables rule not read: {r.get('family')} {r.get('table')} chain {r.get('chain')} "
            f"handle {r.get('handle')}: {_nft_text(r.get('expr', []))}"
        )
    return notes


def _nft_text(expr: list[Any]) -> str:
    import json

    return json.dumps(expr, separators=(",", ":"))[:200]


# --------------------------------------------------------------------------
# NAT rules with a dnat form: portmap and kube-proxy


def _proto(r: _Rule) -> Proto | None:
    p = r.m.get("-p")
    return Proto[p.upper()] if p and p.upper() in Proto.__members__ else None


def _port(r: _Rule) -> int | None:
    v = r.m.get("--dport") or r.m.get("--dports")
    return int(v) if v and v.isdigit() else None


def _backends(nat: dict[str, list[_Rule]], chain: str, notes: list[str], depth: int = 0) -> list[Backend]:
    out: list[Backend] = []
    for r in nat.get(chain, []):
        if r.target == "DNAT":
            ip, _, port = r.targs.get("--to-destination", "").partition(":")
            b = Backend(ip=IPv4Address(ip), port=int(port) if port.isdigit() else None)
            if b not in out:
                out.append(b)
        elif r.target in ("KUBE-MARK-MASQ", "CNI-HOSTPORT-SETMARK"):
            notes.append(f"masquerade mark (hairpin/off-cluster source) is not expressible: {r.text}")
        elif r.target in nat and depth < 6:
            out += [b for b in _backends(nat, r.target, notes, depth + 1) if b not in out]
        elif r.target:
            notes.append(f"nat rule not expressible: {r.text}")
    return out


def service_rules(
    save: str, local: list[IPv4Address]
) -> tuple[list[Dnat], list[str], list[str], dict[Dnat, str]]:
    """(dnats, notes, handled) from portmap's and kube-proxy's chains; ``handled``:
    the jump rules whose parse_iptables notes these replace; the last: where each dnat came
    from (the chain and the rule's comment, which names the pod or the Service port)."""
    nat = parse_tables(save)[0].get("nat", {})
    dnats: list[Dnat] = []
    notes: list[str] = []
    handled: list[str] = []

    origin: dict[Dnat, str] = {}

    def add(d: Dnat, where: str) -> None:
        if d not in dnats:
            dnats.append(d)
            origin[d] = where

    for hook in ("PREROUTING", "OUTPUT"):
        for r in nat.get(hook, []):
            if r.target in ("CNI-HOSTPORT-DNAT", "KUBE-SERVICES"):
                handled.append(r.text)
    for r in nat.get("CNI-HOSTPORT-DNAT", []):
        for c in nat.get(r.target, []):
            if c.target != "DNAT":
                if c.target == "CNI-HOSTPORT-SETMARK":
                    notes.append(
                        f"portmap masquerades host-port traffic from {c.m.get('-s')}: not expressible"
                    )
                elif c.target:
                    notes.append(f"portmap rule not expressible: {c.text}")
                continue
            proto, port = _proto(c), _port(c)
            ip, _, to_port = c.targs.get("--to-destination", "").partition(":")
            be = Backend(ip=IPv4Address(ip), port=int(to_port) if to_port.isdigit() else None)
            vips = [IPv4Network(c.m["-d"], strict=False).network_address] if "-d" in c.m else local
            for vip in vips:
                add(
                    Dnat(vip=vip, proto=proto, port=port, backends=(be,)),
                    "portmap " + r.m.get("--comment", r.target).replace('"', ""),
                )
    for r in nat.get("KUBE-SERVICES", []):
        if "-d" not in r.m or not r.target.startswith(("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-")):
            notes.append(f"kube-proxy rule not translated: {r.text}")
            continue
        bes = _backends(nat, r.target, notes)
        if not bes:
            notes.append(f"kube-proxy service without endpoints (the kernel rejects it): {r.text}")
            continue
        vip = IPv4Network(r.m["-d"], strict=False).network_address
        add(
            Dnat(vip=vip, proto=_proto(r), port=_port(r), backends=tuple(bes)),
            f"kube-proxy {r.m.get('--comment', r.target)}",
        )
    for chain in sorted(nat):
        if chain.startswith(("KUBE-NODEPORTS", "KUBE-FW-", "KUBE-XLB-")) and nat[chain]:
            notes.append(f"kube-proxy chain {chain} ({len(nat[chain])} rules) is not translated")
    return dnats, notes, handled, origin


def iptables_unread(save: str) -> list[str]:
    """Rules :func:`parse_iptables` and :func:`service_rules` never look at: the mangle,
    raw and security tables, filter OUTPUT, nat INPUT and nat OUTPUT (but for
    kube-proxy's and portmap's jumps, read as dnat)."""
    tables, policies = parse_tables(save)
    notes = []
    for t, chains in sorted(tables.items()):
        if t in ("nat", "filter"):
            continue
        for rules in chains.values():
            notes += [f"iptables {t} table rule not read: {r.text}" for r in rules]
    # the language's filter is one list, the FORWARD chain, applied to INPUT too:
    # an INPUT rule that is not a FORWARD rule's twin is not read
    forward = {
        r.text.split(None, 2)[2]
        for r in tables.get("filter", {}).get("FORWARD", [])
        if len(r.text.split()) > 2
    }
    for r in tables.get("filter", {}).get("INPUT", []):
        if len(r.text.split()) > 2 and r.text.split(None, 2)[2] not in forward:
            notes.append(
                f"iptables filter INPUT rule not read (only FORWARD's rules are, for both): {r.text}"
            )
    for t, chain in (("filter", "OUTPUT"), ("nat", "INPUT"), ("nat", "OUTPUT")):
        for r in tables.get(t, {}).get(chain, []):
            if r.target not in ("KUBE-SERVICES", "CNI-HOSTPORT-DNAT"):
                notes.append(f"iptables {t} {chain} rule not read: {r.text}")
        if policies.get((t, chain), "ACCEPT") not in ("ACCEPT", "-"):
            notes.append(f"iptables {t} {chain} policy {policies[(t, chain)]} is not read")
    return notes


def stack_rules_notes(ns: LiveNetns) -> list[str]:
    """A pod's own rules and static neighbours (the language gives a pod none): each named."""
    notes = [
        f"iptables rule in the pod not read: {line}"
        for line in ns.iptables.splitlines()
        if line.startswith("-A")
    ]
    notes += nft_notes(ns)
    notes += [f"static neighbour {e.get('dst')} dev {e.get('dev')} in the pod not read" for e in ns.neigh]
    return notes
