"""Realize a Linux-only spec in real network namespaces, and take it down again.

Every object this module creates lives in a network namespace whose name
starts with ``PREFIX-``; nothing is created in the root namespace, so
:func:`teardown` removes exactly what :func:`realize` made by deleting those
namespaces by name (which also removes their links, routes, neighbours,
fdb entries and iptables rules).

Layout (``P`` is the prefix):

* ``P-u`` — the underlay: one Linux bridge ``s<K>`` per segment; every NIC
  of every node, every gateway and every Linux-bridge uplink is a veth whose
  other end is a port of that bridge.
* ``P-n<I>-<node>`` — a node's stack. NICs are veths (the spec's name and
  MAC), ``bridge … linux`` is a Linux bridge with the spec's MAC and ip,
  ``vxlan`` a VXLAN device (``nolearning``), ``veth``-kind bridges are the
  host end of the one pod's veth.
* ``P-n<I>p<J>-<pod>`` — a pod with its own netns: ``eth0`` (the model's MAC)
  inside, host end ``l2v<J>`` enslaved to the bridge. A ``no-netns`` pod is a
  veth pair inside the node netns (``l2n<J>`` with the pod's ip and MAC,
  ``l2m<J>`` the bridge port).
* ``P-g<K>-<segment>`` — a segment's gateway router, holding the gateway
  address on the segment; ``P-x<K>-<external>`` — one namespace per
  external, behind its gateway, that accepts every address of the external's
  prefix as local (policy-routed ``local`` route for packets arriving from
  the gateway). The gateway black-holes every address some stack owns
  outside the segment, so externals own exactly the addresses the model
  gives them.

Model choices mirrored in every namespace created: ``rp_filter`` 0,
``bridge-nf-call-iptables``/``arptables`` 0, ``arp_ignore`` 0, ICMP
redirects neither sent nor accepted, IPv6 disabled (the model is IPv4 only).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from l2l3.errors import L2L3Error
from l2l3.model.network import Network, derive_mac
from l2l3.model.types import (
    OS,
    BridgeKind,
    Dnat,
    Filter,
    Node,
    Proto,
    Span,
    Spec,
    StackMode,
)

NETNS_DIR = Path("/var/run/netns")
STATE_DIR = Path(os.environ.get("L2L3_STATE_DIR", "/run/l2l3"))
IFNAMSIZ = 15
_PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]{0,15}$")


class KernelError(L2L3Error):
    """Something the kernel or a tool refused while realizing or probing."""


class RealizeError(L2L3Error):
    """The spec uses something that cannot be realized faithfully here."""

    def __init__(self, span: Span | None, message: str) -> None:
        where = f"{span.file}:{span.line}: " if span is not None and span.line else ""
        super().__init__(f"{where}cannot realize: {message}")
        self.span = span


# --------------------------------------------------------------------------
# namespaces from Python

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
_ns_lock = threading.RLock()


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside netns ``name``.

    Sockets created inside stay in that netns after the block; /proc/sys/net
    opened inside is that netns's. The thread's own netns is restored on exit.
    """
    with _ns_lock:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(NETNS_DIR / name, os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)


def _sysctl_path(key: str) -> Path:
    """``net/ipv4/conf/flannel.1/rp_filter`` (slashes) or ``net.ipv4.ip_forward`` (dots)."""
    return Path("/proc/sys") / (key if "/" in key else key.replace(".", "/"))


def sysctl_write(key: str, value: str | int) -> None:
    _sysctl_path(key).write_text(str(value))


def sysctl_read(key: str) -> str:
    return _sysctl_path(key).read_text().strip()


def run(cmd: list[str], *, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if check and p.returncode != 0:
        shown = input if input is None or len(input) < 4000 else input[:4000] + "…"
        raise KernelError(
            f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}"
            + (f"\ninput:\n{shown}" if shown else "")
        )
    return p


def ip_batch(netns: str | None, lines: list[str]) -> None:
    if not lines:
        return
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(cmd, input="\n".join(lines) + "\n")


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def list_netns(prefix: str) -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix + "-"))


# --------------------------------------------------------------------------
# the realization


@dataclass
class Realization:
    """What :func:`realize` built: stack id -> netns name, and notes."""

    prefix: str
    spec: Spec
    net: Network
    netns: dict[str, str] = field(default_factory=dict)  # stack id -> netns
    underlay: str | None = None
    extras: list[str] = field(default_factory=list)  # other netns made (externals)
    external_ns: dict[str, str] = field(default_factory=dict)  # external name -> netns
    notes: list[str] = field(default_factory=list)

    @property
    def all_netns(self) -> list[str]:
        out = list(self.netns.values()) + list(self.extras)
        if self.underlay:
            out.append(self.underlay)
        return sorted(set(out))

    def place_of(self, netns: str) -> str | None:
        """The model place (stack id or ``external NAME``) a netns realizes."""
        for sid, ns in self.netns.items():
            if ns == netns:
                return sid
        for ext, ns in self.external_ns.items():
            if ns == netns:
                return f"external {ext}"
        return None

    def state(self) -> dict[str, object]:
        return {
            "prefix": self.prefix,
            "file": self.spec.file,
            "netns": self.netns,
            "underlay": self.underlay,
            "extras": self.extras,
            "external_ns": self.external_ns,
        }

    def down(self) -> None:
        teardown(self.prefix)


def _check_name(name: str, span: Span, what: str) -> None:
    if len(name) > IFNAMSIZ or not name or "/" in name or ":" in name or " " in name:
        raise RealizeError(
            span, f"{what} name {name!r} is not a valid Linux interface name (at most 15 characters)"
        )


def check_realizable(spec: Spec) -> None:
    """Raise :class:`RealizeError` naming the spec line of the first thing we refuse."""
    enforcing = [n for n in spec.nodes if n.enforce_policy]
    if enforcing and spec.policies:
        raise RealizeError(
            enforcing[0].span,
            f"node {enforcing[0].name} enforces NetworkPolicy, which realize does not program",
        )
    seg_names = {s.name for s in spec.segments}
    for seg in spec.segments:
        if seg.gateway is not None and seg.gateway not in seg.prefix:
            raise RealizeError(
                seg.span, f"gateway {seg.gateway} of segment {seg.name} is outside {seg.prefix}"
            )
    for ext in spec.externals:
        if ext.via not in seg_names:
            raise RealizeError(ext.span, f"external {ext.name}: no segment {ext.via}")
    for node in spec.nodes:
        if node.os is not OS.LINUX:
            raise RealizeError(
                node.span, f"node {node.name} is a Windows node; only Linux nodes can be realized here"
            )
        if node.outbound_nats:
            raise RealizeError(node.outbound_nats[0].span, "outbound-nat is a Windows HNS policy")
        if node.routes_to_host:
            raise RealizeError(node.routes_to_host[0].span, "route-to-host is a Windows HNS policy")
        names: set[str] = set()
        for nic in node.nics:
            _check_name(nic.name, nic.span, "nic")
            if nic.segment not in seg_names:
                raise RealizeError(nic.span, f"nic {nic.name}: no segment {nic.segment}")
            names.add(nic.name)
        for br in node.bridges:
            if br.kind is BridgeKind.MACVLAN:
                if br.uplink not in {n.name for n in node.nics}:
                    raise RealizeError(br.span, f"macvlan {br.name} needs an uplink nic of node {node.name}")
                on = [p for p in node.pods if p.bridge == br.name and p.mode is StackMode.NO_NETNS]
                if on:
                    raise RealizeError(on[0].span, "a no-netns pod on a macvlan is not realizable")
                names.add(br.name)
                continue
            if br.kind in (BridgeKind.L2BRIDGE, BridgeKind.OVS):
                raise RealizeError(
                    br.span,
                    f"bridge {br.name} is of kind {br.kind.value}; realize builds linux and veth bridges only",
                )
            _check_name(br.name, br.span, "bridge")
            if br.uplink is not None:
                if br.kind is not BridgeKind.LINUX:
                    raise RealizeError(br.span, "an uplink is realized for linux bridges only")
                if br.uplink not in {n.name for n in node.nics}:
                    raise RealizeError(br.span, f"uplink {br.uplink} is not a nic of node {node.name}")
            names.add(br.name)
            if br.kind is BridgeKind.VETH:
                on = [p for p in node.pods if p.bridge == br.name and p.mode is not StackMode.HOST_NETWORK]
                if len(on) > 1:
                    raise RealizeError(br.span, f"veth {br.name} has {len(on)} pods; a veth pair holds one")
                if on and on[0].mode is StackMode.NO_NETNS:
                    raise RealizeError(on[0].span, "a no-netns pod on a veth link is not realizable")
        ports: set[tuple[int, int]] = set()
        for vx in node.vxlans:
            _check_name(vx.name, vx.span, "vxlan")
            if (vx.vni, vx.port) in ports:
                raise RealizeError(vx.span, f"two vxlan devices with vni {vx.vni} port {vx.port} on one node")
            ports.add((vx.vni, vx.port))
            names.add(vx.name)
        for pod in node.pods:
            if pod.mode is StackMode.HOST_NETWORK or pod.bridge is None:
                continue
            if pod.bridge not in {b.name for b in node.bridges}:
                raise RealizeError(pod.span, f"pod {pod.name}: no bridge {pod.bridge} on node {node.name}")
            for r in pod.routes:
                if r.dev is not None and r.dev != "eth0":
                    raise RealizeError(r.span, f"pod route through {r.dev}: a pod has only eth0")
        for r in node.routes:
            if r.dev is not None and r.dev not in names:
                raise RealizeError(r.span, f"route through {r.dev}, which node {node.name} does not have")
        for nb in node.neighbors:
            if nb.dev not in names:
                raise RealizeError(nb.span, f"neighbor on {nb.dev}, which node {node.name} does not have")
        vx_names = {v.name for v in node.vxlans}
        for fd in node.fdbs:
            if fd.dev not in vx_names:
                raise RealizeError(
                    fd.span, f"fdb on {fd.dev}, which is not a vxlan device of node {node.name}"
                )
        for pa in node.proxy_arps:
            if pa.dev not in names:
                raise RealizeError(pa.span, f"proxy-arp on {pa.dev}, which node {node.name} does not have")
        for f in node.filters:
            for d in (f.in_dev, f.out_dev):
                if d is not None and d not in names:
                    raise RealizeError(f.span, f"filter on {d}, which node {node.name} does not have")
        for s in node.snats:
            if s.out is not None and s.out not in names:
                raise RealizeError(s.span, f"masquerade out {s.out}, which node {node.name} does not have")


def _base_sysctls(forwarding: bool, *, bridge_nf: bool = True) -> None:
    """The model's choices, for a fresh netns (before its interfaces exist)."""
    for scope in ("all", "default"):
        sysctl_write(f"net/ipv6/conf/{scope}/disable_ipv6", 1)
        sysctl_write(f"net/ipv4/conf/{scope}/rp_filter", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/send_redirects", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/accept_redirects", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/arp_ignore", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/arp_announce", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/arp_filter", 0)
    sysctl_write("net/ipv4/ip_forward", 1 if forwarding else 0)
    if bridge_nf and Path("/proc/sys/net/bridge").is_dir():
        for k in ("bridge-nf-call-iptables", "bridge-nf-call-arptables", "bridge-nf-call-ip6tables"):
            p = Path("/proc/sys/net/bridge") / k
            if p.exists():
                p.write_text("0")


def prepare_netns(name: str, *, forwarding: bool = False) -> None:
    """Give a namespace made elsewhere (e.g. for CNI plugins) the model's choices."""
    with in_netns(name):
        _base_sysctls(forwarding)


def _final_sysctls(forwarding: bool, proxy_arp: list[str]) -> None:
    sysctl_write("net/ipv4/ip_forward", 1 if forwarding else 0)
    for ifname in os.listdir("/proc/sys/net/ipv4/conf"):
        sysctl_write(f"net/ipv4/conf/{ifname}/rp_filter", 0)
    for dev in proxy_arp:
        sysctl_write(f"net/ipv4/conf/{dev}/proxy_arp", 1)
        sysctl_write(f"net/ipv4/neigh/{dev}/proxy_delay", 0)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40]


def realize(spec: Spec, prefix: str, *, net: Network | None = None) -> Realization:
    """Build ``spec`` in namespaces named ``PREFIX-…``; tear down on failure."""
    if not _PREFIX_RE.match(prefix):
        raise L2L3Error(f"prefix {prefix!r}: use 1-16 letters, digits, '_' or '.'")
    check_realizable(spec)
    if list_netns(prefix):
        raise L2L3Error(
            f"namespaces with prefix {prefix}- already exist; run `l2l3 realize --down --prefix {prefix}` first"
        )
    net = net or Network(spec)
    rz = Realization(prefix=prefix, spec=spec, net=net)
    try:
        _Builder(rz).build()
    except BaseException:
        teardown(prefix)
        raise
    _save_state(rz)
    return rz


def _save_state(rz: Realization) -> None:
    try:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        (STATE_DIR / f"{rz.prefix}.json").write_text(json.dumps(rz.state(), indent=1))
    except OSError:
        pass


def load_state(prefix: str) -> dict[str, object] | None:
    p = STATE_DIR / f"{prefix}.json"
    try:
        return json.loads(p.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def teardown(prefix: str) -> list[str]:
    """Delete every namespace this prefix's realization made (by name); return them."""
    names = set(list_netns(prefix))
    state = load_state(prefix)
    if state:
        for key in ("netns", "external_ns"):
            names |= {str(v) for v in dict(state.get(key) or {}).values()}  # type: ignore[call-overload]
        names |= {str(v) for v in list(state.get("extras") or [])}  # type: ignore[call-overload]
        if state.get("underlay"):
            names.add(str(state["underlay"]))
    gone = []
    for n in sorted(names):
        if not n.startswith(prefix + "-"):
            continue  # never touch anything outside the prefix
        if netns_exists(n):
            p = run(["ip", "netns", "del", n], check=False)
            if p.returncode == 0:
                gone.append(n)
    try:
        (STATE_DIR / f"{prefix}.json").unlink()
    except OSError:
        pass
    return gone


_MARTIAN = [IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")]
_FAVOURITES = [IPv4Address(a) for a in ("198.51.100.1", "203.0.113.1", "192.0.2.1", "8.8.8.8", "1.1.1.1")]


def external_address(net: Network, name: str) -> IPv4Address | None:
    """A typical address of external ``name`` (one it owns, not a martian)."""
    ext = net.externals[name]

    def ok(a: IPv4Address) -> bool:
        return a in ext.prefix and net.external_owner(a) == name and not any(a in m for m in _MARTIAN)

    for a in _FAVOURITES:
        if ok(a):
            return a
    hosts = ext.prefix.hosts() if ext.prefix.prefixlen < 31 else iter(ext.prefix)
    for n, a in enumerate(hosts):
        if n > 65536:
            break
        if ok(a):
            return a
    return None


class _Builder:
    def __init__(self, rz: Realization) -> None:
        self.rz = rz
        self.spec = rz.spec
        self.net = rz.net
        self.p = rz.prefix
        self.batches: dict[str, list[str]] = {}
        self.underlay_ports: list[str] = []
        self.uport = 0
        self.seg_bridge: dict[str, str] = {}
        self.rename: dict[str, str] = {}  # pod netns -> its interface's temporary name

    def ns_add(self, name: str) -> str:
        run(["ip", "netns", "add", name])
        return name

    def b(self, ns: str) -> list[str]:
        return self.batches.setdefault(ns, [])

    def flush(self, ns: str) -> None:
        lines = self.batches.pop(ns, [])
        ip_batch(ns, lines)

    def underlay_port(self, segment: str) -> str:
        name = f"u{self.uport}"
        self.uport += 1
        self.underlay_ports.append(f"link set {name} master {self.seg_bridge[segment]} up")
        return name

    # ------------------------------------------------------------------
    def build(self) -> None:
        spec, net, p = self.spec, self.net, self.p
        # 1. namespaces and their sysctls
        if spec.segments:
            self.rz.underlay = self.ns_add(f"{p}-u")
            with in_netns(self.rz.underlay):
                _base_sysctls(False)
            for k, seg in enumerate(spec.segments):
                br = f"s{k}"
                self.seg_bridge[seg.name] = br
                self.b(self.rz.underlay).append(
                    f"link add {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0"
                )
                self.b(self.rz.underlay).append(f"link set {br} up")
            self.flush(self.rz.underlay)
        node_ns: dict[str, str] = {}
        for i, node in enumerate(spec.nodes):
            ns = self.ns_add(f"{p}-n{i}-{_safe(node.name)}")
            node_ns[node.name] = ns
            self.rz.netns[node.name] = ns
            with in_netns(ns):
                _base_sysctls(node.forwarding)
            for j, pod in enumerate(node.pods):
                pid = f"{node.name}/{pod.name}"
                if pid in net.stacks:
                    pns = self.ns_add(f"{p}-n{i}p{j}-{_safe(pod.name)}")
                    self.rz.netns[pid] = pns
                    with in_netns(pns):
                        _base_sysctls(False)
        for k, seg in enumerate(spec.segments):
            if seg.gateway is None:
                continue
            gid = f"gateway {seg.name}"
            gns = self.ns_add(f"{p}-g{k}-{_safe(seg.name)}")
            self.rz.netns[gid] = gns
            with in_netns(gns):
                _base_sysctls(True)
        # 2. links per node, in the model's interface order
        for i, node in enumerate(spec.nodes):
            self._node_links(i, node, node_ns[node.name])
        for k, seg in enumerate(spec.segments):
            if seg.gateway is not None:
                self._gateway(k, seg.name)
        assert self.rz.underlay is not None or not self.underlay_ports
        if self.rz.underlay:
            self.b(self.rz.underlay).extend(self.underlay_ports)
            self.flush(self.rz.underlay)
        # 3. pods' stacks, then node routes/neighbours/fdb/rules
        for sid, ns in list(self.rz.netns.items()):
            st = net.stacks[sid]
            if st.kind == "pod":
                self._pod_stack(sid, ns)
        for node in spec.nodes:
            self._node_l3(node, node_ns[node.name])

    # ------------------------------------------------------------------
    def _node_links(self, i: int, node: Node, ns: str) -> None:
        st = self.net.stacks[node.name]
        lines = self.b(ns)
        lines.append("link set lo up")
        for nic in node.nics:
            iface = st.ifaces[nic.name]
            peer = self.underlay_port(nic.segment)
            lines.append(
                f"link add {nic.name} address {iface.mac} type veth peer name {peer} netns {self.rz.underlay}"
            )
        for br in node.bridges:
            if br.kind is BridgeKind.LINUX:
                iface = st.ifaces[br.name]
                lines.append(
                    f"link add {br.name} address {iface.mac} type bridge stp_state 0 forward_delay 0 "
                    "mcast_snooping 0"
                )
        for vx in node.vxlans:
            iface = st.ifaces[vx.name]
            lines.append(
                f"link add {vx.name} address {iface.mac} type vxlan id {vx.vni} dstport {vx.port} "
                f"local {vx.local} nolearning"
            )
        # pods: veth pairs, host end enslaved (or, for veth-kind bridges, the host end)
        veth_used: set[str] = set()
        for j, pod in enumerate(node.pods):
            if pod.mode is StackMode.HOST_NETWORK or pod.ip is None or pod.bridge is None:
                continue
            pid = f"{node.name}/{pod.name}"
            br = next(b for b in node.bridges if b.name == pod.bridge)
            if pod.mode is StackMode.NO_NETNS:
                name = f"{pod.name}@{pod.bridge}"
                iface = st.ifaces[name]
                lines.append(f"link add l2n{j} address {iface.mac} type veth peer name l2m{j}")
                lines.append(f"link set l2m{j} master {br.name} up")
                continue
            pns = self.rz.netns[pid]
            pmac = self.net.stacks[pid].ifaces["eth0"].mac
            if br.kind is BridgeKind.MACVLAN:
                # a bridge-mode child of the uplink NIC, moved into the pod and renamed there
                lines.append(f"link add l2v{j} link {br.uplink} address {pmac} type macvlan mode bridge")
                lines.append(f"link set l2v{j} netns {pns}")
                self.rename[pns] = f"l2v{j}"
            elif br.kind is BridgeKind.VETH:
                hmac = st.ifaces[br.name].mac
                lines.append(
                    f"link add {br.name} address {hmac} type veth peer name eth0 address {pmac} netns {pns}"
                )
                veth_used.add(br.name)
            else:
                lines.append(f"link add l2v{j} type veth peer name eth0 address {pmac} netns {pns}")
                lines.append(f"link set l2v{j} master {br.name}")
                if br.hairpin:
                    lines.append(f"link set l2v{j} type bridge_slave hairpin on")
                if br.isolated_ports:
                    lines.append(f"link set l2v{j} type bridge_slave isolated on")
                lines.append(f"link set l2v{j} up")
        for br in node.bridges:
            if br.kind is BridgeKind.VETH and br.name not in veth_used:
                # a veth with no pod behind it: a link that answers nothing
                lines.append(f"link add {br.name} address {st.ifaces[br.name].mac} type dummy")
        for k, br in enumerate(node.bridges):
            if br.uplink is not None and br.kind is BridgeKind.LINUX:
                nic = next(n for n in node.nics if n.name == br.uplink)
                peer = self.underlay_port(nic.segment)
                lines.append(f"link add l2u{k} type veth peer name {peer} netns {self.rz.underlay}")
                lines.append(f"link set l2u{k} master {br.name} up")
        # addresses, in the model's interface order (connected-route order)
        for iface in st.ifaces.values():
            kname = iface.name
            if iface.pod is not None:  # a no-netns pod's endpoint
                j = next(n for n, p in enumerate(node.pods) if f"{node.name}/{p.name}" == iface.pod)
                kname = f"l2n{j}"
            for a in iface.addrs:
                lines.append(f"addr add {a} dev {kname}")
            lines.append(f"link set {kname} up")
        self.flush(ns)

    def _gateway(self, k: int, seg_name: str) -> None:
        net, spec = self.net, self.spec
        gid = f"gateway {seg_name}"
        gns = self.rz.netns[gid]
        gw = net.stacks[gid]
        iface = gw.ifaces[seg_name]
        seg = next(s for s in spec.segments if s.name == seg_name)
        lines = self.b(gns)
        lines.append("link set lo up")
        peer = self.underlay_port(seg_name)
        lines.append(f"link add g0 address {iface.mac} type veth peer name {peer} netns {self.rz.underlay}")
        lines.append(f"addr add {iface.addrs[0]} dev g0")
        lines.append("link set g0 up")
        later: list[str] = []
        # addresses some stack owns, outside the segment: never an external's
        for addr in sorted(net.owners):
            if addr not in seg.prefix:
                lines.append(f"route add blackhole {addr}/32")
        for x, ext in enumerate(spec.externals):
            if ext.via != seg_name:
                if not any(e.prefix == ext.prefix and e.via == seg_name for e in spec.externals):
                    lines.append(f"route append blackhole {ext.prefix}")
                continue
            xns = self.ns_add(f"{self.p}-x{x}-{_safe(ext.name)}")
            self.rz.extras.append(xns)
            self.rz.external_ns[ext.name] = xns
            with in_netns(xns):
                _base_sysctls(False)
                sysctl_write("net/ipv4/ip_nonlocal_bind", 1)
            t = 4 * x
            gw_side = IPv4Interface(f"169.254.{t // 256}.{t % 256 + 1}/30")
            ext_side = IPv4Interface(f"169.254.{t // 256}.{t % 256 + 2}/30")
            lines.append(f"link add x{x} type veth peer name x0 netns {xns}")
            lines.append(f"addr add {gw_side} dev x{x}")
            lines.append(f"link set x{x} up")
            if not ext.prefix.overlaps(seg.prefix) or ext.prefix.prefixlen < seg.prefix.prefixlen:
                lines.append(f"route append {ext.prefix} via {ext_side.ip} dev x{x}")
            xl = self.b(xns)
            xl += [
                "link set lo up",
                f"addr add {ext_side} dev x0",
                "link set x0 up",
                f"route add default via {gw_side.ip} dev x0",
                *([f"addr add {rep}/32 dev lo"] if (rep := external_address(self.net, ext.name)) else []),
                f"route add local {ext.prefix} dev lo table 100",
                "rule add iif x0 lookup 100 pref 100",
            ]
            later.append(xns)
        self.flush(gns)
        for xns in later:
            self.flush(xns)

    def _pod_stack(self, sid: str, ns: str) -> None:
        st = self.net.stacks[sid]
        lines = self.b(ns)
        lines.append("link set lo up")
        if ns in self.rename:
            lines.append(f"link set {self.rename[ns]} name eth0")
        eth0 = st.ifaces["eth0"]
        for a in eth0.addrs:
            lines.append(f"addr add {a} dev eth0")
        lines.append("link set eth0 up")
        lines += self._routes(st)
        self.flush(ns)
        with in_netns(ns):
            _final_sysctls(False, [])

    def _routes(self, st) -> list[str]:  # type: ignore[no-untyped-def]
        out: list[str] = []
        connected = [r for r in st.routes if r.connected]
        for r in st.routes:
            if r.connected:
                continue
            dev = r.dev
            if st.ifaces.get(dev) is not None and st.ifaces[dev].pod is not None and st.kind == "node":
                j = next(
                    n
                    for n, p in enumerate(self.net.spec_node(st.id).pods)
                    if f"{st.id}/{p.name}" == st.ifaces[dev].pod
                )
                dev = f"l2n{j}"
            if r.via is None:
                if any(c.prefix == r.prefix and c.dev == r.dev for c in connected):
                    continue  # the connected route already says this
                out.append(f"route append {r.prefix} dev {dev}")
                continue
            on_dev = any(r.via in c.prefix and c.dev == r.dev for c in connected) or any(
                r.via in e.prefix and e.via is None and e.dev == r.dev and not e.connected for e in st.routes
            )
            onlink = "" if on_dev else " onlink"
            out.append(f"route append {r.prefix} via {r.via} dev {dev}{onlink}")
        # an identical second route changes nothing (the first wins) and the kernel refuses it
        return list(dict.fromkeys(out))

    def _node_l3(self, node: Node, ns: str) -> None:
        st = self.net.stacks[node.name]
        lines = self.b(ns)
        for nb in node.neighbors:
            lines.append(f"neigh replace {nb.ip} lladdr {nb.mac} dev {nb.dev} nud permanent")
        lines += self._routes(st)
        self.flush(ns)
        if node.fdbs:
            fdb = [f"fdb append {fd.mac} dev {fd.dev} dst {fd.dst} self permanent" for fd in node.fdbs]
            run(["bridge", "-n", ns, "-batch", "-"], input="\n".join(fdb) + "\n")
        rules = iptables_rules(node)
        if rules:
            run(["ip", "netns", "exec", ns, "iptables-restore"], input=rules)
        with in_netns(ns):
            _final_sysctls(node.forwarding, [pa.dev for pa in node.proxy_arps])


# --------------------------------------------------------------------------
# iptables


def _proto_port(proto: Proto | None, port: int | None) -> list[str]:
    """iptables match fragments for (proto, port), as the model matches them.

    The model: a rule's port never matches ICMP; a port without protocol
    matches TCP or UDP with that destination port.
    """
    if port is not None:
        if proto is Proto.ICMP:
            return []  # never matches
        protos = [proto] if proto is not None else [Proto.TCP, Proto.UDP]
        return [f"-p {p} --dport {port}" for p in protos]
    if proto is not None:
        return [f"-p {proto}"]
    return [""]


def _filter_lines(f: Filter, chain: str) -> list[str]:
    target = "ACCEPT" if f.action.value == "allow" else "DROP"
    parts = []
    if f.in_dev:
        parts.append(f"-i {f.in_dev}")
    if chain == "FORWARD" and f.out_dev:
        parts.append(f"-o {f.out_dev}")
    if f.source is not None:
        parts.append(f"-s {f.source}")
    if f.dest is not None:
        parts.append(f"-d {f.dest}")
    out = []
    for pp in _proto_port(f.proto, f.port):
        out.append(" ".join([f"-A {chain}", *parts, pp, f"-j {target}"]).replace("  ", " "))
    return out


def _dnat_lines(n: int, d: Dnat) -> tuple[list[str], list[str]]:
    chain = f"L2L3-DNAT-{n}"
    jumps: list[str] = []
    body: list[str] = [f":{chain} - [0:0]"]
    for pp in _proto_port(d.proto, d.port):
        for hook in ("PREROUTING", "OUTPUT"):
            jumps.append(" ".join(x for x in (f"-A {hook} -d {d.vip}/32", pp, f"-j {chain}") if x))
    count = len(d.backends)
    for k, be in enumerate(d.backends):
        sub = f"{chain}-{k}"
        stat = ""
        if k < count - 1:
            stat = f"-m statistic --mode random --probability {1.0 / (count - k):.6f} "
        body.append(f":{sub} - [0:0]")
        body.append(f"-A {chain} {stat}-j {sub}")
        if be.port is not None:
            # a port rewrite needs a protocol: TCP and UDP get it, others keep theirs
            for p in (Proto.TCP, Proto.UDP):
                body.append(f"-A {sub} -p {p} -j DNAT --to-destination {be.ip}:{be.port}")
        body.append(f"-A {sub} -j DNAT --to-destination {be.ip}")
    return jumps, body


def iptables_rules(node: Node) -> str:
    """The node's NAT and filter rules as iptables-restore input ('' if none)."""
    if not (node.snats or node.dnats or node.filters):
        return ""
    nat_chains: list[str] = []
    nat_rules: list[str] = []
    for n, d in enumerate(node.dnats):
        jumps, body = _dnat_lines(n, d)
        nat_rules += jumps
        nat_chains += body
    for n, s in enumerate(node.snats):
        chain = f"L2L3-SNAT-{n}"
        out = f" -o {s.out}" if s.out else ""
        nat_rules.append(f"-A POSTROUTING -s {s.source}{out} -j {chain}")
        nat_chains.append(f":{chain} - [0:0]")
        for e in s.exceptions:
            nat_chains.append(f"-A {chain} -d {e} -j RETURN")
        if s.to is None:
            nat_chains.append(f"-A {chain} -j MASQUERADE")
        else:
            nat_chains.append(f"-A {chain} -j SNAT --to-source {s.to}")
    text = [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
    ]
    decl = [c for c in nat_chains if c.startswith(":")]
    body = [c for c in nat_chains if not c.startswith(":")]
    text += decl + nat_rules + body + ["COMMIT"]
    if node.filters:
        text += ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        for f in node.filters:
            text += _filter_lines(f, "FORWARD")
        for f in node.filters:
            if f.out_dev is None:
                text += _filter_lines(f, "INPUT")
        text.append("COMMIT")
    return "\n".join(text) + "\n"


__all__ = [
    "KernelError",
    "Realization",
    "RealizeError",
    "check_realizable",
    "in_netns",
    "iptables_rules",
    "list_netns",
    "prepare_netns",
    "realize",
    "teardown",
]

_ = (IPv4Address, IPv4Network, derive_mac)
