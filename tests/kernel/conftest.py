"""Kernel ground-truth tests: environment checks, cleanup and the agreement line.

Every test here is marked ``kernel``. Where the machine cannot run them (not
root, no network namespaces, a tool missing) they are skipped with the
reason — unless ``L2L3_KERNEL=require``, which turns every such skip into a
failure. Realizations use a per-run prefix ``l2t<pid>…``; whatever a test
leaves behind is deleted by name at the end of the session. A session that
ran kernel comparisons prints ``kernel-agreement: N/M`` (cases agreeing /
cases compared), followed by the per-probe figures.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRE = os.environ.get("L2L3_KERNEL", "").lower() == "require"
STRICT = os.environ.get("L2L3_KERNEL_STRICT", "") not in ("", "0")
RUN_PREFIX = f"l2t{os.getpid()}"
TOOLS = ("ip", "bridge", "iptables", "iptables-restore", "iptables-save")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        # test_*_samples.py read recorded tool outputs, no kernel: they run every day
        if path.is_relative_to(here) and not path.name.endswith("_samples.py"):
            item.add_marker(pytest.mark.kernel)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "kernel tests need root (network namespaces, veth, iptables)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"kernel tests need {', '.join(missing)} (apt-get install iproute2 iptables)"
    probe = f"{RUN_PREFIX}-envcheck"
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if p.returncode != 0:
        return f"cannot create a network namespace: {p.stderr.strip()}"
    try:
        checks = [
            ["ip", "-n", probe, "link", "add", "b0", "type", "bridge"],
            ["ip", "-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
            [
                "ip",
                "-n",
                probe,
                "link",
                "add",
                "x0",
                "type",
                "vxlan",
                "id",
                "1",
                "dstport",
                "8472",
                "local",
                "10.0.0.1",
                "nolearning",
            ],
            ["ip", "netns", "exec", probe, "iptables", "-t", "nat", "-L", "-n"],
        ]
        for c in checks:
            r = subprocess.run(c, capture_output=True, text=True)
            if r.returncode != 0:
                return f"{' '.join(c[3:] if c[1] == '-n' else c)}: {r.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.fixture(scope="session")
def kernel_ok() -> None:
    why = _why_not()
    if why is not None:
        if REQUIRE:
            pytest.fail(f"L2L3_KERNEL=require but: {why}", pytrace=False)
        pytest.skip(why)


_counter = itertools.count()


@pytest.fixture
def prefix(kernel_ok: None) -> Iterator[str]:
    """A fresh realization prefix, torn down after the test whatever happens."""
    from l2l3.kernel.realization import teardown

    p = f"{RUN_PREFIX}t{next(_counter)}"
    yield p
    teardown(p)


def new_prefix() -> str:
    return f"{RUN_PREFIX}h{next(_counter)}"


@dataclass
class Agreement:
    cases: int = 0
    cases_agree: int = 0
    probes: int = 0
    probes_agree: int = 0
    known: dict[str, int] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)

    def record(self, comparisons: list, label: str = "") -> bool:  # type: ignore[type-arg]
        """Count one case. Probes in a documented model difference (reported,
        see docs/kernel.md) are counted apart, not as agreement; with
        L2L3_KERNEL_STRICT=1 they count as disagreements."""
        bad = [c for c in comparisons if not c.agree and (STRICT or not c.known)]
        for c in comparisons:
            if c.explained and not STRICT:
                self.known[c.known] = self.known.get(c.known, 0) + 1
        compared = [c for c in comparisons if c.agree or c in bad]
        self.cases += 1
        self.cases_agree += not bad
        self.probes += len(compared)
        self.probes_agree += len(compared) - len(bad)
        for c in bad[:5]:
            self.disagreements.append(f"{label}: {c}")
        return not bad


AGREEMENT = Agreement()


@pytest.fixture(scope="session")
def agreement(kernel_ok: None) -> Iterator[Agreement]:
    from l2l3.kernel.netns import neighbour_capacity

    with neighbour_capacity():
        yield AGREEMENT


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # a safety net: delete by name whatever this run's tests left behind
    netns_dir = Path("/var/run/netns")
    if netns_dir.is_dir():
        mine = re.compile(rf"^{RUN_PREFIX}(?:[th]\d+)?-")  # not l2t1234… of another pid
        for n in os.listdir(netns_dir):
            if mine.match(n):
                subprocess.run(["ip", "netns", "del", n], capture_output=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    a = AGREEMENT
    if a.cases == 0:
        return
    terminalreporter.write_line(
        f"kernel-agreement: {a.cases_agree}/{a.cases} (cases; probes {a.probes_agree}/{a.probes})"
    )
    if a.known:
        known = ", ".join(f"{k} {v}" for k, v in sorted(a.known.items()))
        terminalreporter.write_line(f"  kernel probes in documented model differences (not counted): {known}")
    for d in a.disagreements[:20]:
        terminalreporter.write_line(f"  kernel disagreement: {d}")
