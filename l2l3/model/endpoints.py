"""Endpoints of queries: what a name in a check stands for, as sender and receiver.

This is the one place that resolves names (``n1/web``, ``pod shop/web``,
``node n1``, ``namespace shop``, ``pods app=web``, ``namespace shop pods
app=web``, ``external web``, an address literal, and as a destination
``service NS/NAME``) and says which addresses an endpoint sends from. The checker, the API's
``trace``, the kernel probes and the tests all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from l2l3.errors import QueryError
from l2l3.model.network import Network, PodInfo
from l2l3.model.services import Service
from l2l3.model.simulate import Origin
from l2l3.model.types import (
    AddressRef,
    EndpointRef,
    ExternalRef,
    LabelRef,
    NamespaceRef,
    NodeRef,
    PodNsRef,
    PodRef,
    Proto,
    ServiceRef,
    StackMode,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One sender/receiver.

    As a sender: ``stack`` (or ``external``) sends, as process of ``pod`` if
    set, from address ``src`` (None: a stack picks the address of the
    interface its route leaves by; an external any address it owns, inside
    ``prefix`` when one is given). As a receiver: a packet counts when
    delivered into ``stack`` (or ``external``); for an address endpoint,
    when sent to ``prefix`` and delivered anywhere.
    """

    label: str
    stack: str | None = None
    pod: str | None = None
    external: str | None = None
    src: IPv4Address | None = None
    prefix: IPv4Network | None = None
    address: IPv4Address | None = None  # a typical address to send to
    iface: str | None = None  # the pod's own endpoint interface
    #: a ``service`` destination: the (receiver, protocol, port) a packet must arrive at
    arrive: frozenset[tuple[str, Proto, int]] | None = None
    #: a ``service`` destination: the (protocol, port)s it is sent to
    ports: tuple[tuple[Proto, int], ...] = ()

    @property
    def key(self) -> tuple[object, ...]:
        """Equal for two endpoints that are the same one (a self pair)."""
        return (self.stack, self.pod, self.external, self.prefix)

    def same_as(self, other: Endpoint) -> bool:
        """Whether ``other`` is this very endpoint."""
        return self.key == other.key

    @property
    def origin(self) -> Origin:
        """Who sends, for the simulator and the engine."""
        return Origin(stack=self.stack, pod=self.pod, external=self.external)

    @property
    def place(self) -> str | None:
        """The receiving place id (a stack id or ``external NAME``); None for an address literal."""
        if self.stack is not None and self.prefix is None:
            return self.stack
        if self.external is not None and self.prefix is None:
            return f"external {self.external}"
        return None


def single(ref: EndpointRef) -> bool:
    """Whether the form of ``ref`` names exactly one endpoint (a pod, a node, an external).

    A pair of such an endpoint with itself is checked (a packet to one's own
    address is delivered locally); set forms (namespaces, labels, ranges)
    leave their self pairs out and say so.
    """
    return isinstance(ref, PodRef | PodNsRef | NodeRef | ExternalRef)


def pod_endpoint(net: Network, pid: str) -> Endpoint:
    """The endpoint of pod ``pid`` ("NODE/POD"), memoised on the network."""
    hit = net.endpoint_cache.get(pid)
    if hit is None:
        hit = net.endpoint_cache[pid] = _make_pod_endpoint(net, pid)
    return hit


def _make_pod_endpoint(net: Network, pid: str) -> Endpoint:
    info = net.pods[pid]
    pod = info.pod
    own = pod.ip.ip if pod.ip is not None and pod.mode is not StackMode.HOST_NETWORK else None
    addr = own if own is not None else _first_addr(net, info.stack)
    # a no-netns pod's processes share the node's stack: like the node's, an
    # unbound socket of theirs takes the route's source (bound_sources adds its own)
    src = None if pod.mode is StackMode.NO_NETNS else own
    return Endpoint(pid, stack=info.stack, pod=pid, src=src, address=addr, iface=info.iface)


def bound_sources(info: PodInfo | None) -> tuple[IPv4Address, ...]:
    """Addresses a sender that picks no fixed ``src`` may bind besides the route's source.

    A ``no-netns`` pod shares its node's stack: a socket left unbound sends
    from the preferred source of the route (as the node does), one bound to
    the pod's own address sends from that. Every other sender: none (a node
    or host-network process binding another local address is not modelled;
    docs/semantics.md says what that means for ``nat … as``).
    """
    if info is None or info.pod.mode is not StackMode.NO_NETNS or info.pod.ip is None:
        return ()
    return (info.pod.ip.ip,)


def _first_addr(net: Network, stack: str) -> IPv4Address | None:
    for i in net.stacks[stack].ifaces.values():
        if i.primary is not None:
            return i.primary
    return None


def send_address(net: Network, ep: Endpoint, dst: IPv4Address) -> IPv4Address | None:
    """The source address ``ep`` writes into a packet to ``dst`` when nothing binds one.

    A fixed ``src`` (a pod's own address) wins; a stack takes the primary
    address of the device its route to ``dst`` leaves by (its first address
    when no route matches); an external its first owned host address
    (inside ``prefix`` when given). None when the endpoint has no address at all.
    """
    if ep.src is not None:
        return ep.src
    if ep.stack is not None:
        st = net.stacks[ep.stack]
        r = net.lookup(st, dst)
        a = st.primary_addr(r.dev) if r is not None else None
        return a or _first_addr(net, ep.stack)
    if ep.external is not None:
        return _first_owned_host(net, ep.external, ep.prefix)
    return None


def _first_owned_host(net: Network, name: str, within: IPv4Network | None) -> IPv4Address:
    e = net.externals[name]
    space = within if within is not None and within.subnet_of(e.prefix) else e.prefix
    if space.prefixlen >= 31:
        return space.network_address
    return next((a for a in space.hosts() if net.external_owner(a) == name), space.network_address)


def external_address(net: Network, name: str, within: IPv4Network | None = None) -> IPv4Address:
    """A typical address external ``name`` owns (inside ``within`` when given)."""
    e = net.externals[name]
    space = within if within is not None and within.subnet_of(e.prefix) else e.prefix
    return next((a for a in _sample(space) if net.external_owner(a) == e.name), space.network_address)


def resolve(net: Network, ref: EndpointRef) -> list[Endpoint]:
    """Every endpoint ``ref`` stands for (sorted, stable); QueryError for unknown names."""
    if isinstance(ref, PodRef | PodNsRef):
        return [pod_endpoint(net, pod_id(net, ref))]
    if isinstance(ref, NodeRef):
        if ref.node not in net.stacks or net.stacks[ref.node].kind != "node":
            raise QueryError(f"no node {ref.node}")
        return [Endpoint(f"node {ref.node}", stack=ref.node, address=_first_addr(net, ref.node))]
    if isinstance(ref, NamespaceRef):
        return [pod_endpoint(net, p) for p in net.pods_in_namespace(ref.namespace)]
    if isinstance(ref, LabelRef):
        ids = net.pods_in_namespace(ref.namespace) if ref.namespace is not None else sorted(net.pods)
        return [pod_endpoint(net, p) for p in ids if ref.selector.matches(net.pods[p].pod.labels)]
    if isinstance(ref, ExternalRef):
        if ref.name not in net.externals:
            raise QueryError(f"no external {ref.name}")
        addr = external_address(net, ref.name)
        return [Endpoint(f"external {ref.name}", external=ref.name, address=addr)]
    if isinstance(ref, AddressRef):
        return _address_senders(net, ref)
    if isinstance(ref, ServiceRef):
        return service_senders(net, ref)
    raise QueryError(f"unknown endpoint {ref!r}")


def pod_id(net: Network, ref: PodRef | PodNsRef) -> str:
    """The id of the one pod ``ref`` names; QueryError if none or several.

    ``NODE/POD`` is the pod of that name on the node, unless the node has
    two of that name (in different namespaces): then ``pod NS/NAME`` (or
    ``NODE/NS/POD``, the model's id of such a pod) says which. ``pod NS/NAME`` is the pod of that namespace and name on
    whichever node; a spec that has it on two nodes must use ``NODE/POD``.
    """
    if isinstance(ref, PodRef):
        pid = f"{ref.node}/{ref.pod}"
        if pid in net.pods:
            return pid
        ns, _, name = ref.pod.rpartition("/")  # NODE/NS/POD also names a pod whose id is NODE/POD
        if ns:
            key = (ref.node, ns, name)
            hit = [p for p, i in net.pods.items() if (i.node, i.pod.namespace, i.pod.name) == key]
            if hit:
                return hit[0]
        same = sorted(
            i.pod.namespace for i in net.pods.values() if i.node == ref.node and i.pod.name == ref.pod
        )
        if len(same) > 1:
            raise QueryError(
                f"node {ref.node} has pods {ref.pod} in namespaces {', '.join(same)}: "
                f"write pod {same[0]}/{ref.pod} (or another namespace)"
            )
        raise QueryError(f"no pod {pid}")
    found = [p for p in net.pods_in_namespace(ref.namespace) if net.pods[p].pod.name == ref.name]
    if not found:
        raise QueryError(f"no pod {ref.name} in namespace {ref.namespace}")
    if len(found) > 1:
        nodes = ", ".join(net.pods[p].node for p in found)
        raise QueryError(f"{ref} is on nodes {nodes}: write NODE/{ref.name}")
    return found[0]


def _sample(prefix: IPv4Network) -> list[IPv4Address]:
    first = int(prefix.network_address)
    n = min(prefix.num_addresses, 64)
    picks = [first + prefix.num_addresses // 2 + k for k in range(n // 2)] + [first + k for k in range(n)]
    return [IPv4Address(x) for x in picks if IPv4Address(x) in prefix]


def _address_senders(net: Network, ref: AddressRef) -> list[Endpoint]:
    """Whoever owns addresses in the prefix; else the external that owns it.

    A source address that no stack and no external owns cannot send: that
    is an input error (LANGUAGE.md section 4), not an empty set.
    """
    out: list[Endpoint] = []
    for ip, ifaces in sorted(net.owners.items()):
        if ip not in ref.prefix:
            continue
        i = ifaces[0]
        out.append(Endpoint(str(ip), stack=i.stack, pod=i.pod, src=ip, prefix=ref.prefix, address=ip))
    if out:
        return out
    ext = net.external_owner(ref.prefix.network_address)
    if ext is None:
        raise QueryError(f"no stack and no external owns {ref}, so it cannot be a source")
    one = ref.prefix.prefixlen == 32
    return [
        Endpoint(
            str(ref),
            external=ext,
            src=ref.prefix.network_address if one else None,
            prefix=ref.prefix,
            address=ref.prefix.network_address,
        )
    ]


def as_destination(net: Network, ref: EndpointRef) -> list[Endpoint]:
    """Every receiver ``ref`` stands for; an address range is one destination."""
    if isinstance(ref, AddressRef):
        return [Endpoint(str(ref), prefix=ref.prefix, address=ref.prefix.network_address)]
    if isinstance(ref, ServiceRef):
        return service_destinations(net, ref)
    return resolve(net, ref)


def find_service(net: Network, ref: ServiceRef) -> Service:
    """The Service ``ref`` names; QueryError if the spec has none of that name."""
    for svc in net.spec.services:
        if (svc.namespace, svc.name) == (ref.namespace, ref.name):
            return svc
    known = ", ".join(sorted(s.ref for s in net.spec.services)) or "none"
    raise QueryError(f"no {ref} (Services: {known})")


def service_senders(net: Network, ref: ServiceRef) -> list[Endpoint]:
    """``service NS/NAME`` as a sender (``isolated``, the far side): its ready endpoints' pods.

    A Service sends nothing itself; what answers and calls out for it are
    the processes behind its endpoint addresses (a pod, else whichever
    stack owns the address).
    """
    from l2l3.model.profiles.services import targets

    out: list[Endpoint] = []
    for ip in sorted({t.ip for t in targets(net, find_service(net, ref)) if t.stack is not None}):
        owner = net.owners[ip][0]
        if owner.pod is not None and owner.pod in net.pods:
            out.append(pod_endpoint(net, owner.pod))
        else:
            out.extend(_address_senders(net, AddressRef(prefix=IPv4Network(ip))))
    return out


def service_destinations(net: Network, ref: ServiceRef) -> list[Endpoint]:
    """``service NS/NAME`` as receivers (LANGUAGE.md section 9).

    A packet counts when sent to the cluster IP on one of the Service's
    ports (the check's headers narrow them) and delivered into the stack of
    one of its ready endpoints at that port's target port: one destination.
    A packet that leaves by a default route towards an external that owns
    the cluster IP does not count. A headless Service has no cluster IP: its
    clients get the endpoints' addresses from DNS, so each endpoint address
    is a destination of its own, reached at its target port. No ready
    endpoint: nothing can arrive (the check says so).
    """
    from l2l3.model.profiles.services import targets  # the profile layer imports this module's peers

    svc = find_service(net, ref)
    ts = [t for t in targets(net, svc) if t.stack is not None]
    ports = tuple((p.proto, p.port) for p in svc.ports)
    label = str(ref)
    if svc.ip is not None:
        arrive = frozenset((t.stack, t.port.proto, t.target_port) for t in ts if t.stack is not None)
        vip = IPv4Network(svc.ip)
        return [Endpoint(label, prefix=vip, address=svc.ip, arrive=arrive, ports=ports)]
    out = []
    for ip in sorted({t.ip for t in ts}):
        arrive = frozenset((t.stack, t.port.proto, t.target_port) for t in ts if t.ip == ip and t.stack)
        mine = tuple(sorted({(t.port.proto, t.target_port) for t in ts if t.ip == ip}))
        out.append(Endpoint(f"{label} ({ip})", prefix=IPv4Network(ip), address=ip, arrive=arrive, ports=mine))
    return out


def check_query_endpoints(net: Network, q: object) -> None:
    """Resolve every endpoint ``q`` names, raising QueryError for the first that cannot be.

    Sources resolve as senders (an unowned address cannot send) and
    destinations as receivers, exactly as the checker will use them.
    """
    for field, role in (("src", resolve), ("dst", as_destination), ("a", resolve), ("b", resolve)):
        ref = getattr(q, field, None)
        if ref is not None:
            role(net, ref)
