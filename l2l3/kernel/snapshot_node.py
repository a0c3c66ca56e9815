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

import json
import os
import socket
from dataclasses import asdict
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

from l2l3.errors import L2L3Error
from l2l3.kernel.live import collect, parse_outputs
from l2l3.kernel.netns import NETNS_DIR
from l2l3.kernel.snapshot import Snapshot, build
from l2l3.kernel.snapshot_find import CNI_CACHE_DIRS, CniEntry, FoundNetns, find_namespaces, nsids, root_path


def gather(root: str | None = None, *, cache_dirs: tuple[Path, ...] = CNI_CACHE_DIRS) -> dict[str, Any]:
    """Everything a node snapshot reads, as one JSON-able mapping (``l2l3 snapshot --record``).

    ``root`` is a netns name standing in for the root namespace (None: the real one).
    """
    root_key = root if root is not None else root_path()
    root_at = str(NETNS_DIR / root) if root is not None else root_key
    root_ino = os.stat(root_at).st_ino
    found, notes = find_namespaces(cache_dirs)
    by_key = {f.key: f for ino, f in found.items() if ino != root_ino}
    paths = {k: f.path for k, f in by_key.items()}
    ids = nsids(root_at, paths)
    joined = sorted(set(ids.values()))
    outputs = {root_key: collect(root_key, ids)}
    for key in joined:
        others = {k: p for k, p in paths.items() if k != key}
        others[root_key] = root_at
        outputs[key] = collect(key, nsids(paths[key], others))
    skipped = [k for k in by_key if k not in outputs]
    for k in skipped:
        for c in by_key[k].cni:
            notes.append(f"CNI cache {c.file}: its netns is not joined to the root namespace: not read")
    if skipped:
        notes.append(
            f"{len(skipped)} other namespace(s) of the machine have no netns id in the root: not read"
        )
    meta = {k: f for k, f in by_key.items() if k in outputs}
    if root_ino in found:
        meta[root_key] = found[root_ino]
    return {
        "kind": "l2l3-node-snapshot",
        "root": root_key,
        "root_path": root_at,
        "host": socket.gethostname() if root is None else None,
        "namespaces": {k: {"found": _found_json(meta.get(k)), "outputs": o} for k, o in outputs.items()},
        "notes": notes,
    }


def _found_json(f: FoundNetns | None) -> dict[str, Any] | None:
    if f is None:
        return None
    d = asdict(f)
    for c in d["cni"]:
        c["ips"] = [str(i) for i in c["ips"]]
    return d


def from_recording(rec: dict[str, Any], *, name: str | None = None, strip: str | None = None) -> Snapshot:
    """The spec of what :func:`gather` read (live, or from a recorded file)."""
    root_key = rec["root"]
    nss = {k: parse_outputs(k, v["outputs"]) for k, v in rec["namespaces"].items()}
    found = {}
    for k, v in rec["namespaces"].items():
        if v.get("found"):
            f = dict(v["found"])
            f["cni"] = [CniEntry(**{**c, "ips": [IPv4Interface(i) for i in c["ips"]]}) for c in f["cni"]]
            found[k] = FoundNetns(**f)
    node = name or rec.get("host")
    header = [
        f"# l2l3 snapshot of node {node or root_key}: root namespace {rec['root_path']}, "
        f"{len(nss) - 1} namespace(s) joined to it",
        "# routes, neighbours, bridges, VXLAN fdb: ip -j / bridge -j; sysctls: /proc/sys; "
        "masquerade/snat/dnat/filter: iptables-save; other nftables tables: nft -j",
    ]
    return build(
        nss, header, strip=strip, found=found, names={root_key: node} if node else {}, notes=rec["notes"]
    )


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
    return from_recording(gather(root, cache_dirs=cache_dirs), name=name, strip=strip)


def load_recording(path: str) -> dict[str, Any]:
    """A file :func:`gather` wrote (``l2l3 snapshot --record``); L2L3Error if it is not one."""
    try:
        rec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise L2L3Error(f"{path}: cannot read a recorded snapshot: {e}") from None
    if not isinstance(rec, dict) or rec.get("kind") != "l2l3-node-snapshot":
        raise L2L3Error(f"{path}: not a recorded snapshot (kind l2l3-node-snapshot)")
    return rec


__all__ = ["from_recording", "gather", "load_recording", "snapshot_node"]
