"""Probing a realization: the names the kernel CLI imports, from where they live.

* :mod:`l2l3.kernel.probes` — :class:`Probe`, :class:`Answer` and which probes to send (``endpoints``);
* :mod:`l2l3.kernel.wire` — the token in every probe packet, the receiving raw sockets;
* :mod:`l2l3.kernel.prober` — :class:`Prober`, sockets in every namespace and the tries;
* :mod:`l2l3.kernel.compare` — model against kernel, probe by probe (``compare``);
* :mod:`l2l3.kernel.verdict` — what the outcomes mean for a check (``kernel_verdict``,
  ``connect_verdict`` on the exchanges of :func:`l2l3.kernel.exchange.run_exchanges`);
* :func:`l2l3.kernel.netns.neighbour_capacity` — the kernel-wide neighbour table limits.
"""

from __future__ import annotations

from l2l3.kernel.compare import KNOWN_DIFFERENCES, compare
from l2l3.kernel.exchange import run_exchanges
from l2l3.kernel.netns import neighbour_capacity
from l2l3.kernel.prober import Prober
from l2l3.kernel.probes import endpoints
from l2l3.kernel.verdict import check_probes, connect_verdict, is_connect, kernel_verdict

__all__ = [
    "KNOWN_DIFFERENCES",
    "Prober",
    "check_probes",
    "compare",
    "connect_verdict",
    "endpoints",
    "is_connect",
    "kernel_verdict",
    "neighbour_capacity",
    "run_exchanges",
]
