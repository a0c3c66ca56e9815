"""Kubernetes objects and CNI configs as input: the readers (LANGUAGE.md §7).

:func:`load` turns manifests, ``kubectl get … -o yaml|json`` Lists, CNI
network configs and directories into a :class:`Cluster` of typed, frozen
objects, each with the :class:`Span` (file, line, col) it was written at.
Invalid input raises :class:`KubeError`; what is skipped is in
``Cluster.notes``. Turning these objects into the spec model is not done here.
"""

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from l2l3.kube.errors import Diagnostic, KubeError, Note, Span
    from l2l3.kube.frozen import FrozenMap
    from l2l3.kube.load import Cluster, load, load_text
    from l2l3.kube.objects import (
        CniConfig,
        CniPlugin,
        Container,
        ContainerPort,
        Endpoint,
        EndpointPort,
        EndpointSlice,
        FlannelConfig,
        FlannelNetConf,
        IPBlock,
        LabelRequirement,
        LabelSelector,
        Namespace,
        NetworkPolicy,
        Node,
        Pod,
        PolicyPeer,
        PolicyPort,
        PolicyRule,
        Service,
        ServicePort,
        TargetRef,
    )

#: Where each public name lives; imported on first use (a plain ``.l2l3`` check
#: never loads the readers, ruamel.yaml or the Windows state readers).
_WHERE = {
    "Diagnostic": "l2l3.kube.errors",
    "KubeError": "l2l3.kube.errors",
    "Note": "l2l3.kube.errors",
    "Span": "l2l3.kube.errors",
    "FrozenMap": "l2l3.kube.frozen",
    "Cluster": "l2l3.kube.load",
    "load": "l2l3.kube.load",
    "load_text": "l2l3.kube.load",
    "CniConfig": "l2l3.kube.objects",
    "CniPlugin": "l2l3.kube.objects",
    "Container": "l2l3.kube.objects",
    "ContainerPort": "l2l3.kube.objects",
    "Endpoint": "l2l3.kube.objects",
    "EndpointPort": "l2l3.kube.objects",
    "EndpointSlice": "l2l3.kube.objects",
    "FlannelConfig": "l2l3.kube.objects",
    "FlannelNetConf": "l2l3.kube.objects",
    "IPBlock": "l2l3.kube.objects",
    "LabelRequirement": "l2l3.kube.objects",
    "LabelSelector": "l2l3.kube.objects",
    "Namespace": "l2l3.kube.objects",
    "NetworkPolicy": "l2l3.kube.objects",
    "Node": "l2l3.kube.objects",
    "Pod": "l2l3.kube.objects",
    "PolicyPeer": "l2l3.kube.objects",
    "PolicyPort": "l2l3.kube.objects",
    "PolicyRule": "l2l3.kube.objects",
    "Service": "l2l3.kube.objects",
    "ServicePort": "l2l3.kube.objects",
    "TargetRef": "l2l3.kube.objects",
}

__all__ = [
    "CniConfig",
    "CniPlugin",
    "Cluster",
    "Container",
    "ContainerPort",
    "Diagnostic",
    "Endpoint",
    "EndpointPort",
    "EndpointSlice",
    "FlannelConfig",
    "FlannelNetConf",
    "FrozenMap",
    "IPBlock",
    "KubeError",
    "LabelRequirement",
    "LabelSelector",
    "Namespace",
    "NetworkPolicy",
    "Node",
    "Note",
    "Pod",
    "PolicyPeer",
    "PolicyPort",
    "PolicyRule",
    "Service",
    "ServicePort",
    "Span",
    "TargetRef",
    "load",
    "load_text",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


class _Package(ModuleType):
    """The package, keeping ``l2l3.kube.load`` the function once the submodule of that name is imported.

    Importing a submodule sets it as an attribute of its package; the eager
    ``from l2l3.kube.load import load`` used to rebind the name afterwards.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and name in _WHERE:
            return  # the submodule stays in sys.modules; the name is the function
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
