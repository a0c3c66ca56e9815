"""Find a node's network namespaces and what the container runtime knows of them.

A real node's pods live in namespaces a runtime made; many have no name under
/var/run/netns (containerd and CRI-O name theirs, Docker and Podman's rootful
``--net=none`` containers often do not). They are found three ways, all by
reading only:

* the named ones, ``/var/run/netns/NAME``;
* every process's ``/proc/PID/ns/net`` (one namespace per inode, named by the
  lowest PID in it);
* libcni's result cache (``/var/lib/cni/results/NET-CONTAINER-IFNAME`` and
  ``/var/lib/cni/cache/results/…``), JSON of kind ``cniCacheV1`` written by
  the runtime after each ``ADD``: ``containerId``, ``ifName``,
  ``networkName``, ``netns``, ``cniArgs`` (``K8S_POD_NAMESPACE``,
  ``K8S_POD_NAME`` from the kubelet) and the plugin ``result``
  (containernetworking/cni ``libcni/api.go``).

Which of them belong to a node's root namespace is told by its netns ids:
:func:`nsids` asks the kernel (``RTM_GETNSID`` with ``NETNSA_FD``, as
``ip netns list-id`` does for named namespaces only) which id the root gives
each one, so a veth's ``link_netnsid`` names its peer's namespace exactly.
Asking never assigns an id.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

from l2l3.kernel.netns import NETNS_DIR, in_netns

CNI_CACHE_DIRS = (Path("/var/lib/cni/results"), Path("/var/lib/cni/cache/results"))
ROOT = "/proc/1/ns/net"


def root_path() -> str:
    """The root namespace: PID 1's; where that cannot be opened (a sandbox), l2l3's own."""
    try:
        os.close(os.open(ROOT, os.O_RDONLY))
        return ROOT
    except OSError:
        return "/proc/self/ns/net"


@dataclass
class CniEntry:
    """One libcni cache file: the runtime's record of one ``ADD``."""

    file: str
    container: str
    ifname: str
    network: str
    netns: str
    args: dict[str, str]
    ips: list[IPv4Interface]

    @property
    def pod(self) -> tuple[str, str] | None:
        """(namespace, name) of the Kubernetes pod, where the kubelet passed them."""
        if "K8S_POD_NAME" in self.args:
            return self.args.get("K8S_POD_NAMESPACE", "default"), self.args["K8S_POD_NAME"]
        return None


@dataclass
class FoundNetns:
    """One namespace: the path to enter it by, and how it was found."""

    key: str  # the netns name when it has one, else /proc/PID/ns/net
    inode: int
    names: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    cni: list[CniEntry] = field(default_factory=list)

    @property
    def path(self) -> str:
        return str(NETNS_DIR / self.names[0]) if self.names else f"/proc/{self.pids[0]}/ns/net"

    def origin(self) -> str:
        """How it was found, for the provenance comment."""
        parts = []
        if self.names:
            parts.append("netns " + ", ".join(self.names))
        if self.pids:
            more = f" (+{len(self.pids) - 1} processes)" if len(self.pids) > 1 else ""
            parts.append(f"/proc/{self.pids[0]}/ns/net{more}")
        for c in self.cni:
            parts.append(f"CNI cache {c.file} (network {c.network}, container {c.container[:12]})")
        return "; ".join(parts) or self.key


def read_cni_cache(dirs: tuple[Path, ...] = CNI_CACHE_DIRS) -> tuple[list[CniEntry], list[str]]:
    """Every ``cniCacheV1`` file under ``dirs``; notes for files that are not one."""
    out: list[CniEntry] = []
    notes: list[str] = []
    for d in dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                notes.append(f"CNI cache {f} is not JSON ({e}): not read")
                continue
            if not isinstance(doc, dict) or doc.get("kind") != "cniCacheV1":
                notes.append(f"CNI cache {f} is not a cniCacheV1 record: not read")
                continue
            result = doc.get("result") or {}
            ips = []
            for ip in result.get("ips", []) if isinstance(result, dict) else []:
                addr = str(ip.get("address", ""))
                if addr and ":" not in addr:
                    ips.append(IPv4Interface(addr))
            args = {str(k): str(v) for k, v in (doc.get("cniArgs") or []) if isinstance(k, str)}
            out.append(
                CniEntry(
                    file=str(f),
                    container=str(doc.get("containerId", "")),
                    ifname=str(doc.get("ifName", "")),
                    network=str(doc.get("networkName", "")),
                    netns=str(doc.get("netns", "")),
                    args=args,
                    ips=ips,
                )
            )
    return out, notes


def _inode(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def find_namespaces(cache_dirs: tuple[Path, ...] = CNI_CACHE_DIRS) -> tuple[dict[int, FoundNetns], list[str]]:
    """Every network namespace of the machine, by inode; notes for cache entries without one."""
    found: dict[int, FoundNetns] = {}
    if NETNS_DIR.is_dir():
        for n in sorted(os.listdir(NETNS_DIR)):
            ino = _inode(NETNS_DIR / n)
            if ino is not None:
                found.setdefault(ino, FoundNetns(key=n, inode=ino)).names.append(n)
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    for pid in pids:
        ino = _inode(f"/proc/{pid}/ns/net")
        if ino is None:
            continue  # gone, or a kernel thread
        ns = found.setdefault(ino, FoundNetns(key=f"/proc/{pid}/ns/net", inode=ino))
        ns.pids.append(pid)
    entries, notes = read_cni_cache(cache_dirs)
    for e in entries:
        ino = _inode(e.netns) if e.netns else None
        if ino is None or ino not in found:
            notes.append(
                f"CNI cache {e.file}: container {e.container[:12]} netns {e.netns or '(none)'} "
                "is gone (a stale entry): not read"
            )
            continue
        found[ino].cni.append(e)
    return found, notes


# --------------------------------------------------------------------------
# netns ids (rtnetlink RTM_GETNSID, linux/net_namespace.h)

_RTM_NEWNSID, _RTM_GETNSID = 88, 90
_NETNSA_NSID, _NETNSA_FD = 1, 3
_NLM_F_REQUEST, _NLMSG_ERROR = 1, 2


def _getnsid(sock: socket.socket, fd: int, seq: int) -> int | None:
    attr = struct.pack("=HHI", 8, _NETNSA_FD, fd)
    body = struct.pack("=Bxxx", socket.AF_UNSPEC) + attr
    sock.send(struct.pack("=IHHII", 16 + len(body), _RTM_GETNSID, _NLM_F_REQUEST, seq, 0) + body)
    data = sock.recv(65536)
    _length, mtype, _flags, _seq, _pid = struct.unpack_from("=IHHII", data)
    if mtype != _RTM_NEWNSID:
        return None
    off = 16 + 4
    while off + 4 <= len(data):
        alen, atype = struct.unpack_from("=HH", data, off)
        if alen < 4:
            break
        if atype == _NETNSA_NSID:
            (nsid,) = struct.unpack_from("=i", data, off + 4)
            return nsid if nsid >= 0 else None
        off += (alen + 3) & ~3
    return None


def nsids(inside: str, others: dict[str, str]) -> dict[int, str]:
    """The ids netns ``inside`` (name or path) gives ``others`` (key -> path); unassigned ones left out."""
    out: dict[int, str] = {}
    with in_netns(inside):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    with sock:
        sock.bind((0, 0))
        for seq, (key, path) in enumerate(sorted(others.items()), start=1):
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                got = _getnsid(sock, fd, seq)
            finally:
                os.close(fd)
            if got is not None:
                out[got] = key
    return out


def describe(x: Any) -> str:
    """A short text of a JSON value for a note."""
    return json.dumps(x, sort_keys=True, separators=(",", ":"))[:300]
