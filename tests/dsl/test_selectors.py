"""Selectors, namespaces, container ports and the Kubernetes peer forms of the language.

Selectors are kubectl's syntax (kubectl reference, "label selectors":
``=``/``==``, ``!=``, ``in``, ``notin``, a bare key for Exists, ``!key`` for
DoesNotExist, commas between requirements meaning AND).
"""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from l2l3.dsl import parse, render
from l2l3.model.selector import parse_selector
from l2l3.model.types import (
    AnyPeer,
    CidrPeer,
    ContainerPort,
    LabelExpr,
    LabelRef,
    LabelSelector,
    NamespaceDecl,
    PodNsRef,
    PortSpec,
    Proto,
    SelectorOp,
    SelectorPeer,
)
from tests.dsl.helpers import BASE, errors, ok

BRIEF = "app=web,env in (prod,qa),tier!=db,!legacy,team"


def sel(text: str) -> LabelSelector:
    return parse_selector(text)


def ns(name: str) -> LabelSelector:
    return LabelSelector(match=(("kubernetes.io/metadata.name", name),))


def rule_peers(line: str) -> tuple[object, ...]:
    spec = ok(f"policy p namespace shop {{\n    ingress from {line}\n}}\n")
    return spec.policies[0].ingress[0].peers


# ------------------------------------------------------------------ the selector type


def test_selector_text_is_kubectl_syntax_and_reads_back() -> None:
    s = sel(BRIEF)
    assert s.match == (("app", "web"),)
    assert s.exprs == (
        LabelExpr(key="env", op=SelectorOp.IN, values=("prod", "qa")),
        LabelExpr(key="tier", op=SelectorOp.NOT_IN, values=("db",)),
        LabelExpr(key="legacy", op=SelectorOp.DOES_NOT_EXIST),
        LabelExpr(key="team", op=SelectorOp.EXISTS),
    )
    assert str(s) == BRIEF and parse_selector(str(s)) == s
    assert str(LabelSelector()) == "{}" and parse_selector("{}") == LabelSelector()
    assert str(sel("a notin (x,y)")) == "a notin (x,y)" and sel("k==v") == sel("k=v")
    for bad in ("a in ()", "a=b,", "a=b,a=c", "(x)"):
        with pytest.raises(ValueError):
            parse_selector(bad)


def test_selector_matching_is_and_with_kubernetes_notin() -> None:
    # API reference LabelSelector: "The requirements are ANDed"; "An empty label selector
    # matches all objects"; NotIn and DoesNotExist hold where the key is absent.
    s = sel(BRIEF)
    assert s.matches((("app", "web"), ("env", "qa"), ("team", "x")))
    assert not s.matches((("app", "web"), ("env", "qa")))  # team missing
    assert not s.matches((("app", "web"), ("env", "qa"), ("team", "x"), ("legacy", "")))
    assert not s.matches((("app", "web"), ("env", "qa"), ("team", "x"), ("tier", "db")))
    assert s.matches({"app": "web", "env": "prod", "team": "", "tier": "front"})
    assert LabelSelector().matches(()) and sel("a notin (x)").matches(())


# ------------------------------------------------------------------ policies


def test_select_reads_a_kubectl_selector() -> None:
    spec = ok(f"policy p namespace shop {{\n    select {BRIEF}\n}}\n")
    assert spec.policies[0].select == sel(BRIEF)


def test_version_1_peer_forms_mean_what_they_meant() -> None:
    assert rule_peers("pods app=api, role=x") == (SelectorPeer(pods=sel("app=api,role=x")),)
    assert rule_peers("pods") == (SelectorPeer(pods=LabelSelector()),)
    assert rule_peers("namespace mon") == (SelectorPeer(namespaces=ns("mon")),)
    assert rule_peers("namespace mon pods team=a") == (
        SelectorPeer(pods=sel("team=a"), namespaces=ns("mon")),
    )
    assert rule_peers("pods a=b c=d") == rule_peers("pods a=b,c=d") == rule_peers("pods a=b, c=d")


def test_kubernetes_peer_forms() -> None:
    assert rule_peers("namespaces team=a") == (SelectorPeer(namespaces=sel("team=a")),)
    assert rule_peers("namespaces team=a,env pods tier in (db)") == (
        SelectorPeer(pods=sel("tier in (db)"), namespaces=sel("team=a,env")),
    )
    assert rule_peers("all-pods") == rule_peers("namespaces") == (SelectorPeer(namespaces=LabelSelector()),)
    assert rule_peers("namespaces {} pods app=x") == (
        SelectorPeer(pods=sel("app=x"), namespaces=LabelSelector()),
    )
    # a comma continues the selector written last; a keyword starts a new peer
    assert rule_peers("pods a=b, !c, namespaces x, y pods z, w, cidr 10.0.0.0/8, all") == (
        SelectorPeer(pods=sel("a=b,!c")),
        SelectorPeer(pods=sel("z,w"), namespaces=sel("x,y")),
        CidrPeer(cidr=IPv4Network("10.0.0.0/8")),
        AnyPeer(),
    )


def test_ports_numbers_ranges_names_and_sctp() -> None:
    spec = ok(
        "policy p namespace shop {\n    ingress tcp 80, tcp port 8000-8080, sctp metrics, sctp, udp 53\n}\n"
    )
    assert spec.policies[0].ingress[0].ports == (
        PortSpec(proto=Proto.TCP, port=80),
        PortSpec(proto=Proto.TCP, port=8000, end_port=8080),
        PortSpec(proto=Proto.SCTP, port="metrics"),
        PortSpec(proto=Proto.SCTP),
        PortSpec(proto=Proto.UDP, port=53),
    )


def test_deny_all_egress_is_types_without_egress_rules() -> None:
    spec = ok("policy p namespace shop {\n    types ingress, egress\n}\n")
    p = spec.policies[0]
    assert p.egress == () and p.directions == frozenset({"ingress", "egress"})


# ------------------------------------------------------------------ namespaces, pods, endpoints


def test_namespace_declaration_and_container_ports() -> None:
    spec = ok(
        BASE.replace("labels app=web", "labels app=web ports 80, 8080/tcp=http 5000/sctp=metrics")
        + "namespace shop labels team=a env=prod\nnamespace dev\n"
    )
    assert spec.namespaces == (
        NamespaceDecl(name="shop", labels=(("env", "prod"), ("team", "a"))),
        NamespaceDecl(name="dev"),
    )
    web = next(p for n in spec.nodes for p in n.pods if p.name == "web")
    assert web.ports == (
        ContainerPort(port=80),
        ContainerPort(port=8080, name="http"),
        ContainerPort(port=5000, proto=Proto.SCTP, name="metrics"),
    )


def test_endpoint_forms() -> None:
    spec = parse(
        "check a: reach pod shop/web -> namespace shop pods app in (web),!x\ncheck b: reach pods {} -> pods a\n",
        validate=False,
    )
    q0, q1 = (c.query for c in spec.checks)
    assert q0.src == PodNsRef(namespace="shop", name="web")  # type: ignore[union-attr]
    assert q0.dst == LabelRef(selector=sel("app in (web),!x"), namespace="shop")  # type: ignore[union-attr]
    assert q1.src == LabelRef(selector=LabelSelector())  # type: ignore[union-attr]
    assert str(q0) == "reach pod shop/web -> namespace shop pods app in (web),!x"
    assert str(q1) == "reach pods {} -> pods a"


def test_render_prints_kubectl_selectors_and_reads_back() -> None:
    text = (
        "namespace shop labels team=a\n"
        f"policy p namespace shop {{\n    select {BRIEF}\n"
        "    ingress from namespaces team=a,env pods tier in (db), namespace mon, all-pods, pods x tcp 80-90, sctp m\n"
        "    egress to namespaces {} pods a=b\n}\n"
    )
    spec = parse(text, expand=False, validate=False)
    out = render(spec)
    assert (
        "    ingress from namespaces team=a,env pods tier in (db), namespace mon, all-pods, pods x tcp 80-90, sctp m"
        in out
    )
    assert "    egress to namespaces {} pods a=b" in out
    assert parse(out, expand=False, validate=False) == spec


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ingress from app=x", "selector term app=x must follow `pods` or `namespaces`"),
        ("ingress from namespace mon, app=x", "must follow `pods` or `namespaces`"),
        ("ingress from pods a=b, c=d pods e=f", "`pods` given twice in one peer"),
        ("ingress from pods a=b, a=c", "label key a given twice"),
        ("ingress tcp 90-80", "port range 90-80 ends below its start"),
        ("ingress tcp 70000-70001", "port 70000 is out of range"),
        ("ingress tcp HTTP", "HTTP is not a port name"),
        ("ingress tcp 12345678901234567", "out of range"),
        ("ingress icmp 80", "icmp has no ports"),
    ],
)
def test_policy_errors(line: str, words: str) -> None:
    diags = errors(f"policy p namespace shop {{\n    {line}\n}}\n")
    assert any(words in d.message for d in diags), [d.message for d in diags]
    assert all(d.span.line == 2 for d in diags)


@pytest.mark.parametrize(
    ("ports", "words"),
    [
        ("80/xtp", "xtp is not a container port protocol"),
        ("80/tcp=Web", "Web is not a port name"),
        ("80/tcp=a_b", "a container port like 8080/tcp=http"),
        ("0", "port 0 is out of range"),
    ],
)
def test_container_port_errors(ports: str, words: str) -> None:
    diags = errors(BASE.replace("labels app=web", f"ports {ports}"))
    assert any(words in d.message for d in diags), [d.message for d in diags]


def test_pod_ns_name_must_exist_and_be_one() -> None:
    twice = BASE.replace(
        "    pod web ip 10.244.1.5/24 on cni0 namespace shop labels app=web\n",
        "    pod web ip 10.244.1.5/24 on cni0 namespace shop labels app=web\n"
        "    pod web ip 10.244.1.6/24 on cni0 namespace dev\n",
    )
    msgs = [d.message for d in errors(twice + "check c: reach a/web -> pod shop/nope\n")]
    assert any("node a has pods web in namespaces dev, shop: say which with `pod NS/web`" in m for m in msgs)
    assert any("no pod nope in namespace shop (its pods: web, iis)" in m for m in msgs)
    ok(twice + "check c: reach pod dev/web -> pod shop/web\n")


def test_named_port_no_pod_declares_is_a_warning() -> None:
    from l2l3.dsl import parse_with_warnings

    _, warns = parse_with_warnings(BASE + "policy p namespace shop {\n    ingress tcp http\n}\n", "t.l2l3")
    assert any("no pod has a tcp port named http" in w.message for w in warns)


def test_a_namespace_written_as_a_bare_term_is_a_warning() -> None:
    from l2l3.dsl import parse_with_warnings

    text = BASE + "policy p namespace shop {\n    ingress from pods app=web, dev\n}\n"
    text = text.replace(
        "pod iis ip 10.244.2.4/24 on cbr0 namespace shop", "pod iis ip 10.244.2.4/24 on cbr0 namespace dev"
    )
    _, warns = parse_with_warnings(text, "t.l2l3")
    assert any("for the pods of namespace dev write `namespace dev`" in w.message for w in warns), warns


def test_the_policy_example_of_docs_language_md_parses_and_round_trips() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text()
    section = doc[doc.index("## 7. Network policies") :]
    block = re.search(r"```\n(namespace shop.*?)```", section, re.S)
    assert block is not None
    spec = parse(block.group(1), "doc.l2l3")
    assert spec.namespaces[0].labels == (("env", "prod"), ("team", "payments"))
    assert parse(render(spec), "doc.l2l3") == spec
