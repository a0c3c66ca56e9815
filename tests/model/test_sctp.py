"""SCTP (IP protocol 132) wherever protocols are accepted: filters, DNAT, checks.

LANGUAGE.md §7: "Protocols everywhere (policies, filter, dnat, checks) are
tcp, udp, sctp and icmp". SCTP has destination ports like TCP and UDP
(RFC 4960 §3.1), so a rule's port matches it as it matches them; a rule
naming tcp or udp does not match it. Both engines answer every check here.
"""

from __future__ import annotations

import l2l3
from l2l3.checking import Verdict
from l2l3.model.types import Proto

TWO_NODES = """
segment lan 10.0.0.0/24
node a linux {{
    nic eth0 ip 10.0.0.1/24 on lan
    bridge br linux ip 10.1.1.1/24
    pod p ip 10.1.1.2/24 on br
    route 10.1.2.0/24 via 10.0.0.2 dev eth0
{rules}
}}
node b linux {{
    nic eth0 ip 10.0.0.2/24 on lan
    bridge br linux ip 10.1.2.1/24
    pod q ip 10.1.2.2/24 on br
    route 10.1.1.0/24 via 10.0.0.1 dev eth0
}}
"""


def statuses(rules: str, *checks: str) -> list[Verdict]:
    text = TWO_NODES.format(rules=rules) + "".join(f"check c{i}: {c}\n" for i, c in enumerate(checks))
    return [r.status for r in l2l3.check(l2l3.loads(text, "t.l2l3")).results]


def test_filters_naming_tcp_udp_icmp_leave_sctp_through() -> None:
    rules = "    filter deny tcp\n    filter deny udp\n    filter deny icmp"
    got = statuses(rules, "reach a/p -> b/q", "no reach a/p -> b/q tcp", "reach a/p -> b/q sctp port 9")
    assert got == [Verdict.HOLDS] * 3
    report = l2l3.check(l2l3.loads(TWO_NODES.format(rules=rules) + "check w: reach a/p -> b/q\n", "t.l2l3"))
    witness = report.results[0].witness
    assert witness is not None and witness.packet.proto is Proto.SCTP  # type: ignore[union-attr]


def test_filter_sctp_and_a_bare_port_match_sctp() -> None:
    assert statuses(
        "    filter deny sctp",
        "no reach a/p -> b/q sctp",
        "reach a/p -> b/q tcp port 80",
    ) == [Verdict.HOLDS, Verdict.HOLDS]
    # `port N` without a protocol matches every protocol but ICMP, SCTP included
    assert statuses(
        "    filter deny port 80", "no reach a/p -> b/q sctp port 80", "reach a/p -> b/q sctp port 81"
    ) == [
        Verdict.HOLDS,
        Verdict.HOLDS,
    ]


def test_dnat_sctp_rewrites_only_sctp() -> None:
    rules = "    dnat 10.96.0.1 sctp port 5000 to 10.1.2.2:6000"
    assert (
        statuses(
            rules,
            "reach a/p -> 10.96.0.1 sctp port 5000 with nat",
            "no reach a/p -> 10.96.0.1 tcp port 5000",
            "no reach a/p -> 10.96.0.1 sctp port 5001",
        )
        == [Verdict.HOLDS] * 3
    )
    net = l2l3.Network(l2l3.loads(TWO_NODES.format(rules=rules), "t.l2l3"))
    (t,) = l2l3.trace(net, "a/p", "10.96.0.1", Proto.SCTP, 5000)
    assert t.delivered_to == "b/q" and t.final is not None and t.final.dport == 6000
    (u,) = l2l3.trace(net, "a/p", "10.96.0.1", Proto.TCP, 5000)
    assert u.delivered_to != "b/q"


def test_sctp_packets_print_with_ports() -> None:
    net = l2l3.Network(l2l3.loads(TWO_NODES.format(rules=""), "t.l2l3"))
    (t,) = l2l3.trace(net, "a/p", "10.1.2.2", Proto.SCTP, 7)
    assert t.delivered and str(t.final).startswith("sctp 10.1.1.2 > 10.1.2.2 40000 > 7")
