package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
	"github.com/concord-health/concord/mllp"
)

// benchMessage is a synthetic ORU of about 1 KB with a unique control ID.
func benchMessage(conn, i int) []byte {
	return []byte(fmt.Sprintf("MSH|^~\\&|LAB|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|B%d-%d|P|2.5.1\r"+
		"PID|1||MRN-%d^^^North^MR||Synthetic^Patient^Q||19800101|F|||1 Main St^^Springfield^IL^62701\r"+
		"PV1|1|O|CLINIC^1^1\r"+
		"ORC|RE|ORD-%d|FIL-%d\r"+
		"OBR|1|ORD-%d|FIL-%d|24331-1^Lipid panel^LN|||20260102030405\r"+
		"OBX|1|NM|2093-3^Cholesterol [Mass/volume] in Serum or Plasma^LN||182|mg/dL^mg/dL^UCUM|<200|N|||F\r"+
		"OBX|2|NM|2571-8^Triglyceride [Mass/volume] in Serum or Plasma^LN||90|mg/dL^mg/dL^UCUM|<150|N|||F\r"+
		"OBX|3|NM|2085-9^HDL Cholesterol [Mass/volume] in Serum or Plasma^LN||62|mg/dL^mg/dL^UCUM|>40|N|||F\r"+
		"OBX|4|NM|13457-7^LDL Cholesterol calc [Mass/volume]^LN||102|mg/dL^mg/dL^UCUM|<130|N|||F\r"+
		"NTE|1||Synthetic benchmark message; no real patient.\r", conn, i, i%1000, i, i, i, i))
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
	b.ResetTimer()
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &mllp.Client{Addr: ln.Addr().String()}
			defer cl.Close()
			var mine []time.Duration
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					break
				}
				t0 := time.Now()
				ack, err := cl.Send(context.Background(), benchMessage(c, int(i)))
				if err != nil {
					failed.Store(err)
					return
				}
				if !mllp.MatchControlID(benchMessage(c, int(i)), ack) || string(ack[len(ack)-len("MSA|AA|")-len(fmt.Sprintf("B%d-%d\r", c, i)):][:7]) != "MSA|AA|" {
					failed.Store(fmt.Errorf("not AA: %q", ack))
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
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
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
