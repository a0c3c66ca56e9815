"""HNS networks, endpoints and policy lists, in the v1 and the v2 (HCN) field names.

Sources for the field names and meanings (microsoft/hcsshim):

- v1: ``internal/hns/hnsnetwork.go`` (HNSNetwork: ``Subnets[].AddressPrefix``/
  ``GatewayAddress``, ``ManagementIP``, ``SourceMac``, ``DNSServerList``),
  ``hnsendpoint.go`` (HNSEndpoint: ``IPAddress``, ``PrefixLength``,
  ``MacAddress``, ``GatewayAddress``, ``VirtualNetwork``, ``IsRemoteEndpoint``),
  ``hnspolicy.go`` (``OutBoundNAT`` ``ExceptionList``/``Destinations``/``VIP``,
  ``ROUTE`` ``DestinationPrefix``/``NextHop``/``NeedEncap``, ``ACL``, ``NAT``
  port maps), ``hnspolicylist.go`` (``References``, ``ELB`` policies);
- v2: ``hcn/hcnnetwork.go`` (HostComputeNetwork: ``Ipams[].Subnets[].IpAddressPrefix``
  and ``Routes``), ``hcnendpoint.go`` (HostComputeEndpoint: ``IpConfigurations``,
  ``HostComputeNetwork``, ``Flags`` 1 = remote, ``Dns.ServerList``),
  ``hcnpolicy.go`` (``Type`` + ``Settings``: ``OutBoundNAT`` ``Exceptions``,
  ``SDNRoute``, ``ACL``, ``PortMapping``, ``RemoteSubnetRoute``, ``VxlanPort``).

Keys are matched case-insensitively (HNS decodes JSON with Go's
``encoding/json``, which does). A field neither read nor in the bookkeeping
lists below is named in a note; a policy type not read is named in a note.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Any

from l2l3.kube.fields import R
from l2l3.kube.windows.state import (
    Acl,
    Endpoint,
    EndpointPolicy,
    LoadBalancer,
    Network,
    Obj,
    OutboundNat,
    PortMapping,
    ProviderAddress,
    RemoteSubnet,
    SdnRoute,
)

__all__ = ["read_endpoint", "read_network", "read_policy_list"]

#: Fields that keep HNS's own books (ids, counters, versions, health, timings)
#: and do not change forwarding: read past without a note (docs/windows-state.md).
BOOKKEEPING = frozenset(
    s.lower()
    for s in (
        "ActivityId",
        "AdditionalParams",
        "CreateProcessingStartTime",
        "CurrentEndpointCount",
        "Health",
        "Resources",
        "SchemaVersion",
        "StartTime",
        "State",
        "TotalEndpoints",
        "Version",
        "Extensions",
        "MaxConcurrentChannels",
        "DNSSuffix",
        "DNSDomain",
        "MacPools",
        "MacPool",
        "NetworkAdapterName",
        "HostComputeNamespace",
        "SharedContainers",
        "Namespace",
        "LayeredOn",
        "Flags",
        "AutomaticDNS",
        "DNSServerCompartment",
        "ID",
        "ObjectType",
        "IsolateSwitch",
        "EncapOverhead",
        "IPv6",
    )
)
#: the policy types each object may carry that are read
_PORTMAP_TYPES = {"nat", "portmapping"}
_ROUTE_TYPES = {"route", "sdnroute"}
#: ACL "Protocols"/"Protocol": 256 (or none) is every protocol (hcsshim#1059)
ANY_PROTOCOL = 256


def _kind(o: Obj) -> str:
    t = o.text("Type")
    if t is None:
        o.r.fail(o.path, "an HNS policy needs its Type")
    return t


def _unread_type(o: Obj, what: str, kind: str) -> None:
    """One counted note for every policy of a ``Type`` that is not read."""
    o.r.sink.count(
        "unread-field",
        (what, kind),
        o.span("Type"),
        lambda n, pl: f"{what} type {kind} is not read ({n} polic{'ies' if pl else 'y'}; the first here)",
    )


def _settings(o: Obj) -> Obj:
    """A v2 policy's ``Settings`` object, else the v1 policy itself (its fields sit beside Type)."""
    if o.has("Settings"):
        s = o.sub("Settings")
        if s is not None:
            return s
    return o


def _ports(o: Obj, name: str, single: str | None = None) -> tuple[tuple[int, int], ...]:
    """``"80,443,8000-8080"`` (or the v1 single-port number field) as ranges; () = any."""
    out: list[tuple[int, int]] = []
    v = o.get(name)
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if isinstance(v, str):
        for part in (p.strip() for p in v.split(",")):
            if not part:
                continue
            lo, _, hi = part.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                o.fail(name, "ports such as 80, 80,443 or 8000-8080")
            a, b = int(lo), int(hi or lo)
            if not 0 <= a <= b <= 65535:
                o.fail(name, "ports from 0 to 65535")
            if (a, b) != (0, 0):
                out.append((a, b))
    elif v is not None:
        o.fail(name, "ports such as 80, 80,443 or 8000-8080")
    if single is not None:
        n = o.num(single, 0, 65535)
        if n:
            out.append((n, n))
    return tuple(out)


def _protocols(o: Obj) -> tuple[int, ...]:
    out: list[int] = []
    v = o.get("Protocols")
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if isinstance(v, str):
        for part in (p.strip() for p in v.split(",")):
            if not part:
                continue
            if not part.isdigit() or int(part) > ANY_PROTOCOL:
                o.fail("Protocols", "IP protocol numbers such as 6 or 6,17 (256: any)")
            out.append(int(part))
    elif v is not None:
        o.fail("Protocols", "IP protocol numbers such as 6 or 6,17 (256: any)")
    one = o.num("Protocol", 0, 65535)
    if one:
        out.append(one)
    if ANY_PROTOCOL in out:
        return ()
    return tuple(sorted(set(out)))


def _acl(o: Obj, s: Obj) -> Acl:
    action = (s.text("Action") or "").lower()
    direction = (s.text("Direction") or "").lower()
    if action not in ("allow", "block", "pass"):
        s.fail("Action", "Allow, Block or Pass")
    if direction not in ("in", "out"):
        s.fail("Direction", "In or Out")
    local, six_l = s.cidrs("LocalAddresses")
    remote, six_r = s.cidrs("RemoteAddresses")
    acl = Acl(
        action=action,
        direction=direction,
        protocols=_protocols(s),
        local_addresses=tuple(local),
        remote_addresses=tuple(remote),
        local_ports=_ports(s, "LocalPorts", "LocalPort"),
        remote_ports=_ports(s, "RemotePorts", "RemotePort"),
        priority=s.num("Priority", 0, 65535) or 0,
        rule_type=(s.text("RuleType") or "Switch").lower(),
        ipv6_only=bool((six_l and not local) or (six_r and not remote)),
        span=o.span(),
    )
    s.get("Id")
    s.get("ServiceName")
    s.get("InternalPort")
    return acl


def _policy(o: Obj) -> EndpointPolicy | None:
    kind = _kind(o)
    low = kind.lower()
    s = _settings(o)
    got: EndpointPolicy | None = None
    if low == "outboundnat":
        excs, _ = s.cidrs("ExceptionList" if s.has("ExceptionList") else "Exceptions")
        dests, _ = s.cidrs("Destinations")
        vip = s.ip("VIP" if s.has("VIP") else "VirtualIP")
        s.get("MaxPortPoolUsage")
        got = OutboundNat(exceptions=tuple(excs), destinations=tuple(dests), vip=vip, span=o.span())
    elif low in _ROUTE_TYPES:
        raw = s.get("DestinationPrefix")
        prefix = s.cidr_value(raw, s.where("DestinationPrefix")) if raw is not None else None
        if raw is None:
            s.r.fail(s.path, f"{kind}: DestinationPrefix is required")
        if prefix is None:
            got = None
        else:
            got = SdnRoute(
                prefix=prefix, need_encap=s.flag("NeedEncap"), next_hop=s.ip("NextHop"), span=o.span()
            )
    elif low == "acl":
        got = _acl(o, s)
    elif low in ("pa", "provideraddress"):
        pa = s.ip("PA" if s.has("PA") else "ProviderAddress")
        got = ProviderAddress(address=pa, span=o.span()) if pa is not None else None
    elif low in _PORTMAP_TYPES:
        proto = s.get("Protocol")
        if isinstance(proto, str):
            proto = {"tcp": 6, "udp": 17}.get(proto.lower(), proto)
        if not isinstance(proto, int) or isinstance(proto, bool):
            s.fail("Protocol", "TCP, UDP, 6 or 17")
        got = PortMapping(
            protocol=int(proto),
            internal=s.num("InternalPort", 0, 65535) or 0,
            external=s.num("ExternalPort", 0, 65535) or 0,
            vip=s.ip("VIP"),
            span=o.span(),
        )
        s.get("ExternalPortReserved")
    else:
        _unread_type(o, "HNS policy", kind)
        return None
    if s is not o:
        s.done(BOOKKEEPING - {"flags"})  # a NatFlags value (LocalRoutedVip, IPv6) gets a note
    o.done(BOOKKEEPING | {"settings"})
    return got


def _policies(o: Obj) -> tuple[EndpointPolicy, ...]:
    out: list[EndpointPolicy] = []
    for i, v in enumerate(o.seq("Policies")):
        p = _policy(o.item("Policies", i, v, "an HNS policy (an object with Type)"))
        if p is not None:
            out.append(p)
    return tuple(out)


def _dns(o: Obj) -> tuple[str, ...]:
    v = o.get("DNSServerList")
    if isinstance(v, str):
        return tuple(p.strip() for p in v.split(",") if p.strip())
    d = o.sub("Dns")
    if d is not None:
        servers = d.seq("ServerList")
        d.get("Search")
        d.get("Domain")
        d.get("Options")
        d.done()
        return tuple(str(x) for x in servers)
    return ()


def _network_policies(o: Obj, net: dict[str, Any]) -> None:
    """Overlay pieces in a network's policies (v1 and v2): VSID, VxlanPort, DR MAC, remote subnets."""
    remotes: list[RemoteSubnet] = []
    for i, v in enumerate(o.seq("Policies")):
        p = o.item("Policies", i, v, "an HNS policy (an object with Type)")
        kind = _kind(p).lower()
        s = _settings(p)
        if kind == "remotesubnetroute":
            raw = s.get("DestinationPrefix")
            prefix = s.cidr_value(raw, s.where("DestinationPrefix")) if raw is not None else None
            pa = s.ip("ProviderAddress")
            if prefix is not None and pa is not None:
                remotes.append(
                    RemoteSubnet(
                        prefix=prefix,
                        provider=pa,
                        dr_mac=s.mac("DistributedRouterMacAddress"),
                        vsid=s.num("IsolationId", 0, 2**24 - 1),
                        span=p.span(),
                    )
                )
        elif kind == "vxlanport":
            net["vxlan_port"] = s.num("Port", 1, 65535)
        elif kind in ("drmacaddress",):
            net["dr_mac"] = s.mac("Address")
        elif kind == "vsid":
            net["vsid"] = s.num("VSID" if s.has("VSID") else "IsolationId", 0, 2**24 - 1)
        elif kind == "provideraddress":
            net["management_ip"] = net["management_ip"] or s.ip("ProviderAddress")
        elif kind == "sourcemacaddress":
            net["source_mac"] = net["source_mac"] or s.mac("SourceMacAddress")
        elif kind in ("netadaptername",):
            s.get("NetworkAdapterName")
        else:
            _unread_type(p, "HNS network policy", _kind(p))
            continue
        if s is not p:
            s.done(BOOKKEEPING)
        p.done(BOOKKEEPING | {"settings"})
    net["remote_subnets"] = tuple(remotes)


def _default_route(o: Obj, what: str) -> IPv4Address | None:
    """The next hop of the 0.0.0.0/0 entry of a v2 ``Routes`` list; other entries are named in a note."""
    gw = None
    for k, rv in enumerate(o.seq("Routes")):
        rt = o.item("Routes", k, rv)
        hop = rt.ip("NextHop")
        rt.get("Metric")
        if (rt.text("DestinationPrefix") or "") == "0.0.0.0/0":
            gw = gw or hop
        else:
            rt.r.sink.count(
                "unread-field",
                (what, "route"),
                rt.span(),
                lambda n, pl: f"{what} Routes other than 0.0.0.0/0 are not modelled ({n}; the first here)",
            )
        rt.done()
    return gw


def _subnet_policies(s: Obj, net: dict[str, Any]) -> None:
    """A subnet's policies: the VSID (v1 ``VSID``, v2 ``Settings.IsolationId``); others named in a note."""
    for k, pv in enumerate(s.seq("Policies")):
        sp = s.item("Policies", k, pv)
        if _kind(sp).lower() != "vsid":
            _unread_type(sp, "HNS subnet policy", _kind(sp))
            continue
        st = _settings(sp)
        net["vsid"] = st.num("VSID" if st.has("VSID") else "IsolationId", 0, 2**24 - 1)
        if st is not sp:
            st.done()
        sp.done(frozenset({"settings"}))


def read_network(r: R, m: dict[Any, Any]) -> Network:
    o = Obj(r, m)
    subnets: list[tuple[IPv4Network, IPv4Address | None]] = []
    version = 1
    net: dict[str, Any] = {
        "management_ip": o.ip("ManagementIP"),
        "source_mac": o.mac("SourceMac"),
        "vsid": None,
        "vxlan_port": None,
        "dr_mac": None,
    }
    for i, v in enumerate(o.seq("Subnets")):
        s = o.item("Subnets", i, v)
        raw = s.get("AddressPrefix")
        prefix = s.cidr_value(raw, s.where("AddressPrefix")) if raw is not None else None
        if prefix is not None:
            subnets.append((prefix, s.ip("GatewayAddress")))
        _subnet_policies(s, net)
        s.done(BOOKKEEPING)
    for i, v in enumerate(o.seq("Ipams")):
        version = 2
        ipam = o.item("Ipams", i, v)
        ipam.get("Type")
        for j, sv in enumerate(ipam.seq("Subnets")):
            s = ipam.item("Subnets", j, sv)
            raw = s.get("IpAddressPrefix")
            prefix = s.cidr_value(raw, s.where("IpAddressPrefix")) if raw is not None else None
            gw = None
            gw = _default_route(s, "HNS network subnet")
            _subnet_policies(s, net)
            if prefix is not None:
                subnets.append((prefix, gw))
            s.done(BOOKKEEPING)
        ipam.done()
    _network_policies(o, net)
    out = Network(
        id=(o.text("ID") or "").lower(),
        name=o.text("Name") or "",
        type=o.text("Type") or "",
        subnets=tuple(subnets),
        dns_servers=_dns(o),
        version=version,
        span=r.span(),
        **net,
    )
    o.done(BOOKKEEPING)
    return out


def read_endpoint(r: R, m: dict[Any, Any]) -> Endpoint:
    o = Obj(r, m)
    ip = o.ip("IPAddress")
    plen = o.num("PrefixLength", 0, 128)
    gateway = o.ip("GatewayAddress")
    for i, v in enumerate(o.seq("IpConfigurations")):
        c = o.item("IpConfigurations", i, v)
        a = c.ip("IpAddress")
        n = c.num("PrefixLength", 0, 128)
        if a is not None and ip is None:
            ip, plen = a, n
        c.done()
    gateway = _default_route(o, "HNS endpoint") or gateway
    flags = o.num("Flags") or 0
    network_id = o.text("VirtualNetwork") or o.text("HostComputeNetwork") or ""
    out = Endpoint(
        id=(o.text("ID") or "").lower(),
        name=o.text("Name") or "",
        network_id=network_id.lower(),
        network_name=o.text("VirtualNetworkName") or "",
        ip=ip,
        prefix_len=plen if plen and plen <= 32 else None,
        mac=o.mac("MacAddress"),
        gateway=gateway,
        remote=o.flag("IsRemoteEndpoint") or bool(flags & 1),
        policies=_policies(o),
        dns_servers=_dns(o),
        span=r.span(),
    )
    o.done(BOOKKEEPING - {"flags"})
    return out


def read_policy_list(r: R, m: dict[Any, Any]) -> list[LoadBalancer]:
    """One ``Get-HnsPolicyList`` entry: its ELB policies over the referenced endpoints."""
    o = Obj(r, m)
    refs = tuple(str(x).rsplit("/", 1)[-1].lower() for x in o.seq("References"))
    out: list[LoadBalancer] = []
    for i, v in enumerate(o.seq("Policies")):
        p = o.item("Policies", i, v)
        if _kind(p).lower() != "elb":
            _unread_type(p, "HNS policy list policy", _kind(p))
            continue
        vips, _ = p.cidrs("VIPs")
        proto = p.num("Protocol", 0, 255) or 6
        out.append(
            LoadBalancer(
                id=(o.text("ID") or "").lower(),
                endpoint_ids=refs,
                vips=tuple(n.network_address for n in vips if n.prefixlen == 32),
                protocol=proto,
                internal_port=p.num("InternalPort", 0, 65535) or 0,
                external_port=p.num("ExternalPort", 0, 65535) or 0,
                span=p.span(),
            )
        )
        p.get("SourceVIP")  # the address the node SNATs to on l2bridge (the node IP, CNI-SEMANTICS §9)
        p.get("ILB")  # internal (ClusterIP) or not: the VIPs say where it applies
        if p.flag("IsDSR"):
            r.note(
                p.where("IsDSR"),
                "ELB with IsDSR: modelled as a dnat; the backend's reply path (DSR) is not",
                "unread-field",
            )
        p.done(BOOKKEEPING)
    o.get("ID")
    o.done(BOOKKEEPING)
    return out
