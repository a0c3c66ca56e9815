"""One file's text into a batch of typed objects: the kind of each document
or List item picks its reader; invalid objects become diagnostics; the batch
is committed (or, for a file with no Kubernetes input, dropped) by the loader.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from l2l3.kube.errors import Diagnostic, KubeError, Span
from l2l3.kube.fields import Invalid, R, Sink, found
from l2l3.kube.jsontext import JsonDoc, Window, json_events
from l2l3.kube.objects import FlannelConfig
from l2l3.kube.read_cni import (
    is_cni_shape,
    is_net_conf_shape,
    read_cni,
    read_flannel_configmap,
    read_net_conf,
)
from l2l3.kube.read_core import read_namespace, read_node, read_pod
from l2l3.kube.read_policy import read_network_policy
from l2l3.kube.read_service import read_endpoint_slice, read_service
from l2l3.kube.source import Loc, yaml_documents

__all__ = ["Batch", "CNI_EXTENSIONS", "MANIFEST_EXTENSIONS", "SPEC_EXTENSIONS", "read_file"]

MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")
CNI_EXTENSIONS = (".conflist", ".conf")
SPEC_EXTENSIONS = (".l2l3",)

READERS: dict[tuple[str, str], Callable[[R, dict[Any, Any]], Any]] = {
    ("v1", "Namespace"): read_namespace,
    ("v1", "Node"): read_node,
    ("v1", "Pod"): read_pod,
    ("networking.k8s.io/v1", "NetworkPolicy"): read_network_policy,
    ("v1", "Service"): read_service,
    ("discovery.k8s.io/v1", "EndpointSlice"): read_endpoint_slice,
}
FLANNEL_CONFIGMAP = "kube-flannel-cfg"
#: ConfigMaps that configure a CNI or kube-proxy: named one by one when skipped
NETWORK_CONFIGMAPS = ("calico-config", "antrea-config", "kube-proxy", "cilium-config", "kindnet-cfg")


class Batch:
    """What one file gave, kept apart until the file is known to be Kubernetes input."""

    def __init__(self, seen: dict[tuple[str, Any], Span]) -> None:
        self.seen = seen  # (kind, identity) -> span, over every file committed so far
        self.mine: dict[tuple[str, Any], Span] = {}
        self.objects: list[tuple[str, Any]] = []
        self.sink = Sink()
        self.diags: list[Diagnostic] = []

    def add(self, r: R, kind: str, ident: Any, obj: Any) -> None:
        key = (kind, ident)
        first = self.seen.get(key) or self.mine.get(key)
        if first is not None:
            shown = ident if isinstance(ident, str) else "/".join(ident)
            self.diags.append(r.loc.diag((), f"{kind} {shown} is given twice (first at {first})"))
            return
        self.mine[key] = obj.span
        self.objects.append((kind, obj))


def _identity(kind: str, obj: Any) -> Any:
    if kind in ("Namespace", "Node"):
        return obj.name
    if kind == "cni":
        return (obj.span.file, str(obj.span.line), str(obj.span.col))
    return (obj.namespace or "", obj.name)


def _read_object(
    batch: Batch, obj: dict[Any, Any], loc: Loc, inherited: tuple[Any, Any] | None = None
) -> None:
    """One Kubernetes object (or a List of them) into the batch."""
    kind, api = obj.get("kind"), obj.get("apiVersion")
    if kind is None and inherited is not None:
        kind, api = inherited
    r = R(loc, str(kind), batch.sink)
    try:
        if not isinstance(kind, str) or not kind:
            if kind is None:
                r.fail((), "kind is required (the object's type, such as Pod)")
            r.expected(("kind",), kind, "the object's kind, such as Pod")
        if not isinstance(api, str) or not api:
            if api is None:
                r.fail((), f"{kind}: apiVersion is required (such as v1)")
            r.expected(("apiVersion",), api, "an apiVersion such as v1")
        if kind.endswith("List") and "items" in obj:
            items = r.opt_list(obj, "items", (), "a list of objects") or []
            item_kind = (kind[: -len("List")], api) if kind != "List" else None
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    r.expected(("items", i), item, "a Kubernetes object (a mapping with apiVersion and kind)")
                _read_object(batch, item, loc.child(("items", i)), item_kind)
            return
        reader = READERS.get((api, kind))
        if reader is None and kind == "ConfigMap" and api == "v1":
            md = obj.get("metadata")
            name = md.get("name") if isinstance(md, dict) else None
            if name == FLANNEL_CONFIGMAP:
                reader = read_flannel_configmap
            elif isinstance(name, str) and name.startswith(NETWORK_CONFIGMAPS):
                r.note((), f"ConfigMap {name} configures the network but is not read", "skipped-kind")
                return
        if reader is None:
            batch.sink.count(
                "skipped-kind",
                (api, kind),
                loc.span(),
                lambda n, s: (
                    f"{n} {kind} object{s} ({api}) skipped: l2l3 does not read this kind (the first here)"
                ),
            )
            return
        result = reader(r, obj)
        if result is not None:
            batch.add(r, kind if kind != "ConfigMap" else "flannel", _identity(kind, result), result)
    except Invalid as e:
        batch.diags.append(e.diag)
    except RecursionError:
        batch.diags.append(loc.diag((), f"{kind}: nested too deeply to read"))


def _read_root(batch: Batch, value: Any, loc: Loc, json: bool) -> bool:
    """A YAML document or a whole JSON file; False when it is no Kubernetes input at all."""
    if value is None:
        return True
    if isinstance(value, dict):
        if "kind" in value or "apiVersion" in value:
            _read_object(batch, value, loc)
            return True
        if json and is_cni_shape(value):
            _read_cni_root(batch, value, loc, conflist="plugins" in value)
            return True
        if json and is_net_conf_shape(value):
            r = R(loc, "flannel net-conf.json", batch.sink)
            try:
                net = read_net_conf(r, value)
            except Invalid as e:
                batch.diags.append(e.diag)
                return True
            except RecursionError:
                batch.diags.append(loc.diag((), "flannel net-conf.json: nested too deeply to read"))
                return True
            batch.add(
                r,
                "flannel",
                (loc.file, ""),
                FlannelConfig(
                    name=os.path.basename(loc.file),
                    namespace=None,
                    net_conf=net,
                    cni_conf=None,
                    span=net.span,
                ),
            )
            return True
        return False
    if json and isinstance(value, list):
        return False
    batch.diags.append(
        loc.diag(
            (), f"expected a Kubernetes object (a mapping with apiVersion and kind), found {found(value)}"
        )
    )
    return True


def _read_cni_root(batch: Batch, value: Any, loc: Loc, conflist: bool) -> None:
    r = R(loc, "CNI network config", batch.sink)
    try:
        conf = read_cni(r, value, conflist=conflist)
    except Invalid as e:
        batch.diags.append(e.diag)
        return
    except RecursionError:
        batch.diags.append(loc.diag((), "CNI network config: nested too deeply to read"))
        return
    batch.add(r, "cni", _identity("cni", conf), conf)


def _read_json(batch: Batch, file: str, text: str | Window, cni: bool | None, from_disk: bool) -> bool:
    doc = JsonDoc(file, text if isinstance(text, str) else None, reloadable=from_disk)
    fields: dict[str, Any] = {}
    pending: list[tuple[Any, Loc]] = []  # items without a kind, before the List's kind was read
    kubernetes = True
    try:
        for event, value, loc in json_events(doc, text, fields):
            if event == "item":
                if cni is not None:
                    continue
                if isinstance(value, dict) and value.get("kind") is not None:
                    _read_object(batch, value, loc)
                elif isinstance(fields.get("kind"), str) and fields["kind"] != "List":
                    _inherit(batch, value, loc, fields)
                else:
                    pending.append((value, loc))
            elif event == "whole":
                if cni is not None:
                    _read_cni_root(batch, value, loc, conflist=cni)
                else:
                    kubernetes = _read_root(batch, value, loc, json=True)
            else:  # the root of a List, once its items are read
                if cni is not None:
                    _read_cni_root(batch, value, loc, conflist=cni)
                    continue
                kind = value.get("kind")
                if kind is None and value.get("apiVersion") is None:
                    kubernetes = False
                elif not isinstance(kind, str) or not kind.endswith("List"):
                    where = ("kind",) if kind is not None else ()
                    batch.diags.append(
                        loc.diag(
                            where,
                            f"an object with items must be a List (kind: List or a *List), found {found(kind)}",
                        )
                    )
                else:
                    for item, iloc in pending:
                        _inherit(batch, item, iloc, value)
    except KubeError as e:
        batch.diags.extend(e.diagnostics)
    finally:
        doc.release()
    return kubernetes


def _inherit(batch: Batch, item: Any, loc: Loc, root: dict[str, Any]) -> None:
    kind = root.get("kind")
    if not isinstance(item, dict):
        batch.diags.append(
            loc.diag(
                (), f"expected a Kubernetes object (a mapping with apiVersion and kind), found {found(item)}"
            )
        )
        return
    inherited = None
    if isinstance(kind, str) and kind.endswith("List") and kind != "List":
        inherited = (kind[: -len("List")], root.get("apiVersion"))
    _read_object(batch, item, loc, inherited)


def read_file(batch: Batch, file: str, text: str | Window, from_disk: bool) -> bool:
    """One file's text (a big JSON file's: a :class:`Window` on it) into the batch;
    False when it holds no Kubernetes input."""
    ext = os.path.splitext(file)[1].lower()
    if ext in CNI_EXTENSIONS:
        return _read_json(batch, file, text, ext == ".conflist", from_disk)
    if ext == ".json":
        return _read_json(batch, file, text, None, from_disk)
    assert isinstance(text, str)
    any_kubernetes = False
    empty = True
    others: list[Loc] = []
    try:
        for value, loc in yaml_documents(text, file):
            if value is None:
                continue
            empty = False
            if _read_root(batch, value, loc, json=False):
                any_kubernetes = True
            else:
                others.append(loc)
    except KubeError as e:
        batch.diags.extend(e.diagnostics)
        return True
    if any_kubernetes:
        for other in others:
            batch.sink.note(
                other.span(), "a YAML document without kind or apiVersion: skipped", "not-kubernetes"
            )
    return any_kubernetes or empty
