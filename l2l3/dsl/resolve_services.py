"""Validation of ``service`` statements and ``service NS/NAME`` endpoints (part of :mod:`.resolve`).

Errors: a Service named twice, two Services on one cluster IP, a cluster
IP that a stack owns, more than one port without names (Kubernetes requires
every port of a multi-port Service to be named), a port name or
port/protocol given twice, ``node-port`` on a ClusterIP Service, an endpoint
port naming no port of the Service, an endpoint named twice, an unknown
Service in a check. Warnings: a cluster IP outside the cluster's
``service-cidr``, a Service with no port, a Service with neither selector
nor endpoints, a selector that picks no pod, a named target port that no
selected pod declares.
"""

from __future__ import annotations

from typing import Any

from l2l3.model.services import Service, ServiceRef, ServiceType

__all__ = ["check_services", "check_service_ref"]


def check_services(r: Any) -> None:
    """Every problem of the spec's ``service`` statements, into resolver ``r``."""
    spec = r.spec
    first: dict[tuple[str, str], Any] = {}
    vips: dict[object, Service] = {}
    owned = {nic.ip.ip for n in spec.nodes for nic in n.nics} | {
        p.ip.ip for n in spec.nodes for p in n.pods if p.ip is not None
    }
    cidr = spec.cluster.service_cidr if spec.cluster is not None else None
    for svc in spec.services:
        key = (svc.namespace, svc.name)
        where = r.at(svc.span, "service")
        if key in first:
            r.error(where, f"duplicate service {svc.ref} (first defined at {r.where(first[key])})")
            continue
        first[key] = svc.span
        if svc.ip is not None:
            if svc.ip in vips:
                r.error(
                    r.at(svc.span, "ip"),
                    f"service {svc.ref}: cluster IP {svc.ip} is also {vips[svc.ip].ref}'s",
                )
            vips[svc.ip] = svc
            if svc.ip in owned:
                r.error(
                    r.at(svc.span, "ip"), f"service {svc.ref}: cluster IP {svc.ip} is a stack's own address"
                )
            elif cidr is not None and svc.ip not in cidr:
                r.warn(
                    r.at(svc.span, "ip"),
                    f"service {svc.ref}: cluster IP {svc.ip} is outside service-cidr {cidr}",
                )
        _ports(r, svc)
        _endpoints(r, svc)


def _ports(r: Any, svc: Service) -> None:
    if not svc.ports:
        r.warn(
            r.at(svc.span, "service"), f"service {svc.ref} has no port: kube-proxy programs nothing for it"
        )
    names: set[str] = set()
    seen: set[tuple[object, int]] = set()
    for p in svc.ports:
        if len(svc.ports) > 1 and p.name is None:
            r.error(p.span, f"service {svc.ref}: a Service with more than one port must name every port")
        if p.name is not None:
            if p.name in names:
                r.error(p.span, f"service {svc.ref}: port name {p.name} given twice")
            names.add(p.name)
        if (p.proto, p.port) in seen:
            r.error(p.span, f"service {svc.ref}: port {p.port}/{p.proto} given twice")
        seen.add((p.proto, p.port))
        if p.node_port is not None and svc.type is ServiceType.CLUSTER_IP:
            r.error(p.span, f"service {svc.ref}: node-port needs `type nodeport` or `type loadbalancer`")


def _endpoints(r: Any, svc: Service) -> None:
    pods = [p for n in r.spec.nodes for p in n.pods if p.namespace == svc.namespace]
    if svc.endpoints is not None:
        if not svc.endpoints and svc.selector is None:
            r.warn(
                r.at(svc.span, "service"),
                f"service {svc.ref} has neither `select` nor `endpoint` lines: it has no endpoint",
            )
        keys = {p.key for p in svc.ports}
        seen: set[object] = set()
        for ep in svc.endpoints:
            if ep.ip in seen:
                r.error(ep.span, f"service {svc.ref}: endpoint {ep.ip} given twice")
            seen.add(ep.ip)
            for name, _ in ep.ports:
                if name not in keys:
                    what = f"port {name}" if name else "an unnamed port"
                    r.error(
                        ep.span, f"service {svc.ref}: endpoint {ep.ip} names {what}, which the Service lacks"
                    )
        return
    assert svc.selector is not None
    picked = [p for p in pods if svc.selector.matches(p.labels)]
    if not picked:
        r.warn(
            r.at(svc.span, "service"),
            f"service {svc.ref}: select {svc.selector} picks no pod of {svc.namespace}",
        )
        return
    for p in svc.ports:
        if isinstance(p.target, str) and not any(
            cp.name == p.target and cp.proto == p.proto for pod in picked for cp in pod.ports
        ):
            r.warn(
                p.span,
                f"service {svc.ref}: no selected pod declares a {p.proto} port named {p.target}: "
                "the port has no endpoint",
            )


def check_service_ref(r: Any, ref: ServiceRef, span: Any) -> None:
    """An unknown Service in a check is an error."""
    if not any((s.namespace, s.name) == (ref.namespace, ref.name) for s in r.spec.services):
        known = ", ".join(sorted({s.ref for s in r.spec.services})) or "none"
        r.error(r.at(span, "service", f"{ref.namespace}/{ref.name}"), f"unknown {ref} (services: {known})")
