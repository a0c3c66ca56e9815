"""``docker network inspect`` of a Windows network, and ``Get-NetRoute | ConvertTo-Json``.

Docker (moby ``libnetwork/drivers/windows``): ``-d l2bridge`` makes an HNS
L2Bridge network of the ``--subnet`` with the ``--gateway``; the endpoint of
each container gets an OutBoundNAT policy only when the network was made with
``com.docker.network.windowsshim.enable_outboundnat=true``, its exceptions
being ``…outboundnat_exceptions`` split at commas (``windows.go``
``CreateEndpoint``: "Inherit OutboundNat policy from the network"; Microsoft
Learn, "Windows container networking, advanced options": without it, l2bridge
containers cannot reach the outside world). ``…dnsservers`` become the
endpoints' DNS servers.

``Get-NetRoute`` rows: ``DestinationPrefix``, ``NextHop`` (0.0.0.0 for an
on-link route), ``InterfaceAlias``, ``ifIndex``/``InterfaceIndex``,
``RouteMetric``, ``AddressFamily`` (2 IPv4, 23 IPv6, as ConvertTo-Json writes
the enum) — Microsoft Learn, NetTCPIP ``Get-NetRoute`` (MSFT_NetRoute).
"""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network, ip_interface
from typing import Any

from l2l3.kube.fields import R
from l2l3.kube.windows.state import Container, DockerNetwork, NetRoute, Obj

__all__ = ["read_docker_network", "read_net_route"]

SHIM = "com.docker.network.windowsshim."
#: windowsshim options read; every other option is named in a note
_READ = {"dnsservers", "enable_outboundnat", "outboundnat_exceptions", "networkname", "hnsid"}
#: docker's own books: read past without a note (docs/windows-state.md)
DOCKER_BOOKKEEPING = frozenset(
    s.lower()
    for s in (
        "Id",
        "Created",
        "Scope",
        "EnableIPv6",
        "Attachable",
        "Ingress",
        "ConfigFrom",
        "ConfigOnly",
        "Labels",
    )
)
ROUTE_BOOKKEEPING = frozenset(
    s.lower()
    for s in (
        "AddressFamily",
        "State",
        "Protocol",
        "Store",
        "ValidLifetime",
        "PreferredLifetime",
        "Publish",
        "TypeOfService",
        "CompartmentId",
        "Caption",
        "Description",
        "ElementName",
        "InstanceID",
        "AdminDistance",
        "Destination",
        "DestinationAddress",
        "InterfaceMetric",
        "IsStatic",
        "Mask",
        "Name",
        "RouteMetric",
        "PreferredLifetimeTicks",
        "ValidLifetimeTicks",
        "PSComputerName",
        "CimClass",
        "CimInstanceProperties",
        "CimSystemProperties",
        "PSShowComputerName",
        "AvailableRequestedStates",
        "EnabledDefault",
        "EnabledState",
        "HealthState",
        "InstallDate",
        "OperatingStatus",
        "OperationalStatus",
        "PrimaryStatus",
        "RequestedState",
        "Status",
        "StatusDescriptions",
        "TimeOfLastStateChange",
        "TransitioningToState",
        "CommunicationStatus",
        "DetailedStatus",
        "ifAlias",
        "InterfaceIndex",
        "InterfaceAlias",
        "ifIndex",
        "Generation",
        "SystemCreationClassName",
        "SystemName",
        "CreationClassName",
        "OtherEnabledState",
        "PSPath",
    )
)


def _truth(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "t", "true")  # Go strconv.ParseBool


def read_docker_network(r: R, m: dict[Any, Any]) -> DockerNetwork:
    o = Obj(r, m)
    driver = o.text("Driver") or ""
    subnets: list[tuple[IPv4Network, Any]] = []
    ipam = o.sub("IPAM")
    if ipam is not None:
        ipam.get("Driver")
        ipam.get("Options")
        for i, v in enumerate(ipam.seq("Config")):
            c = ipam.item("Config", i, v)
            raw = c.get("Subnet")
            net = c.cidr_value(raw, c.where("Subnet")) if raw is not None else None
            if net is not None:
                subnets.append((net, c.ip("Gateway")))
            c.done()
        ipam.done()
    opts = o.sub("Options")
    options: dict[str, str] = {}
    exc_span = o.span()
    if opts is not None:
        for k, v in opts.m.items():
            if not isinstance(v, str):
                opts.fail(str(k), "a string")
            if str(k).startswith(SHIM) and str(k)[len(SHIM) :] in _READ:
                options[str(k)[len(SHIM) :]] = opts.text(str(k)) or ""
        if "outboundnat_exceptions" in options:
            exc_span = opts.span(SHIM + "outboundnat_exceptions")
        opts.done()
    exceptions: list[IPv4Network] = []
    if opts is not None and options.get("outboundnat_exceptions", "").strip():
        exceptions, _ = opts.cidrs(SHIM + "outboundnat_exceptions")
    containers: list[Container] = []
    cs = o.sub("Containers")
    if cs is not None:
        for cid, v in cs.m.items():
            c = Obj(r, v, cs.where(str(cid))) if isinstance(v, dict) else cs.fail(str(cid), "an object")
            cs.get(str(cid))
            addr = c.text("IPv4Address")
            ip: IPv4Interface | None = None
            if addr:
                try:
                    got = ip_interface(addr.strip())
                except ValueError:
                    c.fail("IPv4Address", "an address with its prefix length (10.244.3.10/24)")
                ip = got if isinstance(got, IPv4Interface) else None
            containers.append(
                Container(
                    name=c.text("Name") or str(cid)[:12],
                    endpoint_id=(c.text("EndpointID") or "").lower(),
                    ip=ip,
                    mac=c.mac("MacAddress"),
                    span=c.span(),
                )
            )
            c.get("IPv6Address")
            c.done()
        cs.done()
    if o.flag("Internal"):
        r.note(
            (o.key("Internal"),),
            "an Internal docker network: its isolation from the outside is not modelled",
            "unread-field",
        )
    out = DockerNetwork(
        name=o.text("Name") or "",
        driver=driver,
        subnets=tuple(subnets),
        outbound_nat=_truth(options.get("enable_outboundnat")),
        exceptions=tuple(exceptions),
        dns_servers=tuple(p.strip() for p in options.get("dnsservers", "").split(",") if p.strip()),
        hns_name=options.get("networkname"),
        containers=tuple(containers),
        span=r.span(),
        exceptions_span=exc_span,
    )
    if exceptions and not out.outbound_nat:
        r.note(
            (o.key("Options"),),
            "outboundnat_exceptions without enable_outboundnat=true: docker adds no OutBoundNAT policy "
            "(moby libnetwork/drivers/windows CreateEndpoint), so the exceptions have no effect",
            "no-effect",
        )
    o.done(DOCKER_BOOKKEEPING)
    return out


def read_net_route(r: R, m: dict[Any, Any]) -> NetRoute | None:
    """One route; None for an IPv6 one."""
    o = Obj(r, m)
    family = o.get("AddressFamily")
    raw = o.get("DestinationPrefix")
    if raw is None:
        r.fail((), "a Get-NetRoute row needs its DestinationPrefix")
    if family in (23, "IPv6") or (isinstance(raw, str) and ":" in raw):
        return None
    prefix = o.cidr_value(raw, o.where("DestinationPrefix"))
    hop = o.ip("NextHop")
    if prefix is None or hop is None:
        return None
    index = o.num("ifIndex") if o.has("ifIndex") else o.num("InterfaceIndex")
    alias = o.text("InterfaceAlias") or o.text("ifAlias") or (f"if{index}" if index is not None else "")
    out = NetRoute(
        prefix=prefix, next_hop=hop, alias=alias, index=index, metric=o.num("RouteMetric") or 0, span=r.span()
    )
    o.done(ROUTE_BOOKKEEPING)
    return out
