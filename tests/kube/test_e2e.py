"""The upstream Kubernetes NetworkPolicy e2e truth tables, checked cell by cell.

tests/kube/e2e (see its README) holds 58 states of the 48 upstream tests with
65 expected 9x9 matrices ``reachability[from][to]``. For each expect file the
cluster is ``cluster.yaml`` with the case's ``overrides.yaml`` objects in
place of the same-named ones, plus the case's ``policies.yaml``; it is
translated under ``cni calico bgp`` (a CNI that enforces NetworkPolicy),
expanded, and built into ONE :class:`~l2l3.api.Network` per case. Every
off-diagonal cell is then the query ``reach pod X/A -> pod Y/B PROTO port N``
through the Python API, and its verdict must be the table's (upstream does
not grade the diagonal: ``ignore_loopback: true``).

The namespace ``y`` is written quoted (``name: "y"``), as kubectl writes it:
YAML 1.1, which kubectl and l2l3's readers follow, reads a bare ``y`` as the
boolean true (the readers refuse that at its line; see test_errors).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from l2l3.api import Network
from l2l3.checking import Checker, Verdict
from l2l3.kube import Cluster, load_text
from l2l3.kube.cni import CniChoice
from l2l3.kube.translate import translate
from l2l3.model.profiles import expand
from l2l3.model.types import Headers, PodNsRef, Proto, Reach

E2E = Path(__file__).parent / "e2e"
#: The CNI the cases run under: Calico in BGP mode enforces NetworkPolicy and
#: does not NAT pod-to-pod traffic (the ipBlock cases see pod addresses).
CNI = ("calico", "bgp")
PROTOS = {"TCP": Proto.TCP, "UDP": Proto.UDP, "SCTP": Proto.SCTP}


@functools.cache
def _load(path: Path) -> Cluster:
    return load_text(path.read_text(encoding="utf-8"), str(path))


def _key(obj: Any) -> tuple[str, str]:
    return (getattr(obj, "namespace", ""), obj.name)


def case_cluster(case: Path) -> Cluster:
    """cluster.yaml, the case's overrides in place of the same-named objects, its policies."""
    base = _load(E2E / "cluster.yaml")
    policies = _load(case / "policies.yaml")
    over = _load(case / "overrides.yaml") if (case / "overrides.yaml").exists() else Cluster()
    ns = {_key(n): n for n in over.namespaces if n.declared}
    pods = {_key(p): p for p in over.pods}
    assert len(ns) + len(pods) == sum(n.declared for n in over.namespaces) + len(over.pods)
    return replace(
        base,
        namespaces=tuple(ns.get(_key(n), n) for n in base.namespaces),
        pods=tuple(pods.get(_key(p), p) for p in base.pods),
        policies=policies.policies,
        files=base.files + policies.files + over.files,
        notes=base.notes + policies.notes + over.notes,
    )


@functools.cache
def case_checker(case: Path, cni: tuple[str, ...] = CNI) -> Checker:
    """One Network (and its checker) per case directory."""
    tr = translate(case_cluster(case), CniChoice(words=cni))
    spec, _ = expand(tr.spec)
    return Checker(Network(spec))


def expect_files() -> list[Path]:
    return sorted(E2E.glob("*/expect*.yaml"))


def cells(expect: Path) -> Iterator[tuple[str, str, bool]]:
    """(from, to, expected) for every off-diagonal cell of the table."""
    data = YAML(typ="safe").load(expect.read_text(encoding="utf-8"))
    for src, row in data["reachability"].items():
        for dst, want in row.items():
            if src != dst:
                yield src, dst, bool(want)


def probe(expect: Path) -> Headers:
    data = YAML(typ="safe").load(expect.read_text(encoding="utf-8"))
    return Headers(proto=PROTOS[data["protocol"]], port=int(data["port"]))


def verdicts(expect: Path, cni: tuple[str, ...] = CNI) -> list[tuple[str, str, bool, Verdict]]:
    """l2l3's verdict on every off-diagonal cell of ``expect``."""
    headers = probe(expect)
    checker = case_checker(expect.parent, cni)
    out = []
    for src, dst, want in cells(expect):
        (sn, sp), (dn, dp) = src.split("/"), dst.split("/")
        q = Reach(src=PodNsRef(namespace=sn, name=sp), dst=PodNsRef(namespace=dn, name=dp), headers=headers)
        out.append((src, dst, want, checker.evaluate(q).status))
    return out


def mismatches(expect: Path, cni: tuple[str, ...] = CNI) -> list[str]:
    return [
        f"{src} -> {dst}: expected {'reach' if want else 'no reach'}, l2l3 says {got.value}"
        for src, dst, want, got in verdicts(expect, cni)
        if got is not (Verdict.HOLDS if want else Verdict.VIOLATED)
    ]


def test_corpus_shape() -> None:
    files = expect_files()
    assert len(files) == 65
    assert len({f.parent for f in files}) == 58
    assert sum(1 for f in files for _ in cells(f)) == 65 * 72


@pytest.mark.parametrize("expect", expect_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_truth_table(expect: Path) -> None:
    """Every off-diagonal cell under calico bgp (all 4680 match; no cell is marked xfail)."""
    wrong = mismatches(expect)
    assert not wrong, f"{len(wrong)} of 72 cells differ:\n" + "\n".join(wrong)


@pytest.mark.slow
@pytest.mark.parametrize("cni", [("kindnet",), ("antrea",), ("calico", "vxlan")], ids=" ".join)
def test_truth_tables_under_other_enforcing_cnis(cni: tuple[str, ...]) -> None:
    wrong = {f.parent.name + "/" + f.name: mismatches(f, cni) for f in expect_files()}
    assert not {k: v for k, v in wrong.items() if v}


def test_flannel_enforces_nothing() -> None:
    """Under a CNI without NetworkPolicy every cell reaches: the tables' false cells are the policies' doing."""
    f = E2E / "02-default-deny-all" / "expect.yaml"
    got = verdicts(f, ("flannel", "vxlan"))
    assert {v for _, _, _, v in got} == {Verdict.HOLDS}
    assert sum(not want for _, _, want, _ in got) == 42  # 45 false cells, 3 of them on the diagonal


def test_one_case_through_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``l2l3 check DIR --cni calico bgp`` on a case directory with a check per cell, as a user runs it."""
    from l2l3.cli import main

    case = E2E / "10-podselector-and-nsselector"
    (tmp_path / "cluster.yaml").write_text((E2E / "cluster.yaml").read_text())
    (tmp_path / "policies.yaml").write_text((case / "policies.yaml").read_text())
    headers = probe(case / "expect.yaml")
    table = list(cells(case / "expect.yaml"))
    (tmp_path / "checks.l2l3").write_text(
        "".join(
            f"check c{i}: {'' if want else 'no '}reach pod {src} -> pod {dst} {headers}\n"
            for i, (src, dst, want) in enumerate(table)
        )
    )
    rc = main(["check", str(tmp_path), "--cni", "calico bgp", "--format", "json"])
    out = capsys.readouterr().out
    import json

    data = json.loads(out)
    assert rc == 0 and data["summary"] == {"holds": 72, "violated": 0, "unknown": 0}


def test_the_corpus_loads_as_written() -> None:
    """cluster.yaml is read as it is on disk (kubectl quotes the namespace "y")."""
    from l2l3.kube import load

    assert {ns.name for ns in load(E2E / "cluster.yaml").namespaces} >= {"x", "y", "z"}


def main() -> None:  # pragma: no cover - the figures for the report
    matched = total = 0
    for f in expect_files():
        got = verdicts(f)
        ok = sum(1 for _, _, want, v in got if v is (Verdict.HOLDS if want else Verdict.VIOLATED))
        matched += ok
        total += len(got)
        if ok != len(got):
            print(f"{f.parent.name}/{f.name}: {ok}/{len(got)}")
    print(
        f"{len(expect_files())} expect files, {len({f.parent for f in expect_files()})} cases: {matched}/{total} cells match"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
