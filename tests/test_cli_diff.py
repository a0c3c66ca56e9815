"""``l2l3 diff OLD NEW``: gained and lost pairs with witnesses, exit 0 equal / 1 different."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2l3 import api
from l2l3.cli import main
from l2l3.diff import Service, diff_networks, mentioned_services

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "examples" / "policy-enforced.l2l3"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def enforced(tmp_path: Path) -> Path:
    """policy-enforced with node fla enforcing policy too: dev2 loses shop2."""
    text = OLD.read_text().replace(
        "    nic eth0 ip 10.0.0.2/24 on lan\n",
        "    nic eth0 ip 10.0.0.2/24 on lan\n    enforce-policy on\n",
        1,
    )
    p = tmp_path / "enforced.l2l3"
    p.write_text(text)
    return p


def test_a_spec_equals_itself_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "diff", str(OLD), str(OLD), "-q")
    assert rc == 0
    assert (
        out.splitlines()[-1]
        == "equal: 0 gained, 0 lost, 0 unknown, 0 checks changed, 0 endpoints in one only"
    )


def test_a_lost_pair_shows_where_it_now_dies(enforced: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "diff", str(OLD), str(enforced))
    assert rc == 1
    assert "lost: fla/dev2 -> fla/shop2 any  (holds -> violated)" in out
    assert "lost: fla/dev2 -> fla/shop2 tcp/9090  (holds -> violated)" in out
    assert f"denied by policy (shop2/shop2-ingress)  [{enforced}:30]" in out
    assert "check unenforced: violated -> holds" in out
    assert "gained:" not in out


def test_the_other_way_round_the_pair_is_gained_with_its_witness(
    enforced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(capsys, "diff", str(enforced), str(OLD), "--format", "json")
    doc = json.loads(out)
    assert rc == 1 and doc["equal"] is False and doc["lost"] == []
    assert [(g["from"], g["to"], g["service"]) for g in doc["gained"]] == [
        ("fla/dev2", "fla/shop2", "any"),
        ("fla/dev2", "fla/shop2", "tcp/9090"),
    ]
    w = doc["gained"][1]["witness"]
    assert w["disposition"] == "delivered" and w["delivered_to"] == "fla/shop2"
    assert w["packet"]["dport"] == 9090
    assert doc["checks"] == [
        {
            "name": "unenforced",
            "old": "holds",
            "new": "violated",
            "explanation": doc["checks"][0]["explanation"],
        }
    ]


def test_service_narrows_the_queries(enforced: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "diff", str(OLD), str(enforced), "--service", "udp/53", "--format", "json")
    doc = json.loads(out)
    assert doc["services"] == ["udp/53"] and doc["queries"] == 20
    assert [c["service"] for c in doc["lost"]] == ["udp/53"]
    rc, _, err = run(capsys, "diff", str(OLD), str(enforced), "--service", "tcp/99999")
    assert rc == 2 and "not a service" in err


def test_endpoints_in_one_network_only_make_them_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fewer = tmp_path / "fewer.l2l3"
    fewer.write_text(
        "\n".join(
            line for line in OLD.read_text().splitlines() if "pod mon1" not in line and "scrape" not in line
        )
    )
    rc, out, _ = run(capsys, "diff", str(OLD), str(fewer), "--service", "any")
    assert rc == 1
    assert f"only in {OLD}: cal/mon1" in out


def test_mentioned_services_come_from_policies_and_pods() -> None:
    spec = api.load(OLD)
    assert mentioned_services([spec]) == [Service(), Service("tcp", 9090)]
    assert [str(Service.parse(t)) for t in ("ANY", "tcp/80", "icmp", "udp")] == [
        "any",
        "tcp/80",
        "icmp",
        "udp",
    ]


def test_an_unknown_query_is_never_equal() -> None:
    # l2bridge-alone has pairs only a solver search settles (policy-enforced's are all settled
    # by probe packets, candidate packets and the policy screen, so no budget makes them unknown)
    net = api.Network(api.load(ROOT / "examples" / "l2bridge-alone.l2l3"))
    d = diff_networks(net, net, services=[Service()], budget=1)
    assert d.of_kind("unknown") and not d.of_kind("gained") and not d.of_kind("lost")
    assert d.exit_status == 3
