"""The policy screen: ``no reach`` proved for a destination without a search.

Where the model enforces NetworkPolicy (model.policy, model.simulate
``_deliver``, solver/delivery.py ``_policy``): once per request, at the
moment it is delivered into a stack, on the packet *as delivered*: the
sending pod's egress rules (the sender is the query's origin pod, unless it
is host-network) against its destination address, protocol and port; the
receiving pod's ingress rules (the pod whose interface it entered by) against
its source address, protocol and port. Both read one and the same packet.

What that packet can carry, for a sender set S and a destination pod d:

- destination: an address of d's stack. Every delivery happens because the
  (possibly DNAT-rewritten) destination is a local address of the stack, so
  the egress argument holds whatever DNAT or Service did on the way;
- source: a sender's own address (a pod's, or one of its stack's), or an
  address a NAT rule anywhere can write into a source (:meth:`nat_sources`:
  SNAT targets, and the addresses of every stack that masquerades, runs an
  OutBoundNAT or marks for kube-proxy's masquerade). Nothing else rewrites a
  source; an external sender (any address of its prefix) leaves it unbounded;
- protocol: the one sent (nothing rewrites it);
- destination port: the one sent, unless a DNAT rewrote it. A DNAT rewrites
  a packet that is then delivered into d only if one of its backends is an
  address of d's stack or, through further DNATs, becomes one; either way
  some DNAT in the network has a backend that is an address of d's stack.
  When one does, the query's port says nothing about the delivered packet
  and is dropped (as masquerade widens the sources, a DNAT widens the ports).

The ingress rules bind only where every delivery into d's stack enters by
d's own interface: a netns pod whose stack holds only its interfaces, no
sender living in that stack (a local delivery enters by no interface), and
not the pod's own node sending on its local path (model.policy
``from_resident_node``). There the receiver is d, which also fixes what a
named port means; elsewhere ingress is taken to admit everything and a named
port of an egress rule any port of its protocol.

So a pair is refused when, for every distinct egress rule set among the
senders, the headers admitted by the egress rules whose peers meet d's
addresses, those admitted by the ingress rules whose peers meet the arriving
sources, and the query's headers have nothing in common (l2l3.checking.atoms;
a sender without egress rules admits all, as does ingress where it does not
bind). The verdict depends on d only through: which of the senders' egress
rules meet d's addresses, d's ingress rule set, whether ingress binds,
whether a DNAT targets d, and d's container ports when a named port is in
play — that tuple is the memo key (:meth:`PolicyScreen._dest_key`), so a
check of many destinations costs one evaluation per class of alike ones.

The screen answers without a witness, so it is covered by property tests:
tests/property/test_policy_screen.py and test_screen_ports.py (every refused
pair, with and without headers, checked by the simulator and the engine) and
the Checker-level brute-force comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import NamedTuple

from l2l3.checking.atoms import ALL, UNKNOWN, Atoms, has_named, intersect, query_atoms, rules_atoms
from l2l3.model.endpoints import Endpoint
from l2l3.model.network import Network
from l2l3.model.policy import CompiledRule, Direction, from_resident_node, governing_rules
from l2l3.model.types import Headers, StackMode

#: a refusal by the destination's ingress addresses alone, and one that needs egress or ports
INGRESS, POLICY = "ingress", "policy"

_NO_HEADERS = Headers()
_MISSING = "missing"


@dataclass(frozen=True, slots=True)
class _Senders:
    """What the screen reads of a sender set, computed once per call."""

    sources: frozenset[IPv4Address] | None  # arriving source addresses (None: unbounded)
    stacks: frozenset[str | None]
    groups: tuple[tuple[CompiledRule, ...] | None, ...]  # distinct egress rule sets
    egress: tuple[CompiledRule, ...]  # every egress rule of any group
    named: bool  # some egress rule names a container port
    headers: Headers
    open: bool  # some sender no egress rule restricts


class _DestKey(NamedTuple):
    """What a verdict reads of a destination (its class for the screen)."""

    binds: bool  # every delivery into its stack enters by its own interface
    ingress: tuple[CompiledRule, ...] | None  # the ingress rules that bind (None: none)
    meets: tuple[bool, ...]  # per egress rule of the senders: its peers meet its addresses
    dnat: bool  # a DNAT can rewrite the query's port on the way to it
    ports: object  # its container ports, when a named port is in play (else None)


class _PodFacts(NamedTuple):
    """What the screen reads of a destination pod whatever the senders."""

    own: bool  # a stack of its own, entered only through its own interfaces
    guard: tuple[CompiledRule, ...] | None  # its ingress rules where they bind
    node: str
    exempt_from_node: bool  # its node's own packets pass its ingress (model.policy)
    local: frozenset[IPv4Address]  # its stack's addresses
    ports: object  # its container ports
    named_in: bool  # an ingress rule names a container port


class PolicyScreen:
    """Sound refusals by egress and ingress policy, memoised for one network."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self._nat_src: frozenset[IPv4Address] | None = None
        self._backends: frozenset[IPv4Address] | None = None
        # pod id -> the ingress rules every delivery into its stack passes (None: no guard)
        self._guards: dict[str, tuple[CompiledRule, ...] | None] = {}
        # pod id -> its stack is entered only through its own interfaces
        self._own: dict[str, bool] = {}
        self._pod_facts: dict[str, _PodFacts] = {}
        self._no_egress: bool | None = None
        # (sender facts, destination key) -> refusal kind or None; sender facts -> their number
        self._verdicts: dict[tuple[int, _DestKey], str | None] = {}
        self._facts: dict[tuple[object, ...], int] = {}

    def nat_sources(self) -> frozenset[IPv4Address]:
        """Every address a NAT rule anywhere can write into a packet's source.

        SNAT writes its ``to`` or an address of the stack it runs on; HNS
        OutBoundNAT writes an address of its node. Only these rules change a
        source on the way (the engines change it nowhere else), so a packet
        arrives with its original source or one of these.
        """
        if self._nat_src is None:
            out: set[IPv4Address] = set()
            for st in self.net.stacks.values():
                masq = any(d.masq_unless is not None or d.masq_hairpin for d in st.dnats)  # KUBE-MARK-MASQ
                if st.snats or st.outbound_nats or masq:
                    out |= st.local_addrs
                out |= {r.to for r in st.snats if r.to is not None}
            self._nat_src = frozenset(out)
        return self._nat_src

    def dnat_backends(self) -> frozenset[IPv4Address]:
        """Every address a DNAT rule anywhere can write into a packet's destination."""
        if self._backends is None:
            self._backends = frozenset(
                b.ip for st in self.net.stacks.values() for d in st.dnats for b in d.backends
            )
        return self._backends

    def arriving_sources(self, srcs: list[Endpoint]) -> frozenset[IPv4Address] | None:
        """The source addresses a packet from any of ``srcs`` can arrive with; None if unbounded."""
        out: set[IPv4Address] = set(self.nat_sources())
        for s in srcs:
            if s.src is not None and s.external is None:
                out.add(s.src)
            elif s.stack is not None and s.external is None:
                out |= self.net.stacks[s.stack].local_addrs  # the stack picks one of its own
            else:
                return None  # an external sends from any address of its prefix
        return frozenset(out)

    def own_stack(self, pod: str) -> bool:
        """Whether ``pod`` has a stack of its own (netns), entered only through its own interfaces."""
        hit = self._own.get(pod)
        if hit is None:
            info = self.net.pods[pod]
            st = self.net.stacks[info.stack]
            hit = self._own[pod] = (
                info.pod.mode is StackMode.NETNS
                and st.kind == "pod"
                and all(i.pod == pod for i in st.ifaces.values())
            )
        return hit

    def guard(self, pod: str) -> tuple[CompiledRule, ...] | None:
        """The ingress rules every delivery into ``pod``'s own stack passes, or None.

        None unless the pod has a stack of its own (:meth:`own_stack`) and
        some policy governs its ingress.
        """
        if pod in self._guards:
            return self._guards[pod]
        out: tuple[CompiledRule, ...] | None = None
        if self.own_stack(pod):
            rules = governing_rules(self.net, self.net.pods[pod], Direction.INGRESS)
            if rules is not None:
                out = tuple(rules)
        self._guards[pod] = out
        return out

    def _senders(self, srcs: list[Endpoint], headers: Headers) -> _Senders:
        groups: dict[tuple[CompiledRule, ...] | None, None] = {}
        if self._no_egress is None:
            self._no_egress = not any(Direction.EGRESS in p.directions for p in self.net.policies)
        for s in [] if self._no_egress else srcs:  # no egress policy anywhere: nobody's restricted
            info = self.net.pods.get(s.pod) if s.pod is not None and s.external is None else None
            rules = governing_rules(self.net, info, Direction.EGRESS) if info is not None else None
            groups[tuple(rules) if rules is not None else None] = None
        if not groups:
            groups[None] = None
        egress = tuple(dict.fromkeys(r for g in groups if g is not None for r in g))
        return _Senders(
            self.arriving_sources(srcs),
            frozenset(s.stack for s in srcs),
            tuple(groups),
            egress,
            has_named(egress),
            headers,
            None in groups,
        )

    def _static(self, pod: str) -> _PodFacts:
        """What the screen reads of ``pod`` whatever the senders (once per pod)."""
        hit = self._pod_facts.get(pod)
        if hit is None:
            info = self.net.pods[pod]
            guard = self.guard(pod)
            hit = self._pod_facts[pod] = _PodFacts(
                self.own_stack(pod),
                guard,
                info.node,
                from_resident_node(info.node, False, info),
                self.net.stacks[info.stack].local_addrs,
                info.pod.ports,
                guard is not None and has_named(guard),
            )
        return hit

    def _dest_key(self, d: Endpoint, ss: _Senders) -> _DestKey | None:
        """Everything the verdict for ``d`` reads of ``d``; None: the screen does not apply."""
        if d.pod is None or d.stack is None or d.prefix is not None:
            return None
        f = self._static(d.pod)
        binds = f.own and d.stack not in ss.stacks  # the receiver is d
        ingress = f.guard if binds and ss.sources is not None else None
        # its own node's packets pass its ingress rules (model.policy); only the
        # node itself can be that sender, so one set lookup, not one call per sender
        if ingress is not None and f.exempt_from_node and f.node in ss.stacks:
            ingress = None
        if ingress is None and ss.open:
            return None  # a sender no policy restricts, towards a destination ingress does not guard
        local = f.local
        meets = tuple(r.peers.meets(local) for r in ss.egress) if ss.egress else ()
        dnat = ss.headers.port is not None and not local.isdisjoint(self.dnat_backends())
        named = binds and (ss.named or (ingress is not None and f.named_in))
        return _DestKey(binds, ingress, meets, dnat, f.ports if named else None)

    def _admitted(self, d: Endpoint, ss: _Senders, key: _DestKey) -> tuple[Atoms, list[Atoms]]:
        """(headers d's ingress admits from the arriving sources, and per egress rule set of
        the senders the headers that it, that ingress and the query all admit)."""
        binds, ingress, meets, dnat, _ports = key
        assert d.pod is not None
        dest = self.net.pods[d.pod].pod if binds else UNKNOWN
        admit_in: Atoms = ALL
        if ingress is not None:
            sources = ss.sources
            assert sources is not None
            admit_in = rules_atoms((r for r in ingress if r.peers.meets(sources)), dest)
        met = {r for r, m in zip(ss.egress, meets, strict=True) if m}
        both = intersect(admit_in, query_atoms(ss.headers, ports=not dnat))
        per_group = [
            intersect(ALL if g is None else rules_atoms((r for r in g if r in met), dest), both)
            for g in ss.groups
        ]
        return admit_in, per_group

    def _verdict(self, d: Endpoint, ss: _Senders, key: _DestKey) -> str | None:
        admit_in, per_group = self._admitted(d, ss, key)
        if not admit_in:
            return INGRESS
        return None if any(per_group) else POLICY

    def admitted(self, s: Endpoint, d: Endpoint, headers: Headers = _NO_HEADERS) -> Atoms:
        """A superset of the headers (as delivered) policy lets through from ``s`` to ``d``
        (:data:`~l2l3.checking.atoms.ALL` where the screen does not apply)."""
        ss = self._senders([s], headers)
        key = self._dest_key(d, ss)
        if key is None:
            return ALL
        got = self._admitted(d, ss, key)[1]
        return got[0] if got else ()

    def refusals(
        self, srcs: list[Endpoint], dsts: list[Endpoint], headers: Headers = _NO_HEADERS
    ) -> dict[int, str]:
        """Indexes of ``dsts`` to which policy lets no packet from ``srcs`` with ``headers`` through,
        each with its kind (:data:`INGRESS`: the ingress rules admit no arriving source address;
        :data:`POLICY`: egress, or what egress and ingress admit together, on the query's headers)."""
        if not srcs:
            return {}
        ss = self._senders(srcs, headers)
        # the sender facts as a small number, compared once per call: a key holding the
        # arriving-source set itself would compare thousands of addresses on every hit
        facts = self._facts.setdefault((ss.sources, ss.groups, headers), len(self._facts))
        verdicts = self._verdicts
        out: dict[int, str] = {}
        for i, d in enumerate(dsts):
            dkey = self._dest_key(d, ss)
            if dkey is None:
                continue
            key = (facts, dkey)
            hit = verdicts.get(key, _MISSING)
            if hit is _MISSING:
                hit = verdicts[key] = self._verdict(d, ss, dkey)
            if hit is not None:
                out[i] = hit
        return out

    def refused(self, srcs: list[Endpoint], dsts: list[Endpoint], headers: Headers = _NO_HEADERS) -> set[int]:
        """Indexes of ``dsts`` to which policy lets no packet from ``srcs`` with ``headers`` through."""
        return set(self.refusals(srcs, dsts, headers))
