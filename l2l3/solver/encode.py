"""z3 terms for header facts. With :mod:`l2l3.solver.engine`, the only z3 users.

Each helper is a small pure function; its docstring states the formula.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from typing import TypeAlias

import z3

from l2l3.model.types import Proto

Term: TypeAlias = z3.BitVecRef
Bool: TypeAlias = z3.BoolRef

TRUE: Bool = z3.BoolVal(True)
FALSE: Bool = z3.BoolVal(False)


_IP_TERMS: dict[int, Term] = {}


def ip_const(ip: IPv4Address) -> Term:
    n = int(ip)
    t = _IP_TERMS.get(n)
    if t is None:
        t = _IP_TERMS[n] = z3.BitVecVal(n, 32)
        _VALUES[t.get_id()] = (t, n)
    return t


# Term id -> (term, value). The term is kept so that its id is never reused
# by another term while the entry lives.
_VALUES: dict[int, tuple[Term, int | None]] = {}


def value_of(x: Term) -> int | None:
    """The number a term stands for, when it is a literal (no solving)."""
    hit = _VALUES.get(x.get_id())
    if hit is None:
        hit = _VALUES[x.get_id()] = (x, x.as_long() if z3.is_bv_value(x) else None)
    return hit[1]


def truth(b: bool) -> Bool:
    return TRUE if b else FALSE


def in_prefix(x: Term, net: IPv4Network) -> Bool:
    """x ∈ net  ≡  x & mask == network."""
    if net.prefixlen == 0:
        return TRUE
    v = value_of(x)
    if v is not None:
        return truth(IPv4Address(v) in net)
    mask = int(net.netmask)
    return (x & z3.BitVecVal(mask, 32)) == z3.BitVecVal(int(net.network_address), 32)


def in_any(x: Term, nets: Iterable[IPv4Network]) -> Bool:
    """x ∈ n1 ∨ x ∈ n2 ∨ …"""
    v = value_of(x)
    if v is not None:
        a = IPv4Address(v)
        return truth(any(a in n for n in nets))
    # sorted: ipaddress hashes through str, so set order varies per process
    return z3.Or([in_prefix(x, n) for n in sorted(set(nets))] or [FALSE])


@functools.lru_cache(maxsize=4096)
def address_ranges(ips: frozenset[IPv4Address]) -> tuple[tuple[int, int], ...]:
    """``ips`` as the fewest inclusive ranges of numbers, in order."""
    out: list[list[int]] = []
    for n in sorted(int(a) for a in ips):
        if out and out[-1][1] + 1 == n:
            out[-1][1] = n
        else:
            out.append([n, n])
    return tuple((lo, hi) for lo, hi in out)


def in_ranges(x: Term, ranges: tuple[tuple[int, int], ...]) -> Bool:
    """lo1 ≤ x ≤ hi1 ∨ lo2 ≤ x ≤ hi2 ∨ … (unsigned; a one-address range is an equality)."""
    v = value_of(x)
    if v is not None:
        i = bisect.bisect_right(ranges, (v, 2**32)) - 1
        return truth(i >= 0 and ranges[i][0] <= v <= ranges[i][1])
    parts = [
        x == z3.BitVecVal(lo, 32)
        if lo == hi
        else z3.And(z3.ULE(z3.BitVecVal(lo, 32), x), z3.ULE(x, z3.BitVecVal(hi, 32)))
        for lo, hi in ranges
    ]
    return z3.Or(parts) if len(parts) > 1 else parts[0] if parts else FALSE


def one_of(x: Term, ips: Iterable[IPv4Address]) -> Bool:
    """x == a1 ∨ x == a2 ∨ …"""
    v = value_of(x)
    if v is not None:
        a = IPv4Address(v)
        return truth(any(a == i for i in ips))
    return z3.Or([x == ip_const(a) for a in sorted(set(ips))] or [FALSE])


def proto_is(p: Term, proto: Proto) -> Bool:
    v = value_of(p)
    if v is not None:
        return truth(v == int(proto))
    return p == z3.BitVecVal(int(proto), 8)


def bv_eq(a: Term, b: Term) -> Bool:
    """a == b, decided without z3 when both are literals."""
    va, vb = value_of(a), value_of(b)
    if va is not None and vb is not None:
        return truth(va == vb)
    return a == b


def conj(*parts: Bool) -> Bool:
    """p1 ∧ p2 ∧ … (literal True parts dropped, a literal False short-cuts)."""
    keep = []
    for p in parts:
        if p is FALSE:
            return FALSE
        if p is not TRUE:
            keep.append(p)
    if not keep:
        return TRUE
    return keep[0] if len(keep) == 1 else z3.And(keep)


def disj(parts: Iterable[Bool]) -> Bool:
    """p1 ∨ p2 ∨ … (literal False parts dropped, a literal True short-cuts)."""
    keep = []
    for p in parts:
        if p is TRUE:
            return TRUE
        if p is not FALSE:
            keep.append(p)
    if not keep:
        return FALSE
    return keep[0] if len(keep) == 1 else z3.Or(keep)


def neg(b: Bool) -> Bool:
    if b is TRUE:
        return FALSE
    if b is FALSE:
        return TRUE
    return z3.Not(b)


def val(x: int, bits: int) -> Term:
    return z3.BitVecVal(x, bits)
