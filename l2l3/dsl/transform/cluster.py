"""Rule callbacks of the ``cluster`` block (LANGUAGE.md §2): pod and service
CIDRs, the ``cni`` profile words and options."""

from __future__ import annotations

from typing import Any

from lark import Token

from l2l3.dsl.transform.base import PORT_MAX, PORT_MIN, VNI_MAX, Opt, TransformerBase
from l2l3.model.types import Cluster

#: Words of ``cni …`` that name a profile or a profile mode. After the first
#: word that is not one of these, the rest are ``KEY VALUE`` options.
PROFILE_WORDS = frozenset(
    {
        "bridge",
        "win-bridge",
        "win-overlay",
        "flannel",
        "calico",
        "antrea",
        "kindnet",
        "macvlan",
        "host-gw",
        "vxlan",
        "bgp",
        "ipip",
    }
)


class ClusterRules(TransformerBase):
    """The ``cluster`` block and its statements."""

    # ------------------------------------------------------------ cluster

    def pod_cidr(self, meta: Any, children: list[Any]) -> Opt:
        """``pod-cidr CIDR``."""
        return Opt("pod-cidr", self.network(children[0]), children[0])

    def service_cidr(self, meta: Any, children: list[Any]) -> Opt:
        """``service-cidr CIDR``."""
        return Opt("service-cidr", self.network(children[0]), children[0])

    def cni(self, meta: Any, children: list[Token]) -> Opt:
        """``cni PROFILE [MODE…] [KEY VALUE]…``: profile words, then option pairs."""
        words = [str(c) for c in children]
        profile = words[:1]
        rest = words[1:]
        while rest and rest[0] in PROFILE_WORDS:
            profile.append(rest.pop(0))
        if len(rest) % 2:
            self.error(
                self.tok_span(children[-1]), f"cni option {rest[-1]} needs a value, like `{rest[-1]} on`"
            )
            rest = rest[:-1]
        pairs = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
        for i, tok in enumerate(children):
            r = i - len(profile)  # odd: the value of the option named before it
            self._check_word(tok, words[i - 1] if r >= 0 and r % 2 else None)
        return Opt("cni", (tuple(profile), pairs), children[0])

    def cl_option(self, meta: Any, children: list[Token]) -> tuple[str, str]:
        """``KEY VALUE`` on its own line of a cluster block: one more profile option."""
        self._check_word(children[0], None)
        self._check_word(children[1], str(children[0]))
        return (str(children[0]), str(children[1]))

    def _check_word(self, tok: Token, key: str | None) -> None:
        """Check the numbers in one word of a profile line (kept as text for the profile).

        A number goes through the guarded conversion, in the range of its
        option (``vni``, ``port``) or else of a 32-bit number; a CIDR is checked
        as everywhere else (octets, prefix length).
        """
        if tok.type == "INT":
            if key == "vni":
                self.number(tok, 0, VNI_MAX, "VNI", hard=True)
            elif key == "port":
                self.number(tok, PORT_MIN, PORT_MAX, "port", hard=True)
            else:
                self.number(tok, 0, 2**32 - 1, f"cni option {key}" if key else "number", hard=True)
        elif tok.type == "CIDR":
            self.interface(tok)

    def cluster(self, meta: Any, children: list[Any]) -> Cluster:
        """``cluster NAME { … }``."""
        name = str(children[0])
        opts = self.options([c for c in children[1:] if isinstance(c, Opt)], f"cluster {name}")
        cni, options = opts["cni"].value if "cni" in opts else ((), ())
        extra = tuple(c for c in children[1:] if isinstance(c, tuple))
        return Cluster(
            name=name,
            pod_cidr=opts["pod-cidr"].value if "pod-cidr" in opts else None,
            service_cidr=opts["service-cidr"].value if "service-cidr" in opts else None,
            cni=cni,
            options=options + extra,
            span=self.span(meta),
        )
