"""CNI network configs, in the shapes real plugins write them, and flannel's ConfigMap.

Each sample under data/cni/ was written for these tests (values made up) in
the shape of an upstream file (see data/cni/README.md):

- 10-flannel.conflist: flannel-io/flannel, Documentation/kube-flannel.yml (cni-conf.json)
- 10-calico.conflist: projectcalico/calico, manifests/calico.yaml (cni_network_config)
- 10-antrea.conflist: antrea-io/antrea, docs/configuration.md ("CNI configuration")
- 10-bridge.conf: containernetworking/plugins, plugins/main/bridge (README)
- 10-kindnet.conflist: kubernetes-sigs/kind, images/kindnetd (its CNI config template)
- 20-macvlan.conf: containernetworking/plugins, plugins/main/macvlan (README)
- l2bridge-flannel.conf: microsoft/SDN, Kubernetes/flannel/l2bridge/cni/config/cni.conf (CRLF)
- win-bridge.conf: containernetworking/plugins, plugins/main/windows/win-bridge (README)
- sdnbridge.conf, sdnoverlay.conf: microsoft/windows-container-networking example configs
- win-overlay-flannel.conf: microsoft/SDN, Kubernetes/flannel/overlay/cni/config/cni.conf
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from l2l3.kube import CniConfig, KubeError, load, load_text
from tests.kube.helpers import DATA, line_at, text_at

CNI = DATA / "cni"


def one(name: str) -> CniConfig:
    (conf,) = load(CNI / name).cni_configs
    return conf


def test_flannel_conflist() -> None:
    conf = one("10-flannel.conflist")
    assert (conf.name, conf.cni_version, conf.is_list, conf.types) == (
        "cbr0",
        "0.3.1",
        True,
        ("flannel", "portmap"),
    )
    flannel, portmap = conf.plugins
    assert dict(flannel.options["delegate"]) == {"hairpinMode": True, "isDefaultGateway": True}
    assert portmap.options["capabilities"]["portMappings"] is True
    assert line_at(flannel.span).strip() == "{"
    assert text_at(flannel.option_spans["delegate"], 1) == "{"
    assert line_at(flannel.option_spans["delegate"]).strip() == '"delegate": {'


def test_calico_conflist() -> None:
    conf = one("10-calico.conflist")
    assert conf.types == ("calico", "portmap", "bandwidth")
    calico = conf.main
    assert calico.options["ipam"]["type"] == "calico-ipam"
    assert calico.options["policy"]["type"] == "k8s"
    assert calico.options["kubernetes"]["kubeconfig"] == "/etc/cni/net.d/calico-kubeconfig"
    assert calico.options["datastore_type"] == "kubernetes" and calico.options["mtu"] == 0
    assert conf.plugins[1].options["snat"] is True
    assert conf.plugins[2].options["capabilities"] == {"bandwidth": True}


def test_antrea_conflist() -> None:
    conf = one("10-antrea.conflist")
    assert (conf.name, conf.cni_version, conf.types) == (
        "antrea",
        "0.3.0",
        ("antrea", "portmap", "bandwidth"),
    )
    assert conf.main.options["ipam"] == {"type": "host-local"}


def test_bridge_conf_is_one_plugin() -> None:
    conf = one("10-bridge.conf")
    assert not conf.is_list and conf.types == ("bridge",) and conf.name == "podnet"
    o = conf.main.options
    assert (o["bridge"], o["isGateway"], o["ipMasq"], o["hairpinMode"]) == ("cni0", True, True, True)
    assert o["ipam"]["type"] == "host-local" and o["ipam"]["subnet"] == "10.88.0.0/16"
    assert o["ipam"]["routes"] == ({"dst": "0.0.0.0/0"},)  # lists are tuples
    assert "name" not in o and "cniVersion" not in o  # the network's, not the plugin's
    assert line_at(conf.main.option_spans["ipMasq"]).strip() == '"ipMasq": true,'


def test_kindnet_ptp_conflist() -> None:
    conf = one("10-kindnet.conflist")
    assert conf.types == ("ptp", "portmap") and conf.name == "kindnet"
    ptp = conf.main.options
    assert ptp["ipMasq"] is False and ptp["mtu"] == 1500
    assert ptp["ipam"]["ranges"] == (({"subnet": "10.244.2.0/24"},),)
    # tabs indent this file: columns count characters
    assert line_at(conf.main.option_spans["mtu"]) == '\t\t"mtu": 1500'
    assert conf.main.option_spans["mtu"].col == 10


def test_macvlan_conf() -> None:
    conf = one("20-macvlan.conf")
    assert conf.types == ("macvlan",) and conf.cni_version == "1.0.0"
    assert (conf.main.options["master"], conf.main.options["mode"]) == ("eth0", "bridge")


def test_windows_bridge_through_flannel_crlf() -> None:
    conf = one("l2bridge-flannel.conf")
    assert conf.types == ("flannel",)
    delegate = conf.main.options["delegate"]
    assert delegate["type"] == "win-bridge"
    nat, svc, host = delegate["policies"]
    assert nat["Value"]["Type"] == "OutBoundNAT"
    assert nat["Value"]["ExceptionList"] == ("10.244.0.0/16", "10.96.0.0/12", "10.127.130.0/24")
    assert (svc["Value"]["Type"], svc["Value"]["DestinationPrefix"], svc["Value"]["NeedEncap"]) == (
        "ROUTE",
        "10.96.0.0/12",
        True,
    )
    assert host["Value"]["DestinationPrefix"] == "10.127.130.40/32"
    assert line_at(conf.main.option_spans["delegate"]).strip() == '"delegate": {'


def test_win_bridge_conf() -> None:
    conf = one("win-bridge.conf")
    o = conf.main.options
    assert (
        conf.types == ("win-bridge",) and o["ipMasqNetwork"] == "10.244.0.0/16" and o["loopbackDSR"] is True
    )
    assert [p["value"]["Type"] for p in o["policies"]] == ["OutBoundNAT", "ROUTE"]


def test_sdnbridge_and_sdnoverlay_hns_v2_settings() -> None:
    bridge = one("sdnbridge.conf")
    assert bridge.types == ("sdnbridge",) and bridge.main.options["master"] == "Ethernet"
    nat, svc, host = bridge.main.options["AdditionalArgs"]
    assert nat["Value"]["Settings"]["Exceptions"][0] == "10.244.0.0/16"
    assert (svc["Value"]["Type"], svc["Value"]["Settings"]["NeedEncap"]) == ("SDNRoute", True)
    assert host["Value"]["Settings"]["DestinationPrefix"] == "10.127.130.40/32"
    overlay = one("sdnoverlay.conf")
    assert overlay.types == ("sdnoverlay",)
    assert [a["Value"]["Type"] for a in overlay.main.options["AdditionalArgs"]] == [
        "OutBoundNAT",
        "SDNRoute",
        "ProviderAddress",
    ]


def test_win_overlay_through_flannel() -> None:
    conf = one("win-overlay-flannel.conf")
    delegate = conf.main.options["delegate"]
    assert (conf.name, delegate["type"]) == ("vxlan0", "win-overlay")
    assert delegate["policies"][0]["Value"]["ExceptionList"] == ("10.244.0.0/16", "10.96.0.0/12")


def test_every_sample_reads_with_no_note() -> None:
    c = load(CNI)
    assert len(c.cni_configs) == 11 and c.notes == ()
    assert [Path(f).name for f in c.files][:2] == ["10-antrea.conflist", "10-bridge.conf"]  # path order


@pytest.mark.parametrize(
    "encoding,bom",
    [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)],
)
def test_powershell_encodings(tmp_path: Path, encoding: str, bom: bytes) -> None:
    # Set-Content / Out-File write UTF-16 with a BOM ("Unicode") or UTF-8 with one, and CRLF
    text = (CNI / "sdnbridge.conf").read_text().replace("\n", "\r\n")
    path = tmp_path / "cni.conf"
    path.write_bytes(bom + text.encode(encoding))
    (conf,) = load(path).cni_configs
    assert conf.types == ("sdnbridge",)
    assert conf.main.option_spans["master"].line == 5 and conf.main.option_spans["master"].col == 13


def test_flannel_configmap() -> None:
    c = load(DATA / "kube-flannel-cfg.yaml")
    assert c.notes == ()
    (cfg,) = c.flannel_configs
    assert (cfg.name, cfg.namespace) == ("kube-flannel-cfg", "kube-flannel")
    net = cfg.net_conf
    assert net is not None
    assert (net.network, net.backend_type, dict(net.backend)) == (
        "10.244.0.0/16",
        "vxlan",
        {"VNI": 4096, "Port": 4789},
    )
    assert net.enable_ipv4 and not net.enable_ipv6 and net.subnet_len is None
    # positions inside the literal block are the JSON's own, in the YAML file
    assert line_at(net.span) == "    {" and net.span.line == 34
    assert cfg.cni_conf is not None and cfg.cni_conf.types == ("flannel", "portmap")
    flannel = cfg.cni_conf.main
    assert line_at(flannel.option_spans["delegate"]).strip() == '"delegate": {'


def test_flannel_configmap_errors_point_into_the_json() -> None:
    text = (DATA / "kube-flannel-cfg.yaml").read_text()
    bad_backend = text.replace('"Type": "vxlan"', '"Type": "vxlan2"')
    with pytest.raises(KubeError) as e:
        load_text(bad_backend, "cfg.yaml")
    (d,) = e.value.diagnostics
    assert (d.line, d.col) == (38, 17) and "a flannel backend" in d.message
    assert d.line_text == '        "Type": "vxlan2",'
    bad_json = text.replace('"Network": "10.244.0.0/16",', '"Network": "10.244.0.0/16"')
    with pytest.raises(KubeError) as e:
        load_text(bad_json, "cfg.yaml")
    (d,) = e.value.diagnostics
    assert "net-conf.json: not valid JSON" in d.message and d.line == 36
    bad_cidr = text.replace('"10.244.0.0/16"', '"10.244.0.0"')
    with pytest.raises(KubeError) as e:
        load_text(bad_cidr, "cfg.yaml")
    assert "Network: expected a CIDR" in e.value.diagnostics[0].message


def test_bare_net_conf_json_file(tmp_path: Path) -> None:
    path = tmp_path / "net-conf.json"
    path.write_text('{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}')
    (cfg,) = load(path).flannel_configs
    assert cfg.net_conf is not None and cfg.net_conf.backend_type == "host-gw" and cfg.cni_conf is None
    path.write_text('{"Network": "10.244.0.0/16"}')
    (cfg,) = load(path).flannel_configs
    assert cfg.net_conf is not None and cfg.net_conf.backend_type == "udp"  # flannel's default


@pytest.mark.parametrize(
    "name,text,words",
    [
        ("a.conflist", '{"name": "x", "plugins": []}', "at least one plugin"),
        ("a.conflist", '{"name": "x", "plugins": [{"ipam": {}}]}', "type is required"),
        ("a.conflist", '{"plugins": [{"type": "bridge"}]}', "name is required"),
        ("a.conf", '{"name": "x", "type": 7}', "expected the plugin's type"),
        ("a.conf", "[1, 2]", "a CNI network config"),
        ("a.conf", '{"name": "x", "type": "bridge",}', "not valid JSON"),
    ],
)
def test_bad_cni_configs(name: str, text: str, words: str) -> None:
    with pytest.raises(KubeError) as e:
        load_text(text, name)
    assert words in e.value.diagnostics[0].message


def test_conf_with_a_plugin_list_is_read_as_a_list() -> None:
    c = load_text('{"name": "x", "cniVersion": "0.4.0", "plugins": [{"type": "bridge"}]}', "odd.conf")
    assert c.cni_configs[0].is_list and [n.code for n in c.notes] == ["assumed"]
