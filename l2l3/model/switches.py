"""The switch graph: which L2 switches an uplink joins, and the path between two.

A network's switches (segments, bridges) and the uplinks binding a bridge to
a segment form a small undirected graph; the network needs its connected
components (the L2 domains) and a shortest path between two switches (the
hops a frame takes). That is all this class does. It replaces networkx for
these two questions because importing networkx alone costs 0.15-0.25 s of
every start, more than half the cold-start budget of a small check;
tests/test_switches.py checks both answers against networkx on random graphs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

__all__ = ["SwitchGraph"]


class SwitchGraph:
    """An undirected graph of switch names (insertion-ordered, like networkx)."""

    def __init__(self) -> None:
        self._adj: dict[str, dict[str, None]] = {}

    def add_node(self, name: str) -> None:
        self._adj.setdefault(name, {})

    def add_edge(self, a: str, b: str) -> None:
        self._adj.setdefault(a, {})[b] = None
        self._adj.setdefault(b, {})[a] = None

    def __contains__(self, name: object) -> bool:
        return name in self._adj

    def __len__(self) -> int:
        return len(self._adj)

    def neighbors(self, name: str) -> Iterator[str]:
        return iter(self._adj[name])

    def components(self) -> Iterator[set[str]]:
        """The connected components, in the order of their first node."""
        seen: set[str] = set()
        for start in self._adj:
            if start in seen:
                continue
            comp = {start}
            todo = [start]
            while todo:
                for nb in self._adj[todo.pop()]:
                    if nb not in comp:
                        comp.add(nb)
                        todo.append(nb)
            seen |= comp
            yield comp

    def shortest_path(self, a: str, b: str) -> list[str]:
        """A shortest path from ``a`` to ``b`` (breadth first); KeyError/ValueError if none."""
        if a not in self._adj or b not in self._adj:
            raise KeyError(a if a not in self._adj else b)
        parent: dict[str, str | None] = {a: None}
        todo = deque([a])
        while todo:
            cur = todo.popleft()
            if cur == b:
                path = [b]
                while (up := parent[path[-1]]) is not None:
                    path.append(up)
                return path[::-1]
            for nb in self._adj[cur]:
                if nb not in parent:
                    parent[nb] = cur
                    todo.append(nb)
        raise ValueError(f"no path between {a} and {b}")
