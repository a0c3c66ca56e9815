"""Basic values of the spec types: source spans and the enumerations.

Re-exported by :mod:`l2l3.model.types`, which is where the rest of l2l3
imports them from.
"""

from __future__ import annotations

import enum
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """Where a statement was written: file, 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


#: The span of facts that no spec line states (connected routes, defaults).
NOWHERE = Span("<implicit>", 0, 0)


def span_field() -> Span:
    """A ``span`` field: defaults to NOWHERE, never compared, not shown."""
    return field(default=NOWHERE, compare=False, repr=False)  # type: ignore[return-value]


class OS(enum.Enum):
    LINUX = "linux"
    WINDOWS = "windows"


class BridgeKind(enum.Enum):
    LINUX = "linux"
    # Linux bridge: L2 by destination MAC among its ports.
    L2BRIDGE = "l2bridge"
    # Windows HNS L2Bridge vSwitch: MAC rewrite to the host NIC's on the uplink.
    OVS = "ovs"
    # Open vSwitch bridge as Antrea uses it: L2 within the node.
    VETH = "veth"
    # Extension: a veth pair seen as a two-port link. The bridge's name is the
    # host end (an interface of the node stack, with the bridge's ip and mac);
    # the one pod on it holds the other end (ptp, kindnet, Calico's cali*).
    MACVLAN = "macvlan"
    # Extension: macvlan children of the uplink NIC, in bridge mode. The pods
    # sit on the uplink's segment with their own MACs; the host stack cannot
    # exchange frames with its own children (kernel behaviour).


class StackMode(enum.Enum):
    NETNS = "netns"
    # The pod has a private stack (Linux netns / Windows compartment).
    NO_NETNS = "no-netns"
    # The pod has an endpoint, but its address joins the node's stack.
    HOST_NETWORK = "host-network"
    # The pod has no endpoint: it is a process of the node's stack.


class Proto(enum.IntEnum):
    ICMP = 1
    TCP = 6
    UDP = 17
    SCTP = 132

    def __str__(self) -> str:
        return self.name.lower()


class Action(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


@contextmanager
def quiet_gc() -> Iterator[None]:
    """The cyclic garbage collector off for the block (and back as it was after).

    Loading a big spec or cluster (parsing, translating, expanding, building
    the network) makes millions of objects and no reference cycles; the
    collector's passes over them cost more than the work (150,000 pods: the
    parse 54 s of CPU with it on, 33 s off; profile expansion 11 s off,
    400-700 s on when translated from manifests).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
