"""The policy screen: ``no reach`` proved for a destination without a search.

A destination pod whose ingress policy admits none of the source addresses
a packet from the senders can arrive with receives nothing from them. The
screen answers without a witness, so it is covered by two property tests:
tests/property/test_policy_screen.py (every refused pair checked by the
simulator and the engine) and the Checker-level brute-force comparison.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from l2l3.model.endpoints import Endpoint
from l2l3.model.network import Network
from l2l3.model.policy import CompiledRule, Direction, from_resident_node, governing_rules
from l2l3.model.types import StackMode


class PolicyScreen:
    """Sound refusals by ingress policy, memoised for one network."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self._nat_src: frozenset[IPv4Address] | None = None
        # (arriving sources, guarding rules) -> refused
        self._refused: dict[tuple[frozenset[IPv4Address], tuple[CompiledRule, ...]], bool] = {}
        # pod id -> the ingress rules every delivery into its stack passes (None: no guard)
        self._guards: dict[str, tuple[CompiledRule, ...] | None] = {}

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

    def guard(self, pod: str) -> tuple[CompiledRule, ...] | None:
        """The ingress rules every delivery into ``pod``'s own stack passes, or None.

        None unless the pod has a stack of its own (netns), entered only
        through its own interfaces, and some policy governs its ingress.
        """
        if pod in self._guards:
            return self._guards[pod]
        out: tuple[CompiledRule, ...] | None = None
        info = self.net.pods[pod]
        st = self.net.stacks[info.stack]
        if (
            info.pod.mode is StackMode.NETNS
            and st.kind == "pod"
            and all(i.pod == pod for i in st.ifaces.values())
        ):
            rules = governing_rules(self.net, info, Direction.INGRESS)
            if rules is not None:
                out = tuple(rules)
        self._guards[pod] = out
        return out

    def refuses(self, d: Endpoint, sources: frozenset[IPv4Address] | None, senders: set[str | None]) -> bool:
        """d's ingress policy refuses every packet that can arrive from ``sources``.

        Holds when d is a pod with its own stack, entered only through its
        own interfaces (so every delivery into it passes d's ingress
        policy), none of the senders lives in that stack, and no allow rule
        governing d admits any address in ``sources``, whatever the port
        (ports are ignored, which only makes the test stricter).
        """
        if sources is None or d.pod is None or d.stack is None or d.prefix is not None:
            return False
        if d.stack in senders:
            return False
        info = self.net.pods[d.pod]
        # its own node's packets pass its ingress rules (model.policy); only the
        # node itself can be that sender, so one set lookup, not one call per sender
        if info.node in senders and from_resident_node(info.node, False, info):
            return False
        rules = self.guard(d.pod)
        if rules is None:
            return False
        key = (sources, rules)
        hit = self._refused.get(key)
        if hit is None:
            hit = self._refused[key] = not any(r.peers.meets(sources) for r in rules)
        return hit

    def refused(self, srcs: list[Endpoint], dsts: list[Endpoint]) -> set[int]:
        """Indexes of ``dsts`` whose ingress policy refuses every packet from ``srcs``."""
        sources = self.arriving_sources(srcs)
        stacks = {s.stack for s in srcs}
        return {i for i, d in enumerate(dsts) if self.refuses(d, sources, stacks)}
