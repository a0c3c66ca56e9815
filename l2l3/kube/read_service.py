"""Readers for v1 Service and discovery.k8s.io/v1 EndpointSlice."""

from __future__ import annotations

from typing import Any

from l2l3.kube.fields import R, dns_label_problem, dns_subdomain_problem, dotted
from l2l3.kube.objects import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort, TargetRef
from l2l3.kube.read_core import META, SPEC, STATUS, TOP, metadata

__all__ = ["read_endpoint_slice", "read_service"]

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
TRAFFIC_POLICIES = ("Cluster", "Local")
SERVICE_SPEC = frozenset(
    {
        "type",
        "clusterIP",
        "clusterIPs",
        "ports",
        "selector",
        "externalTrafficPolicy",
        "internalTrafficPolicy",
        "externalIPs",
        "loadBalancerIP",
        "loadBalancerSourceRanges",
        "externalName",
        "sessionAffinity",
        "publishNotReadyAddresses",
        "healthCheckNodePort",
        # no bearing on which packets reach which endpoint
        "sessionAffinityConfig",
        "ipFamilies",
        "ipFamilyPolicy",
        "allocateLoadBalancerNodePorts",
        "loadBalancerClass",
    }
)
SERVICE_PORT = frozenset({"name", "protocol", "port", "targetPort", "nodePort", "appProtocol"})


def _service_port(r: R, v: Any, path: tuple[Any, ...]) -> ServicePort:
    if not isinstance(v, dict):
        r.expected(path, v, "a Service port (a mapping with port)")
    r.unread(v, path, SERVICE_PORT)
    name = r.opt_str(v, "name", path)
    if name:
        problem = dns_label_problem(name, "port name")
        if problem:
            r.fail(path + ("name",), f"{dotted(path + ('name',))}: {problem}")
    port = r.port(v, "port", path)
    if port is None:
        r.fail(path, f"{dotted(path)}: port is required")
    protocol, _ = r.protocol(v, path)
    return ServicePort(
        name=name or None,
        protocol=protocol,
        port=port,
        target_port=r.port_or_name(v, "targetPort", path),
        node_port=r.port(v, "nodePort", path),
        app_protocol=r.opt_str(v, "appProtocol", path),
        span=r.span(path),
    )


def _choice(r: R, m: dict[Any, Any], key: str, path: tuple[Any, ...], allowed: tuple[str, ...]) -> str | None:
    v = r.opt_str(m, key, path, " or ".join(allowed))
    if v is not None and v not in allowed:
        r.expected(path + (key,), v, ", ".join(allowed[:-1]) + " or " + allowed[-1])
    return v


def _ips(r: R, m: dict[Any, Any], key: str, path: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(r.ip(v, path + (key, i)) for i, v in enumerate(r.strings(m, key, path, "IP address") or ()))


def read_service(r: R, obj: dict[Any, Any]) -> Service | None:
    name, namespace, md = metadata(r, obj, namespaced=True)
    r.unread(obj, (), TOP)
    if name is None:
        r.note((), "Service with only a generateName is skipped", "skipped-object")
        return None
    problem = dns_label_problem(name, "Service name")
    if problem:
        r.fail(META + ("name",), f"metadata.name: {problem}")
    spec = r.opt_map(obj, "spec", ()) or {}
    status = r.opt_map(obj, "status", ()) or {}
    r.unread(spec, SPEC, SERVICE_SPEC)
    kind = _choice(r, spec, "type", SPEC, SERVICE_TYPES) or "ClusterIP"

    cluster_ip = r.opt_str(spec, "clusterIP", SPEC, "an IP address or None")
    if cluster_ip == "":
        cluster_ip = None
    elif cluster_ip is not None and cluster_ip != "None":
        cluster_ip = r.ip(cluster_ip, SPEC + ("clusterIP",))
    cluster_ips = []
    for i, v in enumerate(r.strings(spec, "clusterIPs", SPEC, "IP address") or ()):
        cluster_ips.append(v if v == "None" else r.ip(v, SPEC + ("clusterIPs", i)))
    if cluster_ip is None and cluster_ips:
        cluster_ip = cluster_ips[0]
    elif cluster_ip is not None and not cluster_ips:
        cluster_ips = [cluster_ip]
    elif cluster_ip is not None and cluster_ips[0] != cluster_ip:
        r.fail(
            SPEC + ("clusterIPs", 0),
            f"spec.clusterIPs[0] {cluster_ips[0]} differs from spec.clusterIP {cluster_ip}",
        )

    ports = tuple(
        _service_port(r, v, SPEC + ("ports", i)) for i, v in enumerate(r.opt_list(spec, "ports", SPEC) or ())
    )
    if len(ports) > 1:
        seen: set[str] = set()
        for i, p in enumerate(ports):
            if p.name is None:
                r.fail(
                    SPEC + ("ports", i),
                    f"spec.ports[{i}]: a Service with more than one port must name every port",
                )
            if p.name in seen:
                r.fail(SPEC + ("ports", i, "name"), f"spec.ports[{i}].name: {p.name!r} is used twice")
            seen.add(p.name)
    selector = None
    if spec.get("selector") is not None:
        selector = r.labels(spec, "selector", SPEC, "labels to select")

    lb_ingress = []
    lb = r.opt_map(status, "loadBalancer", STATUS)
    if lb is not None:
        for i, e in enumerate(r.opt_list(lb, "ingress", STATUS + ("loadBalancer",)) or ()):
            w = STATUS + ("loadBalancer", "ingress", i)
            if not isinstance(e, dict):
                r.expected(w, e, "a mapping with ip or hostname")
            if e.get("ip") is not None:
                lb_ingress.append(r.ip(e["ip"], w + ("ip",)))
            elif e.get("hostname") is not None:
                r.note(
                    w,
                    f"Service {namespace}/{name}: load balancer hostname {e['hostname']} is not read",
                    "unread-field",
                )
    ranges = tuple(
        r.cidr(v, SPEC + ("loadBalancerSourceRanges", i))[0]
        for i, v in enumerate(r.strings(spec, "loadBalancerSourceRanges", SPEC, "CIDR") or ())
    )
    lb_ip = r.opt_str(spec, "loadBalancerIP", SPEC)
    return Service(
        name=name,
        namespace=namespace,
        type=kind,
        cluster_ip=cluster_ip,
        cluster_ips=tuple(cluster_ips),
        ports=ports,
        selector=selector,
        external_traffic_policy=_choice(r, spec, "externalTrafficPolicy", SPEC, TRAFFIC_POLICIES),
        internal_traffic_policy=_choice(r, spec, "internalTrafficPolicy", SPEC, TRAFFIC_POLICIES),
        external_ips=_ips(r, spec, "externalIPs", SPEC),
        load_balancer_ip=None if not lb_ip else r.ip(lb_ip, SPEC + ("loadBalancerIP",)),
        load_balancer_ingress=tuple(lb_ingress),
        load_balancer_source_ranges=ranges,
        external_name=r.opt_str(spec, "externalName", SPEC),
        session_affinity=_choice(r, spec, "sessionAffinity", SPEC, ("None", "ClientIP")),
        publish_not_ready_addresses=r.opt_bool(spec, "publishNotReadyAddresses", SPEC) or False,
        health_check_node_port=r.port(spec, "healthCheckNodePort", SPEC),
        labels=r.labels(md, "labels", META),
        annotations=r.annotations(md, META),
        span=r.span(),
    )


# ------------------------------------------------------------- EndpointSlice

SLICE_TOP = frozenset({"apiVersion", "kind", "metadata", "addressType", "endpoints", "ports"})
ENDPOINT = frozenset(
    {"addresses", "conditions", "nodeName", "zone", "hostname", "targetRef", "deprecatedTopology", "hints"}
)
CONDITIONS = frozenset({"ready", "serving", "terminating"})
TARGET_REF = frozenset({"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"})
ENDPOINT_PORT = frozenset({"name", "port", "protocol", "appProtocol"})
ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")


def _endpoint(r: R, v: Any, path: tuple[Any, ...], address_type: str) -> Endpoint:
    if not isinstance(v, dict):
        r.expected(path, v, "an endpoint (a mapping with addresses)")
    r.unread(v, path, ENDPOINT)
    addresses = r.strings(v, "addresses", path, "address")
    if not addresses:
        r.fail(path, f"{dotted(path)}: addresses is required (at least one)")
    if address_type != "FQDN":
        addresses = tuple(r.ip(a, path + ("addresses", i)) for i, a in enumerate(addresses))
        for i, a in enumerate(addresses):
            if (":" in a) != (address_type == "IPv6"):
                r.fail(
                    path + ("addresses", i),
                    f"{dotted(path + ('addresses', i))}: {a} is not an {address_type} address",
                )
    cond = r.opt_map(v, "conditions", path) or {}
    cw = path + ("conditions",)
    r.unread(cond, cw, CONDITIONS)
    ref = r.opt_map(v, "targetRef", path)
    target = None
    if ref is not None:
        rw = path + ("targetRef",)
        r.unread(ref, rw, TARGET_REF)
        target = TargetRef(
            kind=r.opt_str(ref, "kind", rw),
            namespace=r.opt_str(ref, "namespace", rw),
            name=r.opt_str(ref, "name", rw),
            span=r.span(rw),
        )
    return Endpoint(
        addresses=addresses,
        ready=r.opt_bool(cond, "ready", cw),
        serving=r.opt_bool(cond, "serving", cw),
        terminating=r.opt_bool(cond, "terminating", cw),
        node_name=r.opt_str(v, "nodeName", path),
        zone=r.opt_str(v, "zone", path),
        hostname=r.opt_str(v, "hostname", path),
        target_ref=target,
        span=r.span(path),
    )


def read_endpoint_slice(r: R, obj: dict[Any, Any]) -> EndpointSlice | None:
    name, namespace, md = metadata(r, obj, namespaced=True)
    r.unread(obj, (), SLICE_TOP)
    if name is None:
        r.note((), "EndpointSlice with only a generateName is skipped", "skipped-object")
        return None
    problem = dns_subdomain_problem(name, "EndpointSlice name")
    if problem:
        r.fail(META + ("name",), f"metadata.name: {problem}")
    address_type = r.need_str(obj, "addressType", (), "IPv4, IPv6 or FQDN")
    if address_type not in ADDRESS_TYPES:
        r.expected(("addressType",), address_type, "IPv4, IPv6 or FQDN")
    endpoints = tuple(
        _endpoint(r, v, ("endpoints", i), address_type)
        for i, v in enumerate(r.opt_list(obj, "endpoints", ()) or ())
    )
    ports = []
    for i, v in enumerate(r.opt_list(obj, "ports", ()) or ()):
        w = ("ports", i)
        if not isinstance(v, dict):
            r.expected(w, v, "an endpoint port (a mapping with name, port and protocol)")
        r.unread(v, w, ENDPOINT_PORT)
        protocol, _ = r.protocol(v, w)
        ports.append(
            EndpointPort(
                name=r.opt_str(v, "name", w) or None,
                port=r.port(v, "port", w),
                protocol=protocol,
                app_protocol=r.opt_str(v, "appProtocol", w),
                span=r.span(w),
            )
        )
    labels = r.labels(md, "labels", META)
    return EndpointSlice(
        name=name,
        namespace=namespace,
        address_type=address_type,
        endpoints=endpoints,
        ports=tuple(ports),
        service_name=labels.get("kubernetes.io/service-name"),
        labels=labels,
        span=r.span(),
    )
