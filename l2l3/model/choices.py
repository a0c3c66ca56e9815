"""The model's choices where the CNI reference is silent or UNVERIFIED, one switch each.

Each constant is read by both engines (the simulator and the z3 engine), so
flipping it changes the model consistently; the agreement property test runs
on whatever is set. Profile-level choices live in
``l2l3/model/profiles/_base.py``; docs/semantics.md lists both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from l2l3.model.types import OS, Proto

if TYPE_CHECKING:
    from l2l3.model.network import Iface, Stack

#: HNS l2bridge rewrites MACs at the uplink in both directions: frames leaving
#: carry the host NIC's MAC as source, frames arriving for a port's IP get the
#: port's MAC back (CNI-SEMANTICS §1(b), §1(d)5; the VFP mechanics are §11.2
#: UNVERIFIED). False: ports keep their own MACs across the uplink.
L2BRIDGE_MAC_REWRITE = True

#: Where HNS OutBoundNAT applies (§1(e); §11.4 UNVERIFIED for overlay):
#: "nic" — only to endpoint traffic the host sends out of a NIC on a segment;
#: "egress" — to endpoint traffic leaving the node by any interface that is not
#: the endpoint's own bridge (so also into a VXLAN tunnel).
OUTBOUND_NAT_AT = "nic"

#: Whether HNS OutBoundNAT translates ICMP. False (the default): VFP "doesn't
#: support ICMP packet transpositions" (Kubernetes docs, Windows networking,
#: Limitations; microsoft/SDN#170), so an ICMP packet OutBoundNAT would rewrite
#: leaves with the endpoint's own address ("ping fails, curl works"); TCP, UDP
#: and SCTP are translated. True: ICMP is translated like the others.
OUTBOUND_NAT_ICMP = False

#: Whether a Windows stack's own packets may leave by a VXLAN device. False (the
#: default): under an HNS Overlay network the routes to remote pod subnets are VFP
#: policies on the endpoints' ports (flannel vxlan_windows RemoteSubnetRoute,
#: CNI-SEMANTICS §2(d)) and the host compartment has none, so a Windows host (and
#: its HostProcess pods) reaches only its local pods: Kubernetes docs, Windows
#: networking, "Node-pod connectivity is only possible for local pods" (flannel
#: VXLAN); flannel PR #1096 added a host route to local pods only ("Windows hosts
#: still do not have connectivity with pods running on remote hosts"). True: the
#: host sends through the tunnel as its pods do.
WINDOWS_HOST_VIA_OVERLAY = False

#: Windows stacks answer ARP only on the interface that holds the address
#: (strong host, §1(g) UNVERIFIED). True: like Linux's arp_ignore=0, any
#: interface answers for any local address.
WINDOWS_ARP_ANY_LOCAL = False


def outbound_nat_source(st: Stack, out: Iface, bridge: str) -> object | None:
    """The address OutBoundNAT of ``bridge`` gives a packet leaving ``st`` by ``out``.

    None when it does not act there. The address is the node NIC's: the
    outgoing NIC's, or under "egress" the stack's first NIC's.
    """
    if out.switch is not None and out.switch.startswith("seg:"):
        return out.primary
    if OUTBOUND_NAT_AT == "egress" and out.switch != f"br:{st.id}/{bridge}":
        nic = next((i for i in st.ifaces.values() if i.switch and i.switch.startswith("seg:")), None)
        return nic.primary if nic is not None else None
    return None


def outbound_nat_translates(proto: Proto) -> bool:
    """Whether HNS OutBoundNAT rewrites a packet of ``proto`` (see ``OUTBOUND_NAT_ICMP``)."""
    return OUTBOUND_NAT_ICMP or proto != Proto.ICMP


def host_send_blocked(st: Stack, out: Iface) -> str | None:
    """Why a packet ``st`` itself sends cannot leave by ``out``; None when it can.

    Read where a stack originates a packet (a process of the node, of a
    host-network or ``no-netns`` pod, or an answer), never for forwarded ones.
    """
    if st.os is OS.WINDOWS and out.vxlan is not None and not WINDOWS_HOST_VIA_OVERLAY:
        return (
            f"a Windows host has no route into the overlay ({out.name}): its remote-subnet "
            "routes serve only endpoints (WINDOWS_HOST_VIA_OVERLAY)"
        )
    return None
