"""Compare the kernel with the model, probe by probe.

:func:`compare` asks the model (:func:`model_answer`) and the kernel
(:class:`~l2l3.kernel.prober.Prober`) about the same probes, and re-runs every
probe whose answer disagrees with the model (more tries, longer waits) before
it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from l2l3.kernel.exchange import ExchangeAnswer
from l2l3.kernel.netns import neighbour_capacity
from l2l3.kernel.prober import Prober
from l2l3.kernel.probes import PROBE_PORTS, Answer, Detail, Outcome, Probe, endpoints
from l2l3.kernel.realization import Realization
from l2l3.model.network import Network
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import Proto


def model_answer(net: Network, probe: Probe) -> Answer:
    """What the model says happens to ``probe``'s packet."""
    if probe.src.startswith("external "):
        origin = Origin(external=probe.src.split(" ", 1)[1])
    else:
        origin = Origin(stack=probe.src, pod=probe.pod)
    traces = simulate(net, origin, probe.packet())
    outs, details = set(), []
    for t in traces:
        if not t.delivered or t.final is None or t.delivered_to is None:
            continue
        outs.add(Outcome(t.delivered_to, t.final.src, t.via_mac, t.final.dst))
        sent = next((h.packet for h in t.hops if h.packet.dmac is not None), None)
        details.append(
            Detail(
                t.delivered_to,
                t.entered_by or "-",
                t.final.src,
                t.final.dst,
                t.final.ttl,
                t.final.smac,
                t.final.dmac,
                sent.smac if sent else None,
                sent.dmac if sent else None,
            )
        )
    reasons = "; ".join(sorted({t.reason for t in traces if not t.delivered and t.reason}))
    return Answer(frozenset(outs), tuple(details), reason=reasons if not outs else "")


def agrees(model: Answer, kernel: Answer) -> bool:
    """The kernel's outcomes are the model's: equal sets, or (several model
    outcomes, e.g. a DNAT with several backends) a non-empty subset."""
    if model.outcomes == kernel.outcomes:
        return True
    if len(model.outcomes) > 1 and kernel.outcomes and kernel.outcomes <= model.outcomes:
        return True
    return False


#: Documented classes where the model and Linux differ (reported; see
#: docs/kernel.md). None is open: the four found so far (martian-source,
#: gateway-is-local, vip-needs-route, fdb-unicast-multi) were fixed in the
#: model, and their regression specs must now agree on every probe.
KNOWN_DIFFERENCES: dict[str, str] = {}


def known_difference(net: Network, probe: Probe, model: Answer) -> str | None:
    """The documented class of model/kernel difference ``probe`` falls in, if any."""
    del net, probe, model  # no open class; add a matcher here when one is found
    return None


@dataclass
class Comparison:
    """One probe: the model's answer, the kernel's, and the documented difference it falls in."""

    probe: Probe
    model: Answer
    kernel: Answer
    known: str | None = None  # a documented model difference this probe falls in

    @property
    def agree(self) -> bool:
        """The kernel's outcomes are the model's (:func:`agrees`)."""
        return agrees(self.model, self.kernel)

    @property
    def explained(self) -> bool:
        """Disagrees, but in a documented class of model difference."""
        return not self.agree and self.known is not None

    def __str__(self) -> str:
        mark = "agree" if self.agree else ("KNOWN " + str(self.known) if self.known else "DISAGREE")
        return f"{mark}: {self.probe}\n  model:  {self.model}\n  kernel: {self.kernel}"

    def explain(self) -> str:
        """:meth:`__str__` with the frames each side saw at the receivers."""
        lines = [str(self)]
        for d in self.model.details:
            lines.append(f"  model frame:  {d}")
        for d in self.kernel.details:
            lines.append(f"  kernel frame: {d}")
        return "\n".join(lines)


def compare(
    rz: Realization,
    probes: list[Probe] | None = None,
    *,
    tries: int = 3,
    rerun_tries: int = 4,
    prober: Prober | None = None,
) -> list[Comparison]:
    """Probe (every endpoint pair by default) and compare with the model.

    Every disagreeing probe is re-run (``rerun_tries`` more tries with longer
    windows) before it counts; its final answer merges all tries.
    """
    probes = probes if probes is not None else endpoints(rz)
    models = {p: model_answer(rz.net, p) for p in probes}
    expect = {p for p, m in models.items() if m.delivered}
    ports = sorted({p.dport for p in probes if p.proto != Proto.ICMP} | set(PROBE_PORTS))
    with neighbour_capacity():
        own = prober is None
        pr = prober or Prober(rz, ports).__enter__()
        try:
            kern = pr.run(probes, tries=tries, expect=expect)
            bad = [p for p in probes if not agrees(models[p], kern[p])]
            if bad:
                again = pr.run(
                    bad, tries=rerun_tries, expect=expect & set(bad), first_window=2.0, window=1.0, warm=True
                )
                for p in bad:
                    k1, k2 = kern[p], again[p]
                    # every delivery seen is a fact; "not delivered" needs every try to fail
                    kern[p] = Answer(
                        k1.outcomes | k2.outcomes,
                        k1.details + k2.details,
                        k1.tries + k2.tries,
                        k2.reason or k1.reason,
                    )
        finally:
            if own:
                pr.close()
    out = []
    for p in probes:
        c = Comparison(p, models[p], kern[p])
        if not c.agree:
            c.known = known_difference(rz.net, p, models[p])
        out.append(c)
    return out


# --------------------------------------------------------------------------
# connect: request and answer, model against kernel

#: One exchange as both sides can tell it: (sent from, delivered to, request source
#: and destination as delivered, answer taken by the sender).
ExchangeKey = tuple[IPv4Address, str, IPv4Address, IPv4Address, bool]


def model_exchanges(net: Network, probe: Probe) -> frozenset[ExchangeKey]:
    """What the model says ``probe``'s request and its answer do (conntrack included)."""
    from l2l3.model.conntrack import answer_accepted
    from l2l3.model.simulate import simulate_answer

    if probe.src.startswith("external "):
        origin = Origin(external=probe.src.split(" ", 1)[1])
    else:
        origin = Origin(stack=probe.src, pod=probe.pod)
    out: dict[tuple[IPv4Address, str, IPv4Address, IPv4Address], bool] = {}
    for t in simulate(net, origin, probe.packet()):
        if not t.delivered or t.final is None or t.delivered_to is None:
            continue
        ok = any(answer_accepted(t, a, probe.src) for a in simulate_answer(net, t))
        key = (probe.src_ip, t.delivered_to, t.final.src, t.final.dst)
        out[key] = out.get(key, False) or ok
    return frozenset((*k, ok) for k, ok in out.items())


def kernel_exchanges(answer: ExchangeAnswer) -> frozenset[ExchangeKey]:
    """The kernel's exchanges of one probe in the same terms (an answer seen taken once is a fact)."""
    out: dict[tuple[IPv4Address, str, IPv4Address, IPv4Address], bool] = {}
    for e in answer.exchanges:
        key = (e.sent[0], e.to, e.src[0], e.dst[0])
        out[key] = out.get(key, False) or e.ok
    return frozenset((*k, ok) for k, ok in out.items())


def agree_sets(model: frozenset[ExchangeKey], kernel: frozenset[ExchangeKey]) -> bool:
    """Equal, or (several model outcomes: a DNAT with several backends) a non-empty subset."""
    return model == kernel or (len(model) > 1 and bool(kernel) and kernel <= model)


@dataclass
class ExchangeComparison:
    """One exchange probe: the model's outcomes, the kernel's, and the kernel's detail."""

    probe: Probe
    model: frozenset[ExchangeKey]
    kernel: frozenset[ExchangeKey]
    answer: ExchangeAnswer
    known: str | None = None

    @property
    def agree(self) -> bool:
        """The kernel's exchanges are the model's (:func:`agree_sets`)."""
        return agree_sets(self.model, self.kernel)

    @property
    def explained(self) -> bool:
        """Disagrees, but in a documented class of model difference."""
        return not self.agree and self.known is not None

    def __str__(self) -> str:
        def show(keys: frozenset[ExchangeKey]) -> str:
            if not keys:
                return "request not delivered"
            return "; ".join(
                f"from {s} to {to} as {a} -> {b}, {'answered' if ok else 'no answer taken'}"
                for s, to, a, b, ok in sorted(keys)
            )

        mark = "agree" if self.agree else ("KNOWN " + str(self.known) if self.known else "DISAGREE")
        return f"{mark}: {self.probe}\n  model:  {show(self.model)}\n  kernel: {self.answer}"


def compare_exchanges(
    rz: Realization, probes: list[Probe], *, rerun_tries: int = 3
) -> list[ExchangeComparison]:
    """Run ``probes`` as exchanges and compare each with the model; re-run the
    disagreeing ones (``rerun_tries`` more tries) and merge before they count."""
    from l2l3.kernel.exchange import run_exchanges

    models = {p: model_exchanges(rz.net, p) for p in probes}
    kern = run_exchanges(rz, probes, tries=1)
    bad = [p for p in probes if not agree_sets(models[p], kernel_exchanges(kern[p]))]
    # a DNAT picks one backend at random per connection: to a VIP with several, more tries
    backends = {d.vip: len(d.backends) for st in rz.net.stacks.values() for d in st.dnats}
    several = [p for p in bad if backends.get(p.dst, 1) > 1]
    for group, tries in (([p for p in bad if p not in several], rerun_tries), (several, 3 * rerun_tries)):
        if not group:
            continue
        again = run_exchanges(rz, group, tries=tries)
        for p in group:
            k1, k2 = kern[p], again[p]
            kern[p] = ExchangeAnswer(
                k1.exchanges | k2.exchanges, k1.sent_from or k2.sent_from, k1.tries + k2.tries
            )
    out = []
    for p in probes:
        c = ExchangeComparison(p, models[p], kernel_exchanges(kern[p]), kern[p])
        if not c.agree:
            c.known = known_exchange_difference(rz.net, p, c)
        out.append(c)
    return out


#: Documented classes where the model's exchanges and Linux differ (docs/kernel.md).
KNOWN_EXCHANGE_DIFFERENCES: dict[str, str] = {
    "answer-not-new": (
        "an ICMP echo reply passing a stack that holds no conntrack entry for it is not NATed there "
        "(conntrack starts ICMP entries only for requests; NAT skips the untracked reply); "
        "the model applies that stack's NAT rules to it"
    ),
}


def known_exchange_difference(net: Network, probe: Probe, c: ExchangeComparison) -> str | None:
    """The documented class of model/kernel difference an exchange falls in, if any."""
    from l2l3.model.simulate import simulate_answer

    if probe.proto != Proto.ICMP or not c.kernel or not all(k[4] for k in c.kernel):
        return None
    requests = {(k[1], k[2], k[3]) for k in c.kernel}
    if {(k[1], k[2], k[3]) for k in c.model} != requests or any(k[4] for k in c.model):
        return None
    origin = Origin(stack=probe.src, pod=probe.pod) if not probe.src.startswith("external ") else None
    if origin is None:
        return None
    for t in simulate(net, origin, probe.packet()):
        if t.delivered and any(a.delivered_to == probe.src and a.nat for a in simulate_answer(net, t)):
            return "answer-not-new"  # answered in the kernel, NATed on its way back in the model
    return None
