"""The lark tree of a spec, reshaped into :mod:`l2l3.model.types`.

The transformer only reshapes and normalises: MACs to lower-case colon form,
addresses to ``ipaddress`` objects, a :class:`Span` on every object. Values the
grammar cannot rule out (an octet of 300, port 0, a prefix with host bits set
where a network is expected, an option given twice) become diagnostics in
``SpecTransformer.diagnostics``; it never raises for user input. Whether names
refer to anything is :mod:`l2l3.dsl.resolve`'s business.

One module per grammar area holds that area's rule callbacks:
:mod:`.primitives` (values, underlay, node statements, nodes), :mod:`.cluster`
(the ``cluster`` block), :mod:`.selectors` (label selectors and ``namespace``
declarations), :mod:`.policies` and :mod:`.checks`; :mod:`.base` has
the shared state and value helpers. :class:`SpecTransformer` combines them and
adds the rule for the whole file. The callbacks run inline, as the LALR
parser reduces each rule (:mod:`.inline`): no parse tree is built.
"""

from __future__ import annotations

from typing import Any

from l2l3.dsl.transform.checks import CheckRules
from l2l3.dsl.transform.cluster import PROFILE_WORDS, ClusterRules
from l2l3.dsl.transform.policies import PolicyRules
from l2l3.dsl.transform.primitives import PrimitiveRules
from l2l3.dsl.transform.selectors import SelectorRules
from l2l3.dsl.transform.services import ServiceRules
from l2l3.model.services import Service
from l2l3.model.types import Check, Cluster, External, NamespaceDecl, Node, Policy, Segment, Spec

__all__ = ["PROFILE_WORDS", "SpecTransformer"]


class SpecTransformer(PrimitiveRules, ClusterRules, SelectorRules, PolicyRules, ServiceRules, CheckRules):
    """The rule callbacks that turn one file into a raw :class:`Spec` (one instance per parse)."""

    # ------------------------------------------------------------ the file

    def start(self, meta: Any, children: list[Any]) -> Spec:
        """The whole file."""
        clusters = [c for c in children if isinstance(c, Cluster)]
        for extra in clusters[1:]:
            self.error(extra.span, f"a second cluster block ({extra.name}); a file has at most one")
        return Spec(
            file=self.file,
            cluster=clusters[0] if clusters else None,
            namespaces=tuple(c for c in children if isinstance(c, NamespaceDecl)),
            segments=tuple(c for c in children if isinstance(c, Segment)),
            externals=tuple(c for c in children if isinstance(c, External)),
            nodes=tuple(c for c in children if isinstance(c, Node)),
            policies=tuple(c for c in children if isinstance(c, Policy)),
            services=tuple(c for c in children if isinstance(c, Service)),
            checks=tuple(c for c in children if isinstance(c, Check)),
        )
