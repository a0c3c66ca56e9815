"""Build a Linux-only spec in network namespaces: namespaces, links, addresses, routes, rules.

Every object built lives in a network namespace whose name starts with
``PREFIX-``; nothing is created in the root namespace.

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

Every namespace gets the model's sysctl choices (:mod:`l2l3.kernel.netns`);
a node's NAT and filter rules are loaded with ``iptables-restore``
(:func:`l2l3.kernel.iptables.iptables_rules`).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Interface

from l2l3.kernel.iptables import iptables_rules
from l2l3.kernel.netns import base_sysctls, final_sysctls, in_netns, ip_batch, run, sysctl_write
from l2l3.kernel.realization import Realization, external_address
from l2l3.model.network import Stack, pod_ids
from l2l3.model.types import BridgeKind, Node, StackMode


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40]


class Builder:
    """Builds one :class:`Realization` in place: namespaces, then links, then addresses, routes and rules.

    ``ip`` commands are collected per netns and run as one batch (:meth:`flush`).
    """

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
        """Create netns ``name``; return it."""
        run(["ip", "netns", "add", name])
        return name

    def b(self, ns: str) -> list[str]:
        """The pending ``ip`` batch of ``ns`` (append to it)."""
        return self.batches.setdefault(ns, [])

    def flush(self, ns: str) -> None:
        """Run and clear the pending ``ip`` batch of ``ns``."""
        lines = self.batches.pop(ns, [])
        ip_batch(ns, lines)

    def underlay_port(self, segment: str) -> str:
        """A new veth name for the underlay end of a link to ``segment`` (enslaved to its bridge later)."""
        name = f"u{self.uport}"
        self.uport += 1
        self.underlay_ports.append(f"link set {name} master {self.seg_bridge[segment]} up")
        return name

    # ------------------------------------------------------------------
    def build(self) -> None:
        """Create every namespace, link, address, route, neighbour, fdb entry and rule."""
        spec, net, p = self.spec, self.net, self.p
        # 1. namespaces and their sysctls
        if spec.segments:
            self.rz.underlay = self.ns_add(f"{p}-u")
            with in_netns(self.rz.underlay):
                base_sysctls(False)
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
                base_sysctls(node.forwarding)
            for j, pid in enumerate(pod_ids(node)):
                pod = node.pods[j]
                if pid in net.stacks:
                    pns = self.ns_add(f"{p}-n{i}p{j}-{_safe(pod.name)}")
                    self.rz.netns[pid] = pns
                    with in_netns(pns):
                        base_sysctls(False)
        for k, seg in enumerate(spec.segments):
            if seg.gateway is None:
                continue
            gid = f"gateway {seg.name}"
            gns = self.ns_add(f"{p}-g{k}-{_safe(seg.name)}")
            self.rz.netns[gid] = gns
            with in_netns(gns):
                base_sysctls(True)
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
        for j, (pod, pid) in enumerate(zip(node.pods, pod_ids(node), strict=True)):
            if pod.mode is StackMode.HOST_NETWORK or pod.ip is None or pod.bridge is None:
                continue
            br = next(b for b in node.bridges if b.name == pod.bridge)
            if pod.mode is StackMode.NO_NETNS:
                iface = next(i for i in st.ifaces.values() if i.pod == pid)
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
                j = pod_ids(node).index(iface.pod)
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
                base_sysctls(False)
                sysctl_write("net/ipv4/ip_nonlocal_bind", 1)
            t = 4 * x
            gw_side = IPv4Interface(f"169.254.{t // 256}.{t % 256 + 1}/30")
            ext_side = IPv4Interface(f"169.254.{t // 256}.{t % 256 + 2}/30")
            lines.append(f"link add x{x} type veth peer name x0 netns {xns}")
            lines.append(f"addr add {gw_side} dev x{x}")
            lines.append(f"link set x{x} up")
            if not ext.prefix.overlaps(seg.prefix) or ext.prefix.prefixlen < seg.prefix.prefixlen:
                lines.append(f"route append {ext.prefix} via {ext_side.ip} dev x{x}")
            self.b(xns).extend(
                [
                    "link set lo up",
                    f"addr add {ext_side} dev x0",
                    "link set x0 up",
                    f"route add default via {gw_side.ip} dev x0",
                    *([f"addr add {rep}/32 dev lo"] if (rep := external_address(self.net, ext.name)) else []),
                    f"route add local {ext.prefix} dev lo table 100",
                    "rule add iif x0 lookup 100 pref 100",
                ]
            )
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
            final_sysctls(False, [])

    def _routes(self, st: Stack) -> list[str]:
        out: list[str] = []
        connected = [r for r in st.routes if r.connected]
        for r in st.routes:
            if r.connected:
                continue
            dev = r.dev
            if st.ifaces.get(dev) is not None and st.ifaces[dev].pod is not None and st.kind == "node":
                j = pod_ids(self.net.spec_node(st.id)).index(st.ifaces[dev].pod or "")
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
        rules = iptables_rules(node, st.dnats, st.filters)  # the stack's: with its Services' rules
        if rules:
            run(["ip", "netns", "exec", ns, "iptables-restore"], input=rules)
        with in_netns(ns):
            final_sysctls(node.forwarding, [pa.dev for pa in node.proxy_arps])
