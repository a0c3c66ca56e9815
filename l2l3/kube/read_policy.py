"""The reader for networking.k8s.io/v1 NetworkPolicy, every field of it.

Absent and empty are kept apart where the API gives them different
meanings (a peer's ``podSelector`` absent: every pod of the selected
namespaces; ``{}``: every pod of the policy's namespace; ``namespaceSelector``
absent: the policy's namespace; ``{}``: every namespace). Validation follows
the API server's: a peer has a selector or an ipBlock but not both, an
``except`` lies strictly inside its ``cidr``, ``In``/``NotIn`` need values and
``Exists``/``DoesNotExist`` take none, ``endPort`` needs a numeric ``port`` not
above it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from l2l3.kube.fields import R, dns_subdomain_problem, dotted, label_key_problem, label_value_problem
from l2l3.kube.frozen import FrozenMap
from l2l3.kube.objects import (
    OPERATORS,
    IPBlock,
    LabelRequirement,
    LabelSelector,
    NetworkPolicy,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
)
from l2l3.kube.read_core import META, SPEC, TOP, metadata
from l2l3.kube.source import Path

__all__ = ["read_network_policy", "read_selector"]

SPEC_KEYS = frozenset({"podSelector", "ingress", "egress", "policyTypes"})
PEER = frozenset({"podSelector", "namespaceSelector", "ipBlock"})
IPBLOCK = frozenset({"cidr", "except"})
PORT = frozenset({"protocol", "port", "endPort"})
SELECTOR = frozenset({"matchLabels", "matchExpressions"})
REQUIREMENT = frozenset({"key", "operator", "values"})
POLICY_TYPES = ("Ingress", "Egress")


def read_selector(r: R, v: Any, path: Path) -> LabelSelector:
    """A label selector: ``matchLabels`` and ``matchExpressions``."""
    if not isinstance(v, dict):
        r.expected(path, v, "a label selector (a mapping with matchLabels and/or matchExpressions)")
    r.unread(v, path, SELECTOR)
    match_labels = r.labels(v, "matchLabels", path, "labels to match")
    exprs = []
    for i, e in enumerate(r.opt_list(v, "matchExpressions", path) or ()):
        w = path + ("matchExpressions", i)
        if not isinstance(e, dict):
            r.expected(w, e, "a requirement (a mapping with key, operator and values)")
        r.unread(e, w, REQUIREMENT)
        key = r.need_str(e, "key", w, "a label key")
        problem = label_key_problem(key)
        if problem:
            r.fail(w + ("key",), f"{dotted(w + ('key',))}: {problem}")
        op = r.need_str(e, "operator", w, "In, NotIn, Exists or DoesNotExist")
        if op not in OPERATORS:
            r.expected(w + ("operator",), op, "In, NotIn, Exists or DoesNotExist")
        values = r.strings(e, "values", w, "label value") or ()
        for j, value in enumerate(values):
            problem = label_value_problem(value)
            if problem:
                r.fail(w + ("values", j), f"{dotted(w + ('values', j))}: {problem}")
        if op in ("In", "NotIn") and not values:
            at = w + ("values",) if e.get("values") is not None else w + ("operator",)
            r.fail(at, f"{dotted(w)}: operator {op} needs at least one value in values")
        if op in ("Exists", "DoesNotExist") and values:
            r.fail(w + ("values",), f"{dotted(w)}: operator {op} takes no values (values must be empty)")
        exprs.append(LabelRequirement(key=key, operator=op, values=tuple(values), span=r.span(w)))
    return LabelSelector(match_labels=match_labels, match_expressions=tuple(exprs), span=r.span(path))


def _ip_block(r: R, v: Any, path: Path) -> IPBlock:
    if not isinstance(v, dict):
        r.expected(path, v, "an ipBlock (a mapping with cidr and except)")
    r.unread(v, path, IPBLOCK)
    written = r.need_str(v, "cidr", path, "a CIDR such as 10.0.0.0/8")
    cidr, host_bits = r.cidr(written, path + ("cidr",))
    if host_bits:
        r.note(path + ("cidr",), f"ipBlock cidr {written} has host bits set: read as {cidr}", "assumed")
    net = ipaddress.ip_network(cidr)
    excepts = []
    for i, e in enumerate(r.opt_list(v, "except", path, "a list of CIDRs") or ()):
        w = path + ("except", i)
        c, _ = r.cidr(e, w)
        sub = ipaddress.ip_network(c)
        if sub.version != net.version or sub.prefixlen <= net.prefixlen or not sub.subnet_of(net):  # type: ignore[arg-type]
            r.fail(w, f"{dotted(w)}: {e} must lie strictly inside the ipBlock's cidr {cidr}")
        excepts.append(c)
    return IPBlock(cidr=cidr, except_=tuple(excepts), span=r.span(path))


def _peer(r: R, v: Any, path: Path) -> PolicyPeer:
    if not isinstance(v, dict):
        r.expected(path, v, "a peer (a mapping with podSelector, namespaceSelector or ipBlock)")
    r.unread(v, path, PEER)
    pods = v.get("podSelector")
    namespaces = v.get("namespaceSelector")
    block = v.get("ipBlock")
    if block is not None and (pods is not None or namespaces is not None):
        r.fail(
            path + ("ipBlock",),
            f"{dotted(path)}: a peer with ipBlock may not also have podSelector or namespaceSelector "
            "(write them as two peers)",
            key=True,
        )
    if pods is None and namespaces is None and block is None:
        r.fail(path, f"{dotted(path)}: a peer needs podSelector, namespaceSelector or ipBlock")
    return PolicyPeer(
        pod_selector=None if pods is None else read_selector(r, pods, path + ("podSelector",)),
        namespace_selector=None
        if namespaces is None
        else read_selector(r, namespaces, path + ("namespaceSelector",)),
        ip_block=None if block is None else _ip_block(r, block, path + ("ipBlock",)),
        span=r.span(path),
    )


def _null_is_empty(r: R, v: Any, path: Path) -> Any:
    """A null list item decodes as the zero value, ``{}``, in the API server: say so."""
    if v is None:
        r.note(path, f"{dotted(path)} is null: read as {{}}, as the API server decodes it", "assumed")
        return {}
    return v


def _port(r: R, v: Any, path: Path) -> PolicyPort:
    v = _null_is_empty(r, v, path)
    if not isinstance(v, dict):
        r.expected(path, v, "a port (a mapping with protocol, port and endPort)")
    r.unread(v, path, PORT)
    protocol, written = r.protocol(v, path)
    port = r.port_or_name(v, "port", path)
    end = r.opt_int(v, "endPort", path, 1, 65535, "a port number from 1 to 65535")
    if end is not None:
        at = path + ("endPort",)
        if port is None:
            r.fail(at, f"{dotted(at)}: endPort needs a port (the first port of the range)")
        if isinstance(port, str):
            r.fail(at, f"{dotted(at)}: endPort needs a numeric port, not the named port {port!r}")
        if end < port:
            r.fail(at, f"{dotted(at)}: endPort {end} is below port {port}")
    return PolicyPort(protocol=protocol, protocol_written=written, port=port, end_port=end, span=r.span(path))


def _rules(r: R, spec: dict[Any, Any], key: str, peers_key: str) -> tuple[PolicyRule, ...] | None:
    items = r.opt_list(spec, key, SPEC, f"a list of {key} rules")
    if items is None:
        return None
    known = frozenset({peers_key, "ports"})
    rules = []
    for i, v in enumerate(items):
        w = SPEC + (key, i)
        v = _null_is_empty(r, v, w)
        if not isinstance(v, dict):
            r.expected(w, v, f"an {key} rule (a mapping with {peers_key} and ports)")
        r.unread(v, w, known)
        peers = r.opt_list(v, peers_key, w, "a list of peers")
        ports = r.opt_list(v, "ports", w, "a list of ports")
        rules.append(
            PolicyRule(
                peers=None
                if peers is None
                else tuple(_peer(r, p, w + (peers_key, j)) for j, p in enumerate(peers)),
                ports=None
                if ports is None
                else tuple(_port(r, p, w + ("ports", j)) for j, p in enumerate(ports)),
                span=r.span(w),
            )
        )
    return tuple(rules)


def read_network_policy(r: R, obj: dict[Any, Any]) -> NetworkPolicy | None:
    name, namespace, _ = metadata(r, obj, namespaced=True)
    r.unread(obj, (), TOP)
    if name is None:
        r.note((), "NetworkPolicy with only a generateName is skipped", "skipped-object")
        return None
    problem = dns_subdomain_problem(name, "policy name")
    if problem:
        r.fail(META + ("name",), f"metadata.name: {problem}")
    spec = r.opt_map(obj, "spec", ())
    if spec is None:
        r.note(
            (),
            f"NetworkPolicy {namespace}/{name} has no spec: read as spec: {{}} (the API server's zero value)",
            "assumed",
        )
        spec = {}
    r.unread(spec, SPEC, SPEC_KEYS)
    if spec.get("podSelector") is None:
        r.note(
            SPEC,
            f"NetworkPolicy {namespace}/{name}: spec.podSelector is absent; read as {{}} "
            "(every pod of the namespace), as the API server decodes it",
            "assumed",
        )
        selector = LabelSelector(match_labels=FrozenMap(), match_expressions=(), span=r.span(SPEC))
    else:
        selector = read_selector(r, spec["podSelector"], SPEC + ("podSelector",))
    ingress = _rules(r, spec, "ingress", "from")
    egress = _rules(r, spec, "egress", "to")

    written = r.strings(spec, "policyTypes", SPEC, "policy type")
    types: list[str] = []
    for i, t in enumerate(written or ()):
        if t not in POLICY_TYPES:
            r.expected(SPEC + ("policyTypes", i), t, "Ingress or Egress")
        if t not in types:
            types.append(t)
    if not types:
        types = ["Ingress"] + (["Egress"] if egress else [])
    for key, kind in (("ingress", "Ingress"), ("egress", "Egress")):
        rules = ingress if key == "ingress" else egress
        if rules and kind not in types:
            r.note(
                SPEC + (key,),
                f"NetworkPolicy {namespace}/{name}: spec.{key} has no effect, as policyTypes does not list {kind}",
                "no-effect",
            )
    return NetworkPolicy(
        name=name,
        namespace=namespace,
        pod_selector=selector,
        ingress=ingress,
        egress=egress,
        policy_types_written=written,
        policy_types=tuple(types),
        span=r.span(),
    )
