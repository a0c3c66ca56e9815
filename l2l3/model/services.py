"""Kubernetes Services as data (LANGUAGE.md section 9): the ``service`` statement.

A :class:`Service` is what one ``service NS/NAME …`` statement (or one
``Service`` object with its ``EndpointSlice``s) says: its virtual address
(None: headless), type, ports with their target ports (a number, or a
container port name resolved per endpoint), and where its endpoints come
from — the pods its selector picks, or an explicit list (as EndpointSlices
give it, every endpoint ready). How kube-proxy programs it on each node is
:mod:`l2l3.model.profiles.services`; the ``service NS/NAME`` destination of a
check is :mod:`l2l3.model.endpoints`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address

from l2l3.model.base import Proto, Span
from l2l3.model.base import span_field as _span
from l2l3.model.selector import LabelSelector

__all__ = ["Service", "ServiceEndpoint", "ServicePort", "ServiceRef", "ServiceType", "TrafficPolicy"]


class ServiceType(StrEnum):
    """``spec.type`` (ExternalName has no addresses to program and is not modelled)."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class TrafficPolicy(StrEnum):
    """``externalTrafficPolicy`` / ``internalTrafficPolicy``."""

    CLUSTER = "Cluster"
    LOCAL = "Local"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServicePort:
    """``port [NAME] N [tcp|udp|sctp] [target N|NAME] [node-port N]``.

    ``target`` None is the same number as ``port``; a name is a container
    port name, resolved against each endpoint's pod (Kubernetes semantics).
    """

    name: str | None = None
    port: int
    proto: Proto = Proto.TCP
    target: int | str | None = None
    node_port: int | None = None
    span: Span = _span()

    @property
    def key(self) -> str:
        """The name an EndpointSlice port carries for this port ("" when unnamed)."""
        return self.name or ""

    def __str__(self) -> str:
        return f"{self.port}/{self.proto}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceEndpoint:
    """``endpoint IP [port N] [NAME=N …]``: one ready endpoint address.

    ``ports`` maps a Service port's name ("" for the unnamed one) to the
    endpoint's port for it, as an EndpointSlice states it; a port not listed
    gets the Service port's target (a name resolved against the pod that
    owns the address).
    """

    ip: IPv4Address
    ports: tuple[tuple[str, int], ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """One Service. ``endpoints`` None: the pods ``selector`` picks in ``namespace``."""

    namespace: str
    name: str
    ip: IPv4Address | None = None  # None: headless (no virtual address)
    type: ServiceType = ServiceType.CLUSTER_IP
    ports: tuple[ServicePort, ...] = ()
    selector: LabelSelector | None = None
    endpoints: tuple[ServiceEndpoint, ...] | None = None
    external_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    internal_policy: TrafficPolicy = TrafficPolicy.CLUSTER
    #: externalIPs and status.loadBalancer.ingress: programmed like a NodePort's external traffic
    external_ips: tuple[IPv4Address, ...] = ()
    span: Span = _span()

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceRef:
    """``service NS/NAME`` as a check's destination."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"service {self.namespace}/{self.name}"
