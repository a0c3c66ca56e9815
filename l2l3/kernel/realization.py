"""What a realization made, where it is recorded, and taking it down.

A :class:`Realization` maps every model place (stack id, external) to the
netns that realizes it. Its names are also written to ``STATE_DIR`` so that
:func:`teardown` finds them from another process; teardown deletes only
namespaces whose name starts with ``PREFIX-`` (which also removes their
links, routes, neighbours, fdb entries and iptables rules).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from l2l3.kernel.netns import list_netns, netns_exists, run
from l2l3.model.network import Network
from l2l3.model.types import Spec

STATE_DIR = Path(os.environ.get("L2L3_STATE_DIR", "/run/l2l3"))


@dataclass
class Realization:
    """What :func:`~l2l3.kernel.realize.realize` built: stack id -> netns name."""

    prefix: str
    spec: Spec
    net: Network
    netns: dict[str, str] = field(default_factory=dict)  # stack id -> netns
    underlay: str | None = None
    extras: list[str] = field(default_factory=list)  # other netns made (externals)
    external_ns: dict[str, str] = field(default_factory=dict)  # external name -> netns

    @property
    def all_netns(self) -> list[str]:
        """Every netns of this realization, sorted."""
        out = list(self.netns.values()) + list(self.extras)
        if self.underlay:
            out.append(self.underlay)
        return sorted(set(out))

    def state(self) -> dict[str, object]:
        """The names to record for :func:`teardown` (JSON-serialisable)."""
        return {
            "prefix": self.prefix,
            "file": self.spec.file,
            "netns": self.netns,
            "underlay": self.underlay,
            "extras": self.extras,
            "external_ns": self.external_ns,
        }


def save_state(rz: Realization) -> None:
    """Record ``rz``'s names under ``STATE_DIR`` (best effort)."""
    try:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        (STATE_DIR / f"{rz.prefix}.json").write_text(json.dumps(rz.state(), indent=1))
    except OSError:
        pass


def load_state(prefix: str) -> dict[str, object] | None:
    """The names recorded for ``prefix``, if any."""
    p = STATE_DIR / f"{prefix}.json"
    try:
        return json.loads(p.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def teardown(prefix: str) -> list[str]:
    """Delete every namespace this prefix's realization made (by name); return them."""
    names = set(list_netns(prefix))
    state = load_state(prefix)
    if state:
        for key in ("netns", "external_ns"):
            names |= {str(v) for v in dict(state.get(key) or {}).values()}  # type: ignore[call-overload]
        names |= {str(v) for v in list(state.get("extras") or [])}  # type: ignore[call-overload]
        if state.get("underlay"):
            names.add(str(state["underlay"]))
    gone = []
    for n in sorted(names):
        if not n.startswith(prefix + "-"):
            continue  # never touch anything outside the prefix
        if netns_exists(n):
            p = run(["ip", "netns", "del", n], check=False)
            if p.returncode == 0:
                gone.append(n)
    try:
        (STATE_DIR / f"{prefix}.json").unlink()
    except OSError:
        pass
    return gone


_MARTIAN = [IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")]
_FAVOURITES = [IPv4Address(a) for a in ("198.51.100.1", "203.0.113.1", "192.0.2.1", "8.8.8.8", "1.1.1.1")]


def external_address(net: Network, name: str) -> IPv4Address | None:
    """A typical address of external ``name`` (one it owns, not a martian)."""
    ext = net.externals[name]

    def ok(a: IPv4Address) -> bool:
        return a in ext.prefix and net.external_owner(a) == name and not any(a in m for m in _MARTIAN)

    for a in _FAVOURITES:
        if ok(a):
            return a
    hosts = ext.prefix.hosts() if ext.prefix.prefixlen < 31 else iter(ext.prefix)
    for n, a in enumerate(hosts):
        if n > 65536:
            break
        if ok(a):
            return a
    return None
