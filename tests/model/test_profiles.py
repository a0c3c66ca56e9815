"""CNI profile expansion: the general contract, errors and the public API.

``CNI-SEMANTICS §N`` is shared/reference/CNI-SEMANTICS.md; ``E2`` etc. are its
example configs (§10). Specs are built from the model types directly (see
``profiles_helpers``), so these tests do not depend on the DSL.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2l3.errors import SpecError
from l2l3.model import profiles
from l2l3.model.network import Network
from l2l3.model.profiles import _base as B
from l2l3.model.profiles import expand, expand_with_comments
from l2l3.model.types import OS, Nic, Node, Pod, Route, Segment, SourceNat, Span, Spec, StackMode
from tests.model.profiles_helpers import CLUSTER_SPAN, A, I, N, bridge, mk, node, pod, routes, the_pod

# --------------------------------------------------------------------------
# General contract


def test_spec_without_cluster_is_returned_unchanged() -> None:
    s = replace(mk("bridge"), cluster=None)
    out, warns = expand(s)
    assert out is s and warns == []
    assert expand_with_comments(s) == (s, [], {})


@pytest.mark.parametrize(
    "cni",
    [
        "bridge",
        "flannel host-gw",
        "flannel vxlan",
        "calico bgp",
        "calico ipip",
        "calico vxlan",
        "antrea",
        "kindnet",
    ],
)
def test_deterministic_and_idempotent(cni: str) -> None:
    a, wa, ca = expand_with_comments(mk(cni))
    b, wb, cb = expand_with_comments(mk(cni))
    assert a == b and wa == wb and ca == cb
    assert repr(a) == repr(b)  # names and MACs too, not only compared fields
    again, _ = expand(a)
    assert again == a


@pytest.mark.parametrize(
    "cni,win",
    [
        ("bridge", False),
        ("flannel host-gw", True),
        ("flannel vxlan", True),
        ("calico bgp", True),
        ("calico ipip", False),
        ("calico vxlan", True),
        ("antrea", True),
        ("kindnet", False),
        ("win-bridge", None),
        ("win-overlay", None),
    ],
)
def test_no_shorthand_left(cni: str, win: bool | None) -> None:
    s = mk(cni, win=bool(win))
    if win is None:  # Windows-only profiles: both nodes Windows
        s = replace(s, nodes=tuple(replace(n, os=OS.WINDOWS) for n in s.nodes))
    out, _ = expand(s)
    for n in out.nodes:
        assert n.ip is None and n.segment is None and n.subnet is None
        assert n.cni and n.nics and n.bridges
        for p in n.pods:
            assert p.bridge is not None and p.ip_has_prefix
    Network(out)  # the model accepts it


def test_node_shorthand_nic_and_default_route() -> None:
    """LANGUAGE.md §2: nic eth0 with the segment's length + default via the segment gateway."""
    n = node(expand(mk("bridge"))[0], "lin1")
    assert n.nics == (Nic(name="eth0", ip=I("10.127.130.37/24"), segment="lan"),)
    assert ("0.0.0.0/0", "10.127.130.1", "eth0", False) in routes(n)


def test_no_default_route_without_segment_gateway() -> None:
    seg = Segment(name="lan", prefix=N("10.127.130.0/24"))
    n = node(expand(mk("flannel host-gw", segment=seg))[0], "lin1")
    assert not any(r.prefix == N("0.0.0.0/0") for r in n.routes)


def test_generated_objects_carry_spans() -> None:
    out, _ = expand(mk("calico bgp"))
    lin1 = node(out, "lin1")
    assert lin1.nics[0].span.line == 10
    web_veth = bridge(lin1, the_pod(lin1, "web").bridge)  # type: ignore[arg-type]
    assert web_veth.span.line == 11
    remote = next(r for r in lin1.routes if r.prefix == N("10.244.3.0/24"))
    assert remote.span.line == 20  # caused by the remote node's line
    assert lin1.snats[0].span == CLUSTER_SPAN


def test_user_statements_in_a_shorthand_node_are_kept_first() -> None:
    s = mk("flannel host-gw")
    extra = Route(prefix=N("192.0.2.0/24"), via=A("10.127.130.9"), dev="eth0")
    first = replace(
        s.nodes[0], routes=(extra,), snats=(SourceNat(source=N("10.244.1.9/32"), to=A("10.127.130.37")),)
    )
    out, _, comments = expand_with_comments(replace(s, nodes=(first, s.nodes[1])))
    lin1 = node(out, "lin1")
    assert lin1.routes[0] == extra and lin1.snats[0].to == A("10.127.130.37")
    assert ("lin1", "routes", 0) not in comments and ("lin1", "routes", 1) in comments


def test_primitive_node_in_a_cluster_is_left_alone() -> None:
    s = mk("bridge")
    prim = Node(name="p", os=OS.LINUX, nics=(Nic(name="eth0", ip=I("10.127.130.50/24"), segment="lan"),))
    out, _ = expand(replace(s, nodes=s.nodes + (prim,)))
    assert node(out, "p") == prim


def test_comments_name_the_chain_and_the_section() -> None:
    out, _, c = expand_with_comments(mk("flannel host-gw"))
    lin1 = node(out, "lin1")
    assert c[("lin1",)] == "flannel host-gw"
    assert "FLANNEL-POSTRTG" in c[("lin1", "snats", 0)]
    i = lin1.routes.index(next(r for r in lin1.routes if r.prefix == N("10.244.3.0/24")))
    assert "CNI-SEMANTICS §6" in c[("lin1", "routes", i)]
    for key in c:
        assert isinstance(key, tuple) and key[0] in {"lin1", "lin2"}


# --------------------------------------------------------------------------
# Errors


def _err(s: Spec) -> SpecError:
    with pytest.raises(SpecError) as e:
        expand(s)
    return e.value


def test_unknown_profile_mode_and_option() -> None:
    assert "unknown cni profile" in str(_err(mk("weave")))
    assert _err(mk("weave")).diagnostics[0].span == CLUSTER_SPAN
    assert "mode" in str(_err(mk("flannel udp")))
    assert "needs a mode" in str(_err(mk("calico")))
    assert "unknown option" in str(_err(mk("bridge", options=(("mtu", "1450"),))))
    assert "on or off" in str(_err(mk("bridge", options=(("ipmasq", "maybe"),))))
    assert "number" in str(_err(mk("flannel vxlan", options=(("vni", "x"),))))


def test_shorthand_without_subnet() -> None:
    s = mk("bridge")
    e = _err(replace(s, nodes=(replace(s.nodes[0], subnet=None), s.nodes[1])))
    assert e.diagnostics[0].span.line == 10 and "subnet" in str(e)


def test_pod_outside_node_subnet() -> None:
    s = mk("bridge")
    e = _err(replace(s, nodes=(replace(s.nodes[0], pods=(pod("x", "10.244.3.9", line=13),)), s.nodes[1])))
    assert e.diagnostics[0].span.line == 13 and "outside" in str(e)


def test_pod_at_gateway_address() -> None:
    s = mk("flannel host-gw")
    e = _err(replace(s, nodes=(replace(s.nodes[0], pods=(pod("x", "10.244.1.1", line=13),)), s.nodes[1])))
    assert "reserved" in str(e) and "cni0" in str(e)


def test_linux_only_profile_on_windows_and_vice_versa() -> None:
    assert "Windows" in str(_err(mk("kindnet", win=True)))
    assert "Windows plugin" in str(_err(mk("win-bridge")))


def test_subnet_outside_pod_cidr_and_overlap() -> None:
    assert "pod-cidr" in str(_err(mk("bridge", pod_cidr="10.250.0.0/16")))
    s = mk("bridge")
    assert "overlaps" in str(
        _err(replace(s, nodes=(s.nodes[0], replace(s.nodes[1], subnet=N("10.244.1.0/25")))))
    )


def test_error_line_text_comes_from_source() -> None:
    s = replace(mk("weave"), source="cluster c {\n  cni weave\n}\n")
    assert _err(s).diagnostics[0].line_text == "cluster c {"


def test_pod_without_ip() -> None:
    s = mk("bridge")
    nopod = Pod(name="x", span=Span("t.l2l3", 14, 5))
    assert (
        _err(replace(s, nodes=(replace(s.nodes[0], pods=(nopod,)), s.nodes[1]))).diagnostics[0].span.line
        == 14
    )
    hostnet = Pod(name="h", mode=StackMode.HOST_NETWORK)
    out, _ = expand(replace(s, nodes=(replace(s.nodes[0], pods=(hostnet,)), s.nodes[1])))
    assert node(out, "lin1").pods == (hostnet,)


def test_public_api() -> None:
    assert set(profiles.PROFILES) >= {
        "bridge",
        "win-bridge",
        "win-overlay",
        "flannel host-gw",
        "flannel vxlan",
        "calico bgp",
        "calico ipip",
        "calico vxlan",
        "antrea",
        "kindnet",
        "macvlan",
    }
    assert set(B.CHOICES) and all(hasattr(B, k) for k in B.CHOICES)
