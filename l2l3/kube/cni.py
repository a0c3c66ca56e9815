"""CNI network configs -> the ``cluster { cni PROFILE … }`` profile (LANGUAGE.md §2, §7).

:func:`from_configs` reads the CNI configs found among the inputs (and
flannel's ``kube-flannel-cfg`` net-conf.json) into one :class:`CniChoice`:
the profile words and options of :mod:`l2l3.model.profiles`, the cluster's
pod and Service CIDRs where the configs state them, extra HNS ROUTE
(NeedEncap) prefixes for Windows nodes, and a note for every option the
profile has no equivalent for. :func:`parse_profile` reads ``--cni PROFILE``.

Plugin ``type`` -> profile:

========================  ==============================================
flannel (Linux)           ``flannel vxlan|host-gw`` from net-conf.json ``Backend.Type`` (``VNI``, ``Port``)
flannel -> win-bridge     ``flannel host-gw`` (its Windows dataplane)
flannel -> win-overlay    ``flannel vxlan``
calico                    ``calico ipip|vxlan|bgp`` (``mode`` where stated, else IPIP as calico.yaml), ``nat_outgoing``
antrea                    ``antrea``
bridge                    ``bridge`` with ``ipmasq`` (the plugin's default: off)
ptp (kindnet's template)  ``kindnet``
macvlan                   ``macvlan``
win-bridge / sdnbridge    ``win-bridge``; OutBoundNAT exceptions -> ``outbound-nat-except``
win-overlay / sdnoverlay  ``win-overlay``; likewise
========================  ==============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from l2l3.kube.cni_read import PROFILE_HELP, _net, _read, _Reading
from l2l3.kube.errors import Note
from l2l3.kube.errors import Span as KubeSpan
from l2l3.kube.objects import CniConfig, FlannelConfig
from l2l3.kube.provenance import Notes, input_error
from l2l3.model.profiles import OPTIONS
from l2l3.model.profiles._base import WINDOWS_UNDER
from l2l3.model.types import Span

__all__ = ["CniChoice", "from_configs", "parse_profile", "PROFILE_HELP"]


@dataclass(frozen=True, slots=True)
class CniChoice:
    """The profile a cluster gets, and what came with it.

    ``windows_routes``: HNS ROUTE NeedEncap prefixes the profile does not add
    itself, as ``route-to-host`` lines for every Windows node (with the span
    of the policy). ``ipam_subnet``: the host-local subnet of a single-node
    config, for nodes that have no podCIDR.
    """

    words: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()
    pod_cidr: IPv4Network | None = None
    service_cidr: IPv4Network | None = None
    windows_routes: tuple[tuple[IPv4Network, KubeSpan], ...] = ()
    ipam_subnet: IPv4Network | None = None
    source: str = ""
    span: KubeSpan | Span | None = None
    notes: tuple[Note, ...] = field(default=(), compare=False)

    @property
    def profile(self) -> str:
        return " ".join(self.words)


# ---------------------------------------------------------------- --cni PROFILE


def parse_profile(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """``--cni PROFILE [KEY VALUE …]`` -> (profile words, options); ValueError if unknown."""
    words = [w.lower() for w in text.replace("=", " ").split()]
    best: tuple[str, ...] | None = None
    for n in range(min(2, len(words)), 0, -1):
        cand = tuple(words[:n])
        if cand in OPTIONS or cand == ("flannel",):
            best = cand
            break
    if best is None:
        raise ValueError(f"unknown CNI profile {text.strip()!r}; expected one of: {PROFILE_HELP}")
    rest = words[len(best) :]
    if best == ("flannel",):
        best = ("flannel", "vxlan")
    if len(rest) % 2:
        raise ValueError(f"--cni {text.strip()!r}: options come as KEY VALUE pairs")
    allowed = OPTIONS[best]
    opts = []
    for k, v in zip(rest[::2], rest[1::2], strict=True):
        if k not in allowed:
            known = ", ".join(allowed) or "none"
            raise ValueError(f"unknown option {k!r} for cni {' '.join(best)}; options: {known}")
        opts += [(k, x) for x in v.split(",") if x] if k == "outbound-nat-except" else [(k, v)]
    return best, tuple(opts)


# ---------------------------------------------------------------- flannel net-conf


def _net_conf(
    notes: Notes, r: _Reading, flannel: Sequence[FlannelConfig], implied: tuple[str, ...] | None
) -> None:
    confs = [f.net_conf for f in flannel if f.net_conf is not None]
    if not confs:
        if not r.windows and implied is not None:
            notes.assumed(
                r.span,
                f"flannel's backend (net-conf.json) is not among the inputs: {implied[1]}, as the Windows "
                "config's delegate implies",
            )
            r.words = implied
        elif not r.windows:
            notes.assumed(
                r.span,
                "flannel's backend (net-conf.json, ConfigMap kube-flannel-cfg) is not among the inputs: vxlan assumed (kube-flannel.yml)",
            )
            r.words = ("flannel", "vxlan")
        return
    nc = confs[0]
    backend = nc.backend_type.lower()
    if backend not in ("vxlan", "host-gw"):
        raise input_error(
            nc.span,
            f"flannel backend {nc.backend_type!r} has no profile (vxlan, host-gw); give --cni PROFILE",
        )
    mode = backend
    if r.windows and r.words[1:] != (mode,):
        raise input_error(
            nc.span,
            f"flannel backend {backend} does not match the Windows plugin of {r.file} "
            f"(win-bridge runs under host-gw, win-overlay under vxlan)",
        )
    r.words = ("flannel", mode)
    if nc.network is not None:
        r.pod_cidr = _net(nc.network)
    b = nc.backend
    if mode == "vxlan":
        for key, opt in (("VNI", "vni"), ("Port", "port")):
            if b.get(key) is not None:
                r.options[opt] = str(b.get(key))
    rest = sorted(k for k in b if k not in ("VNI", "Port", "name", "Name"))
    if rest:
        notes.add(nc.span, f"flannel Backend {', '.join(rest)} not modelled by the profile", "unread-field")
    if not r.windows:
        notes.assumed(nc.span, "flanneld runs with --ip-masq (kube-flannel.yml)")


# ---------------------------------------------------------------- all configs


def from_configs(configs: Sequence[CniConfig], flannel: Sequence[FlannelConfig] = ()) -> CniChoice | None:
    """The profile the CNI configs among the inputs give, or None when there are none.

    Raises :class:`~l2l3.errors.SpecError` for a config no profile stands for,
    or for configs that disagree.
    """
    notes = Notes()
    all_configs = list(configs)
    if not all_configs:
        all_configs = [f.cni_conf for f in flannel if f.cni_conf is not None]
    if not all_configs:
        return None
    readings = [_read(notes, c) for c in all_configs]
    implied = next((r.words for r in readings if r.family == "flannel" and r.windows), None)
    for r in readings:
        if r.family == "flannel":
            _net_conf(notes, r, flannel, implied)
    linux = [r for r in readings if not r.windows]
    windows = [r for r in readings if r.windows]
    for group in (linux, windows):
        for r in group[1:]:
            if r.words != group[0].words:
                raise input_error(
                    r.span,
                    f"this CNI config gives cni {' '.join(r.words)}, but {group[0].file} gives "
                    f"cni {' '.join(group[0].words)}; give --cni PROFILE to choose",
                )
    main = linux[0] if linux else windows[0]
    words = main.words
    if linux and windows:
        under = WINDOWS_UNDER.get(words)
        want = windows[0].words
        ok = want == words or (under is not None and want == (under,))
        if not ok:
            raise input_error(
                windows[0].span,
                f"the Windows CNI config gives {' '.join(want)}, which does not run under the Linux "
                f"nodes' cni {' '.join(words)} ({linux[0].file}); give --cni PROFILE to choose",
            )
    options: dict[str, str] = {}
    for r in linux + windows:
        for k, v in r.options.items():
            options.setdefault(k, v)
    pod_cidr = next((r.pod_cidr for r in readings if r.pod_cidr is not None), None)
    exceptions = next((r.exceptions for r in windows if r.exceptions is not None), None)
    allowed = OPTIONS.get(words, {})
    excepted: list[tuple[str, str]] = []
    if exceptions is not None:
        if "outbound-nat-except" in allowed and exceptions:
            excepted = [("outbound-nat-except", str(x)) for x in exceptions]
        elif exceptions:
            notes.add(
                windows[0].span,
                f"OutBoundNAT exceptions: cni {' '.join(words)} takes no outbound-nat-except",
                "unread-field",
            )
    service_cidr: IPv4Network | None = None
    extra: list[tuple[IPv4Network, KubeSpan]] = []
    for r in windows:
        for prefix, span in r.routes:
            if prefix.prefixlen == 32:
                extra.append((prefix, span))  # a node's own IP, or any address: decided per node
            elif service_cidr is None:
                service_cidr = prefix
                notes.assumed(span, f"HNS ROUTE NeedEncap {prefix} taken as the Service CIDR (service-cidr)")
            elif prefix != service_cidr:
                extra.append((prefix, span))
    for k in list(options):
        if k not in allowed:
            notes.add(
                main.span,
                f"option {k} {options.pop(k)} has no place in cni {' '.join(words)}",
                "unread-field",
            )
    subnets = {r.ipam_subnet for r in readings if r.ipam_subnet is not None}
    files = sorted({r.file for r in readings})
    return CniChoice(
        words=words,
        options=tuple(sorted(options.items())) + tuple(excepted),
        pod_cidr=pod_cidr,
        service_cidr=service_cidr,
        windows_routes=tuple(extra),
        ipam_subnet=subnets.pop() if len(subnets) == 1 else None,
        source="CNI config " + ", ".join(files),
        span=main.span,
        notes=tuple(notes.items),
    )
