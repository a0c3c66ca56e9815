"""The Service differential test: kube-proxy's rules as the model programs them, against the kernel.

Hypothesis draws clusters with Services (:mod:`tests.kernel.kgen_services`):
ClusterIP and NodePort, TCP and UDP, numeric and named target ports,
selectors and explicit endpoints (none, too), both traffic policies, with and
without a cluster CIDR, and pods with a hostPort (portmap). Each is realized in namespaces — the Services as the
iptables rules kube-proxy's iptables mode writes (DNAT in PREROUTING and
OUTPUT, KUBE-MARK-MASQ and the masquerade first in POSTROUTING, the REJECT
filters) — and every sender (pods, nodes, the external) probes every
address, the VIPs at the Service port and the node addresses at every
NodePort and the hostPort. The model's answer (delivered where, to which address, from which
source) must be the kernel's for every probe; a DNAT with several backends
agrees when the kernel's outcomes are a non-empty subset of the model's.

Cases: ``L2L3_SVC_EXAMPLES`` (default 110 under the CI Hypothesis profile,
25 otherwise); the figures are printed at the end.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings

from l2l3.model.types import Spec

from .conftest import Agreement, new_prefix
from .kgen_services import HOST_PORT, PROBE_PORT, service_clusters
from .test_differential import fail_on_disagreement

pytestmark = pytest.mark.kernel

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci" or bool(os.environ.get("CI"))
EXAMPLES = int(os.environ.get("L2L3_SVC_EXAMPLES", "110" if CI else "25"))


def run_service_case(spec: Spec, agreement: Agreement) -> list:  # type: ignore[type-arg]
    from l2l3.kernel.compare import compare
    from l2l3.kernel.probes import endpoints
    from l2l3.kernel.realization import teardown
    from l2l3.kernel.realize import realize

    ports = {PROBE_PORT, HOST_PORT} | {p.node_port for s in spec.services for p in s.ports if p.node_port}
    p = new_prefix()
    try:
        rz = realize(spec, p)
        comps = compare(rz, endpoints(rz, ports=sorted(ports)))
    finally:
        teardown(p)
    agreement.record(comps, "services")
    return comps


def test_service_differential(agreement: Agreement) -> None:
    stats = {"cases": 0, "probes": 0, "dnat": 0, "masq": 0, "t0": time.monotonic()}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=CI,
        database=None if CI else settings.default.database,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(spec=service_clusters())
    def case(spec: Spec) -> None:
        comps = run_service_case(spec, agreement)
        stats["cases"] += 1
        stats["probes"] += len(comps)
        for c in comps:
            outs = c.model.outcomes
            stats["dnat"] += any(o.dst is not None and o.dst != c.probe.dst for o in outs)
            stats["masq"] += any(o.src != c.probe.src_ip for o in outs)
        fail_on_disagreement(spec, comps)

    case()
    print(
        f"\nservice differential: {stats['cases']} cases, {stats['probes']} probes "
        f"({stats['dnat']} through a Service DNAT, {stats['masq']} arriving with a rewritten source), "
        f"{time.monotonic() - stats['t0']:.0f}s"
    )
