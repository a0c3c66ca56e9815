"""The differential property test: the model against the Linux kernel.

Hypothesis draws a random Linux topology (:mod:`tests.kernel.kgen`); it is
realized in namespaces, every endpoint pair is probed with ICMP, TCP and UDP,
and the model's answer (delivered where, from which source address, via mac
or not) must equal the kernel's for every probe. A disagreement is shrunk by
Hypothesis and the smallest spec is kept under ``regressions/`` (replayed by
``test_regressions.py``).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from l2l3.model.types import Spec

from .conftest import STRICT, Agreement, new_prefix
from .kgen import topologies

pytestmark = pytest.mark.kernel

REGRESSIONS = Path(__file__).parent / "regressions"
CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci" or bool(os.environ.get("CI"))
EXAMPLES = int(os.environ.get("L2L3_KERNEL_EXAMPLES", "200"))

_last_saved: list[Path] = []


def save_regression(spec: Spec, text: str) -> Path:
    """Keep the newest failing example (Hypothesis replays the shrunk one last)."""
    from l2l3.dsl import render

    body = render(spec)
    header = "".join(f"# {line}\n" for line in text.splitlines())
    digest = hashlib.sha1(body.encode()).hexdigest()[:10]
    REGRESSIONS.mkdir(exist_ok=True)
    path = REGRESSIONS / f"diff-{digest}.l2l3"
    path.write_text(f"# A disagreement found by test_differential (shrunk by Hypothesis).\n{header}\n{body}")
    for old in _last_saved:
        if old != path and old.exists():
            old.unlink()
    _last_saved[:] = [path]
    return path


def fail_on_disagreement(spec: Spec, comps: list) -> None:  # type: ignore[type-arg]
    """Fail the case (keeping it under regressions/) when some probe disagrees
    outside a documented model difference (any, with L2L3_KERNEL_STRICT=1)."""
    bad = [c for c in comps if not c.agree and (STRICT or not c.known)]
    if bad:
        text = "\n".join(c.explain() for c in bad[:12])
        path = save_regression(spec, text)
        raise AssertionError(f"{len(bad)} of {len(comps)} probes disagree (saved {path}):\n{text}")


def run_case(spec: Spec, agreement: Agreement, label: str) -> list:  # type: ignore[type-arg]
    from l2l3.kernel.compare import compare
    from l2l3.kernel.realization import teardown
    from l2l3.kernel.realize import realize

    p = new_prefix()
    try:
        rz = realize(spec, p)
        comps = compare(rz)
    finally:
        teardown(p)
    agreement.record(comps, label)
    return comps


@pytest.fixture(scope="module")
def stats() -> dict[str, float]:
    return {"cases": 0, "probes": 0, "t0": time.monotonic()}


def test_differential(agreement: Agreement, stats: dict[str, float]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=CI,
        database=None if CI else settings.default.database,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(spec=topologies())
    def case(spec: Spec) -> None:
        comps = run_case(spec, agreement, "differential")
        stats["cases"] += 1
        stats["probes"] += len(comps)
        fail_on_disagreement(spec, comps)

    case()
    print(
        f"\ndifferential: {int(stats['cases'])} cases, {int(stats['probes'])} probes, "
        f"{time.monotonic() - stats['t0']:.0f}s"
    )
