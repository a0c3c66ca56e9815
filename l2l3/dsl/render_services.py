"""The canonical text of ``service`` statements (part of :func:`l2l3.dsl.render`)."""

from __future__ import annotations

from l2l3.model.services import Service, ServiceEndpoint, ServicePort, ServiceType, TrafficPolicy

__all__ = ["service_endpoint_line", "service_lines", "service_port_line"]

INDENT = "    "


def service_port_line(p: ServicePort) -> str:
    """``port [NAME] N PROTO [target T] [node-port N]``."""
    words = ["port"] + ([p.name] if p.name else []) + [str(p.port), str(p.proto)]
    if p.target is not None:
        words.append(f"target {p.target}")
    if p.node_port is not None:
        words.append(f"node-port {p.node_port}")
    return " ".join(words)


def service_endpoint_line(e: ServiceEndpoint) -> str:
    """``endpoint IP [port N] [NAME=N …]``."""
    words = [f"endpoint {e.ip}"]
    words += [f"port {n}" if not k else f"{k}={n}" for k, n in e.ports]
    return " ".join(words)


def service_lines(s: Service) -> list[str]:
    """The statement, one line per port, selector and endpoint."""
    head = [f"service {s.namespace}/{s.name}", f"ip {s.ip}" if s.ip is not None else "headless"]
    if s.type is not ServiceType.CLUSTER_IP:
        head.append(f"type {s.type.value.lower()}")
    if s.external_policy is not TrafficPolicy.CLUSTER:
        head.append(f"external-traffic {s.external_policy.value.lower()}")
    if s.internal_policy is not TrafficPolicy.CLUSTER:
        head.append(f"internal-traffic {s.internal_policy.value.lower()}")
    head += [f"external-ip {ip}" for ip in s.external_ips]
    body = [service_port_line(p) for p in s.ports]
    if s.selector is not None:
        body.append(f"select {s.selector}")
    body += [service_endpoint_line(e) for e in s.endpoints or ()]
    return [" ".join(head) + " {", *(INDENT + b for b in body), "}"]
