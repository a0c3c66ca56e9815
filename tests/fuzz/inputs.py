"""The fuzz inputs: Hypothesis strategies, one per family, and their union.

Families (the ``family`` field of every :class:`FuzzInput`):

``bytes``
    random bytes, or random Unicode text encoded as UTF-8, as a spec file;
``grammar``
    sentences of the grammar at ``l2l3/dsl/*.lark`` (``hypothesis.extra.lark``),
    with terminals drawn half from values a spec would use, half from their
    regular expressions;
``soup``
    spec words in random order;
``mutation``
    the bundled ``examples/*.l2l3`` with 1-4 edits: lines deleted, duplicated,
    swapped, spliced from another example; tokens replaced by other tokens;
    numbers changed or made huge; odd Unicode inserted; truncation;
``adversarial``
    specs that are valid, or nearly: routing loops, NAT chains, address
    literals nobody owns as endpoints, /0 and /32 prefixes, duplicate
    addresses, policies, cluster profiles;
``file-kind``
    not a regular file: a FIFO, a directory, a dangling symlink, a symlink
    loop, an empty file, /dev/null.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples"
GRAMMARS = sorted((ROOT / "l2l3" / "dsl").glob("*.lark"))


@dataclass(frozen=True)
class FuzzInput:
    """One input: the bytes of a spec file (or a special kind of file)."""

    family: str
    data: bytes = b""
    #: ``file`` (a regular file holding ``data``) or one of FILE_KINDS
    kind: str = "file"
    #: extra trace arguments chosen with the input (None: the harness picks them)
    note: str = field(default="", compare=False)

    def show(self, limit: int = 4000) -> str:
        """The input, printable: its family and text (escaped)."""
        text = self.data.decode("utf-8", "backslashreplace")
        if len(text) > limit:
            text = text[:limit] + f"... [{len(text) - limit} more characters]"
        head = f"[{self.family}{'' if self.kind == 'file' else ', ' + self.kind}]"
        return f"{head} {text!r}"


FILE_KINDS = ("fifo", "directory", "dangling-symlink", "symlink-loop", "empty", "dev-null")

# ---------------------------------------------------------------- raw bytes


def raw_bytes() -> st.SearchStrategy[FuzzInput]:
    return st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=600).map(lambda s: s.encode("utf-8")),
    ).map(lambda b: FuzzInput("bytes", b))


# ---------------------------------------------------------------- words and values

WORDS = [
    "segment", "external", "node", "linux", "windows", "nic", "bridge", "l2bridge", "ovs", "macvlan",
    "veth", "pod", "route", "via", "dev", "onlink", "masquerade", "from", "except", "snat", "to", "dnat",
    "filter", "allow", "deny", "check", "reach", "no", "isolated", "nat", "as", "netns-isolation",
    "loops", "on", "off", "ip", "mac", "namespace", "labels", "cluster", "cni", "policy", "select",
    "ingress", "egress", "types", "pods", "cidr", "all", "{", "}", "\n", "\n", ";", ":", "->", "<->",
    ",", "lan", "a", "b", "eth0", "br0", "10.0.0.1", "10.0.0.0/24", "0.0.0.0/0", "00:15:5d:aa:03:03",
    "app=web", "tcp", "udp", "icmp", "port", "80", "a/b", "#", "vxlan", "vni", "fdb", "neighbor",
    "lladdr", "forwarding", "gateway", "subnet", "pod-cidr", "service-cidr", "outbound-nat",
    "route-to-host", "proxy-arp", "enforce-policy", "hairpin", "isolated-ports", "uplink", "netns",
    "no-netns", "host-network", "with", "without", "out", "in", "local", "calico", "bgp", "flannel",
]  # fmt: skip

NAMES = [
    "lan",
    "a",
    "b",
    "c",
    "eth0",
    "br0",
    "cni0",
    "cbr0",
    "n1",
    "n2",
    "p",
    "web",
    "default",
    "x.y",
    "a-b",
    "_",
]
IPS = [
    "0.0.0.0", "255.255.255.255", "10.0.0.1", "10.0.0.2", "10.0.0.254", "10.1.1.2", "10.1.2.3",
    "127.0.0.1", "224.0.0.1", "169.254.0.1", "10.0.0.256", "1.2.3.4", "01.2.3.4", "10.0.0.0",
    "10.0.0.255", "203.0.113.7",
]  # fmt: skip
CIDRS = [
    "10.0.0.0/24", "0.0.0.0/0", "10.0.0.1/32", "10.0.0.1/24", "10.0.0.0/33", "10.1.0.0/16",
    "10.1.1.0/24", "10.1.2.0/24", "255.255.255.255/32", "10.0.0.0/8", "10.1.1.2/24", "10.0.0.0/31",
]  # fmt: skip
INTS = [
    "0",
    "1",
    "80",
    "443",
    "4789",
    "65535",
    "65536",
    "8472",
    "4096",
    "16777215",
    "16777216",
    "99999999999999999999",
]
MACS = [
    "00:15:5d:aa:03:03",
    "02:00:00:00:00:01",
    "ff:ff:ff:ff:ff:ff",
    "00:00:00:00:00:00",
    "01:00:5e:00:00:01",
]
LABELS = ["app=web", "app=", "app=a0", "k8s.io/name=x", "a=b"]
HUGE = ["9" * 25, "1" + "0" * 400, "7" * 5000]

ODD_UNICODE = [
    "\f", "\r", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b",
    "\u202e", "\u0301", "\t", "\x00", "\udc80", "\uff11", "\u0663", "\u210c", "\U0001f642", "\u01c5",
    "\u0130", "\u00df", "\ufb01", "\u00a0", "\u3000", "\x7f", "\x1b[31m",
]  # fmt: skip

# ---------------------------------------------------------------- token soup


def soup() -> st.SearchStrategy[FuzzInput]:
    return st.lists(st.sampled_from(WORDS), max_size=60).map(
        lambda ws: FuzzInput("soup", " ".join(ws).encode("utf-8"))
    )


# ---------------------------------------------------------------- grammar

_TERMINAL_VALUES = {
    "NAME": NAMES,
    "PODREF": ["a/b", "n1/p", "n1/web", "n2/db", "x/y"],
    "IP": IPS,
    "CIDR": CIDRS,
    "HOSTPORT": ["10.1.1.2:8080", "10.0.0.1:0", "10.0.0.1:65536"],
    "INT": INTS,
    "MAC": MACS,
    "LABEL": LABELS,
}


@functools.cache
def _grammar_strategy(path: Path) -> st.SearchStrategy[str]:
    from hypothesis.extra.lark import from_lark
    from lark import Lark

    g = Lark(path.read_text(encoding="utf-8"), parser="lalr")
    terminals, _rules, ignore = g.grammar.compile(g.options.start, ())
    explicit: dict[str, st.SearchStrategy[str]] = {}
    for t in terminals:
        if t.name in ignore:
            continue
        if t.pattern.type == "str":  # a keyword or punctuation: itself, then a space
            explicit[t.name] = st.just(t.pattern.value + " ")
            continue
        regex = st.from_regex(re.compile(t.pattern.to_regexp()), fullmatch=True)
        if t.name.lstrip("_") == "SEP":
            explicit[t.name] = st.sampled_from(["\n", ";", "\n\n", "\n# note\n"]) | regex
            continue
        values = _TERMINAL_VALUES.get(t.name)
        s = st.sampled_from(values) | regex if values else regex
        explicit[t.name] = s.map(lambda v: v + " ")
    return from_lark(g, explicit=explicit)


def grammar() -> st.SearchStrategy[FuzzInput]:
    return st.one_of(*[_grammar_strategy(p) for p in GRAMMARS]).map(
        lambda s: FuzzInput("grammar", s.encode("utf-8"))
    )


# ---------------------------------------------------------------- mutations of the examples


@functools.cache
def examples() -> tuple[str, ...]:
    return tuple(p.read_text(encoding="utf-8") for p in sorted(EXAMPLES_DIR.glob("*.l2l3")))


@functools.cache
def _tokens() -> tuple[str, ...]:
    seen = dict.fromkeys(tok for text in examples() for tok in text.split())
    return tuple(sorted(seen)) + tuple(WORDS)


def _pos(draw: st.DrawFn, lines: list[str]) -> int:
    return draw(st.integers(0, max(len(lines) - 1, 0)))


def _delete(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i = _pos(draw, lines)
    return lines[:i] + lines[i + 1 :]


def _duplicate(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i, j = _pos(draw, lines), _pos(draw, lines)
    return lines[:j] + lines[i : i + 1] + lines[j:]


def _swap(draw: st.DrawFn, lines: list[str]) -> list[str]:
    i, j = _pos(draw, lines), _pos(draw, lines)
    out = list(lines)
    if out:
        out[i], out[j] = out[j], out[i]
    return out


def _splice(draw: st.DrawFn, lines: list[str]) -> list[str]:
    other = draw(st.sampled_from(examples())).split("\n")
    a = _pos(draw, other)
    b = draw(st.integers(a, min(a + 8, len(other))))
    j = _pos(draw, lines)
    return lines[:j] + other[a:b] + lines[j:]


def _edit_line(draw: st.DrawFn, lines: list[str], edit) -> list[str]:  # type: ignore[no-untyped-def]
    if not lines:
        return [edit("")]
    i = _pos(draw, lines)
    return lines[:i] + [edit(lines[i])] + lines[i + 1 :]


def _replace_token(draw: st.DrawFn, lines: list[str]) -> list[str]:
    new = draw(st.sampled_from(_tokens()))

    def edit(line: str) -> str:
        toks = line.split(" ")
        k = draw(st.integers(0, len(toks) - 1))
        toks[k] = new
        return " ".join(toks)

    return _edit_line(draw, lines, edit)


_NUM = re.compile(r"[0-9]+")


def _number(draw: st.DrawFn, lines: list[str]) -> list[str]:
    value = draw(st.sampled_from(["0", "1", "31", "32", "33", "255", "256", "65535", "65536", *HUGE]))

    def edit(line: str) -> str:
        nums = list(_NUM.finditer(line))
        if not nums:
            return line + f" port {value}"
        m = nums[draw(st.integers(0, len(nums) - 1))]
        return line[: m.start()] + value + line[m.end() :]

    return _edit_line(draw, lines, edit)


def _unicode(draw: st.DrawFn, lines: list[str]) -> list[str]:
    ch = draw(st.sampled_from(ODD_UNICODE) | st.characters())

    def edit(line: str) -> str:
        k = draw(st.integers(0, len(line)))
        return line[:k] + ch + line[k:]

    return _edit_line(draw, lines, edit)


def _truncate(draw: st.DrawFn, lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    return text[: draw(st.integers(0, len(text)))].split("\n")


_MUTATIONS = (_delete, _duplicate, _swap, _splice, _replace_token, _number, _unicode, _truncate)


@st.composite
def _mutated(draw: st.DrawFn) -> FuzzInput:
    lines = draw(st.sampled_from(examples())).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        lines = draw(st.sampled_from(_MUTATIONS))(draw, lines)
    return FuzzInput("mutation", "\n".join(lines).encode("utf-8", "surrogatepass"))


def mutations() -> st.SearchStrategy[FuzzInput]:
    return _mutated()


# ---------------------------------------------------------------- adversarial specs

CNIS = [
    "calico bgp",
    "calico ipip",
    "calico vxlan",
    "flannel host-gw",
    "flannel vxlan",
    "antrea",
    "kindnet",
    "bridge",
]
WIN_CNIS = ["win-bridge", "win-overlay", "flannel vxlan", "calico vxlan", "antrea"]


def _ep(draw: st.DrawFn, pods: list[str], nodes: list[str], externals: list[str], nss: list[str]) -> str:
    unowned = ["10.9.9.9", "255.255.255.255", "224.0.0.1", "10.1.1.255"]
    owned = [f"10.0.0.{i + 1}" for i in range(len(nodes))] + [f"10.1.1.{k}" for k in (3, 4)]
    choices = (
        [f"{p}" for p in pods]
        + [f"node {n}" for n in nodes]
        + [f"external {e}" for e in externals]
        + [f"namespace {ns}" for ns in nss]
        + ["pods app=a0", "pods app=a1"]
        + owned
        + unowned
        + ["10.1.0.0/16", "0.0.0.0/0", "10.1.1.0/24", "10.0.0.0/24", "10.1.1.3/32", "10.96.0.1"]
    )
    return draw(st.sampled_from(choices))


def _query(draw: st.DrawFn, ep, n: int) -> str:  # type: ignore[no-untyped-def]
    a, b = ep(), ep()
    hdr = draw(
        st.sampled_from(
            ["", " tcp", " udp", " icmp", " tcp port 80", " udp port 53", " tcp port 1", " tcp port 65535"]
        )
    )
    mod = draw(st.sampled_from(["", "", " via mac", " with nat", " without nat"]))
    kind = draw(st.sampled_from(["reach", "no reach", "isolated", "nat", "netns", "loops"]))
    if kind == "reach":
        return f"reach {a} -> {b}{hdr}{mod}"
    if kind == "no reach":
        return f"no reach {a} -> {b}{hdr}{mod}"
    if kind == "isolated":
        return f"isolated {a} <-> {b}{hdr}"
    if kind == "nat":
        return f"nat {a} -> {b}{hdr} as {draw(st.sampled_from(['10.0.0.1', '10.1.1.3', '10.0.0.254', '1.1.1.1']))}"
    if kind == "netns":
        return draw(st.sampled_from(["netns-isolation", "netns-isolation on n1", f"netns-isolation on n{n}"]))
    return "no loops"


@st.composite
def _adversarial(draw: st.DrawFn) -> FuzzInput:
    n = draw(st.integers(1, 4))
    nodes = [f"n{i}" for i in range(1, n + 1)]
    nss = ["default", "shop", "dev"]
    gateway = draw(st.booleans())
    out = [f"segment lan 10.0.0.0/24{' gateway 10.0.0.254' if gateway else ''}"]
    externals = []
    if gateway:
        for name, prefix in draw(
            st.lists(
                st.sampled_from(
                    [("internet", "0.0.0.0/0"), ("svc", "198.51.100.0/24"), ("pods", "10.1.0.0/16")]
                ),
                unique=True,
                max_size=2,
            )
        ):
            out.append(f"external {name} {prefix} via lan")
            externals.append(name)
    pods: list[str] = []
    cluster = draw(st.booleans())
    if cluster:
        windows = draw(st.booleans())
        cni = draw(st.sampled_from(WIN_CNIS if windows else CNIS))
        out.append(
            f"cluster c {{\n    pod-cidr 10.1.0.0/16\n    service-cidr 10.96.0.0/12\n    cni {cni}\n}}"
        )
        for i, node in enumerate(nodes, 1):
            both = cni not in ("win-bridge", "win-overlay")
            os_ = "windows" if windows and (not both or draw(st.booleans())) else "linux"
            ip = f"10.0.0.{draw(st.sampled_from([i, i, 1]))}"  # sometimes a duplicate node address
            body = []
            for k in range(draw(st.integers(0, 3))):
                pods.append(f"{node}/p{k}")
                where = draw(st.sampled_from([f" ip 10.1.{i}.{k + 3}"] * 4 + [" host-network"]))
                body.append(f"    pod p{k}{where} namespace {draw(st.sampled_from(nss))} labels app=a{k % 2}")
            out.append(
                f"node {node} {os_} ip {ip} on lan subnet 10.1.{i}.0/24 {{\n" + "\n".join(body) + "\n}"
            )
    else:
        for i, node in enumerate(nodes, 1):
            windows = draw(st.integers(0, 3)) == 0
            body = [f"    nic eth0 ip 10.0.0.{draw(st.sampled_from([i, i, i, 1]))}/24 on lan"]
            if windows:
                body.append(f"    bridge cbr0 l2bridge ip 10.1.{i}.2/24 uplink eth0")
                br = "cbr0"
            else:
                kind = draw(st.sampled_from(["linux", "linux", "veth", "ovs", "macvlan"]))
                opts = draw(st.sampled_from(["", " hairpin", " isolated-ports"])) if kind == "linux" else ""
                upl = " uplink eth0" if kind == "macvlan" else ""
                body.append(f"    bridge br0 {kind} ip 10.1.{i}.1/24{opts}{upl}")
                br = "br0"
            for k in range(draw(st.integers(0, 3))):
                pods.append(f"{node}/p{k}")
                mode = draw(st.sampled_from(["", "", "", " no-netns", " host-network"]))
                host = draw(st.sampled_from([k + 3] * 5 + [3]))  # sometimes an address taken twice
                where = "" if mode == " host-network" else f" ip 10.1.{i}.{host}/24 on {br}"
                routes = draw(
                    st.sampled_from(
                        ["", "", f" {{ route 0.0.0.0/0 via 10.1.{i}.1 }}", " { route 0.0.0.0/0 dev eth0 }"]
                    )
                )
                if mode == " host-network":
                    routes = ""
                body.append(
                    f"    pod p{k}{where}{mode} namespace {draw(st.sampled_from(nss))} labels app=a{k % 2}{routes}"
                )
            for j in range(1, n + 1):
                if j == i:
                    continue
                via = draw(st.sampled_from([j, j, i, (j % n) + 1, 250]))  # right, to itself, a loop, nobody
                onlink = draw(st.sampled_from(["", "", " onlink"]))
                body.append(f"    route 10.1.{j}.0/24 via 10.0.0.{via} dev eth0{onlink}")
            if gateway and draw(st.booleans()):
                body.append("    route 0.0.0.0/0 via 10.0.0.254 dev eth0")
            if draw(st.booleans()):
                body.append(
                    draw(
                        st.sampled_from(
                            [
                                f"    masquerade from 10.1.{i}.0/24 except 10.1.0.0/16",
                                f"    masquerade from 10.1.{i}.0/24 out eth0",
                                "    masquerade from 0.0.0.0/0",
                                f"    snat from 10.1.{i}.0/24 to 10.0.0.{i}",
                                f"    snat from 0.0.0.0/0 to 10.1.{i}.3",
                            ]
                        )
                    )
                )
            if draw(st.booleans()):
                back = draw(
                    st.sampled_from([f"10.1.{i}.3", f"10.1.{(i % n) + 1}.3:8080", f"10.96.0.{i}", "10.9.9.9"])
                )
                port = draw(st.sampled_from(["", " tcp port 80", " udp port 53"]))
                body.append(f"    dnat 10.96.0.{i}{port} to {back}")
            for _ in range(draw(st.integers(0, 2))):
                body.append(
                    "    filter "
                    + draw(st.sampled_from(["allow", "deny"]))
                    + draw(st.sampled_from(["", " in eth0", f" in {br}", " out eth0"]))
                    + draw(
                        st.sampled_from(["", " from 10.1.0.0/16", " from 0.0.0.0/0", f" to 10.1.{i}.0/24"])
                    )
                    + draw(st.sampled_from(["", " tcp", " udp port 53", " tcp port 80", " icmp"]))
                )
            extra = draw(
                st.sampled_from(
                    ["", "", "    forwarding off", f"    proxy-arp {br}", "    enforce-policy on"]
                )
            )
            if extra:
                body.append(extra)
            out.append(f"node {node} {'windows' if windows else 'linux'} {{\n" + "\n".join(body) + "\n}")
    if draw(st.booleans()):
        ns = draw(st.sampled_from(nss))
        rules = [draw(st.sampled_from(["select", "select app=a0"]))]
        rules += draw(
            st.lists(
                st.sampled_from(
                    [
                        "ingress",
                        "ingress from namespace shop",
                        "ingress from pods app=a1 tcp 80",
                        "ingress from cidr 10.1.0.0/16 except 10.1.1.0/24",
                        "egress to 0.0.0.0/0 udp port 53",
                        "egress",
                    ]
                ),
                max_size=3,
            )
        )
        if draw(st.booleans()):
            rules.append(draw(st.sampled_from(["types ingress, egress", "types ingress", "types egress"])))
        out.append(f"policy pol namespace {ns} {{\n" + "\n".join("    " + r for r in rules) + "\n}")

    def ep() -> str:
        return _ep(draw, pods, nodes, externals, nss)

    for c in range(draw(st.integers(1, 5))):
        out.append(f"check c{c}: {_query(draw, ep, n)}")
    return FuzzInput("adversarial", ("\n".join(out) + "\n").encode("utf-8"))


def adversarial() -> st.SearchStrategy[FuzzInput]:
    return _adversarial()


# ---------------------------------------------------------------- kinds of files


def file_kinds() -> st.SearchStrategy[FuzzInput]:
    return st.sampled_from(FILE_KINDS).map(lambda k: FuzzInput("file-kind", b"", kind=k))


# ---------------------------------------------------------------- all of them

FAMILIES = {
    "bytes": raw_bytes,
    "grammar": grammar,
    "soup": soup,
    "mutation": mutations,
    "adversarial": adversarial,
    "file-kind": file_kinds,
}


def any_input(families: tuple[str, ...] | None = None) -> st.SearchStrategy[FuzzInput]:
    """One input from any of ``families`` (default: all of them)."""
    names = families or tuple(FAMILIES)
    return st.one_of(*[FAMILIES[f]() for f in names])
