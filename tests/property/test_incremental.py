"""Incremental answers equal a fresh load, after every change of a random sequence.

A :class:`l2l3.incremental.Session` patches its network and answers again
only the checks its dependency rule says a change can affect. After each
change this test loads the changed spec afresh (profiles expanded again,
a new Network and Checker) and compares every check: the verdict, the pair
count and whether a witness is shown must be equal, and the session's
witness must replay in the fresh network (the simulator gives that very
trace again). So a memo the patch forgets, or a check the rule wrongly
keeps, shows up as a difference.

Specs: the checker property test's rich networks (primitives: bridges,
several subnets, no-netns and host-network pods, CIDR peers, NAT, VXLAN,
Windows l2bridge) and small generated clusters (every CNI profile of
``l2l3 generate``, and the realistic policy mix of ``generate_mix``).
Changes: relabel, add and remove a pod, add, replace and remove a policy,
toggle a node's policy enforcement or forwarding.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Interface

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2l3 import incremental
from l2l3.checking import Checker, CheckResult
from l2l3.errors import QueryError, SpecError
from l2l3.generate import SUPPORTED_CNI, plan, spec_text
from l2l3.generate_mix import mix_plan, mix_spec
from l2l3.incremental import Session
from l2l3.model.endpoints import check_query_endpoints, pod_endpoint, resolve
from l2l3.model.network import Network
from l2l3.model.profiles import expand
from l2l3.model.simulate import Origin, simulate
from l2l3.model.types import Check, Isolated, Pod, Spec, StackMode
from tests.property.netgen import _policy
from tests.property.test_checker_vs_brute import LABELS, checker_networks, queries


def fresh_network(raw: Spec) -> Network:
    """The changed spec loaded afresh: profiles expanded again, a new network."""
    return Network(expand(raw)[0] if raw.cluster is not None else raw)


def _view(r: CheckResult) -> tuple[object, ...]:
    return (r.status.value, r.pairs, r.witness is not None)


def _replays(net: Network, r: CheckResult) -> bool:
    """The witness is what the simulator gives in ``net`` for its packet, from one of its senders."""
    t = r.witness
    if t is None:
        return True
    first = t.hops[0].at if t.hops else None
    ext = first.removeprefix("external ") if first and first.startswith("external ") else None
    origins = {Origin(external=ext) if ext else Origin(stack=first)}
    q = r.query
    refs = [q.a, q.b] if isinstance(q, Isolated) else [getattr(q, "src", None)]
    for ref in refs:
        if ref is None:
            continue
        try:
            origins |= {e.origin for e in resolve(net, ref)}
        except QueryError:
            pass
    origins |= {pod_endpoint(net, p).origin for p in net.pods}
    return any(
        t in simulate(net, o, t.packet)
        for o in origins
        if o.stack == first or (ext is not None and o.external == ext)
    )


def _compare(s: Session) -> None:
    net = fresh_network(s.raw)
    checker = Checker(net)
    for c in s.spec.checks:
        want = checker.evaluate(c.query)
        got = s.answers[c.name]
        assert _view(got) == _view(want), f"{c.name} {c.query}: incremental {_view(got)}, fresh {_view(want)}"
        assert _replays(net, got), f"{c.name}: the witness does not replay in a fresh load"


def _with_checks(spec: Spec, data: st.DataObject) -> Spec:
    net = Network(expand(spec)[0] if spec.cluster is not None else spec)
    qs = []
    for q in data.draw(queries(net))[-6:]:
        try:
            check_query_endpoints(net, q)
        except QueryError:
            continue
        qs.append(Check(name=f"q{len(qs)}", query=q))
    return replace(spec, checks=(*spec.checks[:8], *qs))


@st.composite
def generated(draw: st.DrawFn) -> Spec:
    """A small generated cluster, as written (profiles not expanded)."""
    from l2l3.dsl import parse

    seed = draw(st.integers(0, 50))
    if draw(st.booleans()):
        text = mix_spec(mix_plan(3, 3, 2, draw(st.integers(1, 6)), seed))
    else:
        cni = draw(st.sampled_from(SUPPORTED_CNI))
        windows = draw(st.sampled_from([0.0, 0.5]))
        try:
            text = spec_text(plan(3, 3, cni, 2, 1, windows, seed))
        except ValueError:  # a profile without a Windows dataplane
            text = spec_text(plan(3, 3, cni, 2, 1, 0.0, seed))
    return parse(text, "<gen>", expand=False, validate=False)


def _free_ip(s: Session, node: str) -> IPv4Interface | None:
    """An unused address beside a profile or bridge pod of ``node``, with its prefix."""
    used = set(s.net.owners)
    raw = next(n for n in s.raw.nodes if n.name == node)
    base = raw.subnet or next((p.ip.network for p in raw.pods if p.ip is not None and p.bridge), None)
    if base is None:
        return None
    for host in list(base.hosts())[20:60]:
        if host not in used:
            return IPv4Interface(f"{host}/{base.prefixlen if raw.subnet is None else 32}")
    return None


def _change(s: Session, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["relabel", "add", "remove", "policy", "unpolicy", "node"]))
    pods = sorted(p for p, i in s.net.pods.items() if i.node in {n.name for n in s.raw.nodes})
    try:
        if kind == "relabel" and pods:
            s.relabel_pod(data.draw(st.sampled_from(pods)), dict(data.draw(st.sampled_from([*LABELS, ()]))))
        elif kind == "add":
            node = data.draw(st.sampled_from([n.name for n in s.raw.nodes]))
            ip = _free_ip(s, node)
            raw = next(n for n in s.raw.nodes if n.name == node)
            bridge = next((p.bridge for p in raw.pods if p.bridge), None)
            if ip is None or (raw.subnet is None and bridge is None):
                return
            pod = Pod(
                name=f"x{len(pods)}",
                ip=ip,
                ip_has_prefix=raw.subnet is None,
                bridge=bridge if raw.subnet is None else None,
                namespace=data.draw(st.sampled_from(["ns0", "ns1"])),
                labels=data.draw(st.sampled_from(LABELS)),
                mode=data.draw(st.sampled_from([StackMode.NETNS, StackMode.NETNS, StackMode.NO_NETNS])),
            )
            s.add_pod(node, pod)
        elif kind == "remove" and pods:
            s.remove_pod(data.draw(st.sampled_from(pods)))
        elif kind == "policy":
            pol = data.draw(_policy(data.draw(st.sampled_from(["ns0", "ns1"]))))
            pol = replace(pol, name=data.draw(st.sampled_from(["pa", "pb"])))
            if any((p.namespace, p.name) == (pol.namespace, pol.name) for p in s.spec.policies):
                s.replace_policy(pol)
            else:
                s.add_policy(pol)
        elif kind == "unpolicy" and s.spec.policies:
            p = data.draw(st.sampled_from(list(s.spec.policies)))
            s.remove_policy(p.namespace, p.name)
        elif kind == "node":
            n = data.draw(st.sampled_from(list(s.raw.nodes)))
            flip = data.draw(st.sampled_from(["enforce_policy", "enforce_policy", "forwarding"]))
            s.replace_node(replace(n, **{flip: not getattr(n, flip)}))
    except SpecError:
        pass  # refused: the session must be as it was (compared below)


def _run(spec: Spec, data: st.DataObject, steps: int) -> None:
    spec = _with_checks(spec, data)
    try:
        s = Session(spec)
    except (SpecError, QueryError):
        return
    # members whose rules changed: one search each, or by the policy's selector (small specs)
    keep, incremental.ONE_BY_ONE = incremental.ONE_BY_ONE, data.draw(st.sampled_from([0, 4]))
    try:
        for _ in range(data.draw(st.integers(1, steps))):
            _change(s, data)
            _compare(s)
    finally:
        incremental.ONE_BY_ONE = keep


_SMALL = spec_text(plan(2, 4, "calico bgp", 2)) + "check ns0-in-ns0: reach n0/p1 -> n1/p2\n"


def test_changes_that_flip_verdicts() -> None:
    """Each change below flips a verdict or a pair count; each needs its invalidation.

    Removing ns1's isolation opens ns0 -> ns1 (the policy memos of ns1's
    pods must go); a policy naming app=zz and then a relabel to app=zz open
    it again (the compiled peer set must gain the address); a pod added to
    ns0 is one more source (the namespace index and the node's stacks).
    """
    s = Session.from_text(_SMALL)
    assert s.answers["ns0-to-ns1"].status.value == "holds"
    up = s.remove_policy("ns1", "iso")
    assert up.answered["ns0-to-ns1"].status.value == "violated"
    _compare(s)
    s.add_policy("policy only namespace ns1 {\n    select\n    ingress from namespace ns0 pods app=zz\n}")
    assert s.answers["ns0-to-ns1"].status.value == "holds"
    _compare(s)
    up = s.relabel_pod("n0/p3", {"app": "zz"})
    assert "ns0-to-ns1" in up.answered, f"judged unaffected: {up.unaffected.get('ns0-to-ns1')}"
    assert up.answered["ns0-to-ns1"].status.value == "violated"
    assert "ns1-to-ns0" in up.unaffected  # ns0's rules and ns1's senders did not change
    _compare(s)
    before = s.answers["ns1-to-ns0"].pairs
    up = s.add_pod("n1", "pod p9 ip 10.128.1.200 namespace ns0 labels app=a1")
    assert up.answered["ns1-to-ns0"].pairs == before + 4
    _compare(s)
    s.remove_pod("n1/p9")
    _compare(s)
    with pytest.raises(SpecError):
        s.remove_pod("n0/p1")  # check ns0-in-ns0 names it
    _compare(s)


@settings(max_examples=3)
@given(checker_networks(), st.data())
def test_incremental_equals_fresh_load_rich(spec: Spec, data: st.DataObject) -> None:
    _run(spec, data, 3)


@settings(max_examples=3)
@given(generated(), st.data())
def test_incremental_equals_fresh_load_generated(spec: Spec, data: st.DataObject) -> None:
    _run(spec, data, 3)


@pytest.mark.slow
@settings(max_examples=20)
@given(checker_networks(), st.data())
def test_incremental_equals_fresh_load_rich_long(spec: Spec, data: st.DataObject) -> None:
    _run(spec, data, 6)


@pytest.mark.slow
@settings(max_examples=20)
@given(generated(), st.data())
def test_incremental_equals_fresh_load_generated_long(spec: Spec, data: st.DataObject) -> None:
    _run(spec, data, 6)
