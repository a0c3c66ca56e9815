"""Kubernetes objects and CNI configs as input: the readers (LANGUAGE.md §7).

:func:`load` turns manifests, ``kubectl get … -o yaml|json`` Lists, CNI
network configs and directories into a :class:`Cluster` of typed, frozen
objects, each with the :class:`Span` (file, line, col) it was written at.
Invalid input raises :class:`KubeError`; what is skipped is in
``Cluster.notes``. Turning these objects into the spec model is not done here.
"""

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
