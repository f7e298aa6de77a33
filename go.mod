module github.com/synack/synack

go 1.26.0

require golang.org/x/net v0.62.0

// TUN devices and network namespaces (link/tun, interop/netns): x/sys for
// the TUNSETIFF ioctl; vishvananda/netlink and netns, the rtnetlink and
// setns libraries Docker, Kubernetes CNI plugins and Cilium use, to give a
// TUN's kernel side its addresses and MTU and bring it up without shelling
// out to "ip", and to enter namespaces. Both are small, pure Go and depend
// only on x/sys.
require (
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.49.0
)
