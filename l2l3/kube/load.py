"""Read what a user has — manifests, ``kubectl get -o yaml|json`` Lists, CNI
network configs, directories — into one :class:`Cluster` of typed objects.

    from l2l3.kube import load
    cluster = load(["cluster-dump/", "10-calico.conflist"])

A PATH is a manifest (``.yaml``, ``.yml``, ``.json``: one object, several
YAML documents, a ``kind: List`` or any ``*List``), a CNI network config
(``.conflist``, ``.conf``), a ``.l2l3`` spec (returned as a path, not read),
or a directory: every such file under it, recursively, in path order
(component by component), hidden files and directories skipped. All the
paths given make one cluster.

Invalid input raises :class:`~l2l3.kube.errors.KubeError` with every problem
found (reading goes on past a bad object, so one run shows them all). What
is skipped is said in ``Cluster.notes``.

A JSON file above ``jsontext.CHUNK_BYTES`` is read in chunks and its List
items decoded one at a time, so it is never whole in memory; the spans of
values below an item are found when first used, which reads that file
again (once, and only if it did not change; else they fall back to the
item's own span). The garbage collector is paused while reading: the
readers make no reference cycles, and its passes over millions of young
objects cost more than the parsing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from l2l3.kube import jsontext
from l2l3.kube.dispatch import CNI_EXTENSIONS, MANIFEST_EXTENSIONS, SPEC_EXTENSIONS, Batch, read_file
from l2l3.kube.errors import Diagnostic, KubeError, Note, Span
from l2l3.kube.fields import Sink
from l2l3.kube.frozen import FrozenMap
from l2l3.kube.jsontext import Window
from l2l3.kube.objects import (
    CniConfig,
    EndpointSlice,
    FlannelConfig,
    Namespace,
    NetworkPolicy,
    Node,
    Pod,
    Service,
)
from l2l3.kube.source import read_text
from l2l3.model.base import quiet_gc

__all__ = ["Cluster", "load", "load_text"]

JSON_EXTENSIONS = (".json", ".conflist", ".conf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """Everything read from the inputs, in the order read.

    ``namespaces`` holds the declared ones, then those that objects live in
    without a Namespace object (``declared=False``). ``spec_files`` are the
    ``.l2l3`` files found; ``other_files`` the files that hold no Kubernetes
    object or CNI config (PowerShell's HNS dumps, for instance), left for
    other readers. ``files`` lists every file read.
    """

    namespaces: tuple[Namespace, ...] = ()
    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()
    services: tuple[Service, ...] = ()
    endpoint_slices: tuple[EndpointSlice, ...] = ()
    cni_configs: tuple[CniConfig, ...] = ()
    flannel_configs: tuple[FlannelConfig, ...] = ()
    spec_files: tuple[str, ...] = ()
    other_files: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()

    def namespace(self, name: str) -> Namespace | None:
        return next((n for n in self.namespaces if n.name == name), None)

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def pod(self, namespace: str, name: str) -> Pod | None:
        return next((p for p in self.pods if p.namespace == namespace and p.name == name), None)


# ------------------------------------------------------------------- files


def _walk(directory: str, out: list[str], seen: set[str]) -> None:
    real = os.path.realpath(directory)
    if real in seen:
        return
    seen.add(real)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            _walk(entry.path, out, seen)
        elif entry.name.lower().endswith(MANIFEST_EXTENSIONS + CNI_EXTENSIONS + SPEC_EXTENSIONS):
            out.append(entry.path)


def _files(paths: Iterable[str | os.PathLike[str]], diags: list[Diagnostic]) -> list[str]:
    out: list[str] = []
    for p in paths:
        path = os.fspath(p)
        if os.path.isdir(path):
            _walk(path, out, set())
        elif os.path.exists(path):
            if path.lower().endswith(MANIFEST_EXTENSIONS + CNI_EXTENSIONS + SPEC_EXTENSIONS):
                out.append(path)
            else:
                diags.append(
                    Diagnostic(
                        file=path,
                        line=1,
                        col=1,
                        message="not a manifest (.yaml, .yml, .json), a CNI network config (.conflist, .conf) or a spec (.l2l3)",
                    )
                )
        else:
            diags.append(Diagnostic(file=path, line=1, col=1, message="no such file or directory"))
    unique: list[str] = []
    real_seen: set[str] = set()
    for f in out:
        real = os.path.realpath(f)
        if real not in real_seen:
            real_seen.add(real)
            unique.append(f)
    return unique


class _Loader:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, Any], Span] = {}
        self.objects: dict[str, list[Any]] = {}
        self.sink = Sink()
        self.diags: list[Diagnostic] = []
        self.spec_files: list[str] = []
        self.other_files: list[str] = []
        self.files: list[str] = []

    def text(self, file: str, text: str | Window, from_disk: bool = True) -> None:
        batch = Batch(self.seen)
        if read_file(batch, file, text, from_disk):
            self.seen.update(batch.mine)
            for kind, obj in batch.objects:
                self.objects.setdefault(kind, []).append(obj)
            self.sink.merge(batch.sink)
            self.diags.extend(batch.diags)
        else:
            self.other_files.append(file)
            self.sink.note(
                Span(file, 1, 1),
                "holds no Kubernetes object or CNI config: left for other readers",
                "not-kubernetes",
            )
        self.files.append(file)

    def file(self, file: str) -> None:
        if file.lower().endswith(SPEC_EXTENSIONS):
            self.spec_files.append(file)
            return
        try:
            if file.lower().endswith(JSON_EXTENSIONS) and os.path.getsize(file) > jsontext.CHUNK_BYTES:
                try:  # a big JSON file is read in chunks: never whole in memory
                    self.text(file, Window(chunks=jsontext.json_chunks(file)))
                    return
                except UnicodeDecodeError:
                    pass  # read it whole, for the bad byte's line and column
            self.text(file, read_text(file))
        except KubeError as e:
            self.diags.extend(e.diagnostics)
        except OSError as e:
            self.diags.append(Diagnostic(file=file, line=1, col=1, message=f"cannot read: {e.strerror or e}"))

    def cluster(self) -> Cluster:
        if self.diags:
            keep = KubeError.MAX_DIAGNOSTICS
            raise KubeError(self.diags[:keep], more=max(0, len(self.diags) - keep))
        o = self.objects
        namespaces: list[Namespace] = list(o.get("Namespace", []))
        declared = {n.name for n in namespaces}
        for kind in ("Pod", "NetworkPolicy", "Service", "EndpointSlice"):
            for obj in o.get(kind, []):
                if obj.namespace not in declared:
                    declared.add(obj.namespace)
                    namespaces.append(
                        Namespace(
                            name=obj.namespace,
                            labels=FrozenMap({"kubernetes.io/metadata.name": obj.namespace}),
                            declared=False,
                            span=obj.span,
                        )
                    )
                    self.sink.note(
                        obj.span,
                        f"namespace {obj.namespace} has no Namespace object: assumed to exist, with no labels "
                        "but kubernetes.io/metadata.name",
                        "implicit-namespace",
                    )
        return Cluster(
            namespaces=tuple(namespaces),
            nodes=tuple(o.get("Node", [])),
            pods=tuple(o.get("Pod", [])),
            policies=tuple(o.get("NetworkPolicy", [])),
            services=tuple(o.get("Service", [])),
            endpoint_slices=tuple(o.get("EndpointSlice", [])),
            cni_configs=tuple(o.get("cni", [])),
            flannel_configs=tuple(o.get("flannel", [])),
            spec_files=tuple(self.spec_files),
            other_files=tuple(self.other_files),
            files=tuple(self.files),
            notes=tuple(self.sink.result()),
        )


def _quiet_gc(run: Callable[[], Cluster]) -> Cluster:
    with quiet_gc():  # the readers make no reference cycles (see quiet_gc)
        return run()


def load(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Cluster:
    """Read every path (files and directories) into one :class:`Cluster`.

    Raises :class:`~l2l3.kube.errors.KubeError` with every problem found.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]

    def run() -> Cluster:
        loader = _Loader()
        for file in _files(paths, loader.diags):
            loader.file(file)
        return loader.cluster()

    return _quiet_gc(run)


def load_text(text: str, file: str = "<input>.yaml") -> Cluster:
    """Read one file's ``text`` as if from ``file`` (its extension tells the format)."""

    def run() -> Cluster:
        loader = _Loader()
        if file.lower().endswith(SPEC_EXTENSIONS):
            loader.spec_files.append(file)
        else:
            loader.text(file, text[1:] if text.startswith("\ufeff") else text, from_disk=False)
        return loader.cluster()

    return _quiet_gc(run)
