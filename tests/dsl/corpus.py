"""The example blocks of /work/shared/LANGUAGE.md (the contract), copied verbatim."""

PRIMITIVES = """\
segment lan 10.127.130.0/24 gateway 10.127.130.1   # an L2 LAN between nodes (underlay)
external web 198.51.100.0/24 via lan               # hosts beyond lan's gateway
external internet 0.0.0.0/0 via lan

node lin1 linux {
    nic eth0 ip 10.127.130.37/24 mac 52:54:00:00:00:37 on lan
    bridge cni0 linux ip 10.244.1.1/24             # Linux bridge; ip = the host's address on it
    pod web ip 10.244.1.5/24 on cni0 namespace shop labels app=web {
        route 0.0.0.0/0 via 10.244.1.1             # pod routes (default: via the bridge's ip)
    }
    pod agent host-network namespace kube-system   # shares the node's stack and addresses
    route 10.244.3.0/24 via 10.127.130.38 dev eth0
    route 0.0.0.0/0 via 10.127.130.1 dev eth0
    masquerade from 10.244.1.0/24 except 10.244.0.0/16, 224.0.0.0/4
    forwarding on                                  # default: on for nodes, off for pods
}

node win1 windows {
    nic eth0 ip 10.127.130.38/24 mac 00:15:5d:01:00:38 on lan
    bridge cbr0 l2bridge ip 10.244.3.2/24 uplink eth0   # HNS L2Bridge; host endpoint .2
    pod iis ip 10.244.3.4/24 mac 00:15:5d:aa:03:04 on cbr0 namespace shop
    pod legacy ip 10.244.3.5/24 on cbr0 no-netns  # endpoint, but no private stack
    outbound-nat cbr0 except 10.244.0.0/16, 10.96.0.0/12, 10.127.130.0/24
    route-to-host cbr0 10.96.0.0/12                # HNS ROUTE policy with NeedEncap
    route 10.244.1.0/24 via 10.127.130.37 dev eth0
    route 0.0.0.0/0 via 10.127.130.1 dev eth0
}
"""

PROFILES = """\
cluster demo {
    pod-cidr 10.244.0.0/16
    service-cidr 10.96.0.0/12
    cni flannel host-gw          # flannel on Linux = bridge + host-gw routes; on Windows = win-bridge
}
segment lan 10.127.130.0/24 gateway 10.127.130.1
node lin1 linux ip 10.127.130.37 on lan subnet 10.244.1.0/24 {
    pod web ip 10.244.1.5 namespace shop labels app=web
}
node win1 windows ip 10.127.130.38 on lan subnet 10.244.3.0/24 {
    pod iis ip 10.244.3.4 namespace shop
}
"""

POLICIES = """\
policy web-ingress namespace shop {
    select app=web                      # empty select = every pod of the namespace
    ingress from pods app=api tcp 8080
    ingress from namespace monitoring
    egress to cidr 0.0.0.0/0 except 10.0.0.0/8
}
"""

CHECKS = """\
check same-node-l2:   reach win1/iis -> win1/legacy via mac without nat
check cross-node:     reach win1/iis -> lin1/web tcp port 80
check no-mac-across:  no reach win1/iis -> lin1/web via mac
check egress-nat:     nat win1/iis -> external web as 10.127.130.38
check tenants:        isolated namespace shop <-> namespace dev
check stacks:         netns-isolation on win1
"""
