"""l2l3.generate_mix: the realistic policy mix, as a spec and as Kubernetes objects that say the same."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import l2l3
from l2l3.generate_mix import mix_plan, mix_spec, mix_yaml
from l2l3.kube.inputs import load_cluster
from l2l3.matrix import matrix
from l2l3.model.network import Network


def test_the_mix_has_every_kind_and_the_count_asked() -> None:
    p = mix_plan(4, 10, 8, 30, seed=3)
    kinds = Counter(pol.kind for pol in p.policies)
    assert len(p.policies) == 30
    assert set(kinds) == {
        "default-deny-ingress",
        "default-deny-egress-dns",
        "allow-monitoring",
        "from-pods",
        "from-namespace",
        "from-namespace-pods",
        "from-namespace-port",
        "ipblock",
        "egress-internet",
    }
    assert kinds["default-deny-ingress"] == 2  # a quarter of 8
    assert {q.namespace for n in p.nodes for q in n.pods} >= {"kube-system", "monitoring"}
    assert mix_spec(p) == mix_spec(mix_plan(4, 10, 8, 30, seed=3))


def _cells(net: Network) -> dict[tuple[str, str], tuple[int, int]]:
    m = matrix(net, by="namespace")
    return {k: (c.pairs, c.reachable) for k, c in m.cells.items()}


@pytest.mark.slow  # a matrix on each side: ~10 s on a loaded 2-core machine
def test_the_spec_and_the_kubernetes_objects_answer_the_same(tmp_path: Path) -> None:
    """The YAML read by l2l3's Kubernetes readers gives the namespace matrix of the spec, cell by cell."""
    p = mix_plan(2, 5, 4, 12, seed=1)
    spec = l2l3.loads(mix_spec(p))
    yaml = tmp_path / "mix.yaml"
    yaml.write_text(mix_yaml(p))
    underlay = tmp_path / "lan.l2l3"
    underlay.write_text("segment lan 172.16.0.0/16 gateway 172.16.0.1\n")
    kube = load_cluster([str(yaml), str(underlay)], cni="calico bgp").spec
    assert len(kube.policies) == len(spec.policies) == 12
    ours, theirs = _cells(Network(spec)), _cells(Network(kube))
    assert ours == theirs
    assert any(r == 0 for _, r in ours.values()) and any(r == n for n, r in ours.values())
