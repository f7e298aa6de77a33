package wgnet

import (
	"context"
)

// LookupHost resolves host through the tunnel's DNS servers (the stack's
// stack.Resolver: A and AAAA queries over its own UDP; a truncated answer
// is not retried over TCP) and returns its addresses. A literal address is
// returned as it is.
func (n *Net) LookupHost(host string) ([]string, error) {
	return n.LookupContextHost(context.Background(), host)
}

// LookupContextHost is LookupHost with a context.
func (n *Net) LookupContextHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := n.stk.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out, nil
}
