"""Bad input never escapes as anything but KubeError (no traceback, no hang).

Random text, JSON-ish and YAML-ish token soups, byte-level mutations of
valid manifests, and valid manifests with one value swapped for a random
one, as YAML and as JSON. On success every span must resolve inside the
file; on failure every diagnostic must carry a position and a message.
"""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from l2l3.kube import Cluster, KubeError, Span, load_text
from tests.kube.helpers import DATA

SAMPLES = [
    (DATA / "cluster-dir" / "apps" / "web.yaml").read_text(),
    (DATA / "kube-flannel-cfg.yaml").read_text(),
    """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector:
    matchExpressions: [{key: app, operator: In, values: [web]}, {key: x, operator: DoesNotExist}]
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports: [{port: 80}, {port: http, protocol: UDP}, {port: 9000, endPort: 9100, protocol: SCTP}]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
""",
    """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n1, labels: {kubernetes.io/os: linux}}
  spec: {podCIDR: 10.244.1.0/24}
  status: {addresses: [{type: InternalIP, address: 10.0.0.1}]}
- apiVersion: v1
  kind: Service
  metadata: {name: s, namespace: shop}
  spec: {type: NodePort, selector: {app: web}, ports: [{name: a, port: 80, targetPort: http, nodePort: 30080}, {name: b, port: 81}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: s-1, namespace: shop, labels: {kubernetes.io/service-name: s}}
  addressType: IPv4
  endpoints: [{addresses: [10.244.1.5], conditions: {ready: true}, nodeName: n1, targetRef: {kind: Pod, name: w}}]
  ports: [{name: a, port: 8080}]
""",
]
TREES = [d for s in SAMPLES for d in YAML(typ="safe").load_all(s) if d is not None]
CNI = json.loads((DATA / "cni" / "10-calico.conflist").read_text())

JSON_TOKENS = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"kind"',
    '"Pod"',
    '"List"',
    '"apiVersion"',
    '"v1"',
    '"items"',
    '"metadata"',
    '"name"',
    '"spec"',
    '"x"',
    "1",
    "-0.5e3",
    "null",
    "true",
    " ",
    "\n",
    '"\\u00e9"',
    '"\\',
    "NaN",
]
YAML_TOKENS = [
    "apiVersion: v1\n",
    "kind: Pod\n",
    "kind: List\n",
    "items:\n",
    "---\n",
    "...\n",
    "  ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: ",
    "!!int ",
    "!foo ",
    "? ",
    "|\n",
    '"',
    "'",
    "# c\n",
    "\t",
    "\n",
    "metadata: {name: x}\n",
    "spec:\n",
    "status: {podIP: 1.2.3.4}\n",
    "yes",
    "0x1F",
    "2024-01-01",
    "~",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["", "TCP", "In", "None", "10.0.0.0/8", "10.0.0.1", "http", "-x-", "a/b"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def check(text: str, file: str) -> None:
    try:
        cluster = load_text(text, file)
    except KubeError as e:
        assert e.diagnostics
        for d in e.diagnostics:
            assert d.file == file and d.line >= 1 and d.col >= 1 and d.message
            d.render()
        return
    assert isinstance(cluster, Cluster)
    lines = text.split("\n")
    for span in _spans(cluster):
        assert 1 <= span.line <= max(len(lines), 1) and span.col >= 1, span


def _spans(obj: Any) -> list[Span]:
    out: list[Span] = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Span):
            out.append(o)
        elif isinstance(o, tuple | list):
            stack.extend(o)
        elif hasattr(o, "__dataclass_fields__"):
            stack.extend(getattr(o, f) for f in o.__dataclass_fields__)
        elif hasattr(o, "values") and callable(o.values):
            stack.extend(o.values())
    return out


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _replace(tree: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
        if delete and not rest:
            out.pop(head, None)
        else:
            out[head] = _replace(tree[head], rest, value, delete)
        return out
    out_list = list(tree)
    if delete and not rest:
        del out_list[head]
    else:
        out_list[head] = _replace(tree[head], rest, value, delete)
    return out_list


def _yaml(tree: Any) -> str:
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(tree, buf)
    return buf.getvalue()


FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.text(max_size=300), st.sampled_from(["f.yaml", "f.json", "f.conflist", "f.conf"]))
def test_random_text(text: str, file: str) -> None:
    check(text, file)


@FUZZ
@given(st.lists(st.sampled_from(JSON_TOKENS), max_size=60).map("".join))
def test_json_token_soup(text: str) -> None:
    check(text, "soup.json")
    check('{"apiVersion": "v1", "kind": "List", "items": [' + text + "]}", "list.json")


@FUZZ
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join))
def test_yaml_token_soup(text: str) -> None:
    check(text, "soup.yaml")


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_byte_mutations_of_valid_manifests(sample: str, data: st.DataObject) -> None:
    text = sample
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        text = text[:i] + data.draw(st.text(max_size=6)) + text[j:]
    check(text, "mutated.yaml")


@FUZZ
@given(st.integers(0, len(TREES)), st.data(), values, st.booleans(), st.booleans())
def test_one_value_swapped(which: int, data: st.DataObject, value: Any, delete: bool, as_json: bool) -> None:
    tree = CNI if which == len(TREES) else TREES[which]
    path = data.draw(st.sampled_from(_paths(tree)))
    mutated = _replace(tree, path, value, delete and bool(path))
    if which == len(TREES):
        check(json.dumps(mutated, indent=2), "cni.conflist")
    elif as_json:
        check(json.dumps(mutated, indent=4), "swapped.json")
    else:
        check(_yaml(mutated), "swapped.yaml")
