"""realize / teardown: what is built, what is refused, and that nothing is left behind."""

from __future__ import annotations

import json
import subprocess
from ipaddress import IPv4Address as A
from ipaddress import IPv4Interface as I
from ipaddress import IPv4Network as N

import pytest

from l2l3.model.types import (
    OS,
    Bridge,
    BridgeKind,
    Nic,
    Node,
    OutboundNat,
    Pod,
    Route,
    Segment,
    SourceNat,
    Spec,
    StackMode,
)

from .conftest import Agreement

pytestmark = pytest.mark.kernel


def two_nodes(**n1_extra: object) -> Spec:
    seg = Segment(name="lan", prefix=N("10.0.0.0/24"))

    def node(i: int, **extra: object) -> Node:
        return Node(
            name=f"n{i}",
            os=OS.LINUX,
            nics=(Nic(name="eth0", ip=I(f"10.0.0.{i}/24"), segment="lan"),),
            bridges=(Bridge(name="cni0", kind=BridgeKind.LINUX, ip=I(f"10.1.{i}.1/24")),),
            pods=(Pod(name="web", ip=I(f"10.1.{i}.5/24"), bridge="cni0"),),
            routes=(Route(prefix=N(f"10.1.{3 - i}.0/24"), via=A(f"10.0.0.{3 - i}"), dev="eth0"),),
            **extra,  # type: ignore[arg-type]
        )

    return Spec(segments=(seg,), nodes=(node(1, **n1_extra), node(2)))


def ns_list(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
    return sorted(n["name"] for n in json.loads(out or "[]") if n["name"].startswith(prefix + "-"))


def j(ns: str, *args: str) -> list[dict]:  # type: ignore[type-arg]
    out = subprocess.run(["ip", "-n", ns, "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")  # type: ignore[no-any-return]


def test_realize_builds_what_the_model_says(prefix: str, agreement: Agreement) -> None:
    from l2l3.kernel.compare import compare
    from l2l3.kernel.netns import in_netns, sysctl_read
    from l2l3.kernel.realize import realize
    from l2l3.model.network import Network

    spec = two_nodes(snats=(SourceNat(source=N("10.1.1.0/24"), exceptions=(N("10.1.0.0/16"),)),))
    net = Network(spec)
    rz = realize(spec, prefix, net=net)
    pod_ns = rz.netns["n1/web"]
    eth0 = next(x for x in j(pod_ns, "addr") if x["ifname"] == "eth0")
    assert eth0["address"] == net.stacks["n1/web"].ifaces["eth0"].mac
    assert any(a["local"] == "10.1.1.5" and a["prefixlen"] == 24 for a in eth0["addr_info"])
    routes = j(pod_ns, "route")
    assert any(r["dst"] == "default" and r.get("gateway") == "10.1.1.1" for r in routes)
    node_ns = rz.netns["n1"]
    cni0 = next(x for x in j(node_ns, "-d", "link") if x["ifname"] == "cni0")
    assert cni0["linkinfo"]["info_kind"] == "bridge"
    assert cni0["address"] == net.stacks["n1"].ifaces["cni0"].mac
    # nodes have no route to the outside world
    assert not any(r["dst"] == "default" for r in j(node_ns, "route"))
    with in_netns(node_ns):
        assert sysctl_read("net/ipv4/conf/all/rp_filter") == "0"
        assert sysctl_read("net/bridge/bridge-nf-call-iptables") == "0"
        assert sysctl_read("net/ipv4/ip_forward") == "1"
    save = subprocess.run(
        ["ip", "netns", "exec", node_ns, "iptables-save", "-t", "nat"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-A L2L3-SNAT-0 -d 10.1.0.0/16 -j RETURN" in save and "MASQUERADE" in save
    comps = compare(rz)
    assert agreement.record(comps, "two-nodes"), "\n".join(c.explain() for c in comps if not c.agree)


def test_teardown_removes_exactly_what_was_made(prefix: str) -> None:
    from l2l3.kernel.realization import teardown
    from l2l3.kernel.realize import realize

    other = prefix + "x"
    subprocess.run(["ip", "netns", "add", f"{other}-keep"], check=True)
    try:
        rz = realize(two_nodes(), prefix)
        assert ns_list(prefix) == sorted(rz.all_netns)
        gone = teardown(prefix)
        assert sorted(gone) == sorted(rz.all_netns)
        assert ns_list(prefix) == []
        assert ns_list(other) == [f"{other}-keep"]  # a longer prefix is someone else's
    finally:
        subprocess.run(["ip", "netns", "del", f"{other}-keep"], capture_output=True)


def test_failed_realize_cleans_up(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from l2l3.errors import L2L3Error
    from l2l3.kernel.build import Builder
    from l2l3.kernel.netns import KernelError
    from l2l3.kernel.realize import realize

    def boom(self: object, node: Node, ns: str) -> None:
        raise KernelError("injected failure")

    monkeypatch.setattr(Builder, "_node_l3", boom)
    with pytest.raises(L2L3Error, match="injected"):
        realize(two_nodes(), prefix)
    assert ns_list(prefix) == []


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(os=OS.WINDOWS), "Windows"),
        (dict(bridges=(Bridge(name="cbr0", kind=BridgeKind.L2BRIDGE, ip=I("10.1.1.2/24")),)), "l2bridge"),
        (dict(bridges=(Bridge(name="br-int", kind=BridgeKind.OVS),)), "ovs"),
        (dict(outbound_nats=(OutboundNat(bridge="cni0"),)), "outbound-nat"),
        (
            dict(nics=(Nic(name="a-very-long-interface", ip=I("10.0.0.1/24"), segment="lan"),)),
            "15 characters",
        ),
    ],
)
def test_refuses_what_it_cannot_realize(change: dict, words: str, kernel_ok: None) -> None:  # type: ignore[type-arg]
    import dataclasses

    from l2l3.kernel.realize import RealizeError, check_realizable

    spec = two_nodes()
    n1 = dataclasses.replace(spec.nodes[0], **change)
    with pytest.raises(RealizeError, match=words):
        check_realizable(dataclasses.replace(spec, nodes=(n1, spec.nodes[1])))


def test_refusal_names_the_spec_line(kernel_ok: None) -> None:
    import l2l3
    from l2l3.kernel.realize import RealizeError, check_realizable

    spec = l2l3.loads(
        "segment lan 10.0.0.0/24\nnode w windows {\n    nic eth0 ip 10.0.0.9/24 on lan\n}\n",
        "win.l2l3",
    )
    with pytest.raises(RealizeError, match=r"win\.l2l3:2: cannot realize: node w is a Windows node"):
        check_realizable(spec)


def test_no_netns_pod_and_veth_link(prefix: str, agreement: Agreement) -> None:
    """Shapes the random generator does not draw: a no-netns pod, a ptp-style veth."""
    import dataclasses

    from l2l3.kernel.compare import compare
    from l2l3.kernel.realize import realize

    spec = two_nodes()
    n1 = dataclasses.replace(
        spec.nodes[0],
        pods=(
            Pod(name="web", ip=I("10.1.1.5/24"), bridge="cni0"),
            Pod(name="legacy", ip=I("10.1.1.6/24"), bridge="cni0", mode=StackMode.NO_NETNS),
        ),
    )
    n2 = dataclasses.replace(
        spec.nodes[1],
        bridges=(Bridge(name="veth1", kind=BridgeKind.VETH, ip=I("10.1.2.1/32")),),
        pods=(
            Pod(
                name="web",
                ip=I("10.1.2.5/32"),
                bridge="veth1",
                routes=(
                    Route(prefix=N("10.1.2.1/32"), dev="eth0"),
                    Route(prefix=N("0.0.0.0/0"), via=A("10.1.2.1"), dev="eth0"),
                ),
            ),
        ),
        routes=(
            Route(prefix=N("10.1.1.0/24"), via=A("10.0.0.1"), dev="eth0"),
            Route(prefix=N("10.1.2.5/32"), dev="veth1"),
        ),
    )
    rz = realize(dataclasses.replace(spec, nodes=(n1, n2)), prefix)
    comps = compare(rz)
    agreement.record(comps, "no-netns+veth")
    bad = [c for c in comps if not c.agree]
    assert not bad, "\n".join(c.explain() for c in bad[:10])


MACVLAN = """\
segment lan 10.0.0.0/24
node n1 linux {
    nic eth0 ip 10.0.0.11/24 on lan
    bridge mv0 macvlan uplink eth0
    pod web ip 10.0.0.101/24 on mv0
    pod api ip 10.0.0.102/24 on mv0
}
node n2 linux {
    nic eth0 ip 10.0.0.12/24 on lan
    bridge mv0 macvlan uplink eth0
    pod db ip 10.0.0.115/24 on mv0
}
check lan-l2: reach n1/web -> n2/db via mac without nat
check siblings: reach n1/web -> n1/api via mac
check not-own-host: no reach n1/web -> node n1
check other-host: reach n1/web -> node n2
"""


def test_macvlan_and_checks(prefix: str, agreement: Agreement) -> None:
    """macvlan children, and every check's kernel verdict equal to the checker's."""
    import l2l3
    from l2l3.kernel.compare import compare
    from l2l3.kernel.prober import Prober
    from l2l3.kernel.probes import endpoints
    from l2l3.kernel.realize import realize
    from l2l3.kernel.verdict import check_probes, kernel_verdict

    spec = l2l3.loads(MACVLAN, "macvlan.l2l3")
    net = l2l3.Network(spec)
    rz = realize(spec, prefix, net=net)
    measured = {c.name: check_probes(rz, c.query) for c in spec.checks}
    probes = list(
        dict.fromkeys(endpoints(rz) + [p for m in measured.values() for _s, _d, ps in m for p in ps])
    )
    with Prober(rz) as pr:
        comps = compare(rz, probes, prober=pr)
    agreement.record(comps, "macvlan")
    assert all(c.agree for c in comps), "\n".join(c.explain() for c in comps if not c.agree)
    answers = {c.probe: c.kernel for c in comps}
    for c in spec.checks:
        kc = kernel_verdict(c.query, measured[c.name], answers)
        assert kc.status == l2l3.evaluate(net, c.query).status.value == "holds", c.name


def test_cli_realize_and_down(tmp_path, kernel_ok: None) -> None:  # type: ignore[no-untyped-def]
    from l2l3.kernel.cli import default_prefix, main

    f = tmp_path / "m.l2l3"
    f.write_text(MACVLAN)
    p = default_prefix(str(f))
    try:
        assert main(["realize", str(f)]) == 0
        assert len(ns_list(p)) == 6  # underlay, two nodes, three pods
    finally:
        assert main(["realize", str(f), "--down"]) == 0
    assert ns_list(p) == []


SCTP = """\
segment lan 10.0.0.0/24
node a linux {
    nic eth0 ip 10.0.0.1/24 on lan
    bridge cni0 linux ip 10.1.1.1/24
    pod p ip 10.1.1.2/24 on cni0
    pod db-0 ip 10.1.1.3/24 on cni0 namespace shop
    pod db-0 ip 10.1.1.4/24 on cni0 namespace dev no-netns
    route 10.1.2.0/24 via 10.0.0.2 dev eth0
    masquerade from 10.1.1.0/24 except 10.1.0.0/16
    dnat 10.96.0.1 sctp port 5000 to 10.1.2.2:80
    filter deny tcp
    filter deny udp
    filter deny icmp
    filter deny port 81
}
node b linux {
    nic eth0 ip 10.0.0.2/24 on lan
    bridge cni0 linux ip 10.1.2.1/24
    pod q ip 10.1.2.2/24 on cni0
    route 10.1.1.0/24 via 10.0.0.1 dev eth0
}
check only-sctp: reach a/p -> b/q
check vip: reach a/p -> 10.96.0.1 sctp port 5000 with nat
check no-81: no reach a/p -> b/q sctp port 81
check twins: reach pod shop/db-0 -> pod dev/db-0 sctp port 80
"""


def test_sctp_filters_dnat_and_namesake_pods(prefix: str, agreement: Agreement) -> None:
    """SCTP probes (an INIT on a raw socket: no SCTP module needed) through filters naming
    tcp/udp/icmp, a bare-port filter and an SCTP DNAT; two db-0 pods of different namespaces
    on one node. Every probe and every check's kernel verdict agree with the model."""
    import l2l3
    from l2l3.kernel.compare import compare
    from l2l3.kernel.prober import Prober
    from l2l3.kernel.probes import endpoints
    from l2l3.kernel.realize import realize
    from l2l3.kernel.verdict import check_probes, kernel_verdict
    from l2l3.model.types import Proto

    spec = l2l3.loads(SCTP, "sctp.l2l3")
    net = l2l3.Network(spec)
    assert net.sctp_distinct and "a/shop/db-0" in net.pods
    rz = realize(spec, prefix, net=net)
    measured = {c.name: check_probes(rz, c.query) for c in spec.checks}
    probes = list(
        dict.fromkeys(
            endpoints(rz, ports=(80, 81, 5000))
            + [p for m in measured.values() for _s, _d, ps in m for p in ps]
        )
    )
    assert any(p.proto is Proto.SCTP for p in probes)
    with Prober(rz, (80, 81, 5000)) as pr:
        comps = compare(rz, probes, prober=pr)
    agreement.record(comps, "sctp")
    assert all(c.agree for c in comps), "\n".join(c.explain() for c in comps if not c.agree)
    assert any(c.probe.proto is Proto.SCTP and c.kernel.delivered for c in comps)
    answers = {c.probe: c.kernel for c in comps}
    for c in spec.checks:
        kc = kernel_verdict(c.query, measured[c.name], answers)
        assert kc.status == l2l3.evaluate(net, c.query).status.value == "holds", c.name
