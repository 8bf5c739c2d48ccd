package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/auth"
)

// BenchmarkAuditedWrites measures audited small writes: issuing a token,
// which stores the token and its audit record in one durable transaction,
// with 1, 8 and 32 concurrent writers. It reports writes per second.
func BenchmarkAuditedWrites(b *testing.B, newStore func(testing.TB) concord.Store) {
	for _, writers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := newStore(b)
			by := concord.AuditRecord{Actor: "bench", Role: "admin", Address: "local", Node: "bench"}
			req := concord.TokenRequest{Role: concord.RoleIntegration, TTL: time.Hour, Label: "benchmark"}
			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, _, err := auth.Issue(context.Background(), s, req, by, time.Now()); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
			st := s.Stats()
			if st.Commits > 0 {
				b.ReportMetric(float64(st.Writes)/float64(st.Commits), "writes/commit")
			}
		})
	}
}
