//go:build !linux

// Package tun attaches a synack stack to a TUN device. Only Linux is
// supported; elsewhere Open fails with errors.ErrUnsupported.
package tun

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/synack/synack/link"
)

// Path is the clone device every TUN is opened through (on Linux).
const Path = "/dev/net/tun"

// DefaultMTU is the MTU of a new device.
const DefaultMTU = 1500

// Options says which device to open; see the Linux documentation.
type Options struct {
	Name           string
	NetNS          string
	MTU            int
	Addrs          []netip.Prefix
	Up             bool
	Routes         []netip.Prefix
	DisableOffload bool
}

// Device is an open TUN device.
type Device struct{}

var (
	_ link.Link        = (*Device)(nil)
	_ link.BatchWriter = (*Device)(nil)
)

// Open fails: TUN devices are supported on Linux only.
func Open(Options) (*Device, error) {
	return nil, fmt.Errorf("tun: %w on this system", errors.ErrUnsupported)
}

// Name returns the interface name.
func (d *Device) Name() string { return "" }

// MTU implements link.Link.
func (d *Device) MTU() int { return 0 }

// WritePacket implements link.Link.
func (d *Device) WritePacket([]byte) error { return errors.ErrUnsupported }

// WritePackets implements link.BatchWriter.
func (d *Device) WritePackets([][]byte) (int, error) { return 0, errors.ErrUnsupported }

// Offloads returns the offloads the device uses: none.
func (d *Device) Offloads() Offloads { return 0 }

// Attach implements link.Link.
func (d *Device) Attach(link.Receiver) {}

// Close implements link.Link.
func (d *Device) Close() error { return errors.ErrUnsupported }

// Stats are a device's packet counters.
type Stats struct {
	RxPackets, TxPackets, RxErrors uint64
	RxSuper, RxSplit, TxSuper      uint64
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats { return Stats{} }

// PartialChecksums implements link.PartialWriter: false.
func (d *Device) PartialChecksums() bool { return false }

// MaxSuperSegment implements link.SuperSegmenter: 0.
func (d *Device) MaxSuperSegment() int { return 0 }

// WritePacketsPartial implements link.PartialWriter: unsupported.
func (d *Device) WritePacketsPartial([][]byte, []int) (int, error) { return 0, errors.ErrUnsupported }
