"""Kubernetes NetworkPolicy, as l2l3 evaluates it.

A pod selected by no policy of a direction allows everything in that
direction; once selected, it allows only the union of the rules of the
policies that select it. Policies act only where the pod's node enforces
them (``enforce-policy on``, set by the calico, antrea and kindnet profiles).

Where: once per packet, at delivery. The sender's egress rules are matched
against the destination as delivered (after Service DNAT), the receiver's
ingress rules against the source address as it arrives (after any SNAT on
the way, as the receiving node's dataplane sees it). Host-network pods are
never selected (Kubernetes leaves them out of pod selectors).

From the pod's own node: a packet the pod's node stack itself sends (a
process of the node, of a host-network pod or of a ``no-netns`` pod on it:
one stack), delivered to the pod without any stack forwarding it, is not
subject to the pod's ingress rules, whatever local address it carries
(:func:`from_resident_node`, switch :data:`FROM_RESIDENT_NODE_ALLOWED`).
Kubernetes docs, Network Policies, "What you can't do with network
policies": pods cannot "block access from their resident node"; Calico's
docs (projectcalico/calico PR #2691, "Protect hosts"): "Calico allows all
connections from processes running on the host to guest workloads on the
host"; calico#2797 shows it; kube-router PR #195 does the same. The sender's
egress rules still apply (a host-network or no-netns sender has none). A
packet that left the node and came back, or a remote node's packet, is
judged as usual.

Ports: a rule's port is a number, a range (``endPort``) or a named
container port. A name resolves against the *destination* pod of the packet
as delivered (the receiver, for ingress and egress alike), so it is read at
match time (:func:`port_ranges`), not compiled: a packet that is delivered
to no pod matches no named port.

This module compiles peers to :class:`PeerSet` facts that both engines read;
each engine evaluates them, and the ports, its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from l2l3.model.types import (
    NAMESPACE_NAME_LABEL,
    AnyPeer,
    CidrPeer,
    LabelSelector,
    Pod,
    Policy,
    PolicyRule,
    PortSpec,
    Proto,
    SelectorPeer,
    Span,
    StackMode,
)

if TYPE_CHECKING:
    from l2l3.model.network import Network, PodInfo
    from l2l3.model.packet import Packet


#: Whether traffic a pod's own node sends is exempt from the pod's ingress rules
#: (see the module docstring). True on every enforcing profile: the Kubernetes docs
#: state it for NetworkPolicy as such, and Calico, Antrea and kindnet's
#: kube-network-policies all hook only forwarded pod traffic or exempt the host.
#: False: ingress rules apply to node -> own-pod traffic as to any other.
FROM_RESIDENT_NODE_ALLOWED = True


def from_resident_node(origin_stack: str | None, routed: bool, receiver: PodInfo | None) -> bool:
    """Whether a packet sent by ``origin_stack`` and delivered to ``receiver`` is exempt.

    ``routed``: some stack forwarded the packet on its way (then it is not the
    node's own packet on its local path).
    """
    return (
        FROM_RESIDENT_NODE_ALLOWED
        and receiver is not None
        and origin_stack is not None
        and not routed
        and origin_stack == receiver.node
    )


class Direction(StrEnum):
    """The two directions a NetworkPolicy isolates; members equal their names as strings."""

    INGRESS = "ingress"
    EGRESS = "egress"


@dataclass(frozen=True, slots=True)
class PeerSet:
    """The addresses a rule's peers stand for.

    ``any`` is all addresses; otherwise the union of ``ips`` and of each
    (cidr, exceptions) block.
    """

    any: bool = False
    ips: frozenset[IPv4Address] = frozenset()
    blocks: tuple[tuple[IPv4Network, tuple[IPv4Network, ...]], ...] = ()

    def contains(self, ip: IPv4Address) -> bool:
        if self.any or ip in self.ips:
            return True
        return any(ip in c and not any(ip in e for e in ex) for c, ex in self.blocks)

    def meets(self, addrs: frozenset[IPv4Address]) -> bool:
        """Some address of ``addrs`` is in the set."""
        if self.any:
            return bool(addrs)
        if not self.ips.isdisjoint(addrs):
            return True
        return bool(self.blocks) and any(self.contains(a) for a in addrs)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    """One allow rule of one policy, compiled once and shared by every pod it governs.

    Compared and hashed by identity (``eq=False``): memos keyed by a rule
    hold the rule itself, so a key is never reused by another rule.
    """

    peers: PeerSet
    ports: tuple[PortSpec, ...]  # empty: every port and protocol
    policy: Policy
    span: Span

    def matches(self, ip: IPv4Address, proto: Proto, dport: int, dest: Pod | None) -> bool:
        """Whether a packet to/from ``ip`` with those headers passes, ``dest`` its destination pod."""
        return self.peers.contains(ip) and ports_match(self.ports, proto, dport, dest)


def port_ranges(ps: PortSpec, dest: Pod | None) -> tuple[tuple[int, int], ...] | None:
    """The destination ports ``ps`` admits for its protocol at ``dest``; None: every port.

    A number is itself (``end_port``: up to it); a name is every container
    port of ``dest`` with that name and protocol (Kubernetes resolves named
    ports per destination pod; a pod without it, or no pod, admits none).
    """
    if ps.port is None:
        return None
    if isinstance(ps.port, str):
        if dest is None:
            return ()
        return tuple((c.port, c.port) for c in dest.ports if c.name == ps.port and c.proto == ps.proto)
    return ((ps.port, ps.end_port if ps.end_port is not None else ps.port),)


def ports_match(ports: tuple[PortSpec, ...], proto: Proto, dport: int, dest: Pod | None = None) -> bool:
    """Whether some port spec admits (proto, dport) at destination pod ``dest`` (none: all do)."""
    if not ports:
        return True
    for ps in ports:
        if ps.proto != proto:
            continue
        ranges = port_ranges(ps, dest)
        if ranges is None or (proto != Proto.ICMP and any(lo <= dport <= hi for lo, hi in ranges)):
            return True
    return False


def selects(policy: Policy, pod: Pod) -> bool:
    """Whether ``policy`` applies to ``pod`` (its namespace and ``select``)."""
    return (
        pod.namespace == policy.namespace
        and pod.mode is not StackMode.HOST_NETWORK
        and policy.select.matches(pod.labels)
    )


def namespace_labels(net: Network) -> dict[str, dict[str, str]]:
    """The labels of every declared namespace, with the implicit name label."""
    out: dict[str, dict[str, str]] = {}
    for ns in net.spec.namespaces:
        out[ns.name] = {**dict(ns.labels), NAMESPACE_NAME_LABEL: ns.name}
    return out


def peer_pod_ips(net: Network, peer: SelectorPeer, policy: Policy) -> frozenset[IPv4Address]:
    """The addresses of the pods a selector peer of ``policy`` stands for.

    Kubernetes NetworkPolicyPeer: without ``namespaces`` the policy's own
    namespace; with it, every namespace it matches (its labels plus
    ``kubernetes.io/metadata.name``); ``pods`` None is every pod there.
    """
    declared = namespace_labels(net)
    ns_ok: dict[str, bool] = {}
    sel = peer.namespaces

    def in_scope(ns: str) -> bool:
        if sel is None:
            return ns == policy.namespace
        hit = ns_ok.get(ns)
        if hit is None:
            hit = ns_ok[ns] = sel.matches(declared.get(ns) or {NAMESPACE_NAME_LABEL: ns})
        return hit

    pods = peer.pods or LabelSelector()
    return frozenset(
        info.pod.ip.ip
        for info in net.pods.values()
        if info.pod.ip is not None
        and info.pod.mode is not StackMode.HOST_NETWORK
        and in_scope(info.pod.namespace)
        and pods.matches(info.pod.labels)
    )


def compile_peers(net: Network, rule: PolicyRule, policy: Policy) -> PeerSet:
    """The addresses ``rule``'s peers stand for (no peer: every address)."""
    if not rule.peers or any(isinstance(p, AnyPeer) for p in rule.peers):
        return PeerSet(any=True)
    ips: set[IPv4Address] = set()
    blocks: list[tuple[IPv4Network, tuple[IPv4Network, ...]]] = []
    for peer in rule.peers:
        if isinstance(peer, SelectorPeer):
            ips |= peer_pod_ips(net, peer, policy)
        elif isinstance(peer, CidrPeer):
            blocks.append((peer.cidr, peer.exceptions))
    return PeerSet(ips=frozenset(ips), blocks=tuple(blocks))


def governing_rules(net: Network, info: PodInfo, direction: Direction) -> list[CompiledRule] | None:
    """The allow rules for ``info`` in ``direction``; None when nothing restricts it."""
    key = (info.id, direction)
    if key not in net.policy_rules:
        net.policy_rules[key] = _governing_rules(net, info, direction)
    return net.policy_rules[key]


def _governing_rules(net: Network, info: PodInfo, direction: Direction) -> list[CompiledRule] | None:
    if info.pod.mode is StackMode.HOST_NETWORK:
        return None
    if not net.stacks[info.node].enforce_policy:
        return None
    selecting = [p for p in net.policies if direction in p.directions and selects(p, info.pod)]
    if not selecting:
        return None
    out: list[CompiledRule] = []
    for p in selecting:
        for r in p.ingress if direction == "ingress" else p.egress:
            out.append(_compiled(net, r, p))
    return out


def _compiled(net: Network, rule: PolicyRule, policy: Policy) -> CompiledRule:
    """One compiled rule per (policy, rule), shared by every pod it governs.

    Compiling walks every pod, so doing it per governed pod would cost
    pods x pods; sharing also lets callers cache by the rule's identity.
    """
    key = (id(policy), id(rule))  # both live as long as the network (net.policies)
    hit = net.compiled_rules.get(key)
    if hit is None:
        hit = net.compiled_rules[key] = CompiledRule(
            compile_peers(net, rule, policy), rule.ports, policy, rule.span or policy.span
        )
    return hit


def policy_verdict(
    net: Network, sender: PodInfo | None, receiver: PodInfo | None, pkt: Packet, from_node: bool = False
) -> tuple[bool, str, Span | None]:
    """Whether policies let ``pkt`` (as delivered) pass; the reason if not.

    ``from_node``: :func:`from_resident_node` holds, so the receiver's ingress
    rules do not apply.
    """
    if sender is not None:
        rules = governing_rules(net, sender, Direction.EGRESS)
        dest = receiver.pod if receiver is not None else None
        if rules is not None and not any(r.matches(pkt.dst, pkt.proto, pkt.dport, dest) for r in rules):
            names = ", ".join(
                sorted({_name(r.policy) for r in rules} or _selecting(net, sender, Direction.EGRESS))
            )
            return (
                False,
                f"egress of {sender.id} denied by policy ({names})",
                _first_span(net, sender, Direction.EGRESS),
            )
    if receiver is not None and not from_node:
        rules = governing_rules(net, receiver, Direction.INGRESS)
        if rules is not None and not any(
            r.matches(pkt.src, pkt.proto, pkt.dport, receiver.pod) for r in rules
        ):
            names = ", ".join(sorted(_selecting(net, receiver, Direction.INGRESS)))
            return (
                False,
                f"ingress of {receiver.id} denied by policy ({names})",
                _first_span(net, receiver, Direction.INGRESS),
            )
    return True, "", None


def _name(p: Policy) -> str:
    return f"{p.namespace}/{p.name}"


def _selecting(net: Network, info: PodInfo, direction: Direction) -> set[str]:
    return {_name(p) for p in net.policies if direction in p.directions and selects(p, info.pod)}


def _first_span(net: Network, info: PodInfo, direction: Direction) -> Span | None:
    for p in net.policies:
        if direction in p.directions and selects(p, info.pod):
            return p.span
    return None


def unenforced_policies(net: Network) -> list[tuple[Policy, list[str]]]:
    """Policies that select pods only on nodes that do not enforce policy."""
    out: list[tuple[Policy, list[str]]] = []
    for p in net.policies:
        selected = [info for info in net.pods.values() if selects(p, info.pod)]
        lax = [i for i in selected if not net.stacks[i.node].enforce_policy]
        if lax:
            out.append((p, [i.id for i in lax]))
    return out
