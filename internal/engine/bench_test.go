package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
	"github.com/concord-health/concord/internal/synthetic"
	"github.com/concord-health/concord/mllp"
)

// appendBenchMessage appends a synthetic ORU of about 1 KB with a unique
// control ID (B<conn>-<i>), without fmt, so that the load generator,
// which shares the cores with the engine, stays cheap.
func appendBenchMessage(b []byte, conn, i int) []byte {
	return synthetic.AppendORU(b, "LAB", "B", conn, i)
}

// benchIngest runs an MLLP listener on the default channel over store and
// sends b.N messages over conns connections, each waiting for its
// acknowledgment (sent after commit) before the next.
func benchIngest(b *testing.B, store concord.Store, conns int) {
	eng := New(Options{Store: store, Node: "bench", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &mllp.Server{Handler: eng.MLLPHandler(DefaultChannel)}
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	defer func() { cancel(); <-done }()

	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Value
	var wg sync.WaitGroup
	st0, cpu0 := store.Stats(), cpuTime()
	b.ResetTimer()
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A plain connection, not mllp.Client: the generator shares the
			// cores with the engine, so it does only what a sender must do
			// (send one frame, wait for its acknowledgment, check it is AA
			// for this control ID), reusing its buffers.
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				failed.Store(err)
				return
			}
			defer nc.Close()
			r := mllp.NewReader(nc, 0)
			var frame, want []byte
			var mine []time.Duration
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					break
				}
				frame = appendBenchMessage(append(frame[:0], mllp.StartBlock), c, int(i))
				frame = append(frame, mllp.EndBlock, mllp.CarriageReturn)
				want = append(strconv.AppendInt(append(strconv.AppendInt(append(want[:0], "MSA|AA|B"...), int64(c), 10), '-'), i, 10), '\r')
				t0 := time.Now()
				if _, err := nc.Write(frame); err != nil {
					failed.Store(err)
					return
				}
				ack, err := r.ReadFrame()
				if err != nil {
					failed.Store(err)
					return
				}
				if !bytes.HasSuffix(ack, want) { // the MSA segment, last: AA and this control ID
					failed.Store(fmt.Errorf("not AA for B%d-%d: %q", c, i, ack))
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/msg")
	if st := store.Stats(); st.Commits > st0.Commits {
		b.ReportMetric(float64(st.Writes-st0.Writes)/float64(st.Commits-st0.Commits), "writes/commit")
	}
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// cpuTime returns the CPU time (user and system) used by this process so
// far: engine, store and load generator together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngestSQLite measures durable MLLP ingest (ACK after commit)
// on the embedded store with 1, 8 and 32 connections.
func BenchmarkIngestSQLite(b *testing.B) {
	for _, conns := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			benchIngest(b, st, conns)
		})
	}
}

// BenchmarkIngestPostgres is the same on PostgreSQL (CONCORD_TEST_POSTGRES).
func BenchmarkIngestPostgres(b *testing.B) {
	for _, conns := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			st, err := postgres.Open(context.Background(), storetest.PostgresURL(b), postgres.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			benchIngest(b, st, conns)
		})
	}
}
