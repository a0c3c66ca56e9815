"""Name resolution and semantic checks of a parsed spec, in one pass.

:func:`diagnose` returns every problem at once (never stops at the first);
:func:`validate` raises them as one :class:`SpecError`. Each diagnostic points
at the offending token when it can find it on the statement's line, else at
the statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from l2l3.dsl.resolve_blocks import PeerBlocks
from l2l3.dsl.resolve_services import check_service_ref, check_services
from l2l3.errors import Diagnostic, Severity, SpecError, source_lines
from l2l3.model.peerblock import WithPeers
from l2l3.model.services import ServiceRef
from l2l3.model.types import (
    NOWHERE,
    AddressRef,
    BridgeKind,
    EndpointRef,
    ExternalRef,
    Isolated,
    LabelRef,
    NamespaceRef,
    NatAs,
    NetnsIsolation,
    Node,
    NodeRef,
    Pod,
    PodNsRef,
    PodRef,
    Reach,
    Route,
    SelectorOp,
    SelectorPeer,
    Span,
    Spec,
    StackMode,
)

__all__ = ["diagnose", "validate"]


def validate(spec: Spec) -> None:
    """Raise :class:`SpecError` with every problem of ``spec``; return if none."""
    diags = diagnose(spec)
    if diags:
        raise SpecError(diags)


def diagnose(
    spec: Spec, lines: list[str] | None = None, *, has_cluster: bool | None = None
) -> list[Diagnostic]:
    """Every problem of ``spec``.

    ``has_cluster`` says whether the spec *as written* had a cluster block
    (profile expansion may have consumed it); by default ``spec.cluster``.
    """
    if lines is None:
        lines = source_lines(spec.source)
    if has_cluster is None:
        has_cluster = spec.cluster is not None
    return _Resolver(spec, lines, has_cluster).run()


_WORD = r"(?<![A-Za-z0-9_.\-/=:]){}(?![A-Za-z0-9_.\-/=])"


class _Resolver:
    def __init__(self, spec: Spec, lines: list[str], has_cluster: bool) -> None:
        self.spec = spec
        self.lines = lines
        self.has_cluster = has_cluster
        self.diags: list[Diagnostic] = []
        self.segments = {s.name: s for s in spec.segments}
        self.externals = {e.name: e for e in spec.externals}
        self.nodes = {n.name: n for n in spec.nodes}
        # gateway checks that passed: id(route) -> (route, the prefixes it was checked
        # against). Profiles give every node the same route objects about a peer, and
        # nodes alike have the same prefixes on-link, so a route is checked once.
        self._gateway_ok: dict[int, tuple[Route, tuple[IPv4Network, ...]]] = {}
        self._prefix_sets: dict[tuple[IPv4Network, ...], tuple[IPv4Network, ...]] = {}
        # id(route) -> (route, the (device, on-link prefixes) it passed the node
        # route checks with); keys interned, so compared by identity (see node())
        self._routes_ok: dict[int, tuple[Route, tuple[object, ...]]] = {}
        self._dev_keys: dict[tuple[object, ...], tuple[object, ...]] = {}
        # profiles' shared peer blocks, checked once per kind of node (resolve_blocks)
        self.blocks = PeerBlocks()

    # ------------------------------------------------------------ helpers

    def line(self, span: Span) -> str:
        if span.file != self.spec.file:
            return ""
        return self.lines[span.line - 1] if 0 < span.line <= len(self.lines) else ""

    def at(self, span: Span, *words: str) -> Span:
        """The span of the first of ``words`` (in order) written on the statement's line."""
        text = self.line(span)
        if not text or span is NOWHERE:
            return span
        pos = span.column - 1
        for w in words:
            m = re.compile(_WORD.format(re.escape(w))).search(text, pos)
            if m is None:
                return span
            pos = m.start()
        return Span(span.file, span.line, pos + 1)

    def error(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic(span, message, self.line(span)))

    def warn(self, span: Span, message: str) -> None:
        self.diags.append(Diagnostic(span, message, self.line(span), severity=Severity.WARNING))

    @staticmethod
    def where(span: Span) -> str:
        return f"{span.file}:{span.line}" if span.line else "an implicit statement"

    def duplicates(
        self, items: Iterable[tuple[str, Span]], what: str, keyword: str | None = None, suffix: str = ""
    ) -> None:
        first: dict[str, Span] = {}
        for name, span in items:
            if name in first:
                place = self.at(span, keyword, name) if keyword else self.at(span, name)
                self.error(
                    place, f"duplicate {what} {name}{suffix} (first defined at {self.where(first[name])})"
                )
            else:
                first[name] = span

    # ------------------------------------------------------------ the pass

    def run(self) -> list[Diagnostic]:
        spec = self.spec
        self.duplicates(((s.name, s.span) for s in spec.segments), "segment", "segment")
        self.duplicates(((e.name, e.span) for e in spec.externals), "external", "external")
        self.duplicates(((n.name, n.span) for n in spec.nodes), "node", "node")
        first_policy: dict[tuple[str, str], Span] = {}
        for pol in spec.policies:
            key = (pol.namespace, pol.name)
            if key in first_policy:
                self.error(
                    self.at(pol.span, "policy", pol.name),
                    f"duplicate policy {pol.name} in namespace {pol.namespace} "
                    f"(first defined at {self.where(first_policy[key])})",
                )
            else:
                first_policy[key] = pol.span
        self.duplicates(((c.name, c.span) for c in spec.checks), "check", "check")
        self.duplicates(((d.name, d.span) for d in spec.namespaces), "namespace", "namespace")
        self.named_ports()
        self.bare_keys()
        for s in spec.segments:
            if s.gateway is not None and s.gateway not in s.prefix:
                self.error(
                    self.at(s.span, "gateway", str(s.gateway)),
                    f"gateway {s.gateway} is outside segment {s.name}'s prefix {s.prefix}",
                )
        for e in spec.externals:
            if e.via not in self.segments:
                self.error(self.at(e.span, "via", e.via), self.unknown_segment(e.via))
        for n in spec.nodes:
            self.node(n)
        self.pod_addresses()
        check_services(self)
        for c in spec.checks:
            self.check(c.query, c.span)
        return self.diags

    def duplicate_pods(self, n: Node) -> None:
        """Pods are named per namespace: two of one name on a node must differ in namespace."""
        first: dict[tuple[str, str], Span] = {}
        for p in n.pods:
            key = (p.namespace, p.name)
            if key in first:
                self.error(
                    self.at(p.span, "pod", p.name),
                    f"duplicate pod {p.name} in namespace {p.namespace} on node {n.name} "
                    f"(first defined at {self.where(first[key])})",
                )
            else:
                first[key] = p.span

    def bare_keys(self) -> None:
        """The trap of a bare word after a comma: ``pods app=a, monitoring`` is the term "has label monitoring"."""
        keys = {k for n in self.spec.nodes for p in n.pods for k, _ in p.labels}
        namespaces = {p.namespace for n in self.spec.nodes for p in n.pods} | {
            d.name for d in self.spec.namespaces
        }
        for pol in self.spec.policies:
            for r in (*pol.ingress, *pol.egress):
                for peer in r.peers:
                    if not isinstance(peer, SelectorPeer) or peer.pods is None:
                        continue
                    for e in peer.pods.exprs:
                        if e.op is SelectorOp.EXISTS and e.key not in keys and e.key in namespaces:
                            self.warn(
                                self.at(r.span, e.key),
                                f"`{e.key}` here is a selector term (pods that have a label {e.key}), and no pod "
                                f"has one; for the pods of namespace {e.key} write `namespace {e.key}`",
                            )

    def named_ports(self) -> None:
        """A named port in a policy that no pod declares admits nothing: say so."""
        declared = {(c.name, c.proto) for n in self.spec.nodes for p in n.pods for c in p.ports if c.name}
        for pol in self.spec.policies:
            for r in (*pol.ingress, *pol.egress):
                for ps in r.ports:
                    if isinstance(ps.port, str) and (ps.port, ps.proto) not in declared:
                        self.warn(
                            self.at(r.span, ps.port),
                            f"no pod has a {ps.proto} port named {ps.port}: this port admits nothing "
                            "(named ports resolve against the destination pod's `ports`)",
                        )

    def unknown_segment(self, name: str) -> str:
        known = ", ".join(sorted(self.segments)) or "none declared"
        return f"unknown segment {name} (segments: {known})"

    # ------------------------------------------------------------ nodes

    def node(self, n: Node) -> None:
        profile_managed = self.has_cluster and n.ip is not None and not n.nics
        if n.ip is not None or n.segment is not None:
            if not self.has_cluster:
                self.error(
                    self.at(n.span, "ip"),
                    "node shorthand needs a cluster block with a cni profile "
                    "(without one, write `nic eth0 ip CIDR on SEGMENT` and a bridge)",
                )
            if n.segment is not None and n.segment not in self.segments:
                self.error(self.at(n.span, "on", n.segment), self.unknown_segment(n.segment))
        ifaces = [(x.name, x.span) for x in n.nics] + [(b.name, b.span) for b in n.bridges]
        ifaces += [(v.name, v.span) for v in n.vxlans]
        ifaces.sort(key=lambda t: (t[1].line, t[1].column))
        self.duplicates(ifaces, "interface", suffix=f" on node {n.name}")
        self.duplicate_pods(n)
        names = {name for name, _ in ifaces}
        if profile_managed:
            names.add("eth0")
        bridges = {b.name: b for b in n.bridges}
        vxlans = {v.name for v in n.vxlans}
        nics = {x.name for x in n.nics}

        for x in n.nics:
            if x.segment and x.segment not in self.segments:
                self.error(self.at(x.span, "on", x.segment), self.unknown_segment(x.segment))
        for b in n.bridges:
            if b.uplink is not None and b.uplink not in nics:
                self.error(
                    self.at(b.span, "uplink", b.uplink),
                    f"uplink {b.uplink} is not a nic of node {n.name} (nics: {', '.join(sorted(nics)) or 'none'})",
                )
        for p in n.pods:
            self.pod(n, p, bridges, profile_managed)

        def iface(span: Span, keyword: str, dev: str | None, what: str) -> None:
            if dev is None or dev in names or profile_managed:
                return
            known = ", ".join(sorted(names)) or "none"
            self.error(
                self.at(span, keyword, dev),
                f"{what} {dev}: no such interface on node {n.name} (interfaces: {known})",
            )

        connected = self.node_connected(n)
        memo: dict[str | None, tuple[IPv4Network, ...]] = {}
        stack = f"node {n.name}"
        routes = () if profile_managed else n.routes
        # A route that passed on a node where its device exists with the same
        # on-link prefixes passes again. Profiles give every node the same
        # route objects about a peer, so each is checked once; a node's N peer
        # routes cost one dictionary probe each, not N checks.
        keys: dict[str | None, tuple[object, ...]] = {}

        def key_of(dev: str | None) -> tuple[object, ...]:
            """(dev, its on-link prefixes), interned; only for devices the routes name."""
            k = keys.get(dev)
            if k is None:
                k = keys[dev] = self.dev_key(dev, connected, memo)
            return k

        ok = self._routes_ok
        if isinstance(routes, WithPeers) and self.blocks.passes(
            self, routes.block, names, key_of, connected, stack, memo
        ):
            routes = routes.own()  # the shared peer block passed with these devices: checked once
        for r in routes:
            if r.dev is not None and r.dev not in names:
                iface(r.span, "dev", r.dev, "route dev")
                continue
            if r.via is None or r.onlink:
                continue  # no gateway to check
            k = key_of(r.dev)
            h = ok.get(id(r))
            if h is not None and h[0] is r and h[1] is k:
                continue
            before = len(self.diags)
            self.gateway(r, connected, stack, memo)
            if len(self.diags) == before:
                ok[id(r)] = (r, k)
        for f in n.filters:
            iface(f.span, "in", f.in_dev, "filter in")
            iface(f.span, "out", f.out_dev, "filter out")
        for s in n.snats:
            iface(s.span, "out", s.out, "out")
        for nb in self.blocks.own_unless_known(n.neighbors, names):
            iface(nb.span, "dev", nb.dev, "neighbor dev")
        for pa in n.proxy_arps:
            iface(pa.span, "proxy-arp", pa.dev, "proxy-arp")
        for fdb in [] if profile_managed else self.blocks.own_unless_known(n.fdbs, vxlans):
            if fdb.dev not in vxlans:
                self.error(
                    self.at(fdb.span, "dev", fdb.dev),
                    f"fdb dev {fdb.dev} is not a vxlan of node {n.name} (vxlans: {', '.join(sorted(vxlans)) or 'none'})",
                )
        for stmt, keyword in [(o, "outbound-nat") for o in n.outbound_nats] + [
            (r, "route-to-host") for r in n.routes_to_host
        ]:
            target = bridges.get(stmt.bridge)
            if target is None:
                if not profile_managed:
                    self.error(
                        self.at(stmt.span, keyword, stmt.bridge),
                        f"{keyword}: no bridge {stmt.bridge} on node {n.name}",
                    )
            elif target.kind is not BridgeKind.L2BRIDGE:
                self.error(
                    self.at(stmt.span, keyword, stmt.bridge),
                    f"{keyword} applies to an l2bridge, but {stmt.bridge} is a {target.kind.value} bridge",
                )

    def node_connected(self, n: Node) -> list[tuple[str | None, IPv4Network]]:
        out: list[tuple[str | None, IPv4Network]] = [(x.name, x.ip.network) for x in n.nics]
        out += [(b.name, b.ip.network) for b in n.bridges if b.ip is not None]
        out += [(v.name, v.ip.network) for v in n.vxlans if v.ip is not None]
        if n.ip is not None and n.segment in self.segments:
            out.append(("eth0", self.segments[n.segment].prefix))
        if n.subnet is not None and not n.bridges:
            out.append((None, n.subnet))
        # A route without a gateway (`route P dev IF`) makes P on-link too.
        routes = n.routes
        if isinstance(routes, WithPeers):
            out += [(r.dev, r.prefix) for r in self.blocks.gatewayless(routes)]
        else:
            out += [(r.dev, r.prefix) for r in routes if r.via is None]
        return out

    def candidates(
        self,
        connected: list[tuple[str | None, IPv4Network]],
        dev: str | None,
        memo: dict[str | None, tuple[IPv4Network, ...]] | None,
    ) -> tuple[IPv4Network, ...]:
        """The prefixes on-link for ``dev`` (any device: None), one object per distinct set."""
        candidates = memo.get(dev) if memo is not None else None
        if candidates is None:
            found = tuple(dict.fromkeys(net for d, net in connected if dev is None or d is None or d == dev))
            candidates = self._prefix_sets.setdefault(found, found)
            if memo is not None:
                memo[dev] = candidates
        return candidates

    def dev_key(
        self,
        dev: str | None,
        connected: list[tuple[str | None, IPv4Network]],
        memo: dict[str | None, tuple[IPv4Network, ...]],
    ) -> tuple[object, ...]:
        """(device, its on-link prefixes), one object per distinct pair."""
        key = (dev, self.candidates(connected, dev, memo))
        return self._dev_keys.setdefault(key, key)

    def gateway(
        self,
        r: Route,
        connected: list[tuple[str | None, IPv4Network]],
        stack: str,
        memo: dict[str | None, tuple[IPv4Network, ...]] | None = None,
    ) -> None:
        """The gateway of ``r`` lies in a prefix on-link for its device.

        ``memo`` keeps the candidate prefixes per device across the routes
        of one stack (a profile node has a route per peer node).
        """
        if r.via is None or r.onlink:
            return
        candidates = self.candidates(connected, r.dev, memo)
        hit = self._gateway_ok.get(id(r))
        if hit is not None and hit[0] is r and hit[1] is candidates:
            return
        if any(r.via in net for net in candidates):
            self._gateway_ok[id(r)] = (r, candidates)
            return
        where = f" of {r.dev}" if r.dev else ""
        known = ", ".join(str(net) for net in candidates) or "none"
        self.error(
            self.at(r.span, "via", str(r.via)),
            f"gateway {r.via} is in no connected prefix{where} of {stack} ({known}); "
            "add `onlink` if it is reachable anyway",
        )

    def pod(self, n: Node, p: Pod, bridges: dict, profile_managed: bool) -> None:  # type: ignore[type-arg]
        if p.mode is StackMode.HOST_NETWORK:
            extra = [w for w, v in (("ip", p.ip), ("on", p.bridge), ("mac", p.mac)) if v is not None]
            if extra or p.routes:
                word = extra[0] if extra else "{"
                self.error(
                    self.at(p.span, "pod", p.name, word),
                    f"pod {p.name} is host-network: it has no endpoint, so no "
                    + (", ".join(f"`{w}`" for w in extra) if extra else "routes of its own"),
                )
            return
        if not self.has_cluster:
            missing = [w for w, v in (("ip CIDR", p.ip), ("on BRIDGE", p.bridge)) if v is None]
            if missing:
                self.error(
                    self.at(p.span, "pod", p.name),
                    f"pod {p.name} needs {' and '.join(f'`{m}`' for m in missing)} "
                    "(or `host-network`; under a cluster profile these are implied)",
                )
            elif p.ip is not None and not p.ip_has_prefix:
                self.error(
                    self.at(p.span, "ip", str(p.ip.ip)),
                    f"pod address {p.ip.ip} needs a prefix length here, like {p.ip.ip}/24 "
                    "(only a cluster profile supplies it)",
                )
        if p.bridge is not None and p.bridge not in bridges and not (profile_managed and not bridges):
            owners = [
                m.name
                for m in self.spec.nodes
                if m.name != n.name and any(b.name == p.bridge for b in m.bridges)
            ]
            if owners:
                msg = f"bridge {p.bridge} belongs to node {owners[0]}, not to node {n.name}"
            elif any(x.name == p.bridge for x in n.nics) or any(v.name == p.bridge for v in n.vxlans):
                msg = f"{p.bridge} is not a bridge of node {n.name}"
            else:
                known = ", ".join(sorted(bridges)) or "none"
                msg = f"unknown bridge {p.bridge} on node {n.name} (bridges: {known})"
            self.error(self.at(p.span, "on", p.bridge), msg)
        if p.ip is not None and p.ip_has_prefix:
            connected: list[tuple[str | None, IPv4Network]] = [("eth0", p.ip.network)]
            connected += [(r.dev or "eth0", r.prefix) for r in p.routes if r.via is None]
        else:
            connected = []
        for r in p.routes:
            if r.dev is not None and r.dev != "eth0":
                self.error(
                    self.at(r.span, "dev", r.dev),
                    f"route dev {r.dev}: a pod's only interface is eth0",
                )
            if connected:
                self.gateway(r, connected, f"pod {n.name}/{p.name}")

    def pod_addresses(self) -> None:
        seen: dict[IPv4Address, tuple[str, Span]] = {}
        for n in self.spec.nodes:
            for p in n.pods:
                if p.ip is None:
                    continue
                who = f"{n.name}/{p.name}"
                if p.ip.ip in seen:
                    other, span = seen[p.ip.ip]
                    self.error(
                        self.at(p.span, "ip", str(p.ip) if p.ip_has_prefix else str(p.ip.ip)),
                        f"pod {who} has address {p.ip.ip}, which pod {other} already has ({self.where(span)})",
                    )
                else:
                    seen[p.ip.ip] = (who, p.span)

    # ------------------------------------------------------------ checks

    def check(self, q: object, span: Span) -> None:
        if isinstance(q, Reach | NatAs):
            self.endpoint(q.src, span)
            self.endpoint(q.dst, span)
        elif isinstance(q, Isolated):
            self.endpoint(q.a, span)
            self.endpoint(q.b, span)
        elif isinstance(q, NetnsIsolation) and q.node is not None and q.node not in self.nodes:
            self.error(self.at(span, "on", q.node), self.unknown_node(q.node))

    def unknown_node(self, name: str) -> str:
        return f"unknown node {name} (nodes: {', '.join(sorted(self.nodes)) or 'none'})"

    def endpoint(self, ref: EndpointRef, span: Span) -> None:
        text = str(ref)
        if isinstance(ref, PodRef):
            node = self.nodes.get(ref.node)
            if node is None:
                self.error(self.at(span, text), self.unknown_node(ref.node))
                return
            ns, _, name = ref.pod.rpartition("/")
            same = [p.namespace for p in node.pods if p.name == name and ns in ("", p.namespace)]
            if not same:
                known = ", ".join(dict.fromkeys(p.name for p in node.pods)) or "none"
                self.error(self.at(span, text), f"node {ref.node} has no pod {ref.pod} (pods: {known})")
            elif len(same) > 1:
                self.error(
                    self.at(span, text),
                    f"node {ref.node} has pods {ref.pod} in namespaces {', '.join(sorted(same))}: "
                    f"say which with `pod NS/{ref.pod}`",
                )
        elif isinstance(ref, PodNsRef):
            nodes = [
                n.name
                for n in self.spec.nodes
                for p in n.pods
                if (p.namespace, p.name) == (ref.namespace, ref.name)
            ]
            if not nodes:
                known = ", ".join(
                    dict.fromkeys(
                        p.name for n in self.spec.nodes for p in n.pods if p.namespace == ref.namespace
                    )
                )
                self.error(
                    self.at(span, "pod", f"{ref.namespace}/{ref.name}"),
                    f"no pod {ref.name} in namespace {ref.namespace} (its pods: {known or 'none'})",
                )
            elif len(nodes) > 1:
                self.error(
                    self.at(span, "pod", f"{ref.namespace}/{ref.name}"),
                    f"{ref} is on nodes {', '.join(nodes)} (Kubernetes names a pod once per namespace); "
                    f"say which with `NODE/{ref.name}`",
                )
        elif isinstance(ref, NodeRef):
            if ref.node not in self.nodes:
                self.error(self.at(span, "node", ref.node), self.unknown_node(ref.node))
        elif isinstance(ref, ExternalRef):
            if ref.name not in self.externals:
                known = ", ".join(sorted(self.externals)) or "none"
                self.error(
                    self.at(span, "external", ref.name), f"unknown external {ref.name} (externals: {known})"
                )
        elif isinstance(ref, NamespaceRef):
            if not any(p.namespace == ref.namespace for n in self.spec.nodes for p in n.pods):
                self.warn(
                    self.at(span, "namespace", ref.namespace),
                    f"namespace {ref.namespace} selects no pod: the check quantifies over nothing",
                )
        elif isinstance(ref, LabelRef):
            if not any(
                ref.selector.matches(p.labels) and ref.namespace in (None, p.namespace)
                for n in self.spec.nodes
                for p in n.pods
            ):
                self.warn(self.at(span, "pods"), f"{text} selects no pod: the check quantifies over nothing")
        elif isinstance(ref, ServiceRef):
            check_service_ref(self, ref, span)
        elif isinstance(ref, AddressRef):
            pass
