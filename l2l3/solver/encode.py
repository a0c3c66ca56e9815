"""z3 terms for header facts. With :mod:`l2l3.solver.engine`, the only z3 users.

Each helper is a small pure function; its docstring states the formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

import z3

from l2l3.model.types import Proto

Term = z3.BitVecRef
Bool = z3.BoolRef

TRUE: Bool = z3.BoolVal(True)
FALSE: Bool = z3.BoolVal(False)


def ip_const(ip: IPv4Address) -> Term:
    return z3.BitVecVal(int(ip), 32)


def in_prefix(x: Term, net: IPv4Network) -> Bool:
    """x ∈ net  ≡  x & mask == network."""
    if net.prefixlen == 0:
        return TRUE
    mask = int(net.netmask)
    return (x & z3.BitVecVal(mask, 32)) == z3.BitVecVal(int(net.network_address), 32)


def in_any(x: Term, nets: Iterable[IPv4Network]) -> Bool:
    """x ∈ n1 ∨ x ∈ n2 ∨ …"""
    return z3.Or([in_prefix(x, n) for n in nets] or [FALSE])


def one_of(x: Term, ips: Iterable[IPv4Address]) -> Bool:
    """x == a1 ∨ x == a2 ∨ …"""
    return z3.Or([x == ip_const(a) for a in ips] or [FALSE])


def proto_is(p: Term, proto: Proto) -> Bool:
    return p == z3.BitVecVal(int(proto), 8)


def conj(*parts: Bool) -> Bool:
    return z3.And(*parts) if parts else TRUE


def neg(b: Bool) -> Bool:
    return z3.Not(b)


def eq(a: Term, b: Term) -> Bool:
    return a == b


def val(x: int, bits: int) -> Term:
    return z3.BitVecVal(x, bits)


def simplify(b: Bool) -> Bool:
    return z3.simplify(b)


def is_false(b: Bool) -> bool:
    return z3.is_false(z3.simplify(b))
