"""The spec as data: frozen types for every statement of the language.

These types are what the DSL produces and what the rest of l2l3 consumes.
They describe *what was written*, normalised (addresses are ``ipaddress``
objects, MACs are lower-case colon form) but not yet cross-referenced; the
derived view used for forwarding lives in :mod:`l2l3.model.network`.

Every object carries a :class:`Span` so that verdicts, hops and errors can
cite the spec line that produced them. Spans never take part in equality,
so a spec rendered and parsed again compares equal to the original.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from l2l3.model.base import NOWHERE as NOWHERE
from l2l3.model.base import OS as OS
from l2l3.model.base import Action as Action
from l2l3.model.base import BridgeKind as BridgeKind
from l2l3.model.base import Proto as Proto
from l2l3.model.base import Span as Span
from l2l3.model.base import StackMode as StackMode
from l2l3.model.base import span_field as _span
from l2l3.model.selector import LabelExpr as LabelExpr
from l2l3.model.selector import Labels as Labels
from l2l3.model.selector import LabelSelector as LabelSelector
from l2l3.model.selector import SelectorOp as SelectorOp
from l2l3.model.services import Service, ServiceRef

# --------------------------------------------------------------------------
# Primitives


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """An L2 broadcast domain between nodes (the underlay LAN)."""

    name: str
    prefix: IPv4Network
    gateway: IPv4Address | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class External:
    """Hosts beyond a segment's gateway; owns the addresses nothing else owns."""

    name: str
    prefix: IPv4Network
    via: str
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Nic:
    name: str
    ip: IPv4Interface
    mac: str | None = None
    segment: str
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Bridge:
    name: str
    kind: BridgeKind
    ip: IPv4Interface | None = None
    mac: str | None = None
    uplink: str | None = None
    hairpin: bool = False
    isolated_ports: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """``route CIDR via IP [dev IF] [onlink]`` or ``route CIDR dev IF``."""

    prefix: IPv4Network
    via: IPv4Address | None = None
    dev: str | None = None
    onlink: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceNat:
    """``masquerade from …`` (``to`` is None) or ``snat from … to IP``."""

    source: IPv4Network
    to: IPv4Address | None = None
    exceptions: tuple[IPv4Network, ...] = ()
    out: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundNat:
    """Windows HNS OutBoundNAT on every endpoint of a bridge."""

    bridge: str
    exceptions: tuple[IPv4Network, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Backend:
    ip: IPv4Address
    port: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Dnat:
    """``dnat IP [tcp|udp] [port N] to IP[:PORT], …``: a Service VIP."""

    vip: IPv4Address
    proto: Proto | None = None
    port: int | None = None
    backends: tuple[Backend, ...]
    # kube-proxy's rules (l2l3.model.profiles.services; not written in specs): match only
    # these sources; KUBE-MARK-MASQ unless from masq_unless (None: never) or when hairpinning
    sources: tuple[IPv4Network, ...] = ()
    masq_unless: tuple[IPv4Network, ...] | None = None
    masq_hairpin: bool = False
    inbound_only: bool = False  # PREROUTING only: not a local process's OUTPUT
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteToHost:
    """HNS ROUTE policy with NeedEncap: endpoint traffic to prefix goes to the host."""

    bridge: str
    prefix: IPv4Network
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Vxlan:
    name: str
    vni: int
    port: int = 8472
    local: IPv4Address
    mac: str | None = None
    ip: IPv4Interface | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Fdb:
    mac: str
    dst: IPv4Address
    dev: str
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Neighbor:
    ip: IPv4Address
    mac: str
    dev: str
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyArp:
    dev: str
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """An ordered FORWARD/INPUT rule of the node stack; first match wins."""

    action: Action
    in_dev: str | None = None
    out_dev: str | None = None
    source: IPv4Network | None = None
    dest: IPv4Network | None = None
    proto: Proto | None = None
    port: int | None = None
    # ``established``: only answers of a connection this stack tracked (conntrack)
    established: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPort:
    """``containers[].ports[]`` of a pod: a number, a protocol, maybe a name.

    Named ports of a policy resolve against these, per destination pod.
    """

    port: int
    proto: Proto = Proto.TCP
    name: str | None = None
    host_port: int | None = None  # hostPort: the portmap plugin's DNAT (l2l3.model.profiles.services)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """A pod. ``ip``/``bridge`` are None for host-network pods.

    ``ip`` may lack a prefix length under a profile (written ``ip 10.244.1.5``);
    the DSL then stores a /32 and sets ``ip_has_prefix`` False so that the
    profile expansion can apply the node subnet's length.
    """

    name: str
    ip: IPv4Interface | None = None
    ip_has_prefix: bool = True
    mac: str | None = None
    bridge: str | None = None
    mode: StackMode = StackMode.NETNS
    namespace: str = "default"
    labels: Labels = ()
    ports: tuple[ContainerPort, ...] = ()
    routes: tuple[Route, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespaceDecl:
    """``namespace NAME [labels K=V …]``: a Kubernetes Namespace and its labels.

    Every namespace also carries ``kubernetes.io/metadata.name=NAME``
    (added when matching, not stored here); a namespace that pods or
    policies use but no declaration names has only that label.
    """

    name: str
    labels: Labels = ()
    span: Span = _span()


#: The label the API server puts on every namespace (its name).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A host. Statement lists keep the order in which they were written."""

    name: str
    os: OS
    nics: tuple[Nic, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    pods: tuple[Pod, ...] = ()
    routes: tuple[Route, ...] = ()
    snats: tuple[SourceNat, ...] = ()
    outbound_nats: tuple[OutboundNat, ...] = ()
    dnats: tuple[Dnat, ...] = ()
    routes_to_host: tuple[RouteToHost, ...] = ()
    vxlans: tuple[Vxlan, ...] = ()
    fdbs: tuple[Fdb, ...] = ()
    neighbors: tuple[Neighbor, ...] = ()
    proxy_arps: tuple[ProxyArp, ...] = ()
    filters: tuple[Filter, ...] = ()
    forwarding: bool = True
    enforce_policy: bool = False
    # The CNI profile that produced this node, for messages only.
    cni: str | None = field(default=None, compare=False)
    # Shorthand of section 2: ``node NAME OS ip IP on SEGMENT subnet CIDR``.
    ip: IPv4Address | None = None
    segment: str | None = None
    subnet: IPv4Network | None = None
    span: Span = _span()


# --------------------------------------------------------------------------
# Profiles


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """``cluster NAME { pod-cidr …; service-cidr …; cni PROFILE [OPTION …] }``.

    ``cni`` holds the profile words, e.g. ``("flannel", "host-gw")`` or
    ``("bridge",)``; ``options`` holds ``KEY VALUE`` settings such as
    ``ipmasq on`` (stored as ``("ipmasq", "on")``).
    """

    name: str
    pod_cidr: IPv4Network | None = None
    service_cidr: IPv4Network | None = None
    cni: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    span: Span = _span()


# --------------------------------------------------------------------------
# Policies


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectorPeer:
    """A ``podSelector`` and/or ``namespaceSelector`` peer, with Kubernetes meaning.

    ``pods`` only: the matching pods of the policy's own namespace;
    ``namespaces`` only: every pod of the matching namespaces; both: the
    matching pods of the matching namespaces. ``namespaces=LabelSelector()``
    is every namespace. (Neither is not a Kubernetes peer; it is read as
    every pod of the policy's namespace.) Host-network pods are never selected.
    """

    pods: LabelSelector | None = None
    namespaces: LabelSelector | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CidrPeer:
    """``ipBlock``: addresses of ``cidr`` outside the exceptions (pod addresses too)."""

    cidr: IPv4Network
    exceptions: tuple[IPv4Network, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyPeer:
    """``all`` — or a rule written with no peer."""


Peer = SelectorPeer | CidrPeer | AnyPeer


@dataclass(frozen=True, slots=True, kw_only=True)
class PortSpec:
    """A rule's port: protocol, then a number, a named container port or a range.

    ``port`` None is every port of ``proto``; a ``str`` names a container
    port, resolved per destination pod (name and protocol must both match;
    a pod without it matches nothing); ``end_port`` makes ``port..end_port``.
    """

    proto: Proto
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRule:
    """One ``ingress`` or ``egress`` rule: any peer AND any port spec."""

    peers: tuple[Peer, ...] = ()
    ports: tuple[PortSpec, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A Kubernetes NetworkPolicy.

    ``types`` is the set of directions the policy isolates. When not written
    it is, as in Kubernetes, ingress always plus egress if any egress rule.
    """

    name: str
    namespace: str
    select: LabelSelector = LabelSelector()
    ingress: tuple[PolicyRule, ...] = ()
    egress: tuple[PolicyRule, ...] = ()
    types: frozenset[str] | None = None
    span: Span = _span()

    @property
    def directions(self) -> frozenset[str]:
        if self.types is not None:
            return self.types
        return frozenset({"ingress"} | ({"egress"} if self.egress else set()))


# --------------------------------------------------------------------------
# Checks


@dataclass(frozen=True, slots=True, kw_only=True)
class PodRef:
    node: str
    pod: str

    def __str__(self) -> str:
        return f"{self.node}/{self.pod}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PodNsRef:
    """``pod NS/NAME``: a pod by namespace and name, wherever it runs."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"pod {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRef:
    node: str

    def __str__(self) -> str:
        return f"node {self.node}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NamespaceRef:
    namespace: str

    def __str__(self) -> str:
        return f"namespace {self.namespace}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelRef:
    """``pods SEL`` (every namespace) or ``namespace NS pods SEL``."""

    selector: LabelSelector
    namespace: str | None = None

    def __str__(self) -> str:
        ns = f"namespace {self.namespace} " if self.namespace is not None else ""
        return f"{ns}pods {self.selector}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalRef:
    name: str

    def __str__(self) -> str:
        return f"external {self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressRef:
    """An address literal; a prefix stands for "some address of it"."""

    prefix: IPv4Network

    def __str__(self) -> str:
        if self.prefix.prefixlen == 32:
            return str(self.prefix.network_address)
        return str(self.prefix)


EndpointRef = PodRef | PodNsRef | NodeRef | NamespaceRef | LabelRef | ExternalRef | AddressRef | ServiceRef


class NatMode(enum.Enum):
    ANY = "any"
    WITH = "with nat"
    WITHOUT = "without nat"


@dataclass(frozen=True, slots=True, kw_only=True)
class Headers:
    """The header constraints a query places on the packet sent."""

    proto: Proto | None = None
    port: int | None = None

    def __str__(self) -> str:
        parts = [str(self.proto)] if self.proto else []
        if self.port is not None:
            parts.append(f"port {self.port}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """``[no] reach A -> B [proto] [port N] [via mac] [with nat|without nat]``."""

    src: EndpointRef
    dst: EndpointRef
    negated: bool = False
    headers: Headers = Headers()
    via_mac: bool = False
    nat: NatMode = NatMode.ANY

    def __str__(self) -> str:
        verb = "connect" if isinstance(self, Connect) else "reach"
        words = [f"no {verb}" if self.negated else verb, str(self.src), "->", str(self.dst)]
        if str(self.headers):
            words.append(str(self.headers))
        if self.via_mac:
            words.append("via mac")
        if self.nat is not NatMode.ANY:
            words.append(self.nat.value)
        return " ".join(words)


@dataclass(frozen=True, slots=True, kw_only=True)
class Isolated:
    a: EndpointRef
    b: EndpointRef
    headers: Headers = Headers()

    def __str__(self) -> str:
        tail = f" {self.headers}" if str(self.headers) else ""
        return f"isolated {self.a} <-> {self.b}{tail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NatAs:
    src: EndpointRef
    dst: EndpointRef
    ip: IPv4Address
    headers: Headers = Headers()

    def __str__(self) -> str:
        tail = f" {self.headers}" if str(self.headers) else ""
        return f"nat {self.src} -> {self.dst}{tail} as {self.ip}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NetnsIsolation:
    node: str | None = None

    def __str__(self) -> str:
        return "netns-isolation" + (f" on {self.node}" if self.node else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class NoLoops:
    def __str__(self) -> str:
        return "no loops"


@dataclass(frozen=True, slots=True, kw_only=True)
class Connect(Reach):
    """``[no] connect A -> B …`` (LANGUAGE.md §8): a request and its answer (a
    ``Reach`` by its fields; test for ``Connect`` before ``Reach``)."""


Query = Connect | Reach | Isolated | NatAs | NetnsIsolation | NoLoops


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    name: str
    query: Query
    span: Span = _span()


# --------------------------------------------------------------------------
# A whole spec


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """Everything one file says, in the order written."""

    file: str = "<spec>"
    cluster: Cluster | None = None
    namespaces: tuple[NamespaceDecl, ...] = ()
    segments: tuple[Segment, ...] = ()
    externals: tuple[External, ...] = ()
    nodes: tuple[Node, ...] = ()
    policies: tuple[Policy, ...] = ()
    services: tuple[Service, ...] = ()
    checks: tuple[Check, ...] = ()
    source: str = field(default="", compare=False, repr=False)
