package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// loadStats is the outcome of a closed-loop load: clients each sending
// one request at a time for a fixed duration.
type loadStats struct {
	name      string
	clients   int
	ok        int
	errors    int
	firstErr  string
	elapsed   time.Duration
	lat       latencies // sorted
	srvCores  float64
	loadCores float64
}

// op is one request of a load: worker w's i-th. It returns an error when
// the answer is wrong (which counts as an error, not as a sample).
type op func(ctx context.Context, w, i int) error

// runLoad runs clients workers calling do in a loop: first for warmup
// (not counted), then for duration.
func runLoad(ctx context.Context, c *client, name string, clients int, warmup, duration time.Duration, do op) *loadStats {
	st := &loadStats{name: name, clients: clients}
	var measuring atomic.Bool
	var stop atomic.Bool
	per := make([]latencies, clients)
	oks := make([]int, clients)
	errs := make([]int, clients)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				m := measuring.Load()
				t0 := time.Now()
				err := do(ctx, w, i)
				d := time.Since(t0)
				if !m || !measuring.Load() {
					// Started or finished outside the measured window.
					continue
				}
				if err != nil {
					if errors.Is(err, context.Canceled) {
						return
					}
					errs[w]++
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				oks[w]++
				per[w] = append(per[w], d)
			}
		}()
	}
	sleep(ctx, warmup)
	measuring.Store(true)
	cpu := startCPU(c.pid)
	t0 := time.Now()
	sleep(ctx, duration)
	measuring.Store(false)
	st.elapsed = time.Since(t0)
	st.srvCores, st.loadCores = cpu.cores()
	stop.Store(true)
	wg.Wait()
	for w := range clients {
		st.ok += oks[w]
		st.errors += errs[w]
	}
	if s, ok := firstErr.Load().(string); ok {
		st.firstErr = s
	}
	st.lat = merge(per)
	return st
}

// rate returns correct answers per second.
func (s *loadStats) rate() float64 { return float64(s.ok) / s.elapsed.Seconds() }

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
