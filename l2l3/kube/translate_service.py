"""``Service`` and ``EndpointSlice`` objects -> ``service`` statements (LANGUAGE.md §7, §9).

What kube-proxy programs for a Service is the Service's ports and the ready
endpoints of its EndpointSlices (``kubernetes.io/service-name``): with
slices among the inputs, each ready IPv4 address becomes an ``endpoint``
line carrying the port numbers the slice states per port name; without
slices, a Service with a selector keeps it (the pods it picks are its
endpoints, every one taken as ready, and said so), and one without a
selector has no endpoint. Not-ready endpoints, ExternalName Services,
Services without an IPv4 cluster IP (IPv6 only, or not allocated yet) are
skipped with a note; a headless Service keeps its ports and endpoints
without an address.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, ip_network

from l2l3.kube import objects as k
from l2l3.kube.provenance import Notes, model_span
from l2l3.model.services import Service, ServiceEndpoint, ServicePort, ServiceType, TrafficPolicy
from l2l3.model.types import LabelSelector, Proto

__all__ = ["services"]

_PROTOS = {"TCP": Proto.TCP, "UDP": Proto.UDP, "SCTP": Proto.SCTP}
_TYPES = {t.value: t for t in ServiceType}
_POLICY = {p.value: p for p in TrafficPolicy}


def _v4(text: str) -> IPv4Address | None:
    net = ip_network(text, strict=False)
    return net.network_address if isinstance(net, IPv4Network) else None


def _port(p: k.ServicePort) -> ServicePort:
    return ServicePort(
        name=p.name,
        port=p.port,
        proto=_PROTOS[p.protocol],
        target=None if p.target_port is None or p.target_port == p.port else p.target_port,
        node_port=p.node_port,
        span=model_span(p.span),
    )


def _slice_endpoints(
    notes: Notes, svc: k.Service, slices: Sequence[k.EndpointSlice], keys: set[str]
) -> tuple[ServiceEndpoint, ...]:
    """The ready IPv4 endpoints of ``slices``, port numbers per Service port name, merged by address."""
    ports: dict[IPv4Address, dict[str, int]] = {}
    spans: dict[IPv4Address, object] = {}
    not_ready = 0
    for sl in slices:
        if sl.address_type != "IPv4":
            notes.add(
                sl.span,
                f"EndpointSlice {sl.namespace}/{sl.name} is {sl.address_type}: left out",
                "skipped-object",
            )
            continue
        mapping = {p.name or "": p.port for p in sl.ports if p.port is not None and (p.name or "") in keys}
        for ep in sl.endpoints:
            if not ep.is_ready:
                not_ready += 1
                continue
            for a in ep.addresses:
                ip = _v4(a)
                if ip is None:
                    continue
                ports.setdefault(ip, {}).update(mapping)
                spans.setdefault(ip, ep.span)
    if not_ready:
        notes.add(
            slices[0].span,
            f"Service {svc.namespace}/{svc.name}: {not_ready} endpoint{'s' if not_ready > 1 else ''} not ready "
            "(kube-proxy sends nothing there): left out",
            "skipped-object",
            count=not_ready,
        )
    return tuple(
        ServiceEndpoint(ip=ip, ports=tuple(sorted(ports[ip].items())), span=model_span(spans[ip]))  # type: ignore[arg-type]
        for ip in sorted(ports)
    )


def services(
    notes: Notes, svcs: Sequence[k.Service], slices: Sequence[k.EndpointSlice]
) -> tuple[Service, ...]:
    """The ``service`` statements of ``svcs`` with the endpoints ``slices`` give them."""
    by_service: dict[tuple[str, str], list[k.EndpointSlice]] = {}
    for sl in slices:
        if sl.service_name is None:
            notes.add(
                sl.span,
                f"EndpointSlice {sl.namespace}/{sl.name} has no kubernetes.io/service-name label: left out",
                "skipped-object",
            )
            continue
        by_service.setdefault((sl.namespace, sl.service_name), []).append(sl)
    out: list[Service] = []
    for svc in svcs:
        where = f"Service {svc.namespace}/{svc.name}"
        mine = by_service.pop((svc.namespace, svc.name), [])
        if svc.type == "ExternalName":
            notes.add(
                svc.span,
                f"{where} is an ExternalName (a DNS alias, no addresses): left out",
                "skipped-object",
            )
            continue
        ip: IPv4Address | None = None
        if not svc.headless:
            ip = next((v for v in (_v4(c) for c in svc.cluster_ips if c != "None") if v is not None), None)
            if ip is None:
                why = "no cluster IP yet" if not svc.cluster_ips else "no IPv4 cluster IP"
                notes.add(svc.span, f"{where} has {why}: left out", "skipped-object")
                continue
        ports = tuple(_port(p) for p in svc.ports)
        keys = {p.key for p in ports}
        selector = None
        if svc.selector:  # an empty selector is none (the endpoints are managed by hand)
            selector = LabelSelector(match=tuple(sorted(svc.selector.items())))
        endpoints: tuple[ServiceEndpoint, ...] | None
        if mine:
            endpoints = _slice_endpoints(notes, svc, mine, keys)
        elif selector is not None:
            endpoints = None
            notes.assumed(
                svc.span,
                f"{where} has no EndpointSlice among the inputs: every pod its selector picks is taken "
                "for a ready endpoint",
            )
        else:
            endpoints = ()
            notes.add(
                svc.span, f"{where} has no selector and no EndpointSlice: it has no endpoint", "unread-field"
            )
        extra = [
            a for a in (_v4(x) for x in (*svc.external_ips, *svc.load_balancer_ingress)) if a is not None
        ]
        if svc.load_balancer_source_ranges:
            notes.add(svc.span, f"{where}: loadBalancerSourceRanges are not modelled", "unread-field")
        out.append(
            Service(
                namespace=svc.namespace,
                name=svc.name,
                ip=ip,
                type=_TYPES[svc.type],
                ports=ports,
                selector=selector if endpoints is None else None,
                endpoints=endpoints,
                external_policy=_POLICY[svc.effective_external_traffic_policy or "Cluster"],
                internal_policy=_POLICY[svc.effective_internal_traffic_policy or "Cluster"],
                external_ips=tuple(dict.fromkeys(extra)),
                span=model_span(svc.span),
            )
        )
    for (ns, name), left in by_service.items():
        notes.add(
            left[0].span,
            f"{len(left)} EndpointSlice{'s' if len(left) > 1 else ''} of Service {ns}/{name}, "
            "which is not among the inputs: left out",
            "skipped-object",
            count=len(left),
        )
    return tuple(out)
