"""Validation of a profile's shared peer block, once per kind of node (part of :mod:`.resolve`).

A profile hands every node its own statements and one shared
:class:`~l2l3.model.peerblock.PeerBlock` about all peers, minus the node's
own entry (:class:`~l2l3.model.peerblock.WithPeers`). The checks of a route
depend only on the route and on the node's devices with their on-link
prefixes, so the block is checked once per distinct set of those and the
node's own part once per node. A block that fails on a node is not
reported as a block: the resolver then walks the node's routes one by one
(its own entry left out), exactly as for a plain list, and reports there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ipaddress import IPv4Network
from typing import Any, Protocol, TypeVar

from l2l3.model.peerblock import PeerBlock, WithPeers
from l2l3.model.types import Route

__all__ = ["PeerBlocks"]


class _HasDev(Protocol):
    @property
    def dev(self) -> str: ...


_Dev = TypeVar("_Dev", bound=_HasDev)
_Info = tuple[PeerBlock[Route], tuple[str | None, ...], list[tuple[int, Route]], tuple[str | None, ...]]


class PeerBlocks:
    """What the resolver knows about the shared blocks it met (keyed by identity)."""

    def __init__(self) -> None:
        # id(block) -> (block, the devices its routes name, its gateway-less routes by
        # index, the devices of the routes whose gateway is checked)
        self._info: dict[int, _Info] = {}
        # id(block) -> (block, the devices its statements name): neighbours, fdb entries
        self._devs: dict[int, tuple[PeerBlock[Any], frozenset[str]]] = {}
        # id(block) -> the (device, on-link prefixes) keys of the nodes it passed on
        self._passed: dict[int, list[tuple[object, ...]]] = {}

    def info(self, block: PeerBlock[Route]) -> _Info:
        """(block, the devices its routes name, its gateway-less routes with their index,
        the devices of the routes with a gateway to check: not ``onlink``)."""
        hit = self._info.get(id(block))
        if hit is None or hit[0] is not block:
            devs = tuple(dict.fromkeys(r.dev for r in block.items))
            onlink = [(i, r) for i, r in enumerate(block.items) if r.via is None]
            checked = tuple(dict.fromkeys(r.dev for r in block.items if r.via is not None and not r.onlink))
            hit = self._info[id(block)] = (block, devs, onlink, checked)
        return hit

    def gatewayless(self, routes: WithPeers[Route]) -> list[Route]:
        """The routes without a gateway among ``routes``, in order (they make prefixes on-link)."""
        _, _, onlink, _ = self.info(routes.block)
        out = [r for r in routes.head if r.via is None]
        out += [r for i, r in onlink if i != routes.skip]
        return out + [r for r in routes.tail if r.via is None]

    def passes(
        self,
        res: Any,
        block: PeerBlock[Route],
        names: set[str],
        key_of: Callable[[str | None], tuple[object, ...]],
        connected: list[tuple[str | None, IPv4Network]],
        stack: str,
        memo: dict[str | None, tuple[IPv4Network, ...]],
    ) -> bool:
        """Whether every route of ``block`` passes the route checks of resolver ``res`` on this node.

        ``names``: the node's devices; ``key_of``: a device's interned
        (device, on-link prefixes). A device of the block the node lacks fails.
        """
        _, devs, _, checked = self.info(block)
        if any(d is not None and d not in names for d in devs):
            return False
        if not checked:
            return True  # every route is onlink or gateway-less: nothing depends on the node
        mine = tuple(key_of(d) for d in checked)
        passed = self._passed.setdefault(id(block), [])
        if any(all(a is b for a, b in zip(mine, p, strict=True)) for p in passed):
            return True
        before = len(res.diags)
        for r in block.items:
            res.gateway(r, connected, stack, memo)
        if len(res.diags) != before:
            del res.diags[before:]  # the per-route walk of the node says what fails
            return False
        passed.append(mine)
        return True

    def own_unless_known(self, items: Sequence[_Dev], known: set[str]) -> Sequence[_Dev]:
        """``items`` without their shared block when all its devices are ``known`` (nothing to report there)."""
        if not isinstance(items, WithPeers):
            return items
        block = items.block
        hit = self._devs.get(id(block))
        if hit is None or hit[0] is not block:
            hit = self._devs[id(block)] = (block, frozenset(x.dev for x in block.items))
        return items.own() if hit[1] <= known else items
