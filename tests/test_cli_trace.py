"""``l2l3 trace --summary`` (routed hops only) and ``--format json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2l3.cli import main

EX = Path(__file__).resolve().parents[1] / "examples"
VXLAN = str(EX / "profile-flannel-vxlan.l2l3")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_summary_keeps_routing_nat_and_tunnel_hops_only(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["trace", VXLAN, "--from", "n1/web", "--to", "10.244.2.10", "--proto", "tcp", "--dport", "5432"]
    rc, full, _ = run(capsys, *args)
    rc2, short, _ = run(capsys, *args, "--summary")
    assert rc == rc2 == 0
    numbers = [int(line.split()[0]) for line in short.splitlines()[1:-1]]
    assert numbers == [1, 2, 5, 7, 8, 11, 12, 15]
    assert "vxlan encap vni 1" in short and "[encapsulated]" in short and "[decapsulated]" in short
    assert "ARP" not in short and "L2 to" not in short and "ARP" in full
    assert short.splitlines()[-1] == full.splitlines()[-1] == "  => delivered at n2/db"
    _, nat, _ = run(capsys, "trace", VXLAN, "--from", "n2/tool", "--to", "203.0.113.7", "--summary")
    assert (
        "masquerade: src 10.244.2.11 -> 10.127.130.12" in nat and "[src 10.244.2.11 -> 10.127.130.12]" in nat
    )


def test_trace_json_has_every_outcome_with_its_hops(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys,
        "trace",
        str(EX / "l2bridge-alone.l2l3"),
        "--from",
        "win1/a",
        "--to",
        "10.244.4.4",
        "--format",
        "json",
    )
    doc = json.loads(out)
    assert rc == 1 and doc["delivered"] is False
    assert {k: doc[k] for k in ("from", "to", "proto", "dport")} == {
        "from": "win1/a",
        "to": "10.244.4.4",
        "proto": "icmp",
        "dport": 0,
    }
    (t,) = doc["outcomes"]
    assert t["disposition"] == "dropped" and "no route to 10.244.4.4" in t["reason"]
    assert t["hops"][0]["at"] == "win1/a" and {"at", "rule", "file", "line", "packet"} <= set(t["hops"][0])
    rc, out, _ = run(capsys, "trace", VXLAN, "--from", "n1/web", "--to", "10.244.2.10", "--format", "json")
    doc = json.loads(out)
    assert rc == 0 and doc["delivered"] and doc["outcomes"][0]["delivered_to"] == "n2/db"
