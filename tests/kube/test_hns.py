"""A Windows node's HNS state as input (LANGUAGE.md §7 "Node state"; docs/windows-state.md).

The samples under tests/kube/samples/hns/ are written from the public
sources each test names: microsoft/hcsshim (``internal/hns`` v1 and ``hcn``
v2 types), containernetworking/plugins win-bridge and ``pkg/hns``,
microsoft/SDN (Kubernetes/flannel/l2bridge: cbr0, .2 host endpoint, the E2
ExceptionList and ROUTE policies), Microsoft Learn (Get-NetRoute).
"""

from __future__ import annotations

import codecs
import json
import shutil
from dataclasses import replace
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from l2l3 import api
from l2l3.cli import main
from l2l3.errors import SpecError
from l2l3.kube.inputs import load_cluster
from l2l3.kube.windows import shape

SAMPLES = Path(__file__).parent / "samples" / "hns"
V1 = SAMPLES / "win-l2bridge-v1"
V2 = SAMPLES / "win-l2bridge-v2"
ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def verdicts(paths: list[str]) -> dict[str, str]:
    spec = load_cluster(paths).spec
    return {r.check.name: r.status.value for r in api.check(spec).results}


def node(paths: list[str], name: str) -> Any:
    return next(n for n in load_cluster(paths).raw.nodes if n.name == name)


def test_shapes_tell_each_dump_apart() -> None:
    """Field names of hcsshim internal/hns (v1), hcn (v2), docker inspect and MSFT_NetRoute."""
    assert shape({"ManagementIP": "10.0.0.1", "Subnets": [], "Type": "L2Bridge"}) == "network"
    assert shape({"Ipams": [], "Type": "L2Bridge"}) == "network"
    assert shape({"VirtualNetwork": "x", "IPAddress": "10.244.3.4"}) == "endpoint"
    assert shape({"HostComputeNetwork": "x", "IpConfigurations": []}) == "endpoint"
    assert shape({"ID": "x", "References": [], "Policies": []}) == "policylist"
    assert shape({"DestinationPrefix": "0.0.0.0/0", "NextHop": "10.0.0.1", "ifIndex": 3}) == "route"
    assert shape({"Type": "ROUTE", "DestinationPrefix": "10.96.0.0/12", "NextHop": ""}) is None
    assert shape({"Name": "n", "Driver": "l2bridge", "IPAM": {}}) == "docker"
    assert shape({"apiVersion": "v1", "kind": "Pod"}) is None


def test_v1_l2bridge_node_checks_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    """microsoft/SDN flannel l2bridge node (E2): OutBoundNAT ExceptionList pod-cidr, service-cidr and
    the node segment; ROUTE NeedEncap for the service CIDR and the node IP. Excepted ranges keep the pod
    address, the internet and a DNS server outside the exceptions see the host's (Kubernetes docs,
    Windows networking: "IP may be rewritten to host IP using HNS OutboundNAT policy")."""
    rc, out, err = run(capsys, "check", str(V1))
    assert rc == 0, out + err
    assert "9 checks: 9 hold, 0 violated" in out
    assert "dns-natted: nat win1/iis -> external corpdns udp port 53 as 10.127.130.38\n  holds" in out


def test_v1_translation_is_what_the_profile_writes() -> None:
    """The HNS state gives the statements `cni win-bridge` expands to (l2l3.model.profiles.windows):
    cbr0 l2bridge at the host endpoint .2 (cbr0_ep, CNI-SEMANTICS §1(a)(h)), uplink eth0, outbound-nat
    with the ExceptionList, route-to-host for each NeedEncap ROUTE; routes from Get-NetRoute."""
    n = node([str(V1)], "win1")
    cbr0 = next(b for b in n.bridges if b.name == "cbr0")
    assert (str(cbr0.ip), cbr0.uplink) == ("10.244.3.2/24", "eth0")
    assert str(n.nics[0].ip) == "10.127.130.38/24" and n.nics[0].mac == "00:15:5d:01:00:38"
    assert [str(e) for e in n.outbound_nats[0].exceptions] == [
        "10.244.0.0/16",
        "10.96.0.0/12",
        "10.127.130.0/24",
    ]
    assert [str(r.prefix) for r in n.routes_to_host] == ["10.96.0.0/12", "10.127.130.38/32"]
    assert [(str(r.prefix), str(r.via)) for r in n.routes] == [
        ("0.0.0.0/0", "10.127.130.1"),
        ("10.244.1.0/24", "10.127.130.37"),
    ]
    (svc,) = n.dnats  # the Get-HnsPolicyList ELB: VIP to a local and a remote endpoint
    assert (str(svc.vip), svc.port, [(str(b.ip), b.port) for b in svc.backends]) == (
        "10.96.0.20",
        80,
        [("10.244.3.4", 80), ("10.244.1.5", 80)],
    )
    pods = {p.name: p for p in n.pods}
    assert set(pods) == {"iis", "legacy"}  # cbr0_ep is the host's, the remote endpoint lin1's
    assert (pods["iis"].namespace, dict(pods["iis"].labels)) == ("shop", {"app": "iis"})  # by IP, pods.yaml
    assert pods["iis"].mac == "00:15:5d:aa:03:04" and pods["iis"].span.file.endswith("endpoints.json")


@pytest.mark.parametrize(
    "sample",
    [V1, SAMPLES / "docker-l2bridge", pytest.param(V2, marks=pytest.mark.slow)],
    ids=lambda p: p.name,
)
def test_import_round_trip_keeps_every_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sample: Path
) -> None:
    """`l2l3 import` of the node state: one .l2l3 with # from FILE:LINE that checks the same."""
    out_file = tmp_path / f"{sample.name}.l2l3"
    rc, _, err = run(capsys, "import", str(sample), "-o", str(out_file))
    assert rc == 0, err
    text = out_file.read_text()
    state_dir = next(p for p in sample.iterdir() if p.is_dir())
    assert f"# from {state_dir}/" in text
    assert "# assumed: " in text  # the node named after its directory
    a, b = load_cluster([str(out_file)]).spec, load_cluster([str(sample)]).spec
    assert replace(a, file="", source="") == replace(b, file="", source="")
    assert verdicts([str(out_file)]) == verdicts([str(sample)])


def test_v2_field_names_acl_and_port_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    """hcsshim hcn: HostComputeNetwork Ipams/IpAddressPrefix, HostComputeEndpoint IpConfigurations,
    policies as Type + Settings (OutBoundNAT Exceptions, SDNRoute, ACL, PortMapping). ACLs: any ACL makes
    the endpoint default-deny (microsoft/Windows-Containers#616), a lower Priority is evaluated first and
    protocol 256 is any (microsoft/hcsshim#1059)."""
    rc, out, err = run(capsys, "check", str(V2))
    assert rc == 0, out + err
    assert "8 checks: 8 hold" in out
    n = node([str(V2)], "win2")
    assert [(str(d.vip), d.port, str(d.backends[0].ip), d.backends[0].port) for d in n.dnats] == [
        ("10.127.130.39", 8080, "10.244.4.20", 80)
    ]
    assert n.enforce_policy


def _acl_state(tmp_path: Path, acls: list[dict[str, Any]]) -> list[str]:
    shutil.copytree(V2, tmp_path / "s")
    eps = json.loads((tmp_path / "s/win2/hcn-endpoints.json").read_text())
    eps[2]["Policies"] = eps[2]["Policies"][:3] + [{"Type": "ACL", "Settings": a} for a in acls]
    (tmp_path / "s/win2/hcn-endpoints.json").write_text(json.dumps(eps))
    return [str(tmp_path / "s")]


def test_a_lone_block_acl_denies_everything(tmp_path: Path) -> None:
    """microsoft/Windows-Containers#616: "a lone Block rule effectively results in block the target +
    deny everything else" — with one Block rule, nothing reaches api and api reaches nothing."""
    paths = _acl_state(
        tmp_path, [{"Action": "Block", "Direction": "Out", "RemoteAddresses": "10.244.4.66", "Priority": 100}]
    )
    got = verdicts(paths)
    assert got["acl-allows"] == "violated" and got["acl-egress"] == "violated"
    assert got["acl-blocks"] == "holds" and got["excepted"] == "holds"


def test_block_before_allow_and_after(tmp_path: Path) -> None:
    """hcsshim#1059: the Block at priority 500 is evaluated before the allow-all at 1000; a Block after
    the allow (a higher number) changes nothing."""
    allow_in = {"Action": "Allow", "Direction": "In", "Protocols": "256", "Priority": 1000}
    block_web = {"Action": "Block", "Direction": "In", "RemoteAddresses": "10.244.4.20", "Priority": 500}
    got = verdicts(_acl_state(tmp_path / "a", [allow_in, block_web]))
    assert got["acl-allows"] == "violated" and got["acl-other-port"] == "holds"
    late = dict(block_web, Priority=2000)
    got = verdicts(_acl_state(tmp_path / "b", [allow_in, late]))
    assert got["acl-allows"] == "holds" and got["acl-other-port"] == "violated"


def _write(path: Path, text: str, encoding: str) -> None:
    data = text.encode("utf-16-le" if encoding == "utf-16" else encoding)
    if encoding == "utf-16":
        data = codecs.BOM_UTF16_LE + data
    path.write_bytes(data)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom"])
def test_powershell_encodings_read_alike(tmp_path: Path, encoding: str) -> None:
    """PowerShell 5.1 `>` writes UTF-16 LE with BOM, `Out-File -Encoding utf8` UTF-8 with BOM, 7 UTF-8
    without; lines end in CRLF. Every form gives the same node."""
    shutil.copytree(V1, tmp_path / "s")
    for f in (tmp_path / "s/win1").iterdir():
        text = json.dumps(
            json.loads(f.read_bytes().decode("utf-16" if f.name == "networks.json" else "utf-8-sig")),
            indent=1,
        )
        text = text.replace("\n", "\r\n")
        if encoding == "utf-16-be-bom":
            f.write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
        else:
            _write(f, text, encoding)
    assert node([str(tmp_path / "s")], "win1") == node([str(V1)], "win1")


def test_single_object_without_brackets(tmp_path: Path) -> None:
    """ConvertTo-Json writes one object bare, several as an array: both are read."""
    shutil.copytree(V1, tmp_path / "s")
    nets = json.loads((V1 / "win1/networks.json").read_bytes().decode("utf-16"))
    (tmp_path / "s/win1/networks.json").write_text(json.dumps(nets[1]))
    n = node([str(tmp_path / "s")], "win1")
    assert [b.name for b in n.bridges] == ["cbr0"]


def test_bad_value_is_file_line_col(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(V1, tmp_path / "s")
    f = tmp_path / "s/win1/endpoints.json"
    text = f.read_bytes().decode("utf-8-sig").replace('"10.244.3.5"', '"10.244.3.500"')
    f.write_text(text)
    rc, out, err = run(capsys, "check", str(tmp_path / "s"))
    assert rc == 2
    line = next(i for i, s in enumerate(text.split("\n"), 1) if "10.244.3.500" in s)
    assert f"{f}:{line}:" in err and "expected an IP address" in err and "^" in err


def test_unknown_fields_and_policy_types_are_named(tmp_path: Path) -> None:
    """Nothing is dropped silently: an unread field and an unread policy type each get a note."""
    shutil.copytree(V1, tmp_path / "s")
    f = tmp_path / "s/win1/endpoints.json"
    eps = json.loads(f.read_bytes().decode("utf-8-sig"))
    eps[1]["DisableICC"] = True
    eps[1]["Policies"].append({"Type": "L2Driver", "VSID": 4096})
    f.write_text(json.dumps(eps, indent=2))
    notes = [n.message for n in load_cluster([str(tmp_path / "s")]).notes]
    assert any("field DisableICC is not read" in m for m in notes)
    assert any("policy type L2Driver is not read" in m for m in notes)


def test_no_host_address_is_an_input_error(tmp_path: Path) -> None:
    shutil.copytree(V2, tmp_path / "s")
    (tmp_path / "s/win2/routes.json").unlink()
    with pytest.raises(SpecError, match="gives no host address"):
        load_cluster([str(tmp_path / "s")])


def test_same_verdicts_as_the_seed_l2bridge_example() -> None:
    """The seed's hand-written win1 (examples/l2bridge-vs-linux-bridge.l2l3) and win1 read from its HNS
    state answer its Windows checks alike."""
    seed = api.Network(api.load(str(ROOT / "examples/l2bridge-vs-linux-bridge.l2l3")))
    mine = api.Network(load_cluster([str(V1)]).spec)
    for q in (
        "reach win1/iis -> win1/legacy via mac without nat",
        "reach win1/iis -> lin1/web tcp port 80 without nat",
        "no reach win1/iis -> lin1/web via mac",
        "nat win1/iis -> external web tcp port 443 as 10.127.130.38",
        "nat win1/iis -> external web as 10.127.130.38",
        "nat lin1/web -> win1/iis as 10.244.1.5",
    ):
        assert api.evaluate(seed, q).status == api.evaluate(mine, q).status, q


def test_exceptions_are_networks() -> None:
    n = node([str(V1)], "win1")
    assert all(isinstance(e, IPv4Network) for ob in n.outbound_nats for e in ob.exceptions)


def test_state_node_in_a_cluster_from_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    """Kubernetes Nodes win1 and lin1 under flannel host-gw: win1 is built from its HNS state (the Node
    with its ManagementIP as InternalIP), lin1 from the profile, which routes win1's podCIDR via its node
    IP as flannel's host-gw backend does for every lease (CNI-SEMANTICS §1(d), §6)."""
    mixed = SAMPLES / "mixed-flannel"
    rc, out, err = run(capsys, "check", str(V1 / "win1"), str(mixed))
    assert rc == 0, out + err
    assert "3 checks: 3 hold" in out
    raw = load_cluster([str(V1 / "win1"), str(mixed)]).raw
    win1 = next(n for n in raw.nodes if n.name == "win1")
    lin1 = next(n for n in raw.nodes if n.name == "lin1")
    assert win1.ip is None and [b.name for b in win1.bridges] == ["nat", "cbr0"]
    assert [(str(r.prefix), str(r.via)) for r in lin1.routes] == [("10.244.3.0/24", "10.127.130.38")]
    assert {p.name for p in win1.pods} == {"iis", "_9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d"}


def test_the_same_primitives_as_the_win_bridge_profile() -> None:
    """The HNS state of a flannel host-gw l2bridge node (microsoft/SDN E2) and `cni flannel host-gw`'s
    expansion of the same node (l2l3.model.profiles.windows) give the same bridge, OutBoundNAT
    exceptions and routes to the host."""
    profile = api.loads(
        """
cluster k {
    pod-cidr 10.244.0.0/16
    service-cidr 10.96.0.0/12
    cni flannel host-gw
}
segment lan 10.127.130.0/24 gateway 10.127.130.1
node win1 windows ip 10.127.130.38 on lan subnet 10.244.3.0/24 {
    pod iis ip 10.244.3.4 namespace shop
}
node lin1 linux ip 10.127.130.37 on lan subnet 10.244.1.0/24
"""
    )
    want = next(n for n in profile.nodes if n.name == "win1")
    got = node([str(V1)], "win1")
    cbr0 = next(b for b in got.bridges if b.name == "cbr0")
    assert (want.bridges[0].name, want.bridges[0].kind, str(want.bridges[0].ip), want.bridges[0].uplink) == (
        cbr0.name,
        cbr0.kind,
        str(cbr0.ip),
        cbr0.uplink,
    )
    assert [o.exceptions for o in want.outbound_nats] == [o.exceptions for o in got.outbound_nats]
    assert [r.prefix for r in want.routes_to_host] == [r.prefix for r in got.routes_to_host]
    assert {(r.prefix, r.via) for r in want.routes} == {(r.prefix, r.via) for r in got.routes}


def test_network_policy_on_a_state_node_is_what_its_acls_say(tmp_path: Path) -> None:
    """On Windows a CNI enforces NetworkPolicy by programming HNS ACL policies, which VFP applies at the
    endpoint's vSwitch port (CNI-SEMANTICS §1(a)(e); Calico for Windows and Antrea do so): a node whose
    endpoints have none does not enforce it."""
    shutil.copytree(V1, tmp_path / "s")
    (tmp_path / "s/deny.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress]}\n"
    )
    got = load_cluster([str(tmp_path / "s")])
    assert [p.name for p in got.raw.policies] == ["deny"]
    assert not node([str(tmp_path / "s")], "win1").enforce_policy
    assert any("NetworkPolicies among the inputs are not enforced on it" in n.message for n in got.notes)
    res = api.evaluate(api.Network(got.spec), "reach win1/legacy -> win1/iis tcp port 80")
    assert res.status.value == "holds"


def test_overlay_nodes_tunnel_to_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    """flannel vxlan on Windows (CNI-SEMANTICS §2; flannel vxlan_windows.go): HNS Overlay networks with VSID
    4096 on UDP 4789 and a RemoteSubnetRoute per remote lease (hcsshim hcn RemoteSubnetRoutePolicySetting)
    become a VXLAN device with route, neighbour (the DR MAC) and fdb (the provider address) per lease."""
    sample = SAMPLES / "win-overlay"
    rc, out, err = run(capsys, "check", str(sample))
    assert rc == 0, out + err
    assert "4 checks: 4 hold" in out
    win3 = node([str(sample)], "win3")
    (vx,) = win3.vxlans
    assert (vx.vni, vx.port, str(vx.local), vx.mac) == (4096, 4789, "10.127.130.41", "00:15:5d:33:33:33")
    assert [(str(r.prefix), str(r.via), r.dev, r.onlink) for r in win3.routes if r.dev == vx.name] == [
        ("10.244.6.0/24", "10.244.6.0", vx.name, True)
    ]
    assert [(f.mac, str(f.dst)) for f in win3.fdbs] == [("00:15:5d:44:44:44", "10.127.130.42")]
    assert win3.bridges[0].uplink is None and str(win3.bridges[0].ip) == "10.244.5.1/24"


def test_winnat_network_and_foreign_objects(tmp_path: Path) -> None:
    """The host's default `nat` network (HNS Type NAT, WinNAT; Microsoft Learn, network drivers: "nat"
    containers sit on an internal switch behind the host's NAT) is a bridge without uplink and a
    masquerade of its prefix; an object of no node-state shape in a dump is named in a note."""
    n = node([str(V1)], "win1")
    nat = next(b for b in n.bridges if b.name == "nat")
    assert nat.uplink is None and str(nat.ip) == "172.28.176.1/20"
    assert [(str(m.source), m.out) for m in n.snats] == [("172.28.176.0/20", "eth0")]
    shutil.copytree(V1, tmp_path / "s")
    f = tmp_path / "s/win1/routes.json"
    rows = json.loads(f.read_text(encoding="utf-8"))
    f.write_text(json.dumps(rows + [{"Hello": "world"}]))
    notes = [x.message for x in load_cluster([str(tmp_path / "s")]).notes]
    assert any("no node-state shape" in m for m in notes)


def test_services_among_the_manifests_beside_a_state(tmp_path: Path) -> None:
    """A Service from the manifests is a service statement beside the state's node, and its pod (iis,
    matched by IP) is its endpoint: the Service reaches it through the ROUTE NeedEncap to the host."""
    shutil.copytree(V1, tmp_path / "s")
    (tmp_path / "s/svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: iis, namespace: shop}\n"
        "spec: {clusterIP: 10.96.0.30, selector: {app: iis}, ports: [{port: 80, targetPort: 80}]}\n"
    )
    got = load_cluster([str(tmp_path / "s")])
    (svc,) = got.raw.services
    assert (svc.namespace, svc.name, str(svc.ip)) == ("shop", "iis", "10.96.0.30")
    assert any("kube-proxy's load balancers" in n.message for n in got.notes)
    res = api.evaluate(api.Network(got.spec), "reach win1/legacy -> 10.96.0.30 tcp port 80")
    assert res.status.value == "holds", res.explanation
