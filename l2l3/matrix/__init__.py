"""The reachability matrix between groups of pods, computed over classes.

``matrix(net, by="namespace")`` answers, for every ordered pair of groups
(namespaces, or endpoint classes), how many of the pod pairs between them
have *some* packet that gets from the first pod into the second one's stack
(the meaning of ``reach A -> B`` without headers). It does not ask the
question pair by pair. It

1. puts pods into **classes** of endpoints that behave alike (below);
2. for every ordered pair of classes (A, B) and every *relation* the pairs
   of that class pair actually realise — both pods on one node, or on two
   different nodes — picks one representative pod pair and asks the public
   :class:`~l2l3.checking.Checker` ``reach a -> b``;
3. lifts each answer to every pod pair of the same class pair and relation,
   and sums the pairs per group cell.

What is exact and what is not
-----------------------------
- Each representative answer is exact: ``reachable`` comes with a concrete
  packet the simulator replayed (the Checker raises rather than report a
  witness it cannot replay); ``unreachable`` is the Checker's proof that no
  packet gets through; ``unknown`` (a solver limit) is kept as unknown.
- The lift to the other pairs of the class pair is **not** re-checked: it
  rests on the class signature being a symmetry of the network (two pods of
  one class can swap places, with their nodes, without changing any answer
  except their own addresses). The signature is built to be conservative —
  anything it cannot canonicalise makes the pods or nodes involved
  singletons — but it is an argument, not a proof term. ``verify=N`` checks
  N extra sampled pairs per class-pair relation against the lifted answer
  and raises :class:`LiftMismatch` if one disagrees (the test-suite does this
  against the brute-force pairwise answer on small clusters).
- The reported witness of a cell is the representative's; pairs counted
  reachable in a cell share its class pair and relation, so they have the
  same packet with their own addresses.

Modules: :mod:`~l2l3.matrix.signature` (statements in role tokens),
:mod:`~l2l3.matrix.classes` (the signatures and classes),
:mod:`~l2l3.matrix.lift` (representative queries, the lift, the worker
pool), :mod:`~l2l3.matrix.result` (cells), :mod:`~l2l3.matrix.cli`
(``l2l3 matrix``); the text and JSON renderings are in
:mod:`l2l3.report.matrix`.
"""

from l2l3.matrix.classes import PodClass, classes
from l2l3.matrix.cli import register
from l2l3.matrix.lift import matrix
from l2l3.matrix.result import CROSS_NODE, SAME_NODE, Cell, Evaluation, LiftMismatch, Matrix

__all__ = [
    "CROSS_NODE",
    "SAME_NODE",
    "Cell",
    "Evaluation",
    "LiftMismatch",
    "Matrix",
    "PodClass",
    "classes",
    "matrix",
    "register",
]
