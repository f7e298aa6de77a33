// The comparison program (see main.go): a module of its own so that the
// synack module never depends on gVisor.
module github.com/synack/synack/bench

go 1.26.0

// synack itself, from this checkout.
require github.com/synack/synack v0.0.0

replace github.com/synack/synack => ../

// gVisor's netstack at the Go-buildable branch Tailscale pins.
require gvisor.dev/gvisor v0.0.0-20260224225140-573d5e7127a8

require golang.org/x/sys v0.49.0

require (
	github.com/google/btree v1.1.2 // indirect
	github.com/vishvananda/netlink v1.3.1 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/exp v0.0.0-20231110203233-9a3e6036ecaa // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/time v0.12.0 // indirect
)
