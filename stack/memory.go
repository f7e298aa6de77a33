package stack

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"

	"github.com/synack/synack/tcp"
)

// MemoryOptions bound the memory the stack's TCP buffers hold, as Linux's
// net.ipv4.tcp_mem does (see tcp.Memory): past Pressure the stack is
// under memory pressure until the total falls below Low — buffers stop
// auto-tuning and the windows offered shrink to a minimal window of four
// segments — and past High a buffer's storage does not grow beyond that
// minimal window. The zero value takes the defaults: High an eighth of
// the machine's physical memory (1 GiB when it cannot be read),
// Pressure two thirds of High, Low half of High. A negative High means
// no bound (the memory is still counted).
type MemoryOptions struct {
	Low, Pressure, High int64 // bytes
}

// defaultMemoryHigh is High when the physical memory cannot be read.
const defaultMemoryHigh = 1 << 30

// withDefaults fills in the thresholds.
func (o MemoryOptions) withDefaults() MemoryOptions {
	switch {
	case o.High < 0:
		return MemoryOptions{}
	case o.High == 0:
		o.High = physicalMemory() / 8
		if o.High <= 0 {
			o.High = defaultMemoryHigh
		}
	}
	if o.Pressure <= 0 || o.Pressure > o.High {
		o.Pressure = o.High / 3 * 2
	}
	if o.Low <= 0 || o.Low > o.Pressure {
		o.Low = min(o.High/2, o.Pressure)
	}
	return o
}

var physMem = sync.OnceValue(readMemTotal)

// physicalMemory is the machine's memory in bytes, or 0 if unknown.
func physicalMemory() int64 { return physMem() }

// readMemTotal reads MemTotal from /proc/meminfo.
func readMemTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return parseMemTotal(b)
}

// parseMemTotal finds "MemTotal: N kB" in the text of /proc/meminfo.
func parseMemTotal(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 3 && string(f[0]) == "MemTotal:" && string(f[2]) == "kB" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil || kb <= 0 {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// newMemory makes the stack's buffer memory account.
func newMemory(o MemoryOptions) *tcp.Memory {
	o = o.withDefaults()
	return &tcp.Memory{Low: o.Low, Pressure: o.Pressure, High: o.High}
}

// memoryStats fills the memory block of Stats.
func (s *Stack) memoryStats(st *Stats) {
	m := s.mem.Stats()
	st.BufferBytes, st.BufferBytesPeak = m.InUse, m.Peak
	st.MemoryPressureEvents, st.BufferGrowthRefused, st.MemoryDrops = m.PressureEvents, m.GrowthRefused, m.Dropped
	st.TimeWaitRecords = uint64(max(s.ctr.timeWait.Load(), 0))
}
