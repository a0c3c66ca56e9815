"""Endpoints of queries: what a name in a check stands for, as sender and receiver."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from l2l3.errors import QueryError
from l2l3.model.network import Network
from l2l3.model.policy import labels_match
from l2l3.model.types import (
    AddressRef,
    EndpointRef,
    ExternalRef,
    LabelRef,
    NamespaceRef,
    NodeRef,
    PodRef,
    StackMode,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One sender/receiver.

    As a sender: ``stack`` (or ``external``) sends, as process of ``pod`` if
    set, from address ``src`` (None: the stack picks by route). As a
    receiver: a packet counts when delivered into ``stack`` (or ``external``);
    for an address endpoint, when sent to ``prefix`` and delivered anywhere.
    """

    label: str
    stack: str | None = None
    pod: str | None = None
    external: str | None = None
    src: IPv4Address | None = None
    prefix: IPv4Network | None = None
    address: IPv4Address | None = None  # a typical address to send to
    iface: str | None = None  # the pod's own endpoint interface

    @property
    def key(self) -> tuple[object, ...]:
        """Equal for two endpoints that are the same one (a pair of them is skipped)."""
        return (self.stack, self.pod, self.external, self.prefix)

    def same_as(self, other: Endpoint) -> bool:
        return self.key == other.key


def _pod_endpoint(net: Network, pid: str) -> Endpoint:
    hit = net.endpoint_cache.get(pid)
    if hit is None:
        hit = net.endpoint_cache[pid] = _make_pod_endpoint(net, pid)
    return hit  # type: ignore[return-value]


def _make_pod_endpoint(net: Network, pid: str) -> Endpoint:
    info = net.pods[pid]
    pod = info.pod
    src = pod.ip.ip if pod.ip is not None and pod.mode is not StackMode.HOST_NETWORK else None
    addr = src if src is not None else _first_addr(net, info.stack)
    return Endpoint(pid, stack=info.stack, pod=pid, src=src, address=addr, iface=info.iface)


def _first_addr(net: Network, stack: str) -> IPv4Address | None:
    for i in net.stacks[stack].ifaces.values():
        if i.primary is not None:
            return i.primary
    return None


def resolve(net: Network, ref: EndpointRef) -> list[Endpoint]:
    """Every endpoint ``ref`` stands for (sorted, stable)."""
    if isinstance(ref, PodRef):
        pid = f"{ref.node}/{ref.pod}"
        if pid not in net.pods:
            raise QueryError(f"no pod {pid}")
        return [_pod_endpoint(net, pid)]
    if isinstance(ref, NodeRef):
        if ref.node not in net.stacks or net.stacks[ref.node].kind != "node":
            raise QueryError(f"no node {ref.node}")
        return [Endpoint(f"node {ref.node}", stack=ref.node, address=_first_addr(net, ref.node))]
    if isinstance(ref, NamespaceRef):
        return [_pod_endpoint(net, p) for p in net.pods_in_namespace(ref.namespace)]
    if isinstance(ref, LabelRef):
        pods = [p for p, i in net.pods.items() if labels_match(ref.labels, i.pod)]
        return [_pod_endpoint(net, p) for p in sorted(pods)]
    if isinstance(ref, ExternalRef):
        if ref.name not in net.externals:
            raise QueryError(f"no external {ref.name}")
        e = net.externals[ref.name]
        addr = next(
            (a for a in _sample(e.prefix) if net.external_owner(a) == e.name),
            e.prefix.network_address,
        )
        return [Endpoint(f"external {e.name}", external=e.name, address=addr)]
    if isinstance(ref, AddressRef):
        return _address_endpoints(net, ref)
    raise QueryError(f"unknown endpoint {ref!r}")


def _sample(prefix: IPv4Network) -> list[IPv4Address]:
    first = int(prefix.network_address)
    n = min(prefix.num_addresses, 64)
    picks = [first + prefix.num_addresses // 2 + k for k in range(n // 2)] + [first + k for k in range(n)]
    return [IPv4Address(x) for x in picks if IPv4Address(x) in prefix]


def _address_endpoints(net: Network, ref: AddressRef) -> list[Endpoint]:
    """As a receiver, the prefix; as a sender, whoever owns addresses in it."""
    out: list[Endpoint] = []
    for ip, ifaces in sorted(net.owners.items()):
        if ip not in ref.prefix:
            continue
        i = ifaces[0]
        out.append(Endpoint(str(ip), stack=i.stack, pod=i.pod, src=ip, prefix=ref.prefix, address=ip))
    if not out:
        ext = net.external_owner(ref.prefix.network_address)
        out.append(
            Endpoint(
                str(ref),
                external=ext,
                src=ref.prefix.network_address if ref.prefix.prefixlen == 32 else None,
                prefix=ref.prefix,
                address=ref.prefix.network_address,
            )
        )
    # as a receiver an address range is one destination
    return out


def as_destination(net: Network, ref: EndpointRef) -> list[Endpoint]:
    if isinstance(ref, AddressRef):
        return [Endpoint(str(ref), prefix=ref.prefix, address=ref.prefix.network_address)]
    return resolve(net, ref)
