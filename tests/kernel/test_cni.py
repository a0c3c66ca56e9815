"""Real CNI plugins as the oracle: run them as a runtime would, snapshot, check, probe, compare.

Namespaces (all ``PREFIX-…``): ``host`` (the node: where the runtime runs
the plugin, so the bridge/veths/iptables rules land there, never in the root
namespace), ``peer`` (another node, joined to ``host`` by a veth "lan"
10.0.0.0/24) and one namespace per pod. Each plugin runs with
``CNI_COMMAND=ADD``, ``CNI_NETNS``, ``CNI_IFNAME``, ``CNI_PATH`` and the
netconf on stdin; ``DEL`` runs at the end; host-local keeps its state in a
per-test ``dataDir`` that is removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import Agreement

pytestmark = pytest.mark.kernel

CNI_PATH = Path("/usr/lib/cni")


@dataclass
class Runtime:
    prefix: str
    data: Path
    added: list[tuple[str, str, str, str]] = field(default_factory=list)  # plugin, ctr id, netns, conf

    def ns(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def add_netns(self, short: str, *, forwarding: bool = False) -> str:
        from l2l3.kernel.netns import prepare_netns

        name = self.ns(short)
        subprocess.run(["ip", "netns", "add", name], check=True)
        prepare_netns(name, forwarding=forwarding)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        return name

    def cni(self, command: str, conf: dict, ctr: str, netns: str) -> dict:  # type: ignore[type-arg]
        text = json.dumps(conf)
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": ctr,
            "CNI_NETNS": f"/var/run/netns/{netns}",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": str(CNI_PATH),
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        }
        p = subprocess.run(
            ["ip", "netns", "exec", self.ns("host"), str(CNI_PATH / conf["type"])],
            input=text,
            capture_output=True,
            text=True,
            env=env,
        )
        if p.returncode != 0:
            raise AssertionError(f"CNI {command} {conf['type']} failed: {p.stdout} {p.stderr}")
        if command == "ADD":
            self.added.append((conf["type"], ctr, netns, text))
        return json.loads(p.stdout) if p.stdout.strip() else {}


@pytest.fixture
def runtime(prefix: str) -> Iterator[Runtime]:
    for plugin in ("bridge", "ptp", "host-local"):
        if not (CNI_PATH / plugin).exists():
            from .conftest import REQUIRE

            msg = (
                f"CNI plugin {plugin} missing under {CNI_PATH} (apt-get install containernetworking-plugins)"
            )
            if REQUIRE:
                pytest.fail(msg, pytrace=False)
            pytest.skip(msg)
    data = Path("/run/l2l3-cni") / prefix
    rt = Runtime(prefix, data)
    host = rt.add_netns("host")
    peer = rt.add_netns("peer")
    subprocess.run(
        ["ip", "-n", host, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer],
        check=True,
    )
    for ns, ip in ((host, "10.0.0.1/24"), (peer, "10.0.0.2/24")):
        subprocess.run(["ip", "-n", ns, "addr", "add", ip, "dev", "eth0"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
    try:
        yield rt
    finally:
        for _plugin, ctr, netns, text in reversed(rt.added):
            try:
                rt.cni("DEL", json.loads(text), ctr, netns)
            except AssertionError:
                pass
        shutil.rmtree(data, ignore_errors=True)
        # namespaces: the `prefix` fixture deletes them by name


def conf(kind: str, name: str, subnet: str, data: Path, **extra: object) -> dict:  # type: ignore[type-arg]
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "type": kind,
        **extra,
        "ipam": {
            "type": "host-local",
            "subnet": subnet,
            "dataDir": str(data),
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }


def snapshot_and_compare(rt: Runtime, checks: str, agreement: Agreement, label: str) -> tuple[str, list]:  # type: ignore[type-arg]
    """Snapshot, parse (with checks), compare every check and every pair with the kernel."""
    import l2l3
    from l2l3.kernel.compare import compare
    from l2l3.kernel.prober import Prober
    from l2l3.kernel.probes import endpoints
    from l2l3.kernel.realization import Realization
    from l2l3.kernel.snapshot import snapshot
    from l2l3.kernel.verdict import check_probes, kernel_verdict

    snap = snapshot(f"{rt.prefix}-*", strip=rt.prefix)
    text = snap.text + "\n" + checks
    spec = l2l3.loads(text, f"<snapshot {label}>")
    net = l2l3.Network(spec)
    rz = Realization(prefix=rt.prefix, spec=spec, net=net, netns=snap.netns)
    verdicts = []
    measured = {}
    for c in spec.checks:
        r = l2l3.evaluate(net, c.query)
        measured[c.name] = check_probes(rz, c.query, r.witness.packet if r.witness else None)
        verdicts.append((c, r))
    probes = list(
        dict.fromkeys(endpoints(rz) + [p for m in measured.values() for _s, _d, ps in m for p in ps])
    )
    with Prober(rz, sorted({p.dport for p in probes if p.dport} | {80})) as pr:
        comps = compare(rz, probes, prober=pr)
    agreement.record(comps, label)
    answers = {c.probe: c.kernel for c in comps}
    rows = []
    for c, r in verdicts:
        kc = kernel_verdict(c.query, measured[c.name], answers)
        rows.append((c.name, r.status.value, kc.status))
    bad = [c for c in comps if not c.agree]
    assert not bad, text + "\n" + "\n".join(c.explain() for c in bad[:10])
    assert all(m == k for _n, m, k in rows), f"{text}\nchecker vs kernel: {rows}"
    return text, rows


@pytest.mark.parametrize("masq", [True, False], ids=["ipmasq", "no-ipmasq"])
def test_bridge_plugin(runtime: Runtime, agreement: Agreement, masq: bool) -> None:
    rt = runtime
    c = conf("bridge", f"{rt.prefix}br", "10.22.0.0/24", rt.data, bridge="cni0", isGateway=True, ipMasq=masq)
    for pod in ("pa", "pb"):
        rt.cni("ADD", c, f"{rt.prefix}{pod}", rt.add_netns(pod))
    checks = """
check same-bridge: reach host/pa -> host/pb via mac without nat
check to-peer: reach host/pa -> node peer
check masq: nat host/pa -> node peer as 10.0.0.1
check peer-cannot: no reach node peer -> host/pa
"""
    text, rows = snapshot_and_compare(rt, checks, agreement, f"cni bridge ipMasq={masq}")
    assert ("masquerade from 10.22.0." in text) == masq
    expect = {
        "same-bridge": "holds",
        "to-peer": "holds",
        "masq": "holds" if masq else "violated",
        "peer-cannot": "holds",
    }
    assert {n: k for n, _m, k in rows} == expect


def test_ptp_plugin(runtime: Runtime, agreement: Agreement) -> None:
    rt = runtime
    c = conf("ptp", f"{rt.prefix}ptp", "10.23.0.0/24", rt.data, ipMasq=True)
    for pod in ("pc", "pd"):
        rt.cni("ADD", c, f"{rt.prefix}{pod}", rt.add_netns(pod))
    checks = """
check routed: reach host/pc -> host/pd
check not-l2: no reach host/pc -> host/pd via mac
check masq: nat host/pc -> node peer as 10.0.0.1
check no-masq-inside: nat host/pc -> host/pd as 10.23.0.2
"""
    text, rows = snapshot_and_compare(rt, checks, agreement, "cni ptp")
    assert " veth ip 10.23.0.1/32" in text
    assert {n: k for n, _m, k in rows} == {
        "routed": "holds",
        "not-l2": "holds",
        "masq": "holds",
        "no-masq-inside": "holds",
    }


def test_bridge_and_ptp_together(runtime: Runtime, agreement: Agreement) -> None:
    rt = runtime
    b = conf("bridge", f"{rt.prefix}br", "10.22.0.0/24", rt.data, bridge="cni0", isGateway=True, ipMasq=True)
    p = conf("ptp", f"{rt.prefix}ptp", "10.23.0.0/24", rt.data, ipMasq=False)
    rt.cni("ADD", b, f"{rt.prefix}pa", rt.add_netns("pa"))
    rt.cni("ADD", p, f"{rt.prefix}pc", rt.add_netns("pc"))
    checks = """
check across: reach host/pa -> host/pc
check masq-stays-inside: nat host/pa -> host/pc as 10.0.0.1
"""
    _text, rows = snapshot_and_compare(rt, checks, agreement, "cni bridge+ptp")
    # the bridge plugin's masquerade excepts only its own subnet: pa -> pc leaves via
    # the ptp veth and is masqueraded to the address of that veth (10.23.0.1)
    assert dict((n, k) for n, _m, k in rows)["across"] == "holds"
