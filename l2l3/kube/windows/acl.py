"""An endpoint's HNS ACL rules as one policy of the spec model.

Sources: "When any ACL policy is applied on an HNS endpoint, HNS switches the
endpoint to a default-deny posture" — Microsoft's answer in
microsoft/Windows-Containers#616 (2026-05); a rule with a lower ``Priority``
number is evaluated first and protocol 256 is every protocol —
microsoft/hcsshim#1059. So an endpoint with ACLs is isolated in both
directions (:data:`DEFAULT_DENY`) and its Allow rules are what gets through;
a Block rule evaluated before an Allow rule cuts its addresses out of it
(an ``except``). What an allow-list cannot say — a Block that restricts ports
or protocols the Allow does not, source ports, the ``Pass`` action — leaves
that Allow rule out (the endpoint gets less through, never more) and says so.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from l2l3.kube.provenance import Notes, model_span
from l2l3.kube.windows.state import Acl
from l2l3.model.types import CidrPeer, LabelSelector, Policy, PolicyRule, PortSpec, Proto

__all__ = ["ACL_LABEL", "DEFAULT_DENY", "acl_policy"]

#: The directions an endpoint with any ACL denies by default (Windows-Containers#616).
DEFAULT_DENY = frozenset({"ingress", "egress"})
#: The label that ties a pod to the policy made of its endpoint's ACLs.
ACL_LABEL = "l2l3.hns/endpoint"
PROTOS = {6: Proto.TCP, 17: Proto.UDP, 1: Proto.ICMP, 132: Proto.SCTP}
ANY = IPv4Network("0.0.0.0/0")


def _covers(block: Acl, allow: Acl) -> bool:
    """Whether ``block`` blocks all that ``allow`` lets through, for the addresses it names."""
    if block.local_ports or block.remote_ports:
        return False
    return not block.protocols or (bool(allow.protocols) and set(allow.protocols) <= set(block.protocols))


def _overlaps(block: Acl, allow: Acl) -> bool:
    if block.protocols and allow.protocols and not set(block.protocols) & set(allow.protocols):
        return False
    if not block.remote_addresses or not allow.remote_addresses:
        return True
    return any(b.overlaps(a) for b in block.remote_addresses for a in allow.remote_addresses)


def _ports(notes: Notes, a: Acl, where: str) -> tuple[PortSpec, ...] | None:
    dst = a.local_ports if a.direction == "in" else a.remote_ports
    src = a.remote_ports if a.direction == "in" else a.local_ports
    if src:
        notes.add(
            a.span, f"{where}: an ACL rule on source ports cannot be modelled: the Allow rule is left out"
        )
        return None
    protos: list[Proto] = []
    for n in a.protocols:
        p = PROTOS.get(n)
        if p is None:
            notes.add(a.span, f"{where}: ACL protocol {n} is not modelled (tcp, udp, sctp, icmp are)")
            continue
        protos.append(p)
    if a.protocols and not protos:
        return None
    if not dst:
        return tuple(PortSpec(proto=p) for p in protos)
    out = []
    for p in protos or [Proto.TCP, Proto.UDP, Proto.SCTP]:
        if p is Proto.ICMP:
            out.append(PortSpec(proto=p))
            continue
        for lo, hi in dst:
            out.append(PortSpec(proto=p, port=lo, end_port=hi if hi != lo else None))
    return tuple(out)


def _rule(notes: Notes, a: Acl, before: list[Acl], where: str) -> PolicyRule | None:
    ports = _ports(notes, a, where)
    if ports is None:
        return None
    excepts: list[IPv4Network] = []
    for b in before:
        if not _overlaps(b, a):
            continue
        if not _covers(b, a):
            notes.add(
                a.span,
                f"{where}: a Block rule (priority {b.priority}) limited to ports or protocols comes before this "
                "Allow rule; an allow list cannot say that: the Allow rule is left out",
            )
            return None
        if not b.remote_addresses:
            return None  # everything this rule allows was blocked before it
        excepts += b.remote_addresses
    cidrs = list(a.remote_addresses) or [ANY]
    peers = []
    for c in cidrs:
        if any(c.subnet_of(e) for e in excepts):
            continue
        exc = tuple(e for e in excepts if e.subnet_of(c) and e != c)
        peers.append(CidrPeer(cidr=c, exceptions=exc))
    if not peers:
        return None
    if peers == [CidrPeer(cidr=ANY)]:
        peers = []
    return PolicyRule(peers=tuple(peers), ports=ports, span=model_span(a.span))


def acl_policy(
    notes: Notes, acls: list[Acl], pod_name: str, namespace: str, ip: IPv4Address, label: str
) -> Policy:
    """The policy that gives the pod at ``ip`` (labelled ``ACL_LABEL=label``) what its ACLs allow."""
    where = f"HNS ACL of pod {pod_name}"
    rules: dict[str, list[PolicyRule]] = {"in": [], "out": []}
    for d in ("in", "out"):
        before: list[Acl] = []
        for a in sorted((a for a in acls if a.direction == d), key=lambda a: a.priority):
            if a.ipv6_only or (a.local_addresses and not any(ip in n for n in a.local_addresses)):
                continue  # not for this endpoint's IPv4 address
            if a.rule_type == "host":
                notes.add(a.span, f"{where}: a Host ACL rule is read as a Switch (vSwitch port) rule")
            if a.action == "block":
                before.append(a)
            elif a.action == "pass":
                notes.add(a.span, f"{where}: the ACL action Pass (to a later tier) is not modelled: left out")
            else:
                rule = _rule(notes, a, before, where)
                if rule is not None:
                    rules[d].append(rule)
    first = min(acls, key=lambda a: a.priority)
    return Policy(
        name=f"hns-acl-{pod_name}",
        namespace=namespace,
        select=LabelSelector(match=((ACL_LABEL, label),)),
        ingress=tuple(rules["in"]),
        egress=tuple(rules["out"]),
        types=DEFAULT_DENY,
        span=model_span(first.span),
    )
