"""Reading one CNI network config: which dataplane it programs and with which settings.

:func:`read_config` gives a :class:`Reading` per config (plugin ``type`` ->
profile family, options, HNS policies of the Windows plugins, IPAM subnet),
with a note for every option no profile models; :mod:`l2l3.kube.cni` joins
the readings of a cluster into one profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network
from typing import Any

from l2l3.kube.errors import Span as KubeSpan
from l2l3.kube.objects import CniConfig, CniPlugin
from l2l3.kube.provenance import Notes, input_error
from l2l3.model.profiles import PROFILES

PROFILE_HELP = ", ".join(PROFILES)
LINUX_TYPES = ("flannel", "calico", "antrea", "bridge", "ptp", "macvlan")
WINDOWS_TYPES = {"win-bridge": "win-bridge", "sdnbridge": "win-bridge", "win-overlay": "win-overlay"}
WINDOWS_TYPES["sdnoverlay"] = "win-overlay"
#: chained plugins and what they do that no profile models
CHAINED = {
    "portmap": "hostPort mappings",
    "bandwidth": "traffic shaping",
    "tuning": "sysctls and interface settings",
    "firewall": "iptables FORWARD rules",
    "sbr": "source-based routing",
    "loopback": "the loopback interface",
}
#: options that say nothing about forwarding (logging, datastores, MTU, DNS …)
QUIET = frozenset(
    {
        "name",
        "cniVersion",
        "capabilities",
        "dns",
        "DNS",
        "mtu",
        "MTU",
        "log_level",
        "log_file_path",
        "log_file_max_size",
        "log_file_max_age",
        "log_file_max_count",
        "datastore_type",
        "kubernetes",
        "nodename",
        "nodename_file",
        "nodename_file_optional",
        "etcd_endpoints",
        "etcd_discovery_srv",
        "etcd_key_file",
        "etcd_cert_file",
        "etcd_ca_cert_file",
        "runtimeConfig",
        "args",
        "prevResult",
    }
)


# ---------------------------------------------------------------- one config


@dataclass
class _Reading:
    """What one config says: a Linux or Windows dataplane and its settings."""

    family: str  # flannel, calico, antrea, bridge, kindnet, macvlan, win-bridge, win-overlay
    windows: bool
    span: KubeSpan
    file: str
    words: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    pod_cidr: IPv4Network | None = None
    exceptions: list[IPv4Network] | None = None
    routes: list[tuple[IPv4Network, KubeSpan]] = field(default_factory=list)
    ipam_subnet: IPv4Network | None = None
    under: str | None = None  # a Windows plugin under flannel or calico


def _net(value: Any) -> IPv4Network | None:
    try:
        net = ip_network(str(value), strict=False)
    except ValueError:
        return None
    return net if isinstance(net, IPv4Network) else None


def _ci(m: Mapping[str, Any], *keys: str) -> Any:
    """``m[key]`` for the first key present, case-insensitively (HNS writes both cases)."""
    lower = {str(k).lower(): v for k, v in m.items()}
    for k in keys:
        if k.lower() in lower:
            return lower[k.lower()]
    return None


def _unread(notes: Notes, plugin: CniPlugin, used: set[str], where: str) -> None:
    rest = sorted(k for k in plugin.options if k not in used and k not in QUIET)
    if rest:
        span = plugin.option_spans.get(rest[0], plugin.span)
        notes.add(
            span,
            f"{where}: option{'s' if len(rest) > 1 else ''} {', '.join(rest)} not modelled by the profile",
            "unread-field",
        )


def _ipam_subnet(notes: Notes, plugin: CniPlugin, opts: Mapping[str, Any], where: str) -> IPv4Network | None:
    ipam = opts.get("ipam")
    if not isinstance(ipam, Mapping):
        return None
    subnet = ipam.get("subnet")
    ranges = ipam.get("ranges")
    if subnet is None and isinstance(ranges, Sequence) and ranges and isinstance(ranges[0], Sequence):
        first = ranges[0][0] if ranges[0] else None
        subnet = first.get("subnet") if isinstance(first, Mapping) else None
    if subnet is None or str(subnet) == "usePodCidr":
        return None
    net = _net(subnet)
    if net is None:
        notes.add(
            plugin.option_spans.get("ipam", plugin.span),
            f"{where}: IPAM subnet {subnet} is not IPv4: not read",
        )
    return net


def _hns_policies(notes: Notes, r: _Reading, plugin: CniPlugin, opts: Mapping[str, Any], where: str) -> None:
    """OutBoundNAT, ROUTE/SDNRoute (NeedEncap) and the rest of a Windows plugin's policies."""
    span = plugin.span
    entries: list[Any] = []
    for key in ("policies", "AdditionalArgs", "additionalArgs"):
        value = opts.get(key)
        if isinstance(value, Sequence) and not isinstance(value, str):
            span = plugin.option_spans.get(key, plugin.span)
            entries += list(value)
    exceptions: list[IPv4Network] = []
    seen_nat = False
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        name = str(_ci(entry, "name") or "")
        value = _ci(entry, "value")
        if name.lower() != "endpointpolicy" or not isinstance(value, Mapping):
            notes.add(
                span,
                f"{where}: policy entry {name or '?'} is not an EndpointPolicy: ignored, as the plugin does",
            )
            continue
        kind = str(_ci(value, "Type") or "")
        settings = _ci(value, "Settings")
        body = settings if isinstance(settings, Mapping) else value
        if kind.lower() == "outboundnat":
            if _ci(body, "Destinations"):
                notes.add(span, f"{where}: OutBoundNAT with Destinations (loopback DSR) is not modelled")
                continue
            seen_nat = True
            for cidr in _ci(body, "ExceptionList", "Exceptions") or ():
                net = _net(cidr)
                if net is None:
                    notes.add(span, f"{where}: OutBoundNAT exception {cidr} is not IPv4: not read")
                elif net not in exceptions:
                    exceptions.append(net)
        elif kind.lower() in ("route", "sdnroute"):
            prefix = _net(_ci(body, "DestinationPrefix"))
            if prefix is None:
                notes.add(span, f"{where}: {kind} policy without an IPv4 DestinationPrefix: not read")
            elif _ci(body, "NeedEncap") is True:
                r.routes.append((prefix, span))
            else:
                notes.add(span, f"{where}: {kind} {prefix} without NeedEncap has no effect the model knows")
        else:
            notes.add(span, f"{where}: HNS {kind or 'untyped'} policy is not modelled")
    if seen_nat:
        r.exceptions = exceptions
    if opts.get("loopbackDSR"):
        notes.add(plugin.option_spans.get("loopbackDSR", span), f"{where}: loopbackDSR is not modelled")


_WINDOWS_USED = frozenset(
    {"policies", "AdditionalArgs", "additionalArgs", "ipam", "ipMasqNetwork", "loopbackDSR", "master"}
    | {"optionalFlags", "ipMasq", "type", "apiVersion"}
)


def _windows(
    notes: Notes, plugin: CniPlugin, opts: Mapping[str, Any], kind: str, file: str, where: str
) -> _Reading:
    """win-bridge/sdnbridge or win-overlay/sdnoverlay, standalone or as flannel's delegate."""
    family = WINDOWS_TYPES[kind]
    r = _Reading(family=family, windows=True, span=plugin.span, file=file, words=(family,))
    _hns_policies(notes, r, plugin, opts, where)
    r.ipam_subnet = _ipam_subnet(notes, plugin, opts, where)
    net = _net(opts["ipMasqNetwork"]) if opts.get("ipMasqNetwork") is not None else None
    if net is not None:
        r.pod_cidr = net
    if opts.get("optionalFlags"):
        notes.add(
            plugin.option_spans.get("optionalFlags", plugin.span), f"{where}: optionalFlags are not modelled"
        )
    rest = sorted(k for k in opts if k not in _WINDOWS_USED and k not in QUIET)
    if rest:
        notes.add(plugin.span, f"{where}: {', '.join(rest)} not modelled by the profile", "unread-field")
    return r


def _flannel(notes: Notes, plugin: CniPlugin, file: str) -> _Reading:
    delegate = plugin.options.get("delegate")
    delegate = delegate if isinstance(delegate, Mapping) else {}
    dtype = str(delegate.get("type", "bridge"))
    if dtype in WINDOWS_TYPES:
        r = _windows(notes, plugin, delegate, dtype, file, f"flannel delegate {dtype}")
        r.under = "flannel"
        r.family = "flannel"
        r.words = ("flannel", "host-gw" if WINDOWS_TYPES[dtype] == "win-bridge" else "vxlan")
        _unread(notes, plugin, {"delegate"}, "flannel plugin")
        return r
    r = _Reading(family="flannel", windows=False, span=plugin.span, file=file, words=("flannel",))
    span = plugin.option_spans.get("delegate", plugin.span)
    if dtype != "bridge":
        raise input_error(
            span,
            f"flannel delegating to {dtype!r}: only bridge (Linux), win-bridge and win-overlay have profiles",
        )
    if delegate.get("hairpinMode") is False:
        notes.add(
            span,
            "flannel delegate hairpinMode false: the profile keeps hairpin on (kube-flannel.yml)",
            "unread-field",
        )
    if delegate.get("isGateway") is False and not delegate.get("isDefaultGateway"):
        notes.add(
            span, "flannel delegate isGateway false: the profile keeps the gateway .1 on cni0", "unread-field"
        )
    rest = sorted(
        k
        for k in delegate
        if k not in ("hairpinMode", "isDefaultGateway", "isGateway", "type") and k not in QUIET
    )
    if rest:
        notes.add(span, f"flannel delegate: {', '.join(rest)} not modelled by the profile", "unread-field")
    _unread(notes, plugin, {"delegate", "subnetFile", "dataDir"}, "flannel plugin")
    return r


def _calico(notes: Notes, plugin: CniPlugin, file: str) -> _Reading:
    o = plugin.options
    mode = str(o.get("mode") or "").lower()
    windows = any(k in o for k in ("windows_use_single_network", "windows_loopback_DSR", "vxlan_mac_prefix"))
    r = _Reading(family="calico", windows=windows, span=plugin.span, file=file)
    span = plugin.option_spans.get("mode", plugin.span)
    if mode == "vxlan":
        r.words = ("calico", "vxlan")
    elif mode in ("bgp", "windows-bgp"):
        r.words = ("calico", "bgp")
    elif mode == "ipip":
        r.words = ("calico", "ipip")
    else:
        if mode:
            notes.add(span, f"calico mode {mode!r} has no profile", "unread-field")
        r.words = ("calico", "ipip")
        notes.assumed(
            plugin.span,
            "calico's encapsulation is set in its IPPool, not in the CNI config: IPIP assumed "
            "(the calico.yaml and operator default); give --cni 'calico bgp' or 'calico vxlan' otherwise",
        )
    if "nat_outgoing" in o:
        r.options["nat-outgoing"] = "on" if o["nat_outgoing"] else "off"
    vni = o.get("vxlan_vni")
    if vni is not None and vni != 4096:
        notes.add(
            plugin.option_spans.get("vxlan_vni", plugin.span),
            f"calico vxlan_vni {vni}: the profile uses 4096",
            "unread-field",
        )
    ipam = o.get("ipam")
    if isinstance(ipam, Mapping):
        pools = ipam.get("ipv4_pools")
        if isinstance(pools, Sequence) and not isinstance(pools, str) and len(pools) == 1:
            r.pod_cidr = _net(pools[0])
        itype = ipam.get("type")
        if itype == "host-local":
            r.ipam_subnet = _ipam_subnet(notes, plugin, o, "calico plugin")
    if windows:
        _hns_policies(notes, r, plugin, o, "calico plugin")
    used = {"mode", "nat_outgoing", "vxlan_vni", "ipam", "policy", "policies", "windows_use_single_network"}
    used |= {"vxlan_mac_prefix", "windows_loopback_DSR", "include_default_routes", "feature_control"}
    _unread(notes, plugin, used, "calico plugin")
    return r


def _bridge(notes: Notes, plugin: CniPlugin, file: str) -> _Reading:
    o = plugin.options
    r = _Reading(family="bridge", windows=False, span=plugin.span, file=file, words=("bridge",))
    r.options["ipmasq"] = "on" if o.get("ipMasq") else "off"
    sp = plugin.option_spans
    if o.get("hairpinMode"):
        notes.add(
            sp.get("hairpinMode", plugin.span),
            "bridge hairpinMode: the bridge profile has no hairpin option",
            "unread-field",
        )
    if not (o.get("isGateway") or o.get("isDefaultGateway")):
        notes.add(
            plugin.span,
            "bridge without isGateway: the profile still puts the gateway .1 on cni0",
            "unread-field",
        )
    if o.get("bridge", "cni0") != "cni0":
        notes.add(sp.get("bridge", plugin.span), f"bridge name {o.get('bridge')}: the profile calls it cni0")
    r.ipam_subnet = _ipam_subnet(notes, plugin, o, "bridge plugin")
    _unread(
        notes,
        plugin,
        {"ipMasq", "hairpinMode", "isGateway", "isDefaultGateway", "bridge", "ipam", "forceAddress"},
        "bridge plugin",
    )
    return r


def _ptp(notes: Notes, plugin: CniPlugin, config: CniConfig, file: str) -> _Reading:
    o = plugin.options
    r = _Reading(family="kindnet", windows=False, span=plugin.span, file=file, words=("kindnet",))
    if config.name != "kindnet" or o.get("ipMasq"):
        notes.assumed(
            plugin.span,
            "a ptp network modelled as kindnet (ptp + host-local, routes to every node's podCIDR, "
            "KIND-MASQ-AGENT, kube-network-policies)",
        )
    if o.get("ipMasq"):
        notes.add(
            plugin.option_spans.get("ipMasq", plugin.span),
            "ptp ipMasq true: kindnet masquerades with KIND-MASQ-AGENT instead",
            "unread-field",
        )
    r.ipam_subnet = _ipam_subnet(notes, plugin, o, "ptp plugin")
    _unread(notes, plugin, {"ipMasq", "ipam"}, "ptp plugin")
    return r


def _macvlan(notes: Notes, plugin: CniPlugin, file: str) -> _Reading:
    o = plugin.options
    sp = plugin.option_spans
    r = _Reading(family="macvlan", windows=False, span=plugin.span, file=file, words=("macvlan",))
    if o.get("master") not in (None, "eth0"):
        notes.assumed(
            sp.get("master", plugin.span),
            f"macvlan master {o.get('master')} is the node's NIC on the underlay (eth0 in the spec)",
        )
    mode = o.get("mode", "bridge")
    if mode != "bridge":
        notes.add(
            sp.get("mode", plugin.span),
            f"macvlan mode {mode}: the profile models bridge mode",
            "unread-field",
        )
    r.ipam_subnet = _ipam_subnet(notes, plugin, o, "macvlan plugin")
    _unread(notes, plugin, {"master", "mode", "ipam"}, "macvlan plugin")
    return r


def _read(notes: Notes, config: CniConfig) -> _Reading:
    plugin = config.main
    kind = plugin.type
    file = config.span.file
    for extra in config.plugins[1:]:
        what = CHAINED.get(extra.type, "")
        notes.add(
            extra.span,
            f"chained plugin {extra.type}{f' ({what})' if what else ''} is not modelled",
            "unread-field",
        )
    if kind == "flannel":
        return _flannel(notes, plugin, file)
    if kind == "calico":
        return _calico(notes, plugin, file)
    if kind == "antrea":
        _unread(notes, plugin, {"ipam"}, "antrea plugin")
        return _Reading(family="antrea", windows=False, span=plugin.span, file=file, words=("antrea",))
    if kind == "bridge":
        return _bridge(notes, plugin, file)
    if kind == "ptp":
        return _ptp(notes, plugin, config, file)
    if kind == "macvlan":
        return _macvlan(notes, plugin, file)
    if kind in WINDOWS_TYPES:
        return _windows(notes, plugin, plugin.options, kind, file, f"{kind} plugin")
    raise input_error(
        plugin.span,
        f"CNI plugin type {kind!r} has no profile (known: flannel, calico, antrea, bridge, ptp, macvlan, "
        f"win-bridge, sdnbridge, win-overlay, sdnoverlay); give --cni PROFILE ({PROFILE_HELP})",
    )
