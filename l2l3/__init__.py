"""l2l3: a model checker for container network (CNI) reachability and isolation.

Every answer is either a proof or a concrete packet with its path. See
:mod:`l2l3.api` for the functions re-exported here.

The names are resolved on first use (PEP 562), so that importing a part of
l2l3 (``l2l3.cli`` for ``l2l3 --help``, ``l2l3.kube``) does not import the
checker, the model and the solver with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from l2l3.errors import L2L3Error, QueryError, ReplayMismatch, SpecError

if TYPE_CHECKING:
    from l2l3.api import (
        CheckResult,
        Network,
        Report,
        Session,
        Verdict,
        check,
        evaluate,
        load,
        loads,
        parse_endpoint,
        parse_query,
        policy_warnings,
        trace,
    )

__all__ = [
    "CheckResult",
    "L2L3Error",
    "Network",
    "QueryError",
    "ReplayMismatch",
    "Report",
    "Session",
    "SpecError",
    "Verdict",
    "check",
    "evaluate",
    "load",
    "loads",
    "parse_endpoint",
    "parse_query",
    "policy_warnings",
    "trace",
]
__version__ = "0.1.0"

#: the names :mod:`l2l3.api` defines for this package
_API = frozenset(__all__) - {"L2L3Error", "QueryError", "ReplayMismatch", "SpecError"}


def __getattr__(name: str) -> Any:
    """An API name (imports :mod:`l2l3.api`), or a subpackage not yet imported (``l2l3.dsl``)."""
    if name in _API:
        value = getattr(importlib.import_module("l2l3.api"), name)
        globals()[name] = value
        return value
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
