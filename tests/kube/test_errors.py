"""Invalid input: a KubeError whose FILE:LINE:COL points at the offending value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from l2l3.kube import KubeError, load, load_text

POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  nodeName: lin1
  containers:
  - name: web
    ports:
    - containerPort: 8080
      name: http
status:
  podIP: 10.244.1.5
"""

POLICY = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - podSelector: {}
    ports:
    - port: 8080
      protocol: TCP
"""

SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
"""

# (name, text, the unique text the error must point at, words the message must hold)
CASES = [
    ("yaml-syntax", "apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n", None, "not valid YAML"),
    ("yaml-tab", "apiVersion: v1\n\tkind: Pod\n", "\tkind", "not valid YAML"),
    (
        "yaml-duplicate-key",
        POD.replace("  name: web\n", "  name: web\n  name: other\n", 1),
        "name: other",
        "duplicate key",
    ),
    ("scalar-document", "just a string\n", "just", "expected a Kubernetes object"),
    ("no-kind", "apiVersion: v1\nmetadata: {name: x}\n", "apiVersion", "kind is required"),
    ("no-apiVersion", "kind: Pod\nmetadata: {name: x}\n", "kind", "apiVersion is required"),
    ("kind-type", "apiVersion: v1\nkind: [Pod]\n", "[Pod]", "expected the object's kind"),
    (
        "no-name",
        "apiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\n",
        "{namespace",
        "metadata.name is required",
    ),
    (
        "labels-list",
        POD.replace("labels: {app: web}", "labels: [app, web]"),
        "[app, web]",
        "expected a mapping of labels",
    ),
    ("label-value", POD.replace("{app: web}", "{app: -web-}"), "-web-", "label value '-web-'"),
    ("label-key", POD.replace("{app: web}", "{'bad key': web}"), "'bad key'", "label key 'bad key'"),
    ("label-number", POD.replace("{app: web}", "{app: 2}"), "2}", "expected a string"),
    (
        "containers-map",
        POD.replace("  containers:\n  - name: web", "  containers:\n    name: web"),
        "name: web\n    ports",
        "expected a list",
    ),
    ("container-port-range", POD.replace("8080", "70000"), "70000", "from 1 to 65535"),
    ("container-port-string", POD.replace("8080", '"8080"'), '"8080"', "from 1 to 65535"),
    (
        "container-port-missing",
        POD.replace("    - containerPort: 8080\n      name: http", "    - name: http"),
        "name: http",
        "containerPort is required",
    ),
    (
        "container-port-name",
        POD.replace("name: http", "name: HTTP_PORT"),
        "HTTP_PORT",
        "port name 'HTTP_PORT'",
    ),
    (
        "container-protocol",
        POD.replace("      name: http", "      name: http\n      protocol: ICMP"),
        "ICMP",
        "TCP, UDP or SCTP",
    ),
    ("pod-ip", POD.replace("10.244.1.5", "10.244.1.500"), "10.244.1.500", "an IP address"),
    (
        "host-network-type",
        POD.replace("  nodeName: lin1", "  nodeName: lin1\n  hostNetwork: maybe"),
        "maybe",
        "true or false",
    ),
    ("phase", POD.replace("status:\n", "status:\n  phase: Sleeping\n"), "Sleeping", "Pending, Running"),
    (
        "selector-string",
        POLICY.replace("    matchLabels: {app: web}", "    app=web").replace(
            "  podSelector:\n    app=web", "  podSelector: app=web"
        ),
        "app=web",
        "a label selector",
    ),
    (
        "operator-unknown",
        POLICY.replace("matchLabels: {app: web}", "matchExpressions: [{key: app, operator: Has}]"),
        "Has",
        "In, NotIn, Exists or DoesNotExist",
    ),
    (
        "in-without-values",
        POLICY.replace("matchLabels: {app: web}", "matchExpressions: [{key: app, operator: In, values: []}]"),
        "[]}]",
        "needs at least one value",
    ),
    (
        "notin-values-absent",
        POLICY.replace("matchLabels: {app: web}", "matchExpressions: [{key: app, operator: NotIn}]"),
        "NotIn",
        "needs at least one value",
    ),
    (
        "exists-with-values",
        POLICY.replace(
            "matchLabels: {app: web}", "matchExpressions: [{key: app, operator: Exists, values: [x]}]"
        ),
        "[x]",
        "takes no values",
    ),
    ("policy-port-range", POLICY.replace("port: 8080", "port: 0"), "0\n", "from 1 to 65535 or a port name"),
    ("policy-port-quoted-number", POLICY.replace("port: 8080", 'port: "8080"'), '"8080"', "port name '8080'"),
    ("policy-protocol", POLICY.replace("protocol: TCP", "protocol: ICMP"), "ICMP", "TCP, UDP or SCTP"),
    (
        "end-port-below",
        POLICY.replace("port: 8080", "port: 8080\n      endPort: 8000"),
        "8000",
        "endPort 8000 is below port 8080",
    ),
    (
        "end-port-named",
        POLICY.replace("port: 8080", "port: http\n      endPort: 9000"),
        "9000",
        "numeric port",
    ),
    ("end-port-alone", POLICY.replace("    - port: 8080\n", "    - endPort: 9000\n"), "9000", "needs a port"),
    (
        "cidr-parse",
        POLICY.replace("    - podSelector: {}", "    - ipBlock: {cidr: 10.0.0.0/33}"),
        "10.0.0.0/33",
        "a CIDR",
    ),
    (
        "cidr-no-prefix",
        POLICY.replace("    - podSelector: {}", "    - ipBlock: {cidr: 10.0.0.1}"),
        "10.0.0.1",
        "a CIDR",
    ),
    (
        "cidr-missing",
        POLICY.replace("    - podSelector: {}", "    - ipBlock: {except: [10.0.0.0/8]}"),
        "{except",
        "cidr is required",
    ),
    (
        "except-outside",
        POLICY.replace("    - podSelector: {}", "    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}"),
        "10.1.0.0/24",
        "strictly inside",
    ),
    (
        "except-equal",
        POLICY.replace("    - podSelector: {}", "    - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}"),
        "10.0.0.0/16]",
        "strictly inside",
    ),
    (
        "ipblock-with-selector",
        POLICY.replace("    - podSelector: {}", "    - podSelector: {}\n      ipBlock: {cidr: 10.0.0.0/8}"),
        "ipBlock: {cidr",
        "may not also have",
    ),
    ("empty-peer", POLICY.replace("    - podSelector: {}", "    - {}"), "{}\n    ports", "a peer needs"),
    ("policy-types", POLICY + "  policyTypes: [Ingress, ingress]\n", "ingress]", "Ingress or Egress"),
    (
        "rules-not-list",
        POLICY.replace("  ingress:\n  - from:", "  ingress:\n    from:"),
        "from:\n    - podSelector",
        "a list of ingress rules",
    ),
    ("service-port-range", SERVICE.replace("port: 80,", "port: 65536,"), "65536", "from 1 to 65535"),
    (
        "service-two-unnamed",
        SERVICE.replace("{name: http, port: 80, targetPort: 8080}", "{port: 80}\n  - {port: 81}"),
        "{port: 80}",
        "must name every port",
    ),
    (
        "service-type",
        SERVICE.replace("spec:\n", "spec:\n  type: Internal\n"),
        "Internal",
        "ClusterIP, NodePort, LoadBalancer or ExternalName",
    ),
    (
        "service-traffic-policy",
        SERVICE.replace("spec:\n", "spec:\n  externalTrafficPolicy: Nearest\n"),
        "Nearest",
        "Cluster or Local",
    ),
    (
        "cluster-ip",
        SERVICE.replace("spec:\n", "spec:\n  clusterIP: 10.96.0.300\n"),
        "10.96.0.300",
        "an IP address",
    ),
    (
        "slice-family",
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, namespace: shop}\naddressType: IPv4\nendpoints:\n- addresses: [fd00::1]\n",
        "fd00::1",
        "not an IPv4 address",
    ),
    (
        "node-ip",
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus:\n  addresses:\n  - {type: InternalIP, address: 10.1.2}\n",
        "10.1.2}",
        "an IP address",
    ),
    (
        "node-cidr",
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDR: 10.244.1.0/40}\n",
        "10.244.1.0/40",
        "a CIDR",
    ),
]


def _where(text: str, token: str | None) -> tuple[int, int] | None:
    if token is None:
        return None
    i = text.index(token)
    assert text.count(token) == 1 or token in ("0\n",), f"token {token!r} is not unique"
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


@pytest.mark.parametrize("name,text,token,words", CASES, ids=[c[0] for c in CASES])
def test_yaml_error_points_at_the_value(name: str, text: str, token: str | None, words: str) -> None:
    with pytest.raises(KubeError) as e:
        load_text(text, f"{name}.yaml")
    d = e.value.diagnostics[0]
    assert words in d.message, d.message
    where = _where(text, token)
    if where is not None:
        assert (d.line, d.col) == where, d.render()
        assert d.line_text == text.split("\n")[d.line - 1]
    assert d.render().startswith(f"{name}.yaml:{d.line}:{d.col}: error: ")
    assert str(e.value).startswith(f"{name}.yaml:{d.line}:{d.col}: ")


def _json_case(text: str) -> tuple[str, dict[str, object]]:
    from ruamel.yaml import YAML

    return json.dumps(YAML(typ="safe").load(text), indent=4), {}


@pytest.mark.parametrize(
    "name,old,new,expect",
    [
        ("json-port", "8080", "70000", "70000"),
        ("json-ip", "10.244.1.5", "10.244.1.500", '"10.244.1.500"'),
        ("json-name", '"http"', '"HTTP"', '"HTTP"'),
    ],
)
def test_json_error_points_at_the_value(name: str, old: str, new: str, expect: str) -> None:
    text, _ = _json_case(POD)
    text = text.replace(old, new, 1)
    with pytest.raises(KubeError) as e:
        load_text(text, f"{name}.json")
    (d,) = e.value.diagnostics
    assert d.line_text[d.col - 1 :].startswith(expect), d.render()


def test_json_syntax_error() -> None:
    text = '{\n    "apiVersion": "v1",\n    "kind": "Pod",\n    "metadata": {"name": "x",}\n}\n'
    with pytest.raises(KubeError) as e:
        load_text(text, "bad.json")
    (d,) = e.value.diagnostics
    assert (d.line, d.col) == (4, 30) and "not valid JSON" in d.message
    for broken in ("", "{", '{"items": [1,', "[1, 2", '{"a": 1} x', "nul", '"\\x"'):
        try:
            load_text(broken, "b.json")
        except KubeError:
            pass


def test_every_error_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    bad_port = POD.replace("8080", "0")
    bad_ip = POD.replace("name: web\n  namespace", "name: web2\n  namespace").replace("10.244.1.5", "nope")
    (tmp_path / "a.yaml").write_text(bad_port + "---\n" + bad_ip)
    (tmp_path / "b.yaml").write_text("kind: [")
    with pytest.raises(KubeError) as e:
        load(tmp_path)
    got = [(Path(d.file).name, d.line) for d in e.value.diagnostics]
    assert got == [("a.yaml", 12), ("a.yaml", 31), ("b.yaml", 1)]


def test_the_same_object_twice_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POD)
    (tmp_path / "b.yaml").write_text(POD)
    with pytest.raises(KubeError) as e:
        load(tmp_path)
    (d,) = e.value.diagnostics
    assert d.file.endswith("b.yaml") and "Pod shop/web is given twice (first at" in d.message
    # the same file named twice (the directory and a file in it) is read once
    (tmp_path / "b.yaml").unlink()
    assert len(load([tmp_path, tmp_path / "a.yaml"]).pods) == 1


def test_bad_bytes_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"apiVersion: v1\nkind: \xff\n")
    with pytest.raises(KubeError) as e:
        load(bad)
    (d,) = e.value.diagnostics
    assert (d.line, d.col) == (2, 7) and "UTF-8" in d.message
    with pytest.raises(KubeError) as e:
        load(tmp_path / "nothing.yaml")
    assert "no such file" in str(e.value)
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(KubeError) as e:
        load(other)
    assert "not a manifest" in str(e.value)


def test_too_many_errors_are_counted_not_kept() -> None:
    docs = "---\n".join(
        POD.replace("name: web\n  namespace", f"name: w{i}\n  namespace").replace("8080", "0")
        for i in range(250)
    )
    with pytest.raises(KubeError) as e:
        load_text(docs, "many.yaml")
    assert len(e.value.diagnostics) == KubeError.MAX_DIAGNOSTICS and e.value.more == 50
    assert str(e.value).endswith("... and 50 more errors")


@pytest.mark.parametrize(
    "name,text",
    [
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        (
            "deep-list.json",
            '{"apiVersion": "v1", "kind": "List", "items": [' + "[" * 100_000 + "]" * 100_000 + "]}",
        ),
        ("deep.yaml", "a: " + "[" * 1200 + "]" * 1200),
        ("deep.conf", '{"name": "x", "type": "bridge", "o": ' + "[" * 900 + "]" * 900 + "}"),
        ("net-conf.json", '{"Network": "10.0.0.0/8", "x": ' + "[" * 900 + "]" * 900 + "}"),
        (
            "bigint.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {nodeName: " + "9" * 5000 + "}\n",
        ),
        ("tagged.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: !!int abc}\n"),
        ("merge.yaml", "apiVersion: v1\nkind: Pod\n<<: 1\n"),
    ],
)
def test_hostile_input_is_an_input_error(name: str, text: str) -> None:
    with pytest.raises(KubeError) as e:
        load_text(text, name)
    assert e.value.diagnostics[0].line >= 1
