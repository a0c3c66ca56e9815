"""Network namespaces and sysctls from Python, and the tools run on them.

* :func:`in_netns` moves the calling thread into a named netns for a block;
  :func:`run` and :func:`ip_batch` run ``ip``/``bridge``/``iptables`` tools.
* The model's choices, written into every namespace a realization creates
  (:func:`base_sysctls` before its interfaces exist, :func:`final_sysctls`
  after): ``rp_filter`` 0, ``bridge-nf-call-iptables``/``arptables`` 0,
  ``arp_ignore`` 0, ICMP redirects neither sent nor accepted, IPv6 disabled
  (the model is IPv4 only).
* :func:`neighbour_capacity` raises the kernel-wide neighbour table limits
  (``gc_thresh1..3``, one table shared by every namespace) from the root
  namespace for a block, and puts them back after.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from l2l3.errors import L2L3Error

NETNS_DIR = Path("/var/run/netns")


class KernelError(L2L3Error):
    """Something the kernel or a tool refused while realizing or probing."""


# --------------------------------------------------------------------------
# entering a namespace

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
_ns_lock = threading.RLock()


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside netns ``name``.

    Sockets created inside stay in that netns after the block; /proc/sys/net
    opened inside is that netns's. The thread's own netns is restored on exit.
    """
    with _ns_lock:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(NETNS_DIR / name, os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)


def netns_exists(name: str) -> bool:
    """Whether a named netns ``name`` exists (under :data:`NETNS_DIR`)."""
    return (NETNS_DIR / name).exists()


def list_netns(prefix: str) -> list[str]:
    """The named namespaces ``PREFIX-…``, sorted."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix + "-"))


# --------------------------------------------------------------------------
# sysctls and tools


def _sysctl_path(key: str) -> Path:
    """``net/ipv4/conf/flannel.1/rp_filter`` (slashes) or ``net.ipv4.ip_forward`` (dots)."""
    return Path("/proc/sys") / (key if "/" in key else key.replace(".", "/"))


def sysctl_write(key: str, value: str | int) -> None:
    """Write sysctl ``key`` (slashes or dots) of the calling thread's netns."""
    _sysctl_path(key).write_text(str(value))


def sysctl_read(key: str) -> str:
    """Read sysctl ``key`` (slashes or dots) of the calling thread's netns."""
    return _sysctl_path(key).read_text().strip()


def run(cmd: list[str], *, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (text in and out); with ``check``, a failure raises :class:`KernelError`."""
    p = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if check and p.returncode != 0:
        shown = input if input is None or len(input) < 4000 else input[:4000] + "…"
        raise KernelError(
            f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}"
            + (f"\ninput:\n{shown}" if shown else "")
        )
    return p


def ip_batch(netns: str | None, lines: list[str]) -> None:
    """Run ``ip`` commands (one per line, without ``ip``) in ``netns`` as one batch."""
    if not lines:
        return
    cmd = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(cmd, input="\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# the model's choices


def base_sysctls(forwarding: bool, *, bridge_nf: bool = True) -> None:
    """The model's choices, for a fresh netns (before its interfaces exist)."""
    for scope in ("all", "default"):
        sysctl_write(f"net/ipv6/conf/{scope}/disable_ipv6", 1)
        sysctl_write(f"net/ipv4/conf/{scope}/rp_filter", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/send_redirects", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/accept_redirects", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/arp_ignore", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/arp_announce", 0)
        sysctl_write(f"net/ipv4/conf/{scope}/arp_filter", 0)
    sysctl_write("net/ipv4/ip_forward", 1 if forwarding else 0)
    if bridge_nf and Path("/proc/sys/net/bridge").is_dir():
        for k in ("bridge-nf-call-iptables", "bridge-nf-call-arptables", "bridge-nf-call-ip6tables"):
            p = Path("/proc/sys/net/bridge") / k
            if p.exists():
                p.write_text("0")


def prepare_netns(name: str, *, forwarding: bool = False) -> None:
    """Give a namespace made elsewhere (e.g. for CNI plugins) the model's choices."""
    with in_netns(name):
        base_sysctls(forwarding)


def final_sysctls(forwarding: bool, proxy_arp: list[str]) -> None:
    """The model's choices once a netns's interfaces exist (per-interface keys)."""
    sysctl_write("net/ipv4/ip_forward", 1 if forwarding else 0)
    for ifname in os.listdir("/proc/sys/net/ipv4/conf"):
        sysctl_write(f"net/ipv4/conf/{ifname}/rp_filter", 0)
    for dev in proxy_arp:
        sysctl_write(f"net/ipv4/conf/{dev}/proxy_arp", 1)
        sysctl_write(f"net/ipv4/neigh/{dev}/proxy_delay", 0)


# --------------------------------------------------------------------------
# neighbour table limits


_NEIGH_KEYS = ("gc_thresh1", "gc_thresh2", "gc_thresh3")
_neigh_lock = threading.Lock()
_neigh_users = 0
_neigh_saved: dict[str, tuple[int, int]] = {}


def _neigh_path(key: str) -> str:
    return f"/proc/sys/net/ipv4/neigh/default/{key}"


def _neigh_read(key: str) -> int:
    with open(_neigh_path(key)) as f:
        return int(f.read())


@contextmanager
def neighbour_capacity(gc_thresh3: int = 32768) -> Iterator[None]:
    """Raise the kernel-wide ARP table limits for the body; restore them after.

    Must run in the root network namespace (the limits exist only there).
    Nested and concurrent uses share one raise; the last one out restores
    each value, unless someone else changed it in the meantime.
    """
    global _neigh_users
    wanted = {"gc_thresh1": gc_thresh3 // 4, "gc_thresh2": gc_thresh3 // 2, "gc_thresh3": gc_thresh3}
    with _neigh_lock:
        if _neigh_users == 0:
            _neigh_saved.clear()
            for k in _NEIGH_KEYS:
                try:
                    cur = _neigh_read(k)
                except OSError:
                    continue
                new = max(cur, wanted[k])
                if new != cur:
                    try:
                        with open(_neigh_path(k), "w") as f:
                            f.write(str(new))
                    except OSError:
                        continue
                _neigh_saved[k] = (cur, new)
        _neigh_users += 1
    try:
        yield
    finally:
        with _neigh_lock:
            _neigh_users -= 1
            if _neigh_users == 0:
                for k, (old, new) in _neigh_saved.items():
                    try:
                        if _neigh_read(k) == new and new != old:
                            with open(_neigh_path(k), "w") as f:
                                f.write(str(old))
                    except OSError:
                        pass
                _neigh_saved.clear()
