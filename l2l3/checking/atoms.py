"""Header atoms: the (protocol, destination port range) sets policy rules admit.

A set of headers is a tuple of atoms ``(proto, lo, hi)``: protocol ``proto``
(None: any protocol number, as a rule without ports admits) with a
destination port in ``lo..hi``. A port spec without a port admits its
protocol on every port (ICMP included: an ICMP packet carries no port, and
both engines let a port-less ICMP spec admit it); a port spec with a number,
a range or a named port admits those ports of a port protocol, and admits
nothing for ICMP (model.policy.ports_match; the z3 encoding in
solver/delivery.py reads the specs the same way).

Named ports resolve against the receiving pod (model.policy.port_ranges).
When the receiver is not known for certain (``dest=UNKNOWN``), a named port
counts as every port of its protocol, which only admits more.

These sets are used two ways: by the policy screen (l2l3.checking.screen),
where an empty intersection is a proof, and for candidate packets
(:func:`candidates`), where they are only guesses that the concrete
simulator then confirms or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from l2l3.model.policy import CompiledRule, port_ranges
from l2l3.model.types import Headers, Pod, PortSpec, Proto

Atom = tuple[Proto | None, int, int]
Atoms = tuple[Atom, ...]

#: every header
ALL: Final[Atoms] = ((None, 0, 65535),)


class _Unknown:
    """Marker: the receiving pod is not known, so a named port is any port."""


UNKNOWN: Final = _Unknown()


def spec_atoms(ps: PortSpec, dest: Pod | None | _Unknown) -> Atoms:
    """What one port spec admits at receiving pod ``dest``."""
    if ps.port is None:
        return ((ps.proto, 0, 65535),)
    if ps.proto == Proto.ICMP:
        return ()
    if isinstance(ps.port, str) and isinstance(dest, _Unknown):
        return ((ps.proto, 0, 65535),)
    ranges = port_ranges(ps, None if isinstance(dest, _Unknown) else dest)
    if ranges is None:  # pragma: no cover - a spec with a port always has ranges
        return ((ps.proto, 0, 65535),)
    return tuple((ps.proto, lo, hi) for lo, hi in ranges)


def rule_atoms(rule: CompiledRule, dest: Pod | None | _Unknown) -> Atoms:
    """What one rule admits on its ports (its peers are the caller's business)."""
    if not rule.ports:
        return ALL
    return tuple(a for ps in rule.ports for a in spec_atoms(ps, dest))


def rules_atoms(rules: Iterable[CompiledRule], dest: Pod | None | _Unknown) -> Atoms:
    """The union of what ``rules`` admit (their peers already known to match)."""
    out: list[Atom] = []
    for r in rules:
        for a in rule_atoms(r, dest):
            if a == ALL[0]:
                return ALL
            out.append(a)
    return tuple(dict.fromkeys(out))


def has_named(rules: Iterable[CompiledRule]) -> bool:
    """Whether some rule names a container port (its atoms depend on the receiver)."""
    return any(isinstance(ps.port, str) for r in rules for ps in r.ports)


def intersect(a: Atoms, b: Atoms) -> Atoms:
    """The headers in both ``a`` and ``b``."""
    if a is ALL or a == ALL:
        return b
    if b is ALL or b == ALL:
        return a
    out: list[Atom] = []
    for pa, la, ha in a:
        for pb, lb, hb in b:
            if pa is not None and pb is not None and pa != pb:
                continue
            lo, hi = max(la, lb), min(ha, hb)
            if lo <= hi:
                out.append((pa if pa is not None else pb, lo, hi))
    return tuple(dict.fromkeys(out))


def query_atoms(h: Headers, *, ports: bool = True) -> Atoms:
    """The headers a query allows as sent; ``ports=False`` forgets its port (a DNAT may rewrite it)."""
    if h.proto is None and (h.port is None or not ports):
        return ALL
    if h.port is None or not ports:
        return ((h.proto, 0, 65535),)
    return ((h.proto, h.port, h.port),)


def candidates(atoms: Atoms, limit: int = 8) -> list[Headers]:
    """A few concrete headers inside ``atoms`` to try, most telling first."""
    out: list[Headers] = []
    for proto, lo, hi in atoms:
        p = Proto.TCP if proto is None else proto
        if p == Proto.ICMP:
            h = Headers(proto=Proto.ICMP)
        else:
            port = 80 if lo <= 80 <= hi else lo if lo > 0 else hi
            h = Headers(proto=p, port=port)
        if h not in out:
            out.append(h)
        if len(out) >= limit:
            break
    return out
