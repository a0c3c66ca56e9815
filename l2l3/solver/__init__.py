"""The z3 symbolic engine (:mod:`l2l3.solver.engine` and the stages it is made of).

This package module itself imports no z3: :class:`SolverUnknown` lives here so
that the checker can catch it without importing z3 before a check searches
(cold start, issue 15).
"""


class SolverUnknown(Exception):
    """z3 answered unknown, or the search budget ran out."""
