"""The snapshot's readers on recorded tool outputs (no kernel needed: the everyday run).

Samples (tests/kernel/samples, see its README):

* ``node-bridge.json``, ``node-ptp.json``: what ``l2l3 snapshot --record``
  read from the kernel test ``test_snapshot_node.py`` — the real bridge
  (ipMasq, hairpinMode) + portmap and ptp plugins of containernetworking-plugins
  1.1.1, one pod in a namespace only a process held, a libcni-style cache;
* ``kube-proxy.iptables-save``: written in the layout of kube-proxy's
  iptables proxier (kubernetes/kubernetes pkg/proxy/iptables/proxier.go);
* ``nft-ruleset.json``: ``nft -j list ruleset`` (libnftables-json(5)) with an
  iptables-nft table, a native ``inet filter`` table and a drop-policy chain.
"""

from __future__ import annotations

import copy
import json
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import l2l3
from l2l3.kernel.live import parse_outputs
from l2l3.kernel.snapshot_node import from_recording, load_recording
from l2l3.kernel.snapshot_rules import nft_notes, port_flags, routing_notes, service_rules
from l2l3.model.types import Backend, Proto

SAMPLES = Path(__file__).parent / "samples"


def _rec(name: str) -> dict[str, Any]:
    return load_recording(str(SAMPLES / name))


def test_recorded_bridge_node_reads_pods_flags_and_portmap() -> None:
    snap = from_recording(_rec("node-bridge.json"), name="host")
    spec = l2l3.loads(snap.text, "<snapshot>")  # the text is a spec a user can check
    host = next(n for n in spec.nodes if n.name == "host")
    # pods by their Kubernetes namespace/name from the CNI cache, the unnamed one too
    assert sorted((p.namespace, p.name) for p in host.pods) == [("shop", "db"), ("shop", "web")]
    assert any(v.startswith("/proc/") for v in snap.netns.values())
    br = next(b for b in host.bridges if b.name == "cni0")
    assert br.hairpin and not br.isolated_ports  # hairpinMode on every pod port
    # bridge ipMasq: one masquerade per pod, its subnet and multicast excepted
    assert len(host.snats) == 2 and all(str(s.exceptions[0]) == "10.22.0.0/24" for s in host.snats)
    # portmap: the host port on every local address, to the pod's port
    web = next(p for p in host.pods if p.name == "web")
    assert {d.vip for d in host.dnats} == {IPv4Address("10.0.0.1"), IPv4Address("10.22.0.1")}
    assert all(d.proto is Proto.TCP and d.port == 8080 for d in host.dnats)
    assert all(d.backends == (Backend(ip=web.ip.ip, port=8080),) for d in host.dnats)  # type: ignore[union-attr]
    assert "portmap masquerades host-port traffic from 10.22.0.0/24" in snap.text  # named, not dropped
    assert "# from /proc/" in snap.text and "CNI cache" in snap.text  # provenance


def test_recorded_ptp_node() -> None:
    snap = from_recording(_rec("node-ptp.json"), name="host")
    spec = l2l3.loads(snap.text, "<snapshot>")
    host = next(n for n in spec.nodes if n.name == "host")
    assert sorted((p.namespace, p.name) for p in host.pods) == [("dev", "api"), ("dev", "worker")]
    assert all(b.kind.value == "veth" and str(b.ip) == "10.23.0.1/32" for b in host.bridges)


def _ports(rec: dict[str, Any]) -> tuple[Any, str, set[str]]:
    root = rec["namespaces"][rec["root"]]["outputs"]
    ns = parse_outputs(rec["root"], root)
    ports = {x["ifname"] for x in ns.links if x.get("master") == "cni0"}
    return root, "cni0", ports


def test_port_flags_mixed_and_unexpressible_are_named() -> None:
    rec = copy.deepcopy(_rec("node-bridge.json"))
    root, br, ports = _ports(rec)
    first, second = sorted(ports)
    for link in root["link"]:
        d = link.get("linkinfo", {}).get("info_slave_data")
        if link["ifname"] == first:
            d.update(hairpin=False, isolated=True, learning=False)
        if link["ifname"] == second:
            d.update(bcast_flood=False)
    ns = parse_outputs(rec["root"], root)
    hairpin, isolated, notes = port_flags(ns, br, ports)
    assert not hairpin and not isolated  # a mix is not said per bridge...
    text = "\n".join(notes)
    assert f"hairpin on ports {second} but off on {first}" in text  # ...but named
    assert f"isolated on ports {first} but off on {second}" in text
    assert f"port {first}: learning False is not expressible" in text
    assert f"port {second}: bcast_flood False is not expressible" in text


def test_policy_routing_is_named() -> None:
    ns = parse_outputs(
        "n",
        {
            "rule": [
                {"priority": 0, "src": "all", "table": "local"},
                {"priority": 100, "src": "10.22.0.0", "srclen": 24, "table": "100"},
                {"priority": 32766, "src": "all", "table": "main"},
                {"priority": 32767, "src": "all", "table": "default"},
            ],
            "route_all": [
                {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0", "table": "100"},
                {"dst": "10.0.0.0/24", "dev": "eth0", "protocol": "kernel"},
                {"type": "local", "dst": "10.0.0.1", "dev": "eth0", "table": "local"},
            ],
        },
    )
    notes = routing_notes(ns)
    assert len(notes) == 2
    assert "ip rule 100: src 10.22.0.0 srclen 24 table 100" in notes[0]
    assert notes[1].startswith("route default in table 100 via 192.0.2.1 dev eth0")


def test_kube_proxy_services_become_dnat() -> None:
    save = (SAMPLES / "kube-proxy.iptables-save").read_text()
    dnats, notes, handled, origin = service_rules(save, [IPv4Address("192.0.2.20")])
    got = {(str(d.vip), d.proto, d.port): [(str(b.ip), b.port) for b in d.backends] for d in dnats}
    assert got == {
        ("10.96.0.10", Proto.UDP, 53): [("10.244.1.5", 53), ("10.244.2.7", 53)],
        ("10.96.0.1", Proto.TCP, 443): [("192.0.2.10", 6443)],
        ("10.96.5.5", Proto.TCP, 80): [("10.244.1.9", 8080)],
    }
    text = "\n".join(notes)
    assert "KUBE-NODEPORTS" in text and "kube-proxy chain KUBE-NODEPORTS (1 rules) is not translated" in text
    assert text.count("masquerade mark") >= 4  # KUBE-MARK-MASQ, every time
    assert any("KUBE-SERVICES" in h for h in handled)
    # each dnat names the Service port it came from (kube-proxy's rule comment)
    assert sorted(origin.values())[0] == "kube-proxy default/kubernetes:https cluster IP"


def test_kube_proxy_rules_in_a_snapshot_keep_every_note() -> None:
    """The whole reader: parse_iptables' notes for what service_rules translated are
    replaced, the rest (KUBE-POSTROUTING's mark masquerade) stays."""
    rec = copy.deepcopy(_rec("node-bridge.json"))
    root = rec["namespaces"][rec["root"]]["outputs"]
    root["iptables-save"] = (SAMPLES / "kube-proxy.iptables-save").read_text()
    text = from_recording(rec, name="host").text
    assert (
        "dnat 10.96.0.10 udp port 53 to 10.244.1.5:53, 10.244.2.7:53    "
        "# from kube-proxy kube-system/kube-dns:dns cluster IP (iptables-save)"
    ) in text
    assert "KUBE-POSTROUTING" in text
    assert "nat PREROUTING rule not expressible: -A PREROUTING" not in text


def test_nft_native_tables_are_named() -> None:
    ns = parse_outputs("n", {"nft": json.loads((SAMPLES / "nft-ruleset.json").read_text())})
    notes = nft_notes(ns)
    assert len(notes) == 3  # two native rules and one drop-policy chain; the iptables-nft rule is not
    assert any("inet filter chain input handle 3" in n for n in notes)
    assert any("inet cilium forward (hook forward) has policy drop" in n for n in notes)
    assert not any(" ip nat " in n for n in notes)


def test_recording_errors_are_input_errors(tmp_path: Path) -> None:
    from l2l3.errors import L2L3Error

    bad = tmp_path / "x.json"
    bad.write_text('{"kind": "other"}')
    for path in (bad, tmp_path / "missing.json"):
        try:
            load_recording(str(path))
        except L2L3Error as e:
            assert str(path) in str(e)
        else:
            raise AssertionError("accepted")


def test_cli_snapshot_from_a_recording(tmp_path: Path, capsys: Any) -> None:
    from l2l3.kernel.cli import main

    out = tmp_path / "node.l2l3"
    assert main(["snapshot", "--from", str(SAMPLES / "node-ptp.json"), "--name", "n1", "-o", str(out)]) == 0
    spec = l2l3.loads(out.read_text(), str(out))
    assert [n.name for n in spec.nodes][0] == "n1" and len(spec.nodes[0].pods) == 2
    assert main(["snapshot", "--from", str(tmp_path / "none.json")]) == 2
    assert "cannot read a recorded snapshot" in capsys.readouterr().err


def test_iptables_rules_outside_what_is_read_are_named() -> None:
    from l2l3.kernel.snapshot_rules import iptables_unread

    save = """*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -i eth0 -j MARK --set-mark 0x1
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A INPUT -s 10.0.0.0/8 -j DROP
-A INPUT -p tcp --dport 22 -j DROP
-A FORWARD -s 10.0.0.0/8 -j DROP
-A OUTPUT -d 192.0.2.1/32 -j REJECT
COMMIT
"""
    notes = iptables_unread(save)
    assert notes == [
        "iptables mangle table rule not read: -A PREROUTING -i eth0 -j MARK --set-mark 0x1",
        "iptables filter INPUT rule not read (only FORWARD's rules are, for both): -A INPUT -p tcp --dport 22 -j DROP",
        "iptables filter OUTPUT rule not read: -A OUTPUT -d 192.0.2.1/32 -j REJECT",
        "iptables filter OUTPUT policy DROP is not read",
    ]
