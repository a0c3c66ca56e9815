"""`l2l3 verify-kernel` measures a `connect` check on real exchanges.

A connect check's probes are request/answer exchanges (TCP handshake with an
echoed payload, a UDP answer from the address the request arrived at, ICMP
echo), not one-way probes; the kernel's verdict on them is printed beside the
checker's. The spec is one of the hand-worked connect cases: a VIP whose DNAT
masquerades, so the answer is reverse-NATed by the node that rewrote it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from l2l3 import cli

SPEC = Path(__file__).parent / "connect" / "dnat-masquerade.l2l3"


def test_verify_kernel_judges_connect_checks_on_exchanges(
    prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = cli.main(["verify-kernel", str(SPEC), "--prefix", prefix])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "exchanges" in out.splitlines()[0]
    checks = out.split("checks (checker | kernel):")[1].split("endpoint pairs")[0]
    # every connect check is measured (none "-"), and checker and kernel agree
    rows = [ln for ln in checks.splitlines() if "connect " in ln]
    assert len(rows) == 3 and all(ln.split()[0] == "agree" for ln in rows), checks
    assert "kernel: violated" in checks and "kernel: holds" in checks
