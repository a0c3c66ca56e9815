"""``snapshot_node``: a node as a runtime leaves it — a root namespace (here a named
netns standing in for it), pods in named namespaces and in namespaces only a
process holds, the runtime's CNI cache, the bridge (ipMasq, hairpinMode), ptp
and portmap plugins' output — read back, checked, and compared with the kernel.

The CNI cache files are written as libcni writes them after an ADD
(containernetworking/cni libcni/api.go: kind ``cniCacheV1``, ``containerId``,
``ifName``, ``networkName``, ``netns``, ``cniArgs`` with the kubelet's
``K8S_POD_NAMESPACE``/``K8S_POD_NAME``, ``result``)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Agreement
from .test_cni import CNI_PATH, Runtime, conf, runtime  # noqa: F401 (the fixture)

pytestmark = pytest.mark.kernel


class NodeRuntime:
    """Runs plugins as a runtime does and keeps a libcni-style cache."""

    def __init__(self, rt: Runtime, cache: Path) -> None:
        self.rt = rt
        self.cache = cache
        self.procs: list[subprocess.Popen[bytes]] = []

    def unnamed_netns(self) -> str:
        """A namespace no name points at: only a process holds it."""
        p = subprocess.Popen(["unshare", "--net", "sleep", "600"])
        self.procs.append(p)
        path = f"/proc/{p.pid}/ns/net"
        own = Path("/proc/self/ns/net").stat().st_ino
        for _ in range(100):
            try:
                if Path(path).stat().st_ino != own:
                    return path
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError("unshare did not make its namespace")

    def add(self, c: dict, ctr: str, netns_path: str, pod: tuple[str, str]) -> dict:  # type: ignore[type-arg]
        args = [
            ["IgnoreUnknown", "1"],
            ["K8S_POD_NAMESPACE", pod[0]],
            ["K8S_POD_NAME", pod[1]],
            ["K8S_POD_INFRA_CONTAINER_ID", ctr],
        ]
        env = {
            "CNI_COMMAND": "ADD",
            "CNI_CONTAINERID": ctr,
            "CNI_NETNS": netns_path,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": str(CNI_PATH),
            "CNI_ARGS": ";".join(f"{k}={v}" for k, v in args),
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        }
        result: dict = {}  # type: ignore[type-arg]
        for plugin in c["plugins"]:
            one = {"cniVersion": c["cniVersion"], "name": c["name"], **plugin}
            if result:
                one["prevResult"] = result
            p = subprocess.run(
                ["ip", "netns", "exec", self.rt.ns("host"), str(CNI_PATH / plugin["type"])],
                input=json.dumps(one),
                capture_output=True,
                text=True,
                env=env,
            )
            assert p.returncode == 0, f"CNI ADD {plugin['type']}: {p.stdout} {p.stderr}"
            result = json.loads(p.stdout)
            if plugin["type"] != "portmap":
                self.rt.added.append((plugin["type"], ctr, netns_path.rsplit("/", 1)[-1], json.dumps(one)))
        self.cache.mkdir(parents=True, exist_ok=True)
        (self.cache / f"{c['name']}-{ctr}-eth0").write_text(
            json.dumps(
                {
                    "kind": "cniCacheV1",
                    "containerId": ctr,
                    "ifName": "eth0",
                    "networkName": c["name"],
                    "netns": netns_path,
                    "cniArgs": args,
                    "result": result,
                }
            )
        )
        return result


@pytest.fixture
def node(runtime: Runtime, tmp_path: Path) -> Iterator[NodeRuntime]:  # noqa: F811
    nr = NodeRuntime(runtime, tmp_path / "results")
    try:
        yield nr
    finally:
        for p in nr.procs:
            p.kill()
            p.wait()


def _compare(nr: NodeRuntime, checks: str, agreement: Agreement, label: str) -> tuple[str, dict[str, str]]:
    """Snapshot the node, check, probe; every pair and check as the kernel answers."""
    import l2l3
    from l2l3.kernel.compare import compare
    from l2l3.kernel.prober import Prober
    from l2l3.kernel.probes import endpoints
    from l2l3.kernel.realization import Realization
    from l2l3.kernel.snapshot_node import snapshot_node
    from l2l3.kernel.verdict import check_probes, kernel_verdict

    rt = nr.rt
    snap = snapshot_node(rt.ns("host"), name="host", cache_dirs=(nr.cache,), strip=rt.prefix)
    if os.environ.get("L2L3_SNAPSHOT_RECORD"):  # refresh tests/kernel/samples (see its README)
        from l2l3.kernel.snapshot_node import gather

        out = Path(os.environ["L2L3_SNAPSHOT_RECORD"]) / f"node-{label.split(':')[1].split()[0]}.json"
        out.write_text(
            json.dumps(gather(rt.ns("host"), cache_dirs=(nr.cache,)), indent=1, sort_keys=True) + "\n"
        )
    text = snap.text + "\n" + checks
    spec = l2l3.loads(text, f"<snapshot {label}>")
    net = l2l3.Network(spec)
    rz = Realization(prefix=rt.prefix, spec=spec, net=net, netns=snap.netns)
    measured, verdicts = {}, []
    for c in spec.checks:
        r = l2l3.evaluate(net, c.query)
        measured[c.name] = check_probes(rz, c.query, r.witness.packet if r.witness else None)
        verdicts.append((c, r))
    probes = list(
        dict.fromkeys(endpoints(rz) + [p for m in measured.values() for _s, _d, ps in m for p in ps])
    )
    with Prober(rz, sorted({p.dport for p in probes if p.dport} | {80, 8080})) as pr:
        comps = compare(rz, probes, prober=pr)
    agreement.record(comps, label)
    answers = {c.probe: c.kernel for c in comps}
    rows = {}
    for c, r in verdicts:
        kc = kernel_verdict(c.query, measured[c.name], answers)
        assert kc.status == r.status.value, f"{text}\n{c.name}: checker {r.status.value}, kernel {kc.status}"
        rows[c.name] = kc.status
    bad = [c for c in comps if not c.agree and not c.known]
    print(f"{label}: {len(comps)} probes, {len(bad)} disagree; checks {rows}")
    assert not bad, text + "\n" + "\n".join(c.explain() for c in bad[:10])
    return text, rows


def test_node_bridge_portmap_unnamed_pod(node: NodeRuntime, agreement: Agreement) -> None:
    rt = node.rt
    bridge = conf("bridge", f"{rt.prefix}br", "10.22.0.0/24", rt.data, bridge="cni0", isGateway=True)
    bridge.update(ipMasq=True, hairpinMode=True)
    ipam = bridge.pop("ipam")
    chain = {
        "cniVersion": "1.0.0",
        "name": f"{rt.prefix}br",
        "plugins": [
            {k: v for k, v in bridge.items() if k not in ("cniVersion", "name")} | {"ipam": ipam},
            {
                "type": "portmap",
                "capabilities": {"portMappings": True},
                "runtimeConfig": {
                    "portMappings": [{"hostPort": 8080, "containerPort": 8080, "protocol": "tcp"}]
                },
            },
        ],
    }
    named = rt.add_netns("pa")
    node.add(chain, f"{rt.prefix}pa", f"/var/run/netns/{named}", ("shop", "web"))
    hidden = node.unnamed_netns()
    node.add({**chain, "plugins": chain["plugins"][:1]}, f"{rt.prefix}pb", hidden, ("shop", "db"))
    checks = """
check same-bridge: reach pod shop/web -> pod shop/db via mac without nat
check to-peer: reach pod shop/db -> node peer
check masq: nat pod shop/db -> node peer as 10.0.0.1
check hostport: reach node peer -> 10.0.0.1 tcp port 8080
check peer-cannot: no reach node peer -> pod shop/db
"""
    text, rows = _compare(node, checks, agreement, "node: bridge ipMasq hairpin + portmap, unnamed pod")
    assert "pod web ip 10.22.0." in text and "namespace shop" in text and "pod db ip" in text
    assert f"/proc/{node.procs[0].pid}/ns/net" in text  # provenance of the unnamed pod
    assert "bridge cni0 linux" in text and " hairpin" in text
    assert "dnat 10.0.0.1 tcp port 8080 to 10.22.0.2:8080" in text
    assert "portmap masquerades host-port traffic" in text  # named, not dropped
    assert rows == dict.fromkeys(["same-bridge", "to-peer", "masq", "hostport", "peer-cannot"], "holds")


def test_node_ptp(node: NodeRuntime, agreement: Agreement) -> None:
    rt = node.rt
    c = conf("ptp", f"{rt.prefix}ptp", "10.23.0.0/24", rt.data, ipMasq=True)
    chain = {
        "cniVersion": "1.0.0",
        "name": c["name"],
        "plugins": [{k: v for k, v in c.items() if k not in ("cniVersion", "name")}],
    }
    node.add(chain, f"{rt.prefix}pc", f"/var/run/netns/{rt.add_netns('pc')}", ("dev", "api"))
    node.add(chain, f"{rt.prefix}pd", node.unnamed_netns(), ("dev", "worker"))
    checks = """
check routed: reach pod dev/api -> pod dev/worker
check not-l2: no reach pod dev/api -> pod dev/worker via mac
check masq: nat pod dev/worker -> node peer as 10.0.0.1
"""
    text, rows = _compare(node, checks, agreement, "node: ptp ipMasq, unnamed pod")
    assert " veth ip 10.23.0.1/32" in text
    assert rows == dict.fromkeys(["routed", "not-l2", "masq"], "holds")
