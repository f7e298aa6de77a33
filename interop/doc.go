// Package interop holds synack's interoperability tests against the Linux
// kernel's own TCP/IP: each test makes a network namespace, a TUN device
// inside it whose kernel side has 198.18.0.1/24 and fd00:5ac::1/64, and a
// synack stack on the device's other side with 198.18.0.2 and fd00:5ac::2.
// Kernel-side programs (curl, nc, python3, Go's net package, tcpdump, ss)
// run in the namespace; every run is captured and checked with tshark.
//
// The tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and /dev/net/tun.
// Without them they skip, unless SYNACK_REQUIRE_NETNS=1 (as in CI), where
// they fail instead. Nothing is done outside the namespaces the tests make,
// and every namespace and process is removed when its test ends.
//
// The package has no code of its own besides this comment; the helpers that
// make namespaces are in interop/netns.
package interop
