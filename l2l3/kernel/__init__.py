"""Ground truth from the Linux kernel: realize specs in namespaces, probe them, snapshot live state.

* :mod:`l2l3.kernel.netns` — entering namespaces, sysctls (the model's choices), tools, neighbour limits.
* :mod:`l2l3.kernel.realize` — Spec -> namespaces, links, routes, rules (``realize``; ``check_realizable``).
* :mod:`l2l3.kernel.build` — what realize builds, namespace by namespace (the layout).
* :mod:`l2l3.kernel.iptables` — a node's NAT and filter rules as iptables text, both ways.
* :mod:`l2l3.kernel.realization` — what a realization made, its recorded state, ``teardown``.
* :mod:`l2l3.kernel.probes` — probes and answers; which probes to send (``endpoints``).
* :mod:`l2l3.kernel.wire` — the token in every probe packet; the receiving raw sockets.
* :mod:`l2l3.kernel.prober` — real packets between endpoints, observed at the receiver.
* :mod:`l2l3.kernel.compare` — the kernel against the model, probe by probe.
* :mod:`l2l3.kernel.verdict` — what probe outcomes mean for a check.
* :mod:`l2l3.kernel.probe` — the probing names the CLI imports, re-exported.
* :mod:`l2l3.kernel.live` — reading one live namespace.
* :mod:`l2l3.kernel.snapshot` — live namespaces -> a spec in the language.
* :mod:`l2l3.kernel.cli` — ``realize``, ``verify-kernel`` and ``snapshot`` subcommands.

Everything here needs root and network namespaces; nothing runs at import time.
"""
