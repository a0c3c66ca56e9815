"""Answering queries: the planner decides what to search, the solver searches,
the simulator confirms every witness before it is shown."""

from l2l3.checking.checker import Checker, evaluate
from l2l3.checking.result import CheckResult, Report, Verdict

__all__ = ["CheckResult", "Checker", "Report", "Verdict", "evaluate"]
