"""The switch graph answers as networkx does (components, shortest path lengths)."""

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2l3.model.switches import SwitchGraph

names = st.sampled_from([f"s{i}" for i in range(8)])
graphs = st.tuples(st.lists(names, max_size=8), st.lists(st.tuples(names, names), max_size=10))


def _both(nodes: list[str], edges: list[tuple[str, str]]) -> tuple[SwitchGraph, nx.Graph]:
    ours, theirs = SwitchGraph(), nx.Graph()
    for n in nodes:
        ours.add_node(n)
        theirs.add_node(n)
    for a, b in edges:
        ours.add_edge(a, b)
        theirs.add_edge(a, b)
    return ours, theirs


@given(graphs)
def test_components_and_paths_match_networkx(g: tuple[list[str], list[tuple[str, str]]]) -> None:
    ours, theirs = _both(*g)
    assert sorted(map(sorted, ours.components())) == sorted(map(sorted, nx.connected_components(theirs)))
    for a in theirs:
        for b in theirs:
            if nx.has_path(theirs, a, b):
                path = ours.shortest_path(a, b)
                assert path[0] == a and path[-1] == b
                assert len(path) == nx.shortest_path_length(theirs, a, b) + 1
                assert all(theirs.has_edge(x, y) for x, y in zip(path, path[1:], strict=False))
            else:
                with pytest.raises(ValueError):
                    ours.shortest_path(a, b)


def test_unknown_switch_is_an_error() -> None:
    g = SwitchGraph()
    g.add_node("a")
    with pytest.raises(KeyError):
        g.shortest_path("a", "b")
