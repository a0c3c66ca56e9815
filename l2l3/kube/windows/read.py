"""Which node-state file is which, told by the shape of its JSON, and reading them all.

PowerShell's ``ConvertTo-Json`` writes an array for several objects and a
bare object for one, so a file is an object or an array of objects; each
object's kind is told by the keys it has (matched case-insensitively):

=====================  ==========================================================
docker network         ``Driver`` and ``IPAM`` or ``Containers`` (``docker network inspect``)
Get-NetRoute row       ``DestinationPrefix`` and ``NextHop``, no ``Type``
HNS policy list        ``References`` (``Get-HnsPolicyList``)
HNS endpoint           ``VirtualNetwork``, ``IPAddress``, ``IpConfigurations``,
                       ``HostComputeNetwork`` or ``IsRemoteEndpoint``
HNS network            ``Subnets``, ``Ipams`` or ``ManagementIP``
=====================  ==========================================================

The files of one directory are one node's state. The encodings are those
:func:`l2l3.kube.source.read_text` reads (UTF-8 with or without BOM, UTF-16
and UTF-32 with BOM); JSON positions come from :mod:`l2l3.kube.jsontext`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from l2l3.kube.errors import Diagnostic, KubeError, Note
from l2l3.kube.fields import Invalid, R, Sink
from l2l3.kube.jsontext import JsonDoc, JsonLoc, json_events
from l2l3.kube.source import read_text
from l2l3.kube.windows.docker import read_docker_network, read_net_route
from l2l3.kube.windows.hns import read_endpoint, read_network, read_policy_list
from l2l3.kube.windows.state import State, keys_lower

__all__ = ["read_states", "shape"]

_ENDPOINT_KEYS = ("virtualnetwork", "ipaddress", "ipconfigurations", "hostcomputenetwork", "isremoteendpoint")
_NETWORK_KEYS = ("subnets", "ipams", "managementip")
KINDS = {
    "docker": "docker network",
    "route": "Get-NetRoute row",
    "policylist": "HNS policy list",
    "endpoint": "HNS endpoint",
    "network": "HNS network",
}


def shape(m: Any) -> str | None:
    """The kind of one JSON object of a node-state dump, or None."""
    if not isinstance(m, dict):
        return None
    keys = keys_lower(m)
    if "driver" in keys and ("ipam" in keys or "containers" in keys):
        return "docker"
    if "destinationprefix" in keys and "nexthop" in keys and "type" not in keys:
        return "route"
    if "references" in keys:
        return "policylist"
    if any(k in keys for k in _ENDPOINT_KEYS):
        return "endpoint"
    if any(k in keys for k in _NETWORK_KEYS):
        return "network"
    return None


def _read_one(state: State, kind: str, r: R, m: dict[Any, Any]) -> None:
    if kind == "docker":
        state.dockers.append(read_docker_network(r, m))
    elif kind == "route":
        route = read_net_route(r, m)
        if route is None:
            state.ipv6_routes += 1
            state.ipv6_span = state.ipv6_span or r.span()
        else:
            state.routes.append(route)
    elif kind == "policylist":
        state.balancers.extend(read_policy_list(r, m))
    elif kind == "endpoint":
        state.endpoints.append(read_endpoint(r, m))
    else:
        state.networks.append(read_network(r, m))


def _objects(file: str) -> list[tuple[Any, JsonLoc]] | None:
    """The JSON objects of ``file`` with their places; None when it is no JSON object or array."""
    text = read_text(file)
    doc = JsonDoc(file, text)
    out: list[tuple[Any, JsonLoc]] = []
    for event, value, loc in json_events(doc, text):
        if event != "whole":
            return None
        if isinstance(value, list):
            out.extend((v, loc.child((i,))) for i, v in enumerate(value))
        else:
            out.append((value, loc))
    return out


def read_states(files: Sequence[str]) -> tuple[list[State], list[Note], list[str]]:
    """The node states of ``files`` (one per directory), the readers' notes, and the files taken.

    Raises :class:`KubeError` with every bad value found.
    """
    states: dict[str, State] = {}
    sink = Sink()
    diags: list[Diagnostic] = []
    taken: list[str] = []
    for file in files:
        if not file.lower().endswith(".json"):
            continue
        try:
            objects = _objects(file)
        except KubeError as e:
            diags.extend(e.diagnostics)
            continue
        if not objects:
            continue
        kinds = [shape(v) for v, _ in objects]
        if not any(kinds):
            continue
        directory = os.path.dirname(os.path.abspath(file))
        state = states.setdefault(directory, State(directory=os.path.dirname(file) or "."))
        state.files.append(file)
        taken.append(file)
        for (value, loc), kind in zip(objects, kinds, strict=True):
            if kind is None:
                sink.note(
                    loc.span(),
                    "an object of no node-state shape (HNS, docker, Get-NetRoute): skipped",
                    "not-kubernetes",
                )
                continue
            r = R(loc, KINDS[kind], sink)
            try:
                _read_one(state, kind, r, value)
            except Invalid as e:
                diags.append(e.diag)
            except RecursionError:
                diags.append(loc.diag((), f"{KINDS[kind]}: nested too deeply to read"))
    if diags:
        keep = KubeError.MAX_DIAGNOSTICS
        raise KubeError(diags[:keep], more=max(0, len(diags) - keep))
    return list(states.values()), sink.result(), taken
