"""What a Windows node's state dumps say, as plain values with their places.

The readers (:mod:`.hns`, :mod:`.docker`, :mod:`.netroute`) fill these from
the JSON that PowerShell and docker write; :mod:`.build` turns them into the
spec model. Every value keeps the :class:`~l2l3.kube.errors.Span` it was
written at, so the statements built from it carry ``# from FILE:LINE``.

:class:`Obj` reads one JSON object's fields *case-insensitively*, as HNS
itself (Go's ``encoding/json``) does, remembers which keys were read, and at
:meth:`Obj.done` names every other key in a counted note (minus the
bookkeeping keys the caller says are irrelevant to forwarding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_address, ip_interface, ip_network
from typing import Any

from l2l3.kube.errors import Span
from l2l3.kube.fields import R, found
from l2l3.kube.source import Path

__all__ = [
    "Acl",
    "Container",
    "DockerNetwork",
    "Endpoint",
    "LoadBalancer",
    "NetRoute",
    "Network",
    "Obj",
    "OutboundNat",
    "PortMapping",
    "ProviderAddress",
    "RemoteSubnet",
    "SdnRoute",
    "State",
]


# ------------------------------------------------------------------ policies


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundNat:
    """OutBoundNAT: SNAT to the host except towards ``exceptions`` (v1 ExceptionList, v2 Exceptions).

    ``destinations`` (the loopback-DSR form) limits the NAT to those addresses.
    """

    exceptions: tuple[IPv4Network, ...]
    destinations: tuple[IPv4Network, ...] = ()
    vip: IPv4Address | None = None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class SdnRoute:
    """v1 ROUTE / v2 SDNRoute: ``DestinationPrefix``, ``NeedEncap``, ``NextHop``."""

    prefix: IPv4Network
    need_encap: bool
    next_hop: IPv4Address | None = None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Acl:
    """An ACL rule (v1 ``ACL`` fields, v2 ``ACL`` settings); addresses and ports as lists, () = any."""

    action: str  # allow | block | pass
    direction: str  # in | out
    protocols: tuple[int, ...]  # () = any (HNS 256)
    local_addresses: tuple[IPv4Network, ...]
    remote_addresses: tuple[IPv4Network, ...]
    local_ports: tuple[tuple[int, int], ...]
    remote_ports: tuple[tuple[int, int], ...]
    priority: int
    rule_type: str  # switch | host
    ipv6_only: bool = False
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class PortMapping:
    """v1 ``NAT`` / v2 ``PortMapping``: host ``external`` port to the endpoint's ``internal`` port."""

    protocol: int
    internal: int
    external: int
    vip: IPv4Address | None = None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAddress:
    """v1 ``PA`` / v2 ``ProviderAddress``: the overlay's outer source address for this endpoint."""

    address: IPv4Address
    span: Span


EndpointPolicy = OutboundNat | SdnRoute | Acl | PortMapping | ProviderAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteSubnet:
    """An overlay network's RemoteSubnetRoute: a remote pod subnet behind a provider address."""

    prefix: IPv4Network
    provider: IPv4Address
    dr_mac: str | None
    vsid: int | None
    span: Span


# ------------------------------------------------------------------ objects


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """An HNS network (v1 ``Get-HnsNetwork`` or a v2 HostComputeNetwork)."""

    id: str
    name: str
    type: str
    subnets: tuple[tuple[IPv4Network, IPv4Address | None], ...]
    management_ip: IPv4Address | None
    source_mac: str | None
    dns_servers: tuple[str, ...]
    vsid: int | None
    vxlan_port: int | None
    dr_mac: str | None
    remote_subnets: tuple[RemoteSubnet, ...]
    version: int  # 1 or 2 (field names)
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """An HNS endpoint (v1 ``Get-HnsEndpoint`` or a v2 HostComputeEndpoint)."""

    id: str
    name: str
    network_id: str
    network_name: str
    ip: IPv4Address | None
    prefix_len: int | None
    mac: str | None
    gateway: IPv4Address | None
    remote: bool
    policies: tuple[EndpointPolicy, ...]
    dns_servers: tuple[str, ...]
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadBalancer:
    """An ELB policy of ``Get-HnsPolicyList`` (kube-proxy winkernel): VIPs to the referenced endpoints."""

    id: str
    endpoint_ids: tuple[str, ...]
    vips: tuple[IPv4Address, ...]
    protocol: int
    internal_port: int
    external_port: int
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class NetRoute:
    """One IPv4 row of ``Get-NetRoute``."""

    prefix: IPv4Network
    next_hop: IPv4Address
    alias: str
    index: int | None
    metric: int
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    name: str
    endpoint_id: str
    ip: IPv4Interface | None
    mac: str | None
    span: Span


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerNetwork:
    """``docker network inspect`` of a Windows network (driver, IPAM, windowsshim options, containers)."""

    name: str
    driver: str
    subnets: tuple[tuple[IPv4Network, IPv4Address | None], ...]
    outbound_nat: bool
    exceptions: tuple[IPv4Network, ...]
    dns_servers: tuple[str, ...]
    hns_name: str | None
    containers: tuple[Container, ...]
    span: Span
    exceptions_span: Span


@dataclass(slots=True)
class State:
    """Everything read from the state files of one directory: one node."""

    directory: str
    files: list[str] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    balancers: list[LoadBalancer] = field(default_factory=list)
    routes: list[NetRoute] = field(default_factory=list)
    dockers: list[DockerNetwork] = field(default_factory=list)
    ipv6_routes: int = 0
    ipv6_span: Span | None = None


# ------------------------------------------------------------------ reading fields


def keys_lower(m: dict[Any, Any]) -> dict[str, Any]:
    return {k.lower(): k for k in m if isinstance(k, str)}


class Obj:
    """One JSON object's fields, looked up case-insensitively, with errors and notes through ``r``."""

    __slots__ = ("r", "m", "path", "lower", "read")

    def __init__(self, r: R, m: dict[Any, Any], path: Path = ()) -> None:
        self.r = r
        self.m = m
        self.path = path
        self.lower = keys_lower(m)
        self.read: set[str] = set()

    def has(self, name: str) -> bool:
        return name.lower() in self.lower

    def key(self, name: str) -> str:
        return str(self.lower.get(name.lower(), name))

    def where(self, name: str) -> Path:
        return self.path + (self.key(name),)

    def span(self, name: str | None = None) -> Span:
        return self.r.span(self.path if name is None else self.where(name))

    def get(self, name: str) -> Any:
        k = self.lower.get(name.lower())
        if k is None:
            return None
        self.read.add(k)
        return self.m[k]

    def fail(self, name: str, what: str) -> Any:
        self.r.expected(self.where(name), self.m.get(self.key(name)), what)

    def text(self, name: str) -> str | None:
        v = self.get(name)
        if v is None or isinstance(v, str):
            return v
        return self.fail(name, "a string")  # type: ignore[no-any-return]

    def flag(self, name: str) -> bool:
        v = self.get(name)
        if v is None:
            return False
        if isinstance(v, bool):
            return v
        return self.fail(name, "true or false")  # type: ignore[no-any-return]

    def num(self, name: str, lo: int = 0, hi: int = 2**32 - 1) -> int | None:
        v = self.get(name)
        if v is None:
            return None
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            return self.fail(name, f"an integer from {lo} to {hi}")  # type: ignore[no-any-return]
        return v

    def seq(self, name: str) -> list[Any]:
        """A list; a single object where PowerShell wrote one item without brackets is a list of one."""
        v = self.get(name)
        if v is None:
            return []
        if isinstance(v, list):
            return v
        if isinstance(v, dict):
            return [v]
        return self.fail(name, "a list")  # type: ignore[no-any-return]

    def sub(self, name: str) -> Obj | None:
        v = self.get(name)
        if v is None:
            return None
        if not isinstance(v, dict):
            return self.fail(name, "an object")  # type: ignore[no-any-return]
        return Obj(self.r, v, self.where(name))

    def item(self, name: str, i: int, v: Any, what: str = "an object") -> Obj:
        if not isinstance(v, dict):
            self.r.expected(self.where(name) + (i,), v, what)
        return Obj(self.r, v, self.where(name) + (i,))

    def ip(self, name: str, allow_empty: bool = True) -> IPv4Address | None:
        v = self.text(name)
        if v is None or (allow_empty and v.strip() == ""):
            return None
        try:
            a = ip_address(v.strip())
        except ValueError:
            return self.fail(name, "an IP address")  # type: ignore[no-any-return]
        return a if isinstance(a, IPv4Address) else None

    def cidr_value(self, v: Any, path: Path) -> IPv4Network | None:
        """A CIDR or a bare address (a /32); None for IPv6; an error for anything else."""
        if isinstance(v, str):
            text = v.strip()
            try:
                net = ip_network(text, strict=False) if "/" in text else ip_network(ip_address(text))
            except ValueError:
                pass
            else:
                return net if isinstance(net, IPv4Network) else None
        self.r.expected(path, v, "a CIDR (such as 10.244.0.0/16) or an address")

    def cidrs(self, name: str) -> tuple[list[IPv4Network], int]:
        """A list of CIDRs, or one comma-separated string of them; (IPv4 ones, IPv6 ones skipped)."""
        v = self.get(name)
        if v is None:
            return [], 0
        items: list[tuple[Any, Path]]
        if isinstance(v, str):
            items = [(p, self.where(name)) for p in v.split(",") if p.strip()]
        elif isinstance(v, list):
            items = [(x, self.where(name) + (i,)) for i, x in enumerate(v)]
        else:
            return self.fail(name, "a list of CIDRs")  # type: ignore[no-any-return]
        out: list[IPv4Network] = []
        six = 0
        for x, where in items:
            net = self.cidr_value(x, where)
            if net is None:
                six += 1
            else:
                out.append(net)
        return out, six

    def mac(self, name: str) -> str | None:
        v = self.text(name)
        if v is None or not v.strip():
            return None
        text = v.strip().replace("-", ":").lower()
        parts = text.split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
            return self.fail(name, "a MAC address (six hex pairs)")  # type: ignore[no-any-return]
        return text

    def done(self, ignored: frozenset[str] = frozenset()) -> None:
        """A counted note for each key neither read nor known to be irrelevant to forwarding."""
        left = {k for k in self.m if isinstance(k, str) and k not in self.read and k.lower() not in ignored}
        if left:
            self.r.unread({k: self.m[k] for k in left}, self.path, frozenset())


def interface(ip: IPv4Address, plen: int) -> IPv4Interface:
    return ip_interface(f"{ip}/{plen}")  # type: ignore[return-value]


def describe(v: Any) -> str:
    return found(v)
