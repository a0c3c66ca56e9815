"""A node's statement list made of its own statements and one shared peer block.

Overlay and routed profiles give every node one statement about every other
node (a route to its pod subnet, a neighbour, an fdb entry): N nodes hold
N² statements. The profile builds the statements about all peers once, as a
:class:`PeerBlock`, and each node's list is a :class:`WithPeers`: the node's
own statements before the block (``head``), the block without the node's own
entry (``skip``), then its own statements after it (``tail``).

A :class:`WithPeers` is an immutable sequence equal to the tuple of its
statements in that order: whoever iterates, indexes, slices, compares or
concatenates it sees exactly what a plain tuple would hold. Validation and
the network read the parts instead, and do the work about the block once
(keyed by the block's identity), not once per node.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain, islice
from typing import Generic, TypeVar, overload

T = TypeVar("T")

__all__ = ["PeerBlock", "WithPeers"]


class PeerBlock(Generic[T]):
    """The statements about every peer, in peer order; one object shared by all nodes.

    Compared by identity: two blocks are the same block only if they are
    the same object (the caches that key on a block rely on that).
    """

    __slots__ = ("items", "__weakref__")

    def __init__(self, items: Sequence[T]) -> None:
        self.items: tuple[T, ...] = tuple(items)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"PeerBlock({len(self.items)} statements)"


class WithPeers(Sequence[T]):
    """``head + block.items without index skip + tail``, as an immutable sequence.

    ``skip`` is the node's own entry in the block (-1: none is left out).
    """

    __slots__ = ("head", "block", "skip", "tail", "_hash")

    def __init__(self, head: Sequence[T], block: PeerBlock[T], skip: int, tail: Sequence[T] = ()) -> None:
        if not -1 <= skip < len(block.items):
            raise ValueError(f"skip {skip} outside a block of {len(block.items)}")
        self.head: tuple[T, ...] = tuple(head)
        self.block = block
        self.skip = skip
        self.tail: tuple[T, ...] = tuple(tail)
        self._hash: int | None = None

    # the parts, for readers that work per block -------------------------

    def block_items(self) -> Iterator[T]:
        """The block's statements this node has (the block without ``skip``)."""
        items, s = self.block.items, self.skip
        if s < 0:
            return iter(items)
        return chain(islice(items, 0, s), islice(items, s + 1, None))

    def own(self) -> tuple[T, ...]:
        """The node's own statements (head, then tail)."""
        return self.head + self.tail

    # the sequence -------------------------------------------------------

    def __len__(self) -> int:
        return len(self.head) + len(self.block.items) - (self.skip >= 0) + len(self.tail)

    def __iter__(self) -> Iterator[T]:
        return chain(self.head, self.block_items(), self.tail)

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[T, ...]: ...
    def __getitem__(self, i: int | slice) -> T | tuple[T, ...]:
        if isinstance(i, slice):
            return tuple(self)[i]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("index out of range")
        if i < len(self.head):
            return self.head[i]
        i -= len(self.head)
        nb = len(self.block.items) - (self.skip >= 0)
        if i < nb:
            return self.block.items[i + (0 <= self.skip <= i)]
        return self.tail[i - nb]

    def __contains__(self, x: object) -> bool:
        return any(y is x or y == x for y in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, WithPeers) and other.block is self.block and other.skip == self.skip:
            return self.head == other.head and self.tail == other.tail
        if not isinstance(other, tuple | list | WithPeers):
            return NotImplemented
        if isinstance(other, list):
            return False  # a tuple never equals a list
        return len(self) == len(other) and all(a is b or a == b for a, b in zip(self, other, strict=True))

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self))  # equal to its tuple, so hashed as it
        return self._hash

    def __add__(self, other: object) -> tuple[T, ...]:
        if not isinstance(other, tuple | WithPeers):
            return NotImplemented
        return (*self, *other)

    def __radd__(self, other: object) -> tuple[T, ...]:
        if not isinstance(other, tuple):
            return NotImplemented
        return (*other, *self)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return repr(tuple(self))
