"""A node's NAT and filter rules as iptables text, both ways.

* Writing (:func:`iptables_rules`): the rules of a spec node as
  ``iptables-restore`` input, matching packets as the model matches them.
* Reading (:func:`parse_iptables`): ``iptables-save`` output of a live
  namespace back into the language's masquerade/snat, dnat and filter rules,
  with a note for every rule the language cannot say. ``iptables-save``
  rather than ``nft -j``: rules written by iptables-nft (what the CNI plugins
  and kube-proxy use) keep their DNAT/SNAT arguments in xtables target blobs
  that ``nft -j`` prints without arguments.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from l2l3.model.types import Action, Backend, Dnat, Filter, Node, Proto, SourceNat

# --------------------------------------------------------------------------
# writing: iptables-restore input


def _proto_port(proto: Proto | None, port: int | None) -> list[str]:
    """iptables match fragments for (proto, port), as the model matches them.

    The model: a rule's port never matches ICMP; a port without protocol
    matches TCP, UDP or SCTP with that destination port.
    """
    if port is not None:
        if proto is Proto.ICMP:
            return []  # never matches
        protos = [proto] if proto is not None else [Proto.TCP, Proto.UDP, Proto.SCTP]
        return [f"-p {p} --dport {port}" for p in protos]
    if proto is not None:
        return [f"-p {proto}"]
    return [""]


def _filter_lines(f: Filter, chain: str) -> list[str]:
    target = "ACCEPT" if f.action.value == "allow" else "DROP"
    parts = []
    if f.in_dev:
        parts.append(f"-i {f.in_dev}")
    if chain == "FORWARD" and f.out_dev:
        parts.append(f"-o {f.out_dev}")
    if f.source is not None:
        parts.append(f"-s {f.source}")
    if f.dest is not None:
        parts.append(f"-d {f.dest}")
    if f.established:  # answers of tracked connections only (docs/semantics.md, Connections)
        parts.append("-m conntrack --ctstate ESTABLISHED")
    out = []
    for pp in _proto_port(f.proto, f.port):
        out.append(" ".join([f"-A {chain}", *parts, pp, f"-j {target}"]).replace("  ", " "))
    return out


#: KUBE-MARK-MASQ's bit (kube-proxy), masqueraded first thing in POSTROUTING
MASQ_MARK = "0x4000/0x4000"


def _dnat_lines(n: int, d: Dnat) -> tuple[list[str], list[str]]:
    chain = f"L2L3-DNAT-{n}"
    jumps: list[str] = []
    body: list[str] = [f":{chain} - [0:0]"]
    hooks = ("PREROUTING",) if d.inbound_only else ("PREROUTING", "OUTPUT")
    for pp in _proto_port(d.proto, d.port):
        for hook in hooks:
            for src in [f"-s {s}" for s in d.sources] or [""]:
                words = (f"-A {hook}", src, f"-d {d.vip}/32", pp, f"-j {chain}")
                jumps.append(" ".join(x for x in words if x))
    if d.masq_unless is not None:  # KUBE-SVC's `! -s clusterCIDR -j KUBE-MARK-MASQ`, or every packet
        body.append(f":{chain}-MASQ - [0:0]")
        body.append(f"-A {chain} -j {chain}-MASQ")
        body += [f"-A {chain}-MASQ -s {c} -j RETURN" for c in d.masq_unless]
        body.append(f"-A {chain}-MASQ -j MARK --set-xmark {MASQ_MARK}")
    count = len(d.backends)
    for k, be in enumerate(d.backends):
        sub = f"{chain}-{k}"
        stat = ""
        if k < count - 1:
            stat = f"-m statistic --mode random --probability {1.0 / (count - k):.6f} "
        body.append(f":{sub} - [0:0]")
        body.append(f"-A {chain} {stat}-j {sub}")
        if d.masq_hairpin:  # KUBE-SEP's `-s ENDPOINT -j KUBE-MARK-MASQ`
            body.append(f"-A {sub} -s {be.ip}/32 -j MARK --set-xmark {MASQ_MARK}")
        if be.port is not None:
            # a port rewrite needs a protocol: TCP, UDP and SCTP get it, others keep theirs
            for p in (Proto.TCP, Proto.UDP, Proto.SCTP):
                body.append(f"-A {sub} -p {p} -j DNAT --to-destination {be.ip}:{be.port}")
        body.append(f"-A {sub} -j DNAT --to-destination {be.ip}")
    return jumps, body


def iptables_rules(
    node: Node, dnats: tuple[Dnat, ...] | None = None, filters: tuple[Filter, ...] | None = None
) -> str:
    """The node's NAT and filter rules as iptables-restore input ('' if none).

    ``dnats``/``filters`` replace the node's own lists (a built stack's, which
    hold the kube-proxy rules of its Services first; l2l3.model.profiles.services).
    """
    dnats = node.dnats if dnats is None else dnats
    filters = node.filters if filters is None else filters
    if not (node.snats or dnats or filters):
        return ""
    nat_chains: list[str] = []
    nat_rules: list[str] = []
    if any(d.masq_unless is not None or d.masq_hairpin for d in dnats):  # KUBE-POSTROUTING, first
        nat_rules.append(f"-A POSTROUTING -m mark --mark {MASQ_MARK} -j L2L3-KUBE-POSTROUTING")
        nat_chains += [
            ":L2L3-KUBE-POSTROUTING - [0:0]",
            "-A L2L3-KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
            "-A L2L3-KUBE-POSTROUTING -j MASQUERADE",
        ]
    for n, d in enumerate(dnats):
        jumps, body = _dnat_lines(n, d)
        nat_rules += jumps
        nat_chains += body
    for n, s in enumerate(node.snats):
        chain = f"L2L3-SNAT-{n}"
        out = f" -o {s.out}" if s.out else ""
        nat_rules.append(f"-A POSTROUTING -s {s.source}{out} -j {chain}")
        nat_chains.append(f":{chain} - [0:0]")
        for e in s.exceptions:
            nat_chains.append(f"-A {chain} -d {e} -j RETURN")
        if s.to is None:
            nat_chains.append(f"-A {chain} -j MASQUERADE")
        else:
            nat_chains.append(f"-A {chain} -j SNAT --to-source {s.to}")
    text = [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
    ]
    decl = [c for c in nat_chains if c.startswith(":")]
    body = [c for c in nat_chains if not c.startswith(":")]
    text += decl + nat_rules + body + ["COMMIT"]
    if filters:
        text += ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        for f in filters:
            text += _filter_lines(f, "FORWARD")
        for f in filters:
            if f.out_dev is None:
                text += _filter_lines(f, "INPUT")
        text.append("COMMIT")
    return "\n".join(text) + "\n"


# --------------------------------------------------------------------------
# reading: iptables-save output


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


def _proto(m: dict[str, str], known: tuple[str, ...]) -> tuple[bool, Proto | None]:
    """(expressible, protocol) of the rule's ``-p``: None without one; not expressible for one the model lacks."""
    p = m.get("-p")
    if p is None or p.lower() == "all":
        return True, None
    return (True, Proto[p.upper()]) if p.upper() in known else (False, None)


def _unexpressible(r: _Rule, allowed: set[str]) -> list[str]:
    mods = set((r.m.get("-m") or "").split()) - {"comment", "tcp", "udp", "sctp", "icmp"}
    bad = [k for k in r.m if k not in allowed and k not in _IGNORED]
    return bad + [f"-m {x}" for x in mods]


def parse_tables(save: str) -> tuple[dict[str, dict[str, list[_Rule]]], dict[tuple[str, str], str]]:
    """``iptables-save`` text as {table: {chain: rules}} and {(table, chain): policy}."""
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
    return tables, policies


def parse_iptables(save: str) -> tuple[list[SourceNat], list[Dnat], list[Filter], list[str]]:
    """masquerade/snat (nat POSTROUTING), dnat (nat PREROUTING), filter (FORWARD) rules."""
    tables, policies = parse_tables(save)
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
        known, proto = _proto(r.m, ("TCP", "UDP", "SCTP"))
        if not known:
            notes.append(f"nat PREROUTING rule for protocol {r.m['-p']} is not expressible: {r.text}")
            continue
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
            mods = set((r.m.get("-m") or "").split()) - {"comment", "tcp", "udp", "sctp", "icmp"}
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
        known, proto = _proto(m, ("TCP", "UDP", "SCTP", "ICMP"))
        if not known:
            notes.append(f"filter rule for protocol {m['-p']} is not expressible: {text}")
            continue
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
