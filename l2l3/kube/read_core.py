"""Readers for Namespace, Node and Pod (core/v1).

Each reader takes an :class:`~l2l3.kube.fields.R` and the object, and
returns the typed object, or None for an object that is skipped (with a
note). Server-populated fields (``managedFields``, ``resourceVersion``,
``status.conditions`` …) and fields with no bearing on the network are
ignored quietly; any other field is named in a counted note.
"""

from __future__ import annotations

from typing import Any

from l2l3.kube.fields import R, dns_label_problem, dns_subdomain_problem, iana_port_name_problem
from l2l3.kube.frozen import FrozenMap
from l2l3.kube.objects import Container, ContainerPort, Namespace, Node, Pod

__all__ = ["read_namespace", "read_node", "read_pod", "metadata"]

META = ("metadata",)
SPEC = ("spec",)
STATUS = ("status",)

TOP = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
#: metadata that the API server writes, or that says nothing about the network
META_QUIET = frozenset(
    {
        "name",
        "labels",
        "annotations",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "ownerReferences",
        "finalizers",
        "generateName",
        "deletionGracePeriodSeconds",
        "deletionTimestamp",
    }
)
META_NAMESPACED = META_QUIET | {"namespace"}


def metadata(r: R, obj: dict[Any, Any], *, namespaced: bool) -> tuple[str | None, str, dict[Any, Any]]:
    """(name, namespace, metadata) of an object; ``name`` None: only a ``generateName``."""
    md = r.opt_map(obj, "metadata", ())
    if md is None:
        r.fail((), f"{r.kind}: metadata is required (with a name)")
    r.unread(md, META, META_NAMESPACED if namespaced else META_QUIET)
    name = r.opt_str(md, "name", META)
    if name is None:
        if r.opt_str(md, "generateName", META) is None:
            r.fail(META, f"{r.kind}: metadata.name is required")
    elif not name:
        r.fail(META + ("name",), f"{r.kind}: metadata.name must not be empty")
    namespace = "default"
    if namespaced:
        ns = r.opt_str(md, "namespace", META)
        if ns is not None:
            problem = dns_label_problem(ns, "namespace")
            if problem:
                r.fail(META + ("namespace",), f"metadata.namespace: {problem}")
            namespace = ns
    return name, namespace, md


# ----------------------------------------------------------------- Namespace


def read_namespace(r: R, obj: dict[Any, Any]) -> Namespace | None:
    name, _, md = metadata(r, obj, namespaced=False)
    r.unread(obj, (), TOP)
    if name is None:
        r.note((), "Namespace with only a generateName is skipped", "skipped-object")
        return None
    problem = dns_label_problem(name, "namespace name")
    if problem:
        r.fail(META + ("name",), f"metadata.name: {problem}")
    labels = dict(r.labels(md, "labels", META))
    labels["kubernetes.io/metadata.name"] = name  # the API server sets it, whatever was written
    return Namespace(name=name, labels=FrozenMap(labels), declared=True, span=r.span())


# ---------------------------------------------------------------------- Node

NODE_SPEC = frozenset(
    {"podCIDR", "podCIDRs", "providerID", "taints", "unschedulable", "configSource", "externalID"}
)
NODE_STATUS = frozenset(
    {
        "addresses",
        "nodeInfo",
        "capacity",
        "allocatable",
        "phase",
        "conditions",
        "daemonEndpoints",
        "images",
        "volumesInUse",
        "volumesAttached",
        "config",
        "runtimeHandlers",
        "features",
    }
)
ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS")


def read_node(r: R, obj: dict[Any, Any]) -> Node | None:
    name, _, md = metadata(r, obj, namespaced=False)
    r.unread(obj, (), TOP)
    if name is None:
        r.note((), "Node with only a generateName is skipped", "skipped-object")
        return None
    problem = dns_subdomain_problem(name, "node name")
    if problem:
        r.fail(META + ("name",), f"metadata.name: {problem}")
    labels = r.labels(md, "labels", META)
    annotations = r.annotations(md, META)
    spec = r.opt_map(obj, "spec", ()) or {}
    status = r.opt_map(obj, "status", ()) or {}
    r.unread(spec, SPEC, NODE_SPEC)
    r.unread(status, STATUS, NODE_STATUS)

    pod_cidr = None
    if r.opt_str(spec, "podCIDR", SPEC) is not None:
        pod_cidr = r.cidr(spec["podCIDR"], SPEC + ("podCIDR",))[0]
    cidrs = []
    for i, v in enumerate(r.opt_list(spec, "podCIDRs", SPEC) or ()):
        cidrs.append(r.cidr(v, SPEC + ("podCIDRs", i))[0])
    if pod_cidr is None and cidrs:
        pod_cidr = cidrs[0]
    if pod_cidr is not None and not cidrs:
        cidrs = [pod_cidr]

    internal: list[str] = []
    external: list[str] = []
    hostname = None
    for i, a in enumerate(r.opt_list(status, "addresses", STATUS) or ()):
        where = STATUS + ("addresses", i)
        if not isinstance(a, dict):
            r.expected(where, a, "a mapping with type and address")
        r.unread(a, where, frozenset({"type", "address"}))
        kind = r.need_str(a, "type", where)
        if kind not in ADDRESS_TYPES:
            r.expected(where + ("type",), kind, ", ".join(ADDRESS_TYPES[:-1]) + " or " + ADDRESS_TYPES[-1])
        address = r.need_str(a, "address", where)
        if kind == "InternalIP":
            internal.append(r.ip(address, where + ("address",)))
        elif kind == "ExternalIP":
            external.append(r.ip(address, where + ("address",)))
        elif kind == "Hostname" and hostname is None:
            hostname = address

    os_name = labels.get("kubernetes.io/os") or labels.get("beta.kubernetes.io/os")
    if os_name is None:
        info = r.opt_map(status, "nodeInfo", STATUS)
        if info is not None:
            os_name = r.opt_str(info, "operatingSystem", STATUS + ("nodeInfo",))
    return Node(
        name=name,
        labels=labels,
        annotations=annotations,
        internal_ips=tuple(internal),
        external_ips=tuple(external),
        hostname=hostname,
        pod_cidr=pod_cidr,
        pod_cidrs=tuple(cidrs),
        os=os_name,
        span=r.span(),
    )


# ----------------------------------------------------------------------- Pod

POD_SPEC = frozenset(
    {
        "nodeName",
        "hostNetwork",
        "containers",
        "initContainers",
        "ephemeralContainers",  # they may not declare ports
        "volumes",
        "restartPolicy",
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "dnsPolicy",
        "dnsConfig",
        "nodeSelector",
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
        "hostPID",
        "hostIPC",
        "shareProcessNamespace",
        "securityContext",
        "imagePullSecrets",
        "hostname",
        "subdomain",
        "setHostnameAsFQDN",
        "affinity",
        "schedulerName",
        "tolerations",
        "hostAliases",
        "priorityClassName",
        "priority",
        "readinessGates",
        "runtimeClassName",
        "enableServiceLinks",
        "preemptionPolicy",
        "overhead",
        "topologySpreadConstraints",
        "os",
        "hostUsers",
        "schedulingGates",
        "resourceClaims",
        "resources",
    }
)
POD_STATUS = frozenset(
    {
        "phase",
        "podIP",
        "podIPs",
        "conditions",
        "message",
        "reason",
        "nominatedNodeName",
        "hostIP",
        "hostIPs",
        "startTime",
        "initContainerStatuses",
        "containerStatuses",
        "ephemeralContainerStatuses",
        "qosClass",
        "resize",
        "resourceClaimStatuses",
        "observedGeneration",
    }
)
CONTAINER = frozenset(
    {
        "name",
        "ports",
        "restartPolicy",
        "image",
        "command",
        "args",
        "workingDir",
        "envFrom",
        "env",
        "resources",
        "resizePolicy",
        "volumeMounts",
        "volumeDevices",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "imagePullPolicy",
        "securityContext",
        "stdin",
        "stdinOnce",
        "tty",
    }
)
CONTAINER_PORT = frozenset({"name", "containerPort", "protocol", "hostPort", "hostIP"})
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
#: pod annotations that change a pod's network (bandwidth shaping, extra
#: interfaces, fixed addresses): named in a note, not read
NETWORK_ANNOTATIONS = frozenset(
    {
        "kubernetes.io/ingress-bandwidth",
        "kubernetes.io/egress-bandwidth",
        "k8s.v1.cni.cncf.io/networks",
        "v1.multus-cni.io/default-network",
        "cni.projectcalico.org/ipAddrs",
        "cni.projectcalico.org/ipAddrsNoIpam",
        "cni.projectcalico.org/floatingIPs",
        "cni.projectcalico.org/ipv4pools",
        "cni.projectcalico.org/ipv6pools",
    }
)


def _container(r: R, c: Any, where: tuple[Any, ...], init: bool) -> Container | None:
    if not isinstance(c, dict):
        r.expected(where, c, "a container (a mapping)")
    r.unread(c, where, CONTAINER)
    name = r.need_str(c, "name", where)
    sidecar = False
    if init:
        sidecar = r.opt_str(c, "restartPolicy", where) == "Always"
    ports = []
    for j, p in enumerate(r.opt_list(c, "ports", where) or ()):
        pw = where + ("ports", j)
        if type(p) is not dict:
            if not isinstance(p, dict):
                r.expected(pw, p, "a container port (a mapping with containerPort)")
        r.unread(p, pw, CONTAINER_PORT)
        number = p.get("containerPort")
        if type(number) is not int or not 0 < number < 65536:  # the common case is checked inline
            number = r.port(p, "containerPort", pw)
            if number is None:
                r.fail(
                    pw, f"{'initContainers' if init else 'containers'}[].ports[].containerPort is required"
                )
        pname = p.get("name")
        if pname is not None:
            pname = r.opt_str(p, "name", pw)
            problem = iana_port_name_problem(pname)
            if problem:
                r.fail(pw + ("name",), problem)
        protocol = p.get("protocol")
        if protocol != "TCP" and protocol != "UDP":
            protocol, _ = r.protocol(p, pw)
        host_ip = p.get("hostIP")
        host_port = p.get("hostPort")
        ports.append(
            ContainerPort(
                name=pname,
                container_port=number,
                protocol=protocol,
                host_port=None if host_port is None else r.port(p, "hostPort", pw),
                host_ip=None if host_ip is None else r.ip(r.opt_str(p, "hostIP", pw), pw + ("hostIP",)),
                span=r.span(pw),
            )
        )
    if init and not sidecar:
        if ports:
            r.note(
                where + ("ports",),
                f"init container {name!r} runs before the pod starts: its ports are not read",
                "unread-field",
            )
        return None
    return Container(name=name, ports=tuple(ports), sidecar=sidecar, span=r.span(where))


def read_pod(r: R, obj: dict[Any, Any]) -> Pod | None:
    name, namespace, md = metadata(r, obj, namespaced=True)
    labels = r.labels(md, "labels", META)
    annotations = md.get("annotations")
    if annotations:
        if not isinstance(annotations, dict):
            r.expected(META + ("annotations",), annotations, "a mapping of annotations")
        for k in annotations:
            if k in NETWORK_ANNOTATIONS:
                r.sink.count(
                    "unread-field",
                    ("Pod", f"annotation {k}"),
                    lambda k=k: r.loc.key_span(META + ("annotations", k)),  # type: ignore[misc]
                    lambda n, s, k=k: f"Pod annotation {k} is not read ({n} pod{s}; the first here)",  # type: ignore[misc]
                )
    if "deletionTimestamp" in md:
        r.sink.count(
            "unread-field",
            ("Pod", "metadata.deletionTimestamp"),
            lambda: r.loc.key_span(META + ("deletionTimestamp",)),
            lambda n, s: (
                f"{n} pod{s} being deleted (metadata.deletionTimestamp) read as running (the first here)"
            ),
        )
    spec = r.opt_map(obj, "spec", ()) or {}
    status = r.opt_map(obj, "status", ()) or {}
    r.unread(obj, (), TOP)
    r.unread(spec, SPEC, POD_SPEC)
    r.unread(status, STATUS, POD_STATUS)

    node_name = r.opt_str(spec, "nodeName", SPEC)
    host_network = r.opt_bool(spec, "hostNetwork", SPEC) or False
    containers = []
    for i, c in enumerate(r.opt_list(spec, "containers", SPEC) or ()):
        got = _container(r, c, SPEC + ("containers", i), False)
        if got is not None:
            containers.append(got)
    for i, c in enumerate(r.opt_list(spec, "initContainers", SPEC) or ()):
        got = _container(r, c, SPEC + ("initContainers", i), True)
        if got is not None:
            containers.append(got)

    phase = r.opt_str(status, "phase", STATUS)
    if phase is not None and phase not in PHASES:
        r.expected(STATUS + ("phase",), phase, "Pending, Running, Succeeded, Failed or Unknown")
    pod_ip = status.get("podIP")
    if pod_ip is not None:
        pod_ip = r.ip(pod_ip, STATUS + ("podIP",))
    ips: list[str] = []
    for i, e in enumerate(r.opt_list(status, "podIPs", STATUS) or ()):
        where = STATUS + ("podIPs", i)
        if not isinstance(e, dict):
            r.expected(where, e, "a mapping with ip")
        ip = r.need_str(e, "ip", where)
        ips.append(
            pod_ip if i == 0 and pod_ip is not None and ip == status["podIP"] else r.ip(ip, where + ("ip",))
        )
    if pod_ip is None and ips:
        pod_ip = ips[0]
    elif pod_ip is not None and not ips:
        ips = [pod_ip]
    elif pod_ip is not None and ips[0] != pod_ip:
        r.fail(
            STATUS + ("podIPs", 0, "ip"), f"status.podIPs[0].ip {ips[0]} differs from status.podIP {pod_ip}"
        )

    why = None
    if name is None:
        why = "it has only a generateName (it was never created)"
    elif phase in ("Succeeded", "Failed"):
        why = f"it has finished (phase {phase})"
    elif node_name is None:
        why = "it is not scheduled to a node yet (no spec.nodeName)"
    elif pod_ip is None:
        why = "it has no IP yet (no status.podIP)"
    if why is not None or name is None or node_name is None or pod_ip is None:
        ident = f"{namespace}/{name}" if name is not None else f"{namespace}/{md.get('generateName')}…"
        r.note((), f"Pod {ident} is skipped: {why}", "skipped-pod")
        return None
    return Pod(
        name=name,
        namespace=namespace,
        labels=labels,
        node_name=node_name,
        host_network=host_network,
        pod_ip=pod_ip,
        pod_ips=tuple(ips),
        phase=phase,
        containers=tuple(containers),
        span=r.span(),
    )
