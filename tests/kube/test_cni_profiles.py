"""CNI network configs -> ``cluster { cni PROFILE … }`` (l2l3.kube.cni).

The samples under data/cni/ have the shapes real plugins write (see
data/cni/README.md); inline configs cover the options one by one. Every
option the profile has no equivalent for must be named in a note.
"""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from l2l3.errors import SpecError
from l2l3.kube import load, load_text
from l2l3.kube.cni import CniChoice, from_configs, parse_profile
from l2l3.model.profiles import OPTIONS
from tests.kube.helpers import DATA

CNI = DATA / "cni"


def choice(*names: str) -> CniChoice:
    kc = load([DATA / n for n in names])
    got = from_configs(kc.cni_configs, kc.flannel_configs)
    assert got is not None
    return got


def text_choice(text: str, file: str = "net.conflist", *more: tuple[str, str]) -> CniChoice:
    clusters = [load_text(text, file)] + [load_text(t, f) for t, f in more]
    got = from_configs(
        [c for k in clusters for c in k.cni_configs], [f for k in clusters for f in k.flannel_configs]
    )
    assert got is not None
    return got


def messages(c: CniChoice, code: str | None = None) -> str:
    return "\n".join(n.message for n in c.notes if code is None or n.code == code)


def excepts(c: CniChoice) -> str:
    """The ``outbound-nat-except`` options (one per CIDR, as the cluster block writes them), joined."""
    return ",".join(v for k, v in c.options if k == "outbound-nat-except")


def net(text: str) -> IPv4Network:
    return IPv4Network(text)


# ---------------------------------------------------------------- the samples


def test_flannel_conflist_alone_assumes_vxlan() -> None:
    c = choice("cni/10-flannel.conflist")
    assert c.words == ("flannel", "vxlan") and c.options == ()
    assert "vxlan assumed" in messages(c, "assumed")
    assert "chained plugin portmap" in messages(c, "unread-field")


def test_flannel_with_its_configmap() -> None:
    c = choice("cni/10-flannel.conflist", "kube-flannel-cfg.yaml")
    assert c.words == ("flannel", "vxlan")
    assert dict(c.options) == {"vni": "4096", "port": "4789"}
    assert c.pod_cidr == net("10.244.0.0/16")
    assert "--ip-masq" in messages(c, "assumed")
    assert "vxlan assumed" not in messages(c)


def test_flannel_configmap_alone() -> None:
    """The ConfigMap's cni-conf.json stands for the node's config when none is given."""
    c = choice("kube-flannel-cfg.yaml")
    assert c.words == ("flannel", "vxlan") and c.pod_cidr == net("10.244.0.0/16")


def test_flannel_host_gw_backend() -> None:
    conf = '{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}}]}'
    nc = '{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw", "DirectRouting": true}}'
    c = text_choice(conf, "10-flannel.conflist", (nc, "net-conf.json"))
    assert c.words == ("flannel", "host-gw") and c.options == ()
    assert "DirectRouting" in messages(c, "unread-field")


def test_flannel_backend_without_profile_is_an_input_error() -> None:
    conf = '{"name":"cbr0","plugins":[{"type":"flannel"}]}'
    nc = '{"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard"}}'
    with pytest.raises(SpecError, match="flannel backend 'wireguard' has no profile"):
        text_choice(conf, "a.conflist", (nc, "net-conf.json"))


def test_calico_sample() -> None:
    c = choice("cni/10-calico.conflist")
    assert c.words == ("calico", "ipip")
    assert "IPIP assumed" in messages(c, "assumed")
    assert "chained plugin bandwidth" in messages(c)


@pytest.mark.parametrize(("mode", "words"), [("vxlan", "calico vxlan"), ("windows-bgp", "calico bgp")])
def test_calico_mode_where_stated(mode: str, words: str) -> None:
    conf = (
        '{"name":"Calico","cniVersion":"0.3.1","type":"calico","windows_use_single_network":true,'
        f'"mode":"{mode}","vxlan_vni":4096,"nat_outgoing":false,"ipam":{{"type":"calico-ipam"}}}}'
    )
    c = text_choice(conf, "10-calico.conf")
    assert c.profile == words
    assert dict(c.options) == {"nat-outgoing": "off"}
    assert "assumed" not in {n.code for n in c.notes}


def test_calico_pool_and_nat_outgoing() -> None:
    conf = (
        '{"name":"k8s-pod-network","plugins":[{"type":"calico","mode":"bgp","nat_outgoing":true,'
        '"ipam":{"type":"calico-ipam","ipv4_pools":["10.48.0.0/16"]},"mtu":1440}]}'
    )
    c = text_choice(conf)
    assert c.words == ("calico", "bgp") and dict(c.options) == {"nat-outgoing": "on"}
    assert c.pod_cidr == net("10.48.0.0/16")


def test_antrea() -> None:
    c = choice("cni/10-antrea.conflist")
    assert c.words == ("antrea",) and c.options == ()


def test_bridge_sample() -> None:
    c = choice("cni/10-bridge.conf")
    assert c.words == ("bridge",) and dict(c.options) == {"ipmasq": "on"}
    assert c.ipam_subnet == net("10.88.0.0/16")
    assert "hairpinMode" in messages(c, "unread-field")


def test_bridge_ipmasq_defaults_off_as_the_plugin() -> None:
    c = text_choice('{"name":"n","cniVersion":"1.0.0","type":"bridge","isGateway":true}', "b.conf")
    assert dict(c.options) == {"ipmasq": "off"}


def test_bridge_without_gateway_is_noted() -> None:
    c = text_choice('{"name":"n","type":"bridge","bridge":"br0","portIsolation":true}', "b.conf")
    text = messages(c)
    assert "without isGateway" in text and "br0" in text and "portIsolation" in text


def test_kindnet_sample() -> None:
    c = choice("cni/10-kindnet.conflist")
    assert c.words == ("kindnet",)
    assert c.ipam_subnet == net("10.244.2.0/24")
    assert "assumed" not in {n.code for n in c.notes}


def test_other_ptp_is_kindnet_by_assumption() -> None:
    c = text_choice('{"name":"mynet","type":"ptp","ipMasq":true,"ipam":{"type":"host-local"}}', "p.conf")
    assert c.words == ("kindnet",)
    assert "modelled as kindnet" in messages(c, "assumed")
    assert "ipMasq true" in messages(c, "unread-field")


def test_macvlan_sample() -> None:
    c = choice("cni/20-macvlan.conf")
    assert c.words == ("macvlan",) and c.ipam_subnet == net("10.127.130.0/24")
    assert not [n for n in c.notes if "mode" in n.message]


def test_macvlan_other_mode_and_master() -> None:
    c = text_choice('{"name":"lan","type":"macvlan","master":"ens3","mode":"private"}', "m.conf")
    assert "mode private" in messages(c, "unread-field")
    assert "master ens3" in messages(c, "assumed")


def test_win_bridge_under_flannel() -> None:
    """microsoft/SDN's l2bridge config (E2): flannel host-gw on Windows."""
    c = choice("cni/l2bridge-flannel.conf")
    assert c.words == ("flannel", "host-gw")
    assert c.options == tuple(
        ("outbound-nat-except", x) for x in ("10.244.0.0/16", "10.96.0.0/12", "10.127.130.0/24")
    )
    assert c.service_cidr == net("10.96.0.0/12")
    assert [str(p) for p, _ in c.windows_routes] == ["10.127.130.40/32"]
    assert "taken as the Service CIDR" in messages(c, "assumed")


def test_win_bridge_standalone() -> None:
    c = choice("cni/win-bridge.conf")
    assert c.words == ("win-bridge",)
    assert c.pod_cidr == net("10.244.0.0/16")  # ipMasqNetwork
    assert c.ipam_subnet == net("10.244.3.0/24")
    assert "loopbackDSR" in messages(c)


def test_sdnbridge_v2_settings() -> None:
    c = choice("cni/sdnbridge.conf")
    assert c.words == ("win-bridge",)
    assert excepts(c) == "10.244.0.0/16,10.96.0.0/12,10.127.130.0/24"
    assert c.service_cidr == net("10.96.0.0/12")
    assert "optionalFlags" in messages(c)


def test_sdnoverlay() -> None:
    c = choice("cni/sdnoverlay.conf")
    assert c.words == ("win-overlay",)
    assert excepts(c) == "10.244.0.0/16,10.96.0.0/12" and len(c.options) == 2
    assert "ProviderAddress" in messages(c)


def test_win_overlay_under_flannel() -> None:
    c = choice("cni/win-overlay-flannel.conf")
    assert c.words == ("flannel", "vxlan")
    assert excepts(c) == "10.244.0.0/16,10.96.0.0/12" and len(c.options) == 2


def test_every_sample_gives_a_known_profile_with_allowed_options() -> None:
    for path in sorted(CNI.glob("*.con*")):
        c = choice(f"cni/{path.name}")
        assert c.words in OPTIONS, path.name
        assert {k for k, _ in c.options} <= set(OPTIONS[c.words]), path.name


# ---------------------------------------------------------------- several configs


def test_linux_and_windows_flannel_together() -> None:
    """Without net-conf.json, the Windows delegate (win-bridge) tells the backend: host-gw."""
    c = choice("cni/10-flannel.conflist", "cni/l2bridge-flannel.conf")
    assert c.words == ("flannel", "host-gw")
    assert "as the Windows config's delegate implies" in messages(c, "assumed")
    assert "outbound-nat-except" in dict(c.options)


def test_windows_backend_must_match_net_conf() -> None:
    with pytest.raises(SpecError, match="does not match the Windows plugin"):
        choice("cni/l2bridge-flannel.conf", "kube-flannel-cfg.yaml")  # net-conf says vxlan


def test_two_linux_cnis_disagree() -> None:
    with pytest.raises(SpecError, match="give --cni PROFILE to choose") as e:
        choice("cni/10-calico.conflist", "cni/10-antrea.conflist")
    assert e.value.diagnostics[0].span.file.endswith("10-antrea.conflist")  # the second one


def test_windows_plugin_that_cannot_run_under_the_linux_one() -> None:
    with pytest.raises(SpecError, match="does not run under the Linux nodes' cni antrea"):
        choice("cni/10-antrea.conflist", "cni/win-bridge.conf")


def test_unknown_plugin_type_is_an_input_error_at_its_place() -> None:
    text = '{\n  "name": "x",\n  "cniVersion": "1.0.0",\n  "plugins": [\n    {"type": "cilium-cni"}\n  ]\n}\n'
    with pytest.raises(SpecError, match="'cilium-cni' has no profile") as e:
        text_choice(text, "05-cilium.conflist")
    d = e.value.diagnostics[0]
    assert (d.span.file, d.span.line) == ("05-cilium.conflist", 5)
    assert "--cni PROFILE" in d.message


def test_no_configs() -> None:
    assert from_configs([], []) is None


# ---------------------------------------------------------------- --cni


@pytest.mark.parametrize(
    ("text", "words", "options"),
    [
        ("calico bgp", ("calico", "bgp"), ()),
        ("Calico  VXLAN", ("calico", "vxlan"), ()),
        ("flannel", ("flannel", "vxlan"), ()),
        ("flannel host-gw ipmasq off", ("flannel", "host-gw"), (("ipmasq", "off"),)),
        ("bridge ipmasq=on", ("bridge",), (("ipmasq", "on"),)),
        ("kindnet", ("kindnet",), ()),
        (
            "win-bridge outbound-nat-except 10.0.0.0/8",
            ("win-bridge",),
            (("outbound-nat-except", "10.0.0.0/8"),),
        ),
    ],
)
def test_parse_profile(text: str, words: tuple[str, ...], options: tuple[tuple[str, str], ...]) -> None:
    assert parse_profile(text) == (words, options)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cilium", "unknown CNI profile"),
        ("calico", "unknown CNI profile"),
        ("bridge ipmasq", "KEY VALUE pairs"),
        ("kindnet vni 4", "unknown option 'vni' for cni kindnet"),
    ],
)
def test_parse_profile_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profile(text)
