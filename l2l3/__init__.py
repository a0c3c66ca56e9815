"""l2l3: a model checker for container network (CNI) reachability and isolation.

Every answer is either a proof or a concrete packet with its path. See
:mod:`l2l3.api` for the functions re-exported here.
"""

from l2l3.api import (
    CheckResult,
    Network,
    Report,
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
from l2l3.errors import L2L3Error, QueryError, ReplayMismatch, SpecError

__all__ = [
    "CheckResult",
    "L2L3Error",
    "Network",
    "QueryError",
    "ReplayMismatch",
    "Report",
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
