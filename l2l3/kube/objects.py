"""The typed objects the readers make: frozen, slotted, keyword-only.

Every object and sub-object has a ``span`` (file, line, col of where it was
written). Collections are tuples; mappings are :class:`FrozenMap`. Where the
Kubernetes API gives an absent field and an empty one different meanings,
``None`` stands for absent. IP addresses and CIDRs are canonical strings
(``ipaddress``'s ``str``). Names of fields follow the API, in snake case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from l2l3.kube.errors import Span
from l2l3.kube.frozen import EMPTY, FrozenMap

__all__ = [
    "CniConfig",
    "CniPlugin",
    "Container",
    "ContainerPort",
    "Endpoint",
    "EndpointPort",
    "EndpointSlice",
    "FlannelConfig",
    "FlannelNetConf",
    "IPBlock",
    "LabelRequirement",
    "LabelSelector",
    "Namespace",
    "NetworkPolicy",
    "Node",
    "Pod",
    "PolicyPeer",
    "PolicyPort",
    "PolicyRule",
    "Service",
    "ServicePort",
    "TargetRef",
]

Labels = FrozenMap[str, str]


# ---------------------------------------------------------------- core kinds


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespace:
    """A namespace. ``labels`` include ``kubernetes.io/metadata.name=NAME``.

    ``declared`` is False for a namespace that no Namespace object declares
    but that a pod, policy, Service or EndpointSlice lives in (its span is
    that object's).
    """

    name: str
    labels: Labels
    declared: bool = True
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A node: its addresses from ``status.addresses``, its pod CIDRs, its OS.

    ``os`` is the label ``kubernetes.io/os`` (else ``beta.kubernetes.io/os``,
    else ``status.nodeInfo.operatingSystem``), or None.
    """

    name: str
    labels: Labels
    annotations: FrozenMap[str, str]
    internal_ips: tuple[str, ...]
    external_ips: tuple[str, ...]
    hostname: str | None
    pod_cidr: str | None
    pod_cidrs: tuple[str, ...]
    os: str | None
    span: Span

    @property
    def internal_ip(self) -> str | None:
        """The first IPv4 InternalIP (else the first InternalIP), or None."""
        for ip in self.internal_ips:
            if ":" not in ip:
                return ip
        return self.internal_ips[0] if self.internal_ips else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPort:
    """``containers[].ports[]``; ``protocol`` is TCP when omitted."""

    name: str | None
    container_port: int
    protocol: str
    host_port: int | None
    host_ip: str | None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    """A container with its declared ports. ``sidecar``: an init container
    with ``restartPolicy: Always`` (it runs, and listens, beside the others)."""

    name: str
    ports: tuple[ContainerPort, ...]
    sidecar: bool = False
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """A pod that runs on a node and has an address (others are skipped with a note)."""

    name: str
    namespace: str
    labels: Labels
    node_name: str
    host_network: bool
    pod_ip: str
    pod_ips: tuple[str, ...]
    phase: str | None
    containers: tuple[Container, ...]
    span: Span

    @property
    def ports(self) -> tuple[ContainerPort, ...]:
        """Every container's ports, in order."""
        return tuple(p for c in self.containers for p in c.ports)

    def named_port(self, name: str, protocol: str = "TCP") -> int | None:
        """The container port called ``name`` with ``protocol``, as NetworkPolicy resolves it."""
        for c in self.containers:
            for p in c.ports:
                if p.name == name and p.protocol == protocol:
                    return p.container_port
        return None


# ------------------------------------------------------------- NetworkPolicy

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelRequirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...]
    span: Span

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelector:
    """``matchLabels`` and ``matchExpressions``, ANDed; empty selects everything."""

    match_labels: Labels
    match_expressions: tuple[LabelRequirement, ...]
    span: Span

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        return all(r.matches(labels) for r in self.match_expressions)


@dataclass(frozen=True, slots=True, kw_only=True)
class IPBlock:
    """``ipBlock``: ``cidr`` less the ``except_`` CIDRs (canonical network strings)."""

    cidr: str
    except_: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyPeer:
    """One ``from``/``to`` entry. ``None`` means the field is absent:

    - ``pod_selector`` only: pods of the policy's namespace;
    - ``namespace_selector`` only: every pod of the selected namespaces;
    - both: the selected pods of the selected namespaces;
    - ``ip_block``: addresses (never with a selector).
    """

    pod_selector: LabelSelector | None
    namespace_selector: LabelSelector | None
    ip_block: IPBlock | None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyPort:
    """One ``ports`` entry. ``port`` is None (every port), a number or a
    named container port; ``end_port`` makes ``port..end_port`` a range.
    ``protocol`` is TCP when omitted (``protocol_written`` is None then)."""

    protocol: str
    protocol_written: str | None
    port: int | str | None
    end_port: int | None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRule:
    """An ingress or egress rule. ``peers`` is its ``from`` (ingress) or ``to``
    (egress); ``peers`` or ``ports`` None or empty: every peer / every port."""

    peers: tuple[PolicyPeer, ...] | None
    ports: tuple[PolicyPort, ...] | None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicy:
    """A networking.k8s.io/v1 NetworkPolicy.

    ``ingress``/``egress`` are None when the field is absent (an empty tuple:
    present and empty). ``policy_types_written`` is ``spec.policyTypes`` as
    written (None when absent); ``policy_types`` is what the API server makes
    of it: as written when non-empty, else Ingress, plus Egress when
    ``spec.egress`` is non-empty.
    """

    name: str
    namespace: str
    pod_selector: LabelSelector
    ingress: tuple[PolicyRule, ...] | None
    egress: tuple[PolicyRule, ...] | None
    policy_types_written: tuple[str, ...] | None
    policy_types: tuple[str, ...]
    span: Span

    @property
    def affects_ingress(self) -> bool:
        return "Ingress" in self.policy_types

    @property
    def affects_egress(self) -> bool:
        return "Egress" in self.policy_types


# ------------------------------------------------------------------ Services


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePort:
    """``spec.ports[]``. ``target_port`` as written (None: the same as ``port``)."""

    name: str | None
    protocol: str
    port: int
    target_port: int | str | None
    node_port: int | None
    app_protocol: str | None
    span: Span

    @property
    def effective_target_port(self) -> int | str:
        return self.port if self.target_port is None else self.target_port


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A v1 Service. Traffic policies are as written (None when absent);
    the ``effective_*`` properties give the API server's defaults."""

    name: str
    namespace: str
    type: str  # ClusterIP (when omitted), NodePort, LoadBalancer, ExternalName
    cluster_ip: str | None  # an address, "None" (headless) or None (not allocated yet)
    cluster_ips: tuple[str, ...]
    ports: tuple[ServicePort, ...]
    selector: Labels | None  # None: no selector (endpoints are managed by hand)
    external_traffic_policy: str | None
    internal_traffic_policy: str | None
    external_ips: tuple[str, ...]
    load_balancer_ip: str | None
    load_balancer_ingress: tuple[str, ...]  # status.loadBalancer.ingress[].ip
    load_balancer_source_ranges: tuple[str, ...]
    external_name: str | None
    session_affinity: str | None
    publish_not_ready_addresses: bool
    health_check_node_port: int | None
    labels: Labels
    annotations: FrozenMap[str, str]
    span: Span

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    @property
    def effective_external_traffic_policy(self) -> str | None:
        """Cluster by default for NodePort and LoadBalancer; None for the other types."""
        if self.type not in ("NodePort", "LoadBalancer"):
            return None
        return self.external_traffic_policy or "Cluster"

    @property
    def effective_internal_traffic_policy(self) -> str | None:
        if self.type == "ExternalName":
            return None
        return self.internal_traffic_policy or "Cluster"


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetRef:
    kind: str | None
    namespace: str | None
    name: str | None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One ``endpoints[]`` entry. Conditions as written (None when absent);
    ``is_ready``: an absent ``ready`` counts as ready, as the API says."""

    addresses: tuple[str, ...]
    ready: bool | None
    serving: bool | None
    terminating: bool | None
    node_name: str | None
    zone: str | None
    hostname: str | None
    target_ref: TargetRef | None
    span: Span

    @property
    def is_ready(self) -> bool:
        return self.ready is not False


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointPort:
    """``ports[]``; ``port`` None means every port (as the API allows)."""

    name: str | None
    port: int | None
    protocol: str
    app_protocol: str | None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointSlice:
    """A discovery.k8s.io/v1 EndpointSlice; ``service_name`` is its
    ``kubernetes.io/service-name`` label."""

    name: str
    namespace: str
    address_type: str  # IPv4, IPv6, FQDN
    endpoints: tuple[Endpoint, ...]
    ports: tuple[EndpointPort, ...]
    service_name: str | None
    labels: Labels
    span: Span


# ---------------------------------------------------------------------- CNI


@dataclass(frozen=True, slots=True, kw_only=True)
class CniPlugin:
    """One plugin of a network config: its ``type`` and every other key, raw.

    ``option_spans`` gives the place of each top-level option's value.
    """

    type: str
    options: FrozenMap[str, Any]
    option_spans: FrozenMap[str, Span] = EMPTY
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class CniConfig:
    """A CNI network config: a ``.conflist`` (``is_list``) or a single-plugin ``.conf``."""

    name: str
    cni_version: str | None
    plugins: tuple[CniPlugin, ...]
    is_list: bool
    disable_check: bool = False
    span: Span

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(p.type for p in self.plugins)

    @property
    def main(self) -> CniPlugin:
        """The first plugin (the one that makes the interface)."""
        return self.plugins[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlannelNetConf:
    """flannel's ``net-conf.json``. ``backend_type`` defaults to ``udp``, as in
    flannel; ``backend`` holds the other ``Backend`` keys (VNI, Port,
    DirectRouting …); ``raw`` the whole object."""

    network: str | None
    ipv6_network: str | None
    enable_ipv4: bool
    enable_ipv6: bool
    subnet_len: int | None
    backend_type: str
    backend: FrozenMap[str, Any]
    raw: FrozenMap[str, Any]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class FlannelConfig:
    """The ``kube-flannel-cfg`` ConfigMap (or a bare ``net-conf.json`` file)."""

    name: str
    namespace: str | None
    net_conf: FlannelNetConf | None
    cni_conf: CniConfig | None
    span: Span
