"""``l2l3 snapshot`` of a real node: its root namespace and the pods a runtime made.

The root namespace (``/proc/1/ns/net``; in tests a named namespace standing
in for it) is read first. Every other namespace of the machine
(:func:`l2l3.kernel.snapshot_find.find_namespaces`: named, any process's,
the CNI cache's) to which the root gives a netns id — a veth, macvlan or
VXLAN device joins them — is read too, with the ids each gives the others,
so every veth's peer is known. :func:`l2l3.kernel.snapshot.build` then
makes them a node with its pods; pods take their Kubernetes namespace and
name from the CNI cache (``K8S_POD_NAMESPACE``, ``K8S_POD_NAME``).
Namespaces the root has no id for are counted in a note, never read.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from l2l3.kernel.live import read_netns
from l2l3.kernel.netns import NETNS_DIR
from l2l3.kernel.snapshot import Snapshot, build
from l2l3.kernel.snapshot_find import CNI_CACHE_DIRS, ROOT, find_namespaces, nsids


def snapshot_node(
    root: str | None = None,
    *,
    name: str | None = None,
    cache_dirs: tuple[Path, ...] = CNI_CACHE_DIRS,
    strip: str | None = None,
) -> Snapshot:
    """Snapshot the node whose root namespace is ``root`` (a netns name; None: the real root).

    ``name`` names the node (default: the host name, or the netns name).
    """
    root_key = root if root is not None else ROOT
    root_path = str(NETNS_DIR / root) if root is not None else ROOT
    root_ino = os.stat(root_path).st_ino
    found, notes = find_namespaces(cache_dirs)
    by_key = {f.key: f for ino, f in found.items() if ino != root_ino}
    paths = {k: f.path for k, f in by_key.items()}
    ids = nsids(root_path, paths)
    joined = sorted(set(ids.values()))
    nss = {root_key: read_netns(root_key, ids)}
    for key in joined:
        others = {k: p for k, p in paths.items() if k != key}
        others[root_key] = root_path
        nss[key] = read_netns(key, nsids(paths[key], others))
    skipped = [k for k in by_key if k not in nss]
    for k in skipped:
        for c in by_key[k].cni:
            notes.append(f"CNI cache {c.file}: its netns is not joined to the root namespace: not read")
    if skipped:
        notes.append(
            f"{len(skipped)} other namespace(s) of the machine have no netns id in the root: not read"
        )
    node = name or (socket.gethostname() if root is None else None)
    header = [
        f"# l2l3 snapshot of node {node or root_key}: root namespace {root_path}, "
        f"{len(joined)} namespace(s) joined to it",
        "# routes, neighbours, bridges, VXLAN fdb: ip -j / bridge -j; sysctls: /proc/sys; "
        "masquerade/snat/dnat/filter: iptables-save; other nftables tables: nft -j",
    ]
    found_by_key = {**by_key, **({root_key: found[root_ino]} if root_ino in found else {})}
    return build(
        nss,
        header,
        strip=strip,
        found=found_by_key,
        names={root_key: node} if node else {},
        notes=notes,
    )


__all__ = ["snapshot_node"]
