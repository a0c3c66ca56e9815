"""Patching a built :class:`~l2l3.model.network.Network` after one node or policy changes.

A pod change is a change of its node: the node is expanded again through the
profile code (:func:`expand_node`), its stacks are rebuilt by the network's
own builder, and every index and memo the network keeps is patched or
dropped for what changed (:func:`replace_node`). A policy change swaps
``Network.policies`` and drops the policy memos of the pods it selects
(:func:`replace_policy`). Each returns a :class:`Delta` saying what may now
fare differently, which :mod:`l2l3.incremental` turns into the checks that
must be answered again; docs/incremental.md states the rule and why it is
sound.

The network's memos patched here (tests/property/test_memos.py lists them):
``owners``, ``domains``, ``ifaces_by_domain``, ``sctp_distinct`` (cached
properties), ``_peers_cache``, ``endpoint_cache``, ``_by_namespace``,
``policy_rules`` and ``compiled_rules``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network
from typing import cast

from l2l3.model.network import Iface, Network, PodInfo, Stack, pod_ids
from l2l3.model.policy import CompiledRule, peer_pod_ips, selects
from l2l3.model.types import BridgeKind, LabelSelector, Node, Policy, SelectorPeer, Spec, StackMode

#: Node fields that change only with its pods under a profile (veths, /32 routes, proxy ARP)
_POD_FIELDS = ("pods", "routes", "bridges", "proxy_arps", "enforce_policy", "span", "cni")


@dataclass
class Delta:
    """What a change may make fare differently.

    ``everything``: a reason every check depends on it (empty: none).
    ``addrs``: destinations whose handling changed somewhere (a packet that
    never carries one as its destination takes the same path as before).
    ``pods``: the old and new infos of changed pods (for endpoint names).
    ``nodes``: nodes whose own stack changed (for ``node N`` endpoints).
    ``relabelled``: (old, new) infos of pods whose labels alone changed.
    ``ingress``/``egress``: pods whose rules of that direction changed.
    ``pairs``: (senders, receivers) whose packets meet changed peer sets: an
    ingress rule of the receivers now admits or refuses the senders' address.
    ``selectors``: after a policy change, the (namespace, selector) of each
    version (the pods whose rules changed are among the pods they match).
    ``rules_reset``: pods whose memoised rule lists were dropped (memos only).
    ``retired``: objects the caller keeps alive (memos are keyed by identity).
    """

    everything: str = ""
    addrs: list[IPv4Network] = field(default_factory=list)
    pods: list[PodInfo] = field(default_factory=list)
    relabelled: list[tuple[PodInfo, PodInfo]] = field(default_factory=list)
    nodes: set[str] = field(default_factory=set)
    pairs: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)
    #: the changed policies' (namespace, selector): every pod in ``ingress``/``egress`` matches one
    selectors: list[tuple[str, LabelSelector]] = field(default_factory=list)
    ingress: set[str] = field(default_factory=set)
    egress: set[str] = field(default_factory=set)
    rules_reset: set[str] = field(default_factory=set)
    stacks: set[str] = field(default_factory=set)
    retired: list[object] = field(default_factory=list)


# --------------------------------------------------------------- profiles


def expand_node(raw: Spec, node: Node) -> Node:
    """``node`` as written, expanded by the profile as a fresh load of ``raw`` with it expands it.

    A profile expands a node from the node itself, the cluster and what the
    other nodes' shorthand says (their address, segment and pod subnet: the
    profile's peers), never from other nodes' pods; so the spec is expanded
    with every other node's pods left out, through the profile code itself
    (the veth, /32 route and proxy ARP of each pod come from there).
    """
    from l2l3.model.profiles import expand

    if raw.cluster is None:
        return node
    nodes = tuple(node if n.name == node.name else replace(n, pods=()) for n in raw.nodes)
    out = expand(replace(raw, nodes=nodes, policies=(), services=(), checks=()))[0]
    return next(n for n in out.nodes if n.name == node.name)


# --------------------------------------------------------------- policies


def selected_pods(net: Network, pol: Policy) -> list[str]:
    """Ids of the pods ``pol`` selects."""
    return [p for p in net.pods_in_namespace(pol.namespace) if selects(pol, net.pods[p].pod)]


def replace_policy(net: Network, spec: Spec, old: Policy | None, new: Policy | None) -> Delta:
    """Adopt ``spec`` (which differs from ``net.spec`` in one policy: ``old`` became ``new``)."""
    d = Delta()
    net.spec = spec
    net.policies = spec.policies
    for pol in (old, new):
        if pol is None:
            continue
        chosen = selected_pods(net, pol)
        d.selectors.append((pol.namespace, pol.select))
        if "ingress" in pol.directions:
            d.ingress.update(chosen)
        if "egress" in pol.directions:
            d.egress.update(chosen)
    if old is not None:
        for r in (*old.ingress, *old.egress):
            net.compiled_rules.pop((id(old), id(r)), None)
        d.retired.append(old)
    d.rules_reset = d.ingress | d.egress
    _drop_rules(net, d.rules_reset)
    net.__dict__.pop("sctp_distinct", None)
    return d


def _drop_rules(net: Network, pods: set[str]) -> None:
    for pid in pods:
        net.policy_rules.pop((pid, "ingress"), None)
        net.policy_rules.pop((pid, "egress"), None)


# ------------------------------------------------------------------ pods


def relabel_pod(net: Network, spec: Spec, pid: str) -> Delta:
    """Adopt ``spec``, in which pod ``pid`` has new labels and nothing else changed.

    Labels reach only policies (their selection and their selector peers)
    and endpoint names: the pod's stack and its node's stay as built.
    """
    old = net.pods[pid]
    node = next(n for n in spec.nodes if n.name == old.node)
    pod = next(p for p in node.pods if (p.name, p.namespace) == (old.pod.name, old.pod.namespace))
    new = replace(old, pod=pod)
    net.spec = spec
    net.pods[pid] = new
    net.endpoint_cache.pop(pid, None)
    d = Delta(relabelled=[(old, new)], retired=[old])
    _relabelled(net, d, pid, old, new)
    reset = {pid} | _patch_peers(net, [old], [new], d)
    d.rules_reset = reset
    _drop_rules(net, reset)
    return d


def _relabelled(net: Network, d: Delta, pid: str, was: PodInfo, now: PodInfo) -> None:
    """A pod whose labels alone changed: its own rules changed where its selection did."""
    if was.pod.mode is StackMode.NO_NETNS:
        d.everything = d.everything or f"{pid} is no-netns (its node sends from its address too)"
    for direction, out in (("ingress", d.ingress), ("egress", d.egress)):
        chosen = [p for p in net.policies if direction in p.directions]
        if [selects(p, was.pod) for p in chosen] != [selects(p, now.pod) for p in chosen]:
            out.add(pid)


# ------------------------------------------------------------------ nodes


def replace_node(net: Network, spec: Spec, name: str) -> Delta:
    """Adopt ``spec`` (which differs from ``net.spec`` in node ``name`` only), rebuilding that node."""
    old = net.spec_node(name)
    new = next(n for n in spec.nodes if n.name == name)
    d = Delta(retired=[old])
    d.nodes.add(name)
    old_ids = pod_ids(old)
    old_infos = {p: net.pods[p] for p in old_ids}
    old_stack_ids = [name, *(i.stack for i in old_infos.values() if i.stack != name)]
    old_node_stack = net.stacks[name]
    old_ifaces = [i for s in old_stack_ids for i in net.stacks[s].ifaces.values()]
    old_domain = (
        {id(i): net.domains[i.switch] for i in old_ifaces if i.switch} if _has(net, "domains") else {}
    )
    prefix = f"br:{name}/"
    old_switches = [sw for sw in net.switch_kind if sw.startswith(prefix)]
    wired = _wired(net, old_switches)

    for s in old_stack_ids:
        del net.stacks[s]
    for p in old_ids:
        del net.pods[p]
    for sw in old_switches:
        del net.switch_kind[sw]
        net.isolated_switches.discard(sw)
        net.uplink_of.pop(sw, None)
        _drop_switch(net, sw)
    net.spec = spec
    net.policies = spec.policies
    net._build_node(new)  # the network's own builder

    new_ids = pod_ids(new)
    new_stack_ids = [name, *(net.pods[p].stack for p in new_ids if net.pods[p].stack != name)]
    new_switches = [sw for sw in net.switch_kind if sw.startswith(prefix)]
    new_ifaces = [i for s in new_stack_ids for i in net.stacks[s].ifaces.values()]
    d.stacks = set(old_stack_ids) | set(new_stack_ids)

    _patch_owners(net, old_ifaces, new_ifaces)
    if wired or _wired(net, new_switches):
        for memo in ("domains", "ifaces_by_domain"):
            net.__dict__.pop(memo, None)
        net._peers_cache.clear()
    else:
        _patch_domains(net, old_switches, new_switches, old_ifaces, new_ifaces, old_domain)
    for key in [(i.stack, i.name) for i in old_ifaces]:
        net._peers_cache.pop(key, None)
    for pid in (*old_ids, *new_ids):
        net.endpoint_cache.pop(pid, None)
    new_infos = {p: net.pods[p] for p in new_ids}
    _patch_namespaces(net, old_infos, new_infos)

    _classify(net, d, old, new, old_node_stack, net.stacks[name], old_infos, new_infos)
    reset = set(old_ids) | set(new_ids)
    reset |= _patch_peers(
        net,
        [i for p, i in old_infos.items() if new_infos.get(p) != i],
        [i for p, i in new_infos.items() if old_infos.get(p) != i],
        d,
    )
    d.rules_reset = reset
    _drop_rules(net, reset)
    if (old.filters, old.dnats) != (new.filters, new.dnats):
        net.__dict__.pop("sctp_distinct", None)
    return d


def _has(net: Network, memo: str) -> bool:
    return memo in net.__dict__


def _wired(net: Network, switches: list[str]) -> bool:
    """Whether any of ``switches`` has an uplink edge (then L2 domains are recomputed)."""
    adj = net.switch_graph._adj  # SwitchGraph has no removal; update.py reads its adjacency
    return any(adj.get(sw) for sw in switches)


def _drop_switch(net: Network, sw: str) -> None:
    adj = net.switch_graph._adj
    for nb in adj.pop(sw, {}):
        adj.get(nb, {}).pop(sw, None)


def _patch_owners(net: Network, old: list[Iface], new: list[Iface]) -> None:
    owners = net.__dict__.get("owners")
    if owners is None:
        return
    gone = {id(i) for i in old}
    for i in old:
        for a in i.addrs:
            kept = [x for x in owners.get(a.ip, []) if id(x) not in gone]
            if kept:
                owners[a.ip] = kept
            else:
                owners.pop(a.ip, None)
    for i in new:
        for a in i.addrs:
            owners.setdefault(a.ip, []).append(i)


def _patch_domains(
    net: Network,
    old_sw: list[str],
    new_sw: list[str],
    old_if: list[Iface],
    new_if: list[Iface],
    old_domain: dict[int, int],
) -> None:
    """Unwired switches are components of their own: give each new one a fresh number."""
    domains = net.__dict__.get("domains")
    if domains is None:
        net.__dict__.pop("ifaces_by_domain", None)
        return
    for sw in old_sw:
        domains.pop(sw, None)
    top = max(domains.values(), default=-1)
    for sw in new_sw:
        top += 1
        domains[sw] = top
    by_dom = net.__dict__.get("ifaces_by_domain")
    if by_dom is None:
        return
    touched: set[int] = set()
    gone = {id(i) for i in old_if}
    for i in old_if:
        dom = old_domain.get(id(i))
        if dom is not None and dom in by_dom:
            by_dom[dom] = [x for x in by_dom[dom] if id(x) not in gone]
            touched.add(dom)
    for i in new_if:
        if i.switch is not None:
            dom = domains[i.switch]
            by_dom.setdefault(dom, []).append(i)
            touched.add(dom)
    for dom in touched:  # every member's L2 peers may have gained or lost one
        for i in by_dom.get(dom, []):
            net._peers_cache.pop((i.stack, i.name), None)
        if not by_dom.get(dom):
            by_dom.pop(dom, None)


def _patch_namespaces(net: Network, old: dict[str, PodInfo], new: dict[str, PodInfo]) -> None:
    idx = net._by_namespace
    if idx is None:
        return
    for pid, info in old.items():
        lst = idx.get(info.pod.namespace, [])
        k = bisect.bisect_left(lst, pid)
        if k < len(lst) and lst[k] == pid:
            del lst[k]
    for pid, info in new.items():
        bisect.insort(idx.setdefault(info.pod.namespace, []), pid)


class _Only:
    """A stand-in network holding only some pods, for :func:`peer_pod_ips` over them."""

    def __init__(self, net: Network, infos: list[PodInfo]) -> None:
        self.spec = net.spec
        self.pods = {i.id: i for i in infos}


def _patch_peers(net: Network, old: list[PodInfo], new: list[PodInfo], d: Delta) -> set[str]:
    """Compiled rules whose selector peers held an old pod or hold a new one, recompiled.

    Only the changed pods' addresses can enter or leave a peer set, so the
    set is patched rather than compiled over every pod. Returns the pods
    whose memoised rule lists held a replaced rule; adds to ``d.pairs`` the
    (changed pods, governed pods) of each replaced ingress rule, and to
    ``d.addrs`` the addresses a replaced egress rule gained or lost.
    """
    if not old and not new:
        return set()
    gone = {i.pod.ip.ip for i in old if i.pod.ip is not None}
    owner = {i.pod.ip.ip: i.id for i in (*old, *new) if i.pod.ip is not None}
    out: set[str] = set()
    for key, cr in list(net.compiled_rules.items()):
        if cr.peers.any:
            continue
        rule = next((r for r in cr.policy.ingress if id(r) == key[1]), None)
        ingress = rule is not None
        rule = rule or next((r for r in cr.policy.egress if id(r) == key[1]), None)
        peers = [p for p in rule.peers if isinstance(p, SelectorPeer)] if rule is not None else []
        if not peers:
            continue
        now: set[IPv4Address] = set()
        for p in peers:
            now |= peer_pod_ips(cast(Network, _Only(net, new)), p, cr.policy)
        ips = (cr.peers.ips - gone) | now
        if ips == cr.peers.ips:
            continue
        net.compiled_rules[key] = CompiledRule(
            replace(cr.peers, ips=frozenset(ips)), cr.ports, cr.policy, cr.span
        )
        governed = selected_pods(net, cr.policy)
        out.update(governed)
        moved = ips ^ cr.peers.ips
        if ingress:
            d.pairs.append((frozenset(owner[a] for a in moved if a in owner), frozenset(governed)))
        else:  # an egress rule towards those addresses: packets sent to them
            d.addrs += [IPv4Network(a) for a in sorted(moved)]
    return out


def _classify(
    net: Network,
    d: Delta,
    old: Node,
    new: Node,
    old_st: Stack,
    new_st: Stack,
    old_infos: dict[str, PodInfo],
    new_infos: dict[str, PodInfo],
) -> None:
    """Fill ``d`` with what the node change can affect (the rule of docs/incremental.md)."""
    for f in Node.__dataclass_fields__:
        if f not in _POD_FIELDS and getattr(old, f) != getattr(new, f):
            d.everything = f"node {new.name}'s {f} changed"
    if old.enforce_policy != new.enforce_policy:
        d.ingress |= set(old_infos) | set(new_infos)
        d.egress |= set(old_infos) | set(new_infos)
    _classify_bridges(d, old, new)
    # routes of the node's own stack: a destination outside every changed prefix
    # picks the same route as before
    before = {(r.prefix, r.dev, r.via, r.connected) for r in old_st.routes}
    after = {(r.prefix, r.dev, r.via, r.connected) for r in new_st.routes}
    d.addrs += sorted({r[0] for r in before ^ after})
    d.addrs += [IPv4Network(a) for a in sorted(old_st.local_addrs ^ new_st.local_addrs)]
    for pid in sorted(set(old_infos) | set(new_infos)):
        was, now = old_infos.get(pid), new_infos.get(pid)
        if was is not None and now is not None and was.pod == now.pod:
            continue
        if was is not None and now is not None and replace(was.pod, labels=now.pod.labels) == now.pod:
            d.relabelled.append((was, now))  # same address, stack and name: only policies can differ
            _relabelled(net, d, pid, was, now)
            continue
        for info in (was, now):
            if info is None:
                continue
            d.pods.append(info)
            d.ingress.add(pid)
            d.egress.add(pid)
            if info.pod.ip is not None:
                d.addrs.append(IPv4Network(info.pod.ip.ip))
            if info.pod.mode is StackMode.NO_NETNS:
                d.everything = d.everything or f"{pid} is no-netns (it shares {new.name}'s stack)"
            if info.pod.mode is not StackMode.HOST_NETWORK and info.pod.mac is not None:
                d.everything = d.everything or f"{pid} has a written MAC"
    first_id = {info.pod: pid for pid, info in old_infos.items()}
    if any(first_id.get(info.pod, pid) != pid for pid, info in new_infos.items()):
        d.everything = d.everything or f"pod ids on {new.name} changed (a name now shared or no longer)"


def _classify_bridges(d: Delta, old: Node, new: Node) -> None:
    """Bridges and proxy ARP may change only by unwired veths (a profile's per-pod host ends)."""
    ob, nb = set(old.bridges), set(new.bridges)
    for br in ob ^ nb:
        if br.kind is not BridgeKind.VETH or br.uplink is not None:
            d.everything = d.everything or f"node {new.name}'s bridge {br.name} changed"
    veths = {br.name for br in ob ^ nb}
    for pa in set(old.proxy_arps) ^ set(new.proxy_arps):
        if pa.dev not in veths:
            d.everything = d.everything or f"node {new.name}'s proxy-arp on {pa.dev} changed"
