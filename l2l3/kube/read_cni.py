"""Readers for CNI network configs and flannel's ``kube-flannel-cfg`` ConfigMap.

A CNI network config is a ``.conflist`` (``name``, ``cniVersion``, a list of
``plugins``) or a ``.conf`` (one plugin with the network's ``name`` and
``cniVersion`` beside its own keys), as libcni reads them. Each plugin keeps
its ``type`` and its other keys raw (frozen): what they mean is the
translation's business, not the reader's.

The flannel ConfigMap holds two JSON texts in strings: ``net-conf.json``
(flannel's network and backend) and ``cni-conf.json`` (the conflist flannel's
DaemonSet copies to every node). Both are parsed; positions inside a YAML
literal block (``|``) point at the JSON's own line and column in the file.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.scalarstring import LiteralScalarString

from l2l3.kube.errors import KubeError
from l2l3.kube.fields import Invalid, R, dotted
from l2l3.kube.frozen import FrozenMap, freeze
from l2l3.kube.jsontext import EmbeddedJsonDoc, JsonLoc, json_events
from l2l3.kube.objects import CniConfig, CniPlugin, FlannelConfig, FlannelNetConf
from l2l3.kube.read_core import META, TOP, metadata
from l2l3.kube.source import Path, YamlLoc

__all__ = ["is_cni_shape", "is_net_conf_shape", "read_cni", "read_flannel_configmap", "read_net_conf"]

CONFLIST_KEYS = frozenset(
    {"cniVersion", "cniVersions", "name", "plugins", "disableCheck", "disableGC", "loadOnlyInlinedPlugins"}
)
NET_CONF_KEYS = frozenset(
    {
        "Network",
        "IPv6Network",
        "EnableIPv4",
        "EnableIPv6",
        "EnableNFTables",
        "SubnetLen",
        "SubnetMin",
        "SubnetMax",
        "IPv6SubnetLen",
        "IPv6SubnetMin",
        "IPv6SubnetMax",
        "Backend",
    }
)
FLANNEL_BACKENDS = (
    "vxlan",
    "host-gw",
    "udp",
    "ipip",
    "ipsec",
    "wireguard",
    "extension",
    "alivpc",
    "alloc",
    "awsvpc",
    "gce",
    "tencentvpc",
)


def is_cni_shape(obj: dict[Any, Any]) -> bool:
    """Whether a JSON object without ``kind`` looks like a CNI network config."""
    return "cniVersion" in obj or "plugins" in obj or ("type" in obj and "name" in obj)


def is_net_conf_shape(obj: dict[Any, Any]) -> bool:
    """Whether a JSON object without ``kind`` looks like flannel's net-conf.json."""
    return "Network" in obj or "Backend" in obj or "IPv6Network" in obj


def _plugin(r: R, v: Any, path: Path, skip: frozenset[str]) -> CniPlugin:
    if not isinstance(v, dict):
        r.expected(path, v, "a plugin (a JSON object with type)")
    kind = r.need_str(v, "type", path, "the plugin's type, such as bridge")
    if not kind:
        r.fail(path + ("type",), f"{dotted(path + ('type',))}: the plugin type must not be empty")
    options = {k: v[k] for k in v if k != "type" and k not in skip}
    return CniPlugin(
        type=kind,
        options=freeze(options),
        option_spans=FrozenMap((k, r.span(path + (k,))) for k in options),
        span=r.span(path),
    )


def read_cni(r: R, obj: Any, *, conflist: bool) -> CniConfig:
    """A network config: ``conflist`` says the file was a ``.conflist``."""
    if not isinstance(obj, dict):
        r.expected((), obj, "a CNI network config (a JSON object)")
    if "plugins" in obj or (conflist and "type" not in obj):
        if not conflist:
            r.note((), "a .conf that lists plugins: read as a .conflist", "assumed")
        r.unread(obj, (), CONFLIST_KEYS)
        name = r.need_str(obj, "name", (), "the network's name")
        plugins = r.opt_list(obj, "plugins", (), "a list of plugins")
        if not plugins:
            r.fail(
                ("plugins",) if plugins is not None else (),
                "plugins: a network config list needs at least one plugin",
            )
        return CniConfig(
            name=name,
            cni_version=r.opt_str(obj, "cniVersion", ()),
            plugins=tuple(_plugin(r, p, ("plugins", i), frozenset()) for i, p in enumerate(plugins)),
            is_list=True,
            disable_check=r.opt_bool(obj, "disableCheck", ()) or False,
            span=r.span(),
        )
    if conflist:
        r.note((), "a .conflist with one plugin and no plugins list: read as a .conf", "assumed")
    name = r.need_str(obj, "name", (), "the network's name")
    return CniConfig(
        name=name,
        cni_version=r.opt_str(obj, "cniVersion", ()),
        plugins=(_plugin(r, obj, (), frozenset({"name", "cniVersion"})),),
        is_list=False,
        span=r.span(),
    )


def read_net_conf(r: R, obj: Any) -> FlannelNetConf:
    """flannel's net-conf.json (``Network``, ``Backend`` …)."""
    if not isinstance(obj, dict):
        r.expected((), obj, "flannel's network config (a JSON object with Network and Backend)")
    r.unread(obj, (), NET_CONF_KEYS)
    network = None
    if obj.get("Network") is not None:
        network = r.cidr(obj["Network"], ("Network",))[0]
    ipv6 = None
    if obj.get("IPv6Network") is not None:
        ipv6 = r.cidr(obj["IPv6Network"], ("IPv6Network",))[0]
    enable_ipv4 = r.opt_bool(obj, "EnableIPv4", ())
    enable_ipv6 = r.opt_bool(obj, "EnableIPv6", ()) or False
    if enable_ipv4 is None:
        enable_ipv4 = True
    if enable_ipv4 and network is None:
        r.fail(
            (),
            "Network is required (flannel's pod network, such as 10.244.0.0/16) unless EnableIPv4 is false",
        )
    backend = r.opt_map(obj, "Backend", (), "a mapping with Type") or {}
    kind = r.opt_str(backend, "Type", ("Backend",), "a flannel backend type") or "udp"
    if kind not in FLANNEL_BACKENDS:
        r.expected(("Backend", "Type"), kind, "a flannel backend: " + ", ".join(FLANNEL_BACKENDS))
    return FlannelNetConf(
        network=network,
        ipv6_network=ipv6,
        enable_ipv4=enable_ipv4,
        enable_ipv6=enable_ipv6,
        subnet_len=r.opt_int(obj, "SubnetLen", (), 0, 128),
        backend_type=kind,
        backend=freeze({k: v for k, v in backend.items() if k != "Type"}),
        raw=freeze(obj),
        span=r.span(),
    )


def _embedded(r: R, data: dict[Any, Any], key: str, kind: str) -> tuple[Any, R]:
    """Parse the JSON in ``data[key]`` and a reader whose positions point into it."""
    path = ("data", key)
    text = data[key]
    if not isinstance(text, str):
        r.expected(path, text, "a string holding JSON")
    span = r.span(path)
    first_line = indent = 0
    outer = None
    loc = r.loc
    if isinstance(loc, YamlLoc):
        outer = loc.lines.line
        if isinstance(text, LiteralScalarString):
            for n in range(span.line + 1, span.line + 1 + max(1, str(text).count("\n") + 1)):
                raw = loc.lines.line(n)
                if raw.strip():
                    first_line, indent = n, len(raw) - len(raw.lstrip(" "))
                    break
    doc = EmbeddedJsonDoc(
        loc.file, str(text), first_line=first_line, indent=indent, at=(span.line, span.col), outer_line=outer
    )
    try:
        events = list(json_events(doc, str(text)))
    except KubeError as e:
        d = e.diagnostics[0]
        raise Invalid(
            type(d)(file=d.file, line=d.line, col=d.col, message=f"{key}: {d.message}", line_text=d.line_text)
        ) from None
    if not events:
        r.fail(path, f"{dotted(path)}: empty (expected JSON)")
    _, value, jloc = events[-1]
    if events[0][0] != "whole":  # a root with an items array is not a config
        r.expected(path, value, "a JSON object")
    assert isinstance(jloc, JsonLoc)
    return value, R(jloc, kind, r.sink)


def read_flannel_configmap(r: R, obj: dict[Any, Any]) -> FlannelConfig | None:
    name, namespace, _ = metadata(r, obj, namespaced=True)
    r.unread(obj, (), TOP | {"data", "binaryData", "immutable"})
    data = r.opt_map(obj, "data", ()) or {}
    for k in data:
        if k not in ("net-conf.json", "cni-conf.json"):
            r.note(("data", k), f"ConfigMap {namespace}/{name}: data key {k} is not read", "unread-field")
    net_conf = cni_conf = None
    if data.get("net-conf.json") is not None:
        value, sub = _embedded(r, data, "net-conf.json", "flannel net-conf.json")
        net_conf = read_net_conf(sub, value)
    else:
        r.note(META + ("name",), f"ConfigMap {namespace}/{name} has no net-conf.json", "assumed")
    if data.get("cni-conf.json") is not None:
        value, sub = _embedded(r, data, "cni-conf.json", "flannel cni-conf.json")
        cni_conf = read_cni(sub, value, conflist=True)
    return FlannelConfig(
        name=name or "kube-flannel-cfg",
        namespace=namespace,
        net_conf=net_conf,
        cni_conf=cni_conf,
        span=r.span(),
    )
