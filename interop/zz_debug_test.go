//go:build linux

package interop

import (
	"context"
	"io"
	"testing"
	"time"
)

func TestZZDebugSend(t *testing.T) {
	r := newRig(t, rigOptions{noCap: true, offload: true})
	l, _ := r.st.Listen("tcp", hostPort(syn4, 5001))
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kc, err := r.ns.DialContext(ctx, "tcp", hostPort(syn4, 5001))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	sc, _ := l.AcceptContext(ctx)
	defer sc.Close()
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			out, _ := r.run(2*time.Second, "ss", "-tinm", "state", "established")
			t.Logf("%s", out)
			t.Logf("synack %+v", r.st.Stats().SegmentsOut)
			t.Logf("%+v", sc.Info())
		}
	}()
	buf := make([]byte, 1<<20)
	go func() { n, err := io.Copy(io.Discard, kc); t.Logf("read %d %v", n, err) }()
	t0 := time.Now()
	for range 1000 {
		sc.Write(buf)
	}
	t.Logf("%.0f MB/s", 1000/time.Since(t0).Seconds())
	close(stop)
	t.Logf("dev %+v", r.dev.Stats())
}
