package wgnet_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/netip"

	"github.com/synack/synack/wgnet"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// A WireGuard client with no TUN device and no root: wireguard-go encrypts,
// synack is the network stack, and net/http fetches a page through the
// tunnel. With wireguard-go's own tun/netstack the program is the same
// but for the import and the CreateNetTUN call.
func ExampleCreateNetTUN() {
	tdev, tnet, err := wgnet.CreateNetTUN(
		[]netip.Addr{netip.MustParseAddr("198.18.20.2")}, // our address in the tunnel
		[]netip.Addr{netip.MustParseAddr("198.18.20.1")}, // DNS server, through the tunnel
		1420)
	if err != nil {
		log.Fatal(err)
	}
	dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelError, ""))
	err = dev.IpcSet(`private_key=087ec6e14bbed210e7215cdc73468dfa23f080a1bfb8665b2fd809bd99d28379
public_key=c4c8e984c5322c8184c72265b92b250fdb63688705f504ba003c88f03393cf28
allowed_ip=0.0.0.0/0
endpoint=127.0.0.1:51820
`)
	if err != nil {
		log.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		log.Fatal(err)
	}
	client := http.Client{Transport: &http.Transport{DialContext: tnet.DialContext}}
	resp, err := client.Get("http://198.18.20.1/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, len(body), "bytes")
}
