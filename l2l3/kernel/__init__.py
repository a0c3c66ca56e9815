"""Ground truth from the Linux kernel: realize specs in namespaces, probe them, snapshot live state.

* :mod:`l2l3.kernel.realize` — Spec -> namespaces, links, routes, rules (``realize``/``teardown``).
* :mod:`l2l3.kernel.probe` — real packets between endpoints, observed at the receiver.
* :mod:`l2l3.kernel.snapshot` — live namespaces -> a spec in the language.
* :mod:`l2l3.kernel.cli` — ``realize``, ``verify-kernel`` and ``snapshot`` subcommands.

Everything here needs root and network namespaces; nothing runs at import time.
"""
