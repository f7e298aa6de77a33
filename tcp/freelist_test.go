package tcp

import "testing"

// BenchmarkFreeList_Parallel takes and gives back objects from every P
// at once, as the dialers of a connection-rate test do. (On the 2-CPU
// machine of BENCHMARKS.md, "Busy polling", one lock did 36–47 ns/op and
// four TryLock shards 41–140 ns/op: the list stays on one lock.)
func BenchmarkFreeList_Parallel(b *testing.B) {
	f := &freeList[[64]byte]{max: 1024}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x := f.get()
			if x == nil {
				x = new([64]byte)
			}
			f.put(x)
		}
	})
}
