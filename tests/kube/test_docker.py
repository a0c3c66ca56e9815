"""``docker network inspect`` of a Windows network as input (LANGUAGE.md §7 "Node state").

Sources: moby ``libnetwork/drivers/windows`` (``labels.go``: the
``com.docker.network.windowsshim.*`` option names; ``windows.go``
``CreateEndpoint``: OutBoundNAT only with ``enable_outboundnat``, its
exceptions the ``outboundnat_exceptions`` option split at commas); Microsoft
Learn, "Windows container networking: advanced network options" (without
``enable_outboundnat`` l2bridge containers have no OutBoundNAT policy); the
docker command of Microsoft's "L2Bridge container networking" blog
(techcommunity 1180923), as the seed's examples/docker-l2bridge-outboundnat.l2l3
writes its result by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from l2l3 import api
from l2l3.cli import main
from l2l3.kube.inputs import load_cluster

SAMPLE = Path(__file__).parent / "samples" / "hns" / "docker-l2bridge"
ROOT = Path(__file__).resolve().parents[2]


def test_docker_l2bridge_checks_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    """Excepted ranges keep the container's address; the internet and the network's DNS server
    (10.127.130.7, outside 10.127.130.36/30) see the host's."""
    rc = main(["check", str(SAMPLE)])
    out = capsys.readouterr().out
    assert rc == 1  # all-internet is violated, as in the seed
    assert "6 checks: 5 hold, 1 violated, 0 unknown" in out
    assert "dns-natted: nat win1/c1 -> node dns1 udp port 53 as 10.127.130.38\n  holds" in out
    assert "all-internet: nat win1/c1 -> external internet tcp port 443 as 10.127.130.38\n  VIOLATED" in out


def test_what_the_network_becomes() -> None:
    got = load_cluster([str(SAMPLE)])
    n = next(n for n in got.raw.nodes if n.name == "win1")
    (br,) = n.bridges
    assert (br.name, str(br.ip), br.uplink) == ("winl2bridge", "10.244.3.1/24", "eth0")  # the --gateway
    (pod,) = n.pods
    assert (pod.name, str(pod.ip), pod.mac, pod.bridge) == (
        "c1",
        "10.244.3.10/24",
        "00:15:5d:aa:03:0a",
        "winl2bridge",
    )
    assert [str(e) for e in n.outbound_nats[0].exceptions] == [
        "10.244.0.0/16",
        "10.10.0.0/24",
        "10.127.130.36/30",
    ]
    assert n.outbound_nats[0].span.file.endswith("network.json") and n.outbound_nats[0].span.line > 1
    assert any("DNS servers 10.127.130.7, 10.127.130.8" in m.message for m in got.notes)


def test_same_verdicts_as_the_seed_docker_example() -> None:
    """Every check of the seed's hand translation answers the same from docker inspect JSON."""
    seed_spec = api.load(str(ROOT / "examples/docker-l2bridge-outboundnat.l2l3"))
    seed, mine = api.Network(seed_spec), api.Network(load_cluster([str(SAMPLE)]).spec)
    queries = [
        "nat win1/c1 -> node peer as 10.244.3.10",
        "nat win1/c1 -> node nas as 10.127.130.38",
        "nat win1/c1 -> external branch as 10.244.3.10",
        "nat win1/c1 -> 203.0.113.7 as 10.127.130.38",
        "nat win1/c1 -> external internet as 10.127.130.38",
        "nat win1/c1 -> 203.0.113.7 tcp port 443 as 10.127.130.38",
        "nat win1/c1 -> node nas udp port 53 as 10.127.130.38",
    ]
    for q in queries:
        assert api.evaluate(seed, q).status == api.evaluate(mine, q).status, q


def test_no_enable_outboundnat_no_nat(tmp_path: Path) -> None:
    """moby CreateEndpoint adds OutBoundNAT only `if n.config.EnableOutboundNat`: without the option the
    container leaves with its own address, and the exceptions are named as having no effect."""
    shutil.copytree(SAMPLE, tmp_path / "s")
    f = tmp_path / "s/win1/network.json"
    nets = json.loads(f.read_text())
    del nets[0]["Options"]["com.docker.network.windowsshim.enable_outboundnat"]
    f.write_text(json.dumps(nets, indent=2))
    got = load_cluster([str(tmp_path / "s")])
    assert not next(n for n in got.raw.nodes if n.name == "win1").outbound_nats
    assert any("without enable_outboundnat" in n.message for n in got.notes)
    res = api.evaluate(api.Network(got.spec), "nat win1/c1 -> 203.0.113.7 tcp port 443 as 10.244.3.10")
    assert res.status.value == "holds"


def test_unread_options_are_named(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "s")
    f = tmp_path / "s/win1/network.json"
    nets = json.loads(f.read_text())
    nets[0]["Options"]["com.docker.network.windowsshim.disableicc"] = "true"
    f.write_text(json.dumps(nets, indent=2))
    notes = [n.message for n in load_cluster([str(tmp_path / "s")]).notes]
    assert any("com.docker.network.windowsshim.disableicc is not read" in m for m in notes)


def test_bad_exception_is_file_line_col(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(SAMPLE, tmp_path / "s")
    f = tmp_path / "s/win1/network.json"
    text = f.read_text().replace("10.10.0.0/24", "10.10.0.0/33")
    f.write_text(text)
    rc = main(["check", str(tmp_path / "s")])
    err = capsys.readouterr().err
    line = next(i for i, s in enumerate(text.split("\n"), 1) if "10.10.0.0/33" in s)
    assert rc == 2 and f"{f}:{line}:" in err and "expected a CIDR" in err
