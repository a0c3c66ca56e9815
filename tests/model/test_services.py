"""Services (LANGUAGE.md section 9): the ``service`` statement, kube-proxy's rules, the ``service`` endpoint.

Each behaviour test names its source in its docstring. Verdicts come from
the checker (the z3 engine finds a packet, the simulator replays it and must
agree), so a test that passes exercises both engines; traces come from the
simulator alone.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network

import pytest

import l2l3
from l2l3.dsl import parse, render
from l2l3.errors import SpecError
from l2l3.model.network import Network
from l2l3.model.packet import Packet
from l2l3.model.profiles import services as kp
from l2l3.model.services import ServiceType, TrafficPolicy
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import Proto

CLUSTER = """
cluster c {{
    {podcidr}
    service-cidr 10.96.0.0/12
    cni flannel host-gw
}}
segment lan 10.127.130.0/24 gateway 10.127.130.1
external internet 0.0.0.0/0 via lan
node n1 linux ip 10.127.130.37 on lan subnet 10.244.1.0/24 {{
    pod web-1 ip 10.244.1.5 namespace shop labels app=web ports 8080=http
    pod client ip 10.244.1.6 namespace shop labels app=client
}}
node n2 linux ip 10.127.130.39 on lan subnet 10.244.2.0/24 {{
    pod web-2 ip 10.244.2.5 namespace shop labels app=web ports 9090=http
    pod other ip 10.244.2.6 namespace shop labels app=client
}}
node w1 windows ip 10.127.130.38 on lan subnet 10.244.3.0/24 {{
    pod iis ip 10.244.3.4 namespace shop labels app=iis
}}
"""
WEB = """
service shop/web ip 10.96.0.20 {opts} {{
    port http 80 tcp target http node-port 30080
    select app=web
}}
"""


def net_of(service: str = "", podcidr: str = "pod-cidr 10.244.0.0/16") -> Network:
    return Network(l2l3.loads(CLUSTER.format(podcidr=podcidr) + service))


def web(opts: str = "type nodeport", select: str = "app=web") -> str:
    return WEB.format(opts=opts).replace("select app=web", f"select {select}")


def verdict(net: Network, query: str) -> str:
    return l2l3.evaluate(net, query).status.value


def traces(net: Network, origin: Origin, dst: str, dport: int, src: str) -> list[object]:
    pkt = Packet(src=IPv4Address(src), dst=IPv4Address(dst), proto=Proto.TCP, sport=40000, dport=dport)
    return simulate(net, origin, pkt)


# ------------------------------------------------------------------ the statement


def test_statement_parses_renders_and_round_trips() -> None:
    text = CLUSTER.format(podcidr="") + (
        "service kube-system/kube-dns ip 10.96.0.10 type loadbalancer external-traffic local "
        "internal-traffic local external-ip 192.0.2.10 {\n"
        "    port dns 53 udp\n    port dns-tcp 53 tcp target dns-tcp node-port 30053\n"
        "    endpoint 10.244.1.5 dns=53 dns-tcp=5353\n}\n"
        "service shop/db headless { port 5432 tcp; select app=web }\n"
    )
    spec = parse(text, "s.l2l3", expand=False)
    dns, db = spec.services
    assert dns.type is ServiceType.LOAD_BALANCER and dns.ip == IPv4Address("10.96.0.10")
    assert dns.external_policy is TrafficPolicy.LOCAL and dns.internal_policy is TrafficPolicy.LOCAL
    assert dns.ports[1].target == "dns-tcp" and dns.ports[1].node_port == 30053
    assert dns.endpoints is not None and dict(dns.endpoints[0].ports) == {"dns": 53, "dns-tcp": 5353}
    assert dns.external_ips == (IPv4Address("192.0.2.10"),)
    assert db.ip is None and db.selector is not None and db.endpoints is None
    again = parse(render(spec), "r.l2l3", expand=False)
    assert again.services == spec.services


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("service a/b { port 80 }", "needs `ip IP`"),
        ("service a/b ip 10.96.0.1 type foo { port 80 }", "service type foo"),
        ("service a/b ip 10.96.0.1 { port 80; port 81 }", "must name every port"),
        ("service a/b ip 10.96.0.1 { port 80 node-port 30000 }", "node-port needs"),
        ("service a/b ip 10.244.1.5 { port 80 }", "a stack's own address"),
        ("service a/b ip 10.96.0.1 { port x 80; endpoint 10.0.0.1 y=8 }", "names port y"),
        ("service a/b ip 10.96.0.1 { port 80 }\nservice a/b ip 10.96.0.2 { port 80 }", "duplicate service"),
        ("check c: reach pod shop/client -> service shop/nope", "unknown service shop/nope"),
    ],
)
def test_bad_statements_are_input_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as e:
        l2l3.loads(CLUSTER.format(podcidr="") + text + "\n")
    assert message in str(e.value)


def test_expand_lists_the_rules_citing_the_service_line(tmp_path: object) -> None:
    """``l2l3 expand`` shows what kube-proxy adds, per node, each rule with the Service's file:line."""
    from l2l3.cli import main

    path = tmp_path / "s.l2l3"  # type: ignore[operator]
    path.write_text(CLUSTER.format(podcidr="pod-cidr 10.244.0.0/16") + web())
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["expand", str(path)]) == 0
    text = out.getvalue()
    line = CLUSTER.count("\n") + 2  # the service line
    assert f"service shop/web at {path}:{line}" in text
    assert "# node n1 (iptables mode):" in text and "# node w1 (winkernel):" in text
    assert "#   dnat 10.96.0.20 tcp port 80 to 10.244.1.5:8080, 10.244.2.5:9090" in text
    l2l3.loads(text)  # the listing is comments: the output still parses


# ------------------------------------------------------------------ kube-proxy, Linux iptables mode


def test_cluster_ip_dnat_on_every_linux_node_first_in_prerouting() -> None:
    """KUBE-SERVICES is jumped to first from nat PREROUTING and OUTPUT of every node, one rule per
    cluster IP and port, DNAT to one endpoint (kubernetes pkg/proxy/iptables/proxier.go,
    syncProxyRules: the kubeServicesChain jumps and the KUBE-SEP DNAT)."""
    net = net_of(web("type clusterip").replace(" node-port 30080", ""))
    for node in ("n1", "n2"):
        first = net.stacks[node].dnats[0]
        assert (first.vip, first.proto, first.port) == (IPv4Address("10.96.0.20"), Proto.TCP, 80)
        assert {(str(b.ip), b.port) for b in first.backends} == {("10.244.1.5", 8080), ("10.244.2.5", 9090)}


def test_named_target_port_resolves_per_pod() -> None:
    """A named targetPort is looked up in each endpoint pod's container ports, so two pods may
    listen on different numbers (Kubernetes docs, Service, "Port definitions")."""
    net = net_of(web())
    assert verdict(net, "reach pod shop/client -> service shop/web") == "holds"
    r = l2l3.evaluate(net, "reach pod shop/other -> service shop/web tcp port 80")
    assert r.status.value == "holds" and r.witness is not None and r.witness.final is not None
    assert (r.witness.delivered_to, r.witness.final.dport) in {("n1/web-1", 8080), ("n2/web-2", 9090)}


def test_service_destination_needs_the_target_port() -> None:
    """The endpoint ``service NS/NAME`` counts a packet sent to the cluster IP on a Service port and
    delivered into an endpoint's stack at the target port (LANGUAGE.md section 9): a port the Service
    does not have reaches nothing."""
    net = net_of(web())
    r = l2l3.evaluate(net, "reach pod shop/client -> service shop/web tcp port 81")
    assert r.status.value == "violated"
    assert "none of the Service's ready endpoints" in r.explanation


def test_default_route_to_an_owning_external_is_not_the_service() -> None:
    """Issue 14: a packet to a cluster IP that leaves by the default route to an external owning
    0.0.0.0/0 must not read as reaching the Service; the address-literal form says where it went."""
    net = net_of()  # no Service for 10.96.0.10
    r = l2l3.evaluate(net, "reach w1/iis -> 10.96.0.10 udp port 53")
    assert r.status.value == "holds"
    assert "delivered into external internet" in r.explanation
    assert any("service CIDR" in w for w in r.warnings)
    dns = "service kube-system/kube-dns ip 10.96.0.10 { port dns 53 udp; endpoint 10.244.9.9 }\n"
    net2 = net_of(dns)
    assert verdict(net2, "reach w1/iis -> service kube-system/kube-dns udp port 53") == "violated"


def test_off_cluster_sources_are_masqueraded_pod_sources_are_not() -> None:
    """``-A KUBE-SVC-… ! -s <clusterCIDR> -d <clusterIP> -j KUBE-MARK-MASQ`` (proxier.go, the
    ClusterCIDR local-traffic detector): a node's own packet to a local endpoint leaves by cni0
    masqueraded to cni0's address; a pod's keeps its address."""
    one = web("type clusterip", select="app=web,k=v").replace(" node-port 30080", "")
    one = one.replace("select app=web,k=v", "endpoint 10.244.1.5")
    net = net_of(one)
    assert verdict(net, "nat node n1 -> service shop/web as 10.244.1.1") == "holds"
    assert verdict(net, "nat pod shop/other -> service shop/web as 10.244.2.6") == "holds"
    # without a cluster CIDR kube-proxy has no local-traffic detector: no such masquerade
    net_nocidr = net_of(one, podcidr="")
    assert verdict(net_nocidr, "nat node n1 -> service shop/web as 10.127.130.37") == "holds"


def test_hairpin_is_masqueraded() -> None:
    """``-A KUBE-SEP-… -s <endpoint> -j KUBE-MARK-MASQ`` (proxier.go): a pod reaching itself
    through its Service arrives from the bridge address, not its own (which its stack would drop
    as a martian)."""
    one = (
        web("type clusterip").replace(" node-port 30080", "").replace("select app=web", "endpoint 10.244.1.5")
    )
    net = net_of(one)
    assert verdict(net, "nat pod shop/web-1 -> service shop/web as 10.244.1.1") == "holds"


def test_nodeport_cluster_policy_masquerades_and_reaches_every_endpoint() -> None:
    """NodePort, ``externalTrafficPolicy: Cluster``: ``KUBE-NODEPORTS`` on every local address
    (``-m addrtype --dst-type LOCAL``) -> ``KUBE-EXT-…`` marks every packet for masquerade
    (proxier.go: "masquerade traffic for … external destinations")."""
    net = net_of(web())
    assert any(d.vip == IPv4Address("10.244.1.1") and d.port == 30080 for d in net.stacks["n1"].dnats)
    got = traces(net, Origin(external="internet"), "10.127.130.37", 30080, "198.51.100.7")
    remote = [t for t in got if t.delivered_to == "n2/web-2"]  # type: ignore[attr-defined]
    assert remote and remote[0].final.src == IPv4Address("10.127.130.37")  # type: ignore[attr-defined]
    assert verdict(net, "reach external internet -> 10.127.130.37 tcp port 30080") == "holds"


def test_external_traffic_policy_local_keeps_the_client_and_local_endpoints() -> None:
    """``externalTrafficPolicy: Local``: external traffic goes to KUBE-SVL (local endpoints only)
    without masquerade; with no local endpoint it is dropped; pods (``-s clusterCIDR``) and the node
    itself (``--src-type LOCAL``, masqueraded) still use every endpoint (proxier.go, "pod traffic for
    … external destinations", "masquerade LOCAL traffic", "route LOCAL traffic")."""
    one = web("type nodeport external-traffic local").replace("select app=web", "endpoint 10.244.1.5")
    net = net_of(one)
    got = traces(net, Origin(external="internet"), "10.127.130.37", 30080, "198.51.100.7")
    assert [(t.delivered_to, str(t.final.src)) for t in got] == [("n1/web-1", "198.51.100.7")]  # type: ignore[attr-defined]
    got2 = traces(net, Origin(external="internet"), "10.127.130.39", 30080, "198.51.100.7")
    assert all(not t.delivered for t in got2)  # type: ignore[attr-defined]
    assert verdict(net, "reach pod shop/other -> 10.127.130.39 tcp port 30080") == "holds"
    own = traces(net, Origin(stack="n2"), "10.127.130.39", 30080, "10.127.130.39")
    assert [t.delivered_to for t in own] == ["n1/web-1"]  # type: ignore[attr-defined]
    assert own[0].final.src == IPv4Address("10.127.130.39")  # type: ignore[attr-defined]


def test_internal_traffic_policy_local() -> None:
    """``internalTrafficPolicy: Local``: cluster-IP traffic goes to the node's own endpoints only;
    a node without one drops it (proxier.go: internalTrafficChain is the local policy chain; the
    filter rule "has no local endpoints")."""
    one = web("type nodeport internal-traffic local").replace("select app=web", "endpoint 10.244.1.5")
    net = net_of(one)
    assert verdict(net, "reach pod shop/client -> service shop/web") == "holds"
    r = l2l3.evaluate(net, "reach pod shop/other -> service shop/web")
    assert r.status.value == "violated" and "filter deny" in r.explanation


def test_no_ready_endpoint_is_rejected_not_routed_out() -> None:
    """A Service with no ready endpoint: the cluster IP is rejected by kube-proxy's filter
    KUBE-SERVICES (proxier.go, "has no endpoints", REJECT), so the packet does not leave by the
    default route."""
    empty = "service shop/none ip 10.96.0.30 { port 80 tcp }\n"
    net = net_of(empty)
    r = l2l3.evaluate(net, "reach pod shop/client -> 10.96.0.30 tcp port 80")
    assert r.status.value == "violated" and "filter deny" in r.explanation


# ------------------------------------------------------------------ kube-proxy, Windows winkernel


def test_windows_dsr_keeps_the_client_address() -> None:
    """winkernel with DSR (WinDSR, on by default since Kubernetes 1.33, GA 1.34; CNI-SEMANTICS
    §11.8): the backend sees the client pod's address."""
    net = net_of(web())
    assert verdict(net, "nat w1/iis -> service shop/web as 10.244.3.4") == "holds"
    assert all(d.masq_unless is None for d in net.stacks["w1"].dnats)


def test_windows_without_dsr_rewrites_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch WINKERNEL_DSR off: the load balancer rewrites the source to the node's address
    (kube-proxy winkernel: "for L2Bridge network the Source VIP is always the NodeIP")."""
    monkeypatch.setattr(kp, "WINKERNEL_DSR", False)
    net = net_of(web())
    assert verdict(net, "nat w1/iis -> service shop/web as 10.127.130.38") == "holds"


def test_windows_nodeport_is_not_reachable_from_the_node_itself() -> None:
    """winkernel NodePort load balancers act on traffic arriving at the node, not on the node's own
    (Kubernetes docs, Windows networking, limitations); a packet from outside is balanced."""
    net = net_of(web())
    own = traces(net, Origin(stack="w1"), "10.127.130.38", 30080, "10.127.130.38")
    assert [t.delivered_to for t in own] == ["w1"]  # type: ignore[attr-defined]
    other = traces(net, Origin(external="internet"), "10.127.130.38", 30080, "198.51.100.7")
    assert {t.delivered_to for t in other} == {"n1/web-1", "n2/web-2"}  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the endpoint in every query


def test_service_endpoint_in_every_query_form() -> None:
    net = net_of(web())
    assert verdict(net, "reach pod shop/client -> service shop/web tcp port 80") == "holds"
    assert verdict(net, "no reach pod shop/client -> service shop/web") == "violated"
    assert verdict(net, "isolated namespace shop <-> service shop/web") == "violated"
    assert verdict(net, "nat pod shop/client -> service shop/web as 10.244.1.6") == "holds"


def test_headless_service_is_its_endpoint_addresses() -> None:
    """A headless Service has no virtual address: DNS gives clients the endpoints' addresses
    (Kubernetes docs, Service, "Headless Services"), so each is a destination at its target port."""
    net = net_of("service shop/db headless { port http 80 tcp target http; select app=web }\n")
    r = l2l3.evaluate(net, "reach pod shop/client -> service shop/db")
    assert r.status.value == "holds" and r.pairs == 2


SPEC_FILE = (
    CLUSTER.format(podcidr="pod-cidr 10.244.0.0/16")
    + web()
    + (
        "check ok: reach pod shop/client -> service shop/web\n"
        "check bad: reach pod shop/client -> service shop/web tcp port 81\n"
    )
)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit"])
def test_service_checks_in_every_output_format(
    fmt: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from l2l3.cli import main

    path = tmp_path / "svc.l2l3"  # type: ignore[operator]
    path.write_text(SPEC_FILE)
    assert main(["check", str(path), "--format", fmt]) == 1
    out = capsys.readouterr().out
    assert "service shop/web" in out
    if fmt == "json":
        checks = {c["name"]: c for c in json.loads(out)["checks"]}
        assert checks["ok"]["status"] == "holds" and checks["bad"]["status"] == "violated"
        hops = checks["ok"]["witness"]["hops"]
        assert any(h["rule"].startswith("dnat 10.96.0.20") for h in hops)
    elif fmt == "sarif":
        results = json.loads(out)["runs"][0]["results"]
        assert any("service shop/web" in r["message"]["text"] for r in results)
    elif fmt == "junit":
        assert "<failure" in out and "ok" in out


def test_the_screen_counts_kube_proxy_masquerade_as_a_nat_source() -> None:
    """Soundness of the policy screen: a marked packet may arrive with any address of the node
    that masqueraded it (KUBE-POSTROUTING MASQUERADE)."""
    from l2l3.checking.screen import PolicyScreen

    net = net_of(web())
    assert IPv4Address("10.244.1.1") in PolicyScreen(net).nat_sources()
    assert IPv4Network("10.244.0.0/16") in net.stacks["n1"].dnats[0].masq_unless  # type: ignore[operator]


# ------------------------------------------------------------------ hostPort (portmap)

HOSTPORT = """
cluster c {
    pod-cidr 10.244.0.0/16
    cni flannel host-gw
}
segment lan 10.0.0.0/24 gateway 10.0.0.254
external internet 0.0.0.0/0 via lan
node n1 linux ip 10.0.0.1 on lan subnet 10.244.1.0/24 {
    pod a ip 10.244.1.2 namespace shop ports 8080:80/tcp=http
    pod c ip 10.244.1.3 namespace shop
}
node n2 linux ip 10.0.0.2 on lan subnet 10.244.2.0/24 {
    pod b ip 10.244.2.2 namespace shop
}
"""


def test_host_port_syntax_round_trips() -> None:
    spec = parse(HOSTPORT, "h.l2l3", expand=False)
    (cp,) = spec.nodes[0].pods[0].ports
    assert (cp.host_port, cp.port, cp.proto, cp.name) == (8080, 80, Proto.TCP, "http")
    assert parse(render(spec), "r.l2l3", expand=False).nodes == spec.nodes


def test_host_port_is_dnat_on_node_addresses_and_masquerades_the_pod_subnet() -> None:
    """portmap (containernetworking/plugins plugins/meta/portmap): CNI-HOSTPORT-DNAT on every local
    address (``--dst-type LOCAL``) to the pod; CNI-HOSTPORT-SETMARK marks traffic from the pod's own
    subnet, which CNI-HOSTPORT-MASQ masquerades: a pod reaching a host port arrives from the bridge
    address (seen in real namespaces; CNI-SEMANTICS "portmap (CNI 1.1.1)"); outside traffic keeps
    its source."""
    net = Network(l2l3.loads(HOSTPORT))
    same = traces(net, Origin(stack="n1/c", pod="n1/c"), "10.0.0.1", 8080, "10.244.1.3")
    assert [(t.delivered_to, str(t.final.src), t.final.dport) for t in same] == [("n1/a", "10.244.1.1", 80)]  # type: ignore[attr-defined]
    ext = traces(net, Origin(external="internet"), "10.0.0.1", 8080, "198.51.100.7")
    assert [(t.delivered_to, str(t.final.src)) for t in ext] == [("n1/a", "198.51.100.7")]  # type: ignore[attr-defined]
    assert verdict(net, "reach pod shop/b -> 10.0.0.1 tcp port 8080") == "holds"
    assert verdict(net, "nat 198.51.100.7 -> pod shop/a tcp port 8080 as 198.51.100.7") == "holds"


def test_switches_as_cluster_options() -> None:
    """The kube-proxy switches are also cluster options: ``kube-proxy-masquerade-all on`` marks
    every cluster-IP packet (kube-proxy ``--masquerade-all``), ``windows-dsr off`` rewrites the
    source on Windows load balancers."""
    text = CLUSTER.format(podcidr="pod-cidr 10.244.0.0/16").replace(
        "cni flannel host-gw", "cni flannel host-gw\n    kube-proxy-masquerade-all on\n    windows-dsr off"
    )
    net = Network(l2l3.loads(text + web()))
    assert net.stacks["n1"].dnats[0].masq_unless == ()
    assert all(d.masq_unless == () for d in net.stacks["w1"].dnats if d.vip == IPv4Address("10.96.0.20"))
    with pytest.raises(SpecError, match="windows-dsr takes on or off"):
        l2l3.loads(text.replace("windows-dsr off", "windows-dsr maybe") + web())


@pytest.mark.skipif(
    not hasattr(__import__("l2l3.model.types").model.types, "Connect"),
    reason="connect lands with issue 14 part 1",
)
def test_connect_to_a_service() -> None:
    """``connect`` takes the service destination as ``reach`` does (LANGUAGE.md §8, §9): the request
    reaches an endpoint at its target port, the answer comes back un-DNATed from the cluster IP."""
    net = net_of(web())
    assert verdict(net, "connect pod shop/client -> service shop/web") == "holds"
    assert verdict(net, "no connect pod shop/client -> service shop/web tcp port 81") == "holds"
