// Command mllpload is a load generator for MLLP receivers: it sends
// synthetic ORU^R01 messages (about 1 KB, no real patient) over several
// connections, each waiting for its acknowledgment before the next, at
// an optional fixed total rate, and reports throughput and acknowledgment
// latency every interval and at the end. Every acknowledgment must be AA
// (or CA) for the message's control ID; anything else is counted as an
// error and reported.
//
//	go run ./bench/mllpload --to 127.0.0.1:2575 --conns 8 --rate 1000 --duration 10m
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/synthetic"
	"github.com/concord-health/concord/mllp"
)

func main() {
	to := flag.String("to", "127.0.0.1:2575", "receiver host:port")
	conns := flag.Int("conns", 8, "connections")
	rate := flag.Float64("rate", 0, "total messages per second (0: as fast as acknowledgments come)")
	duration := flag.Duration("duration", 30*time.Second, "how long to send")
	every := flag.Duration("every", 10*time.Second, "report interval")
	prefix := flag.String("prefix", fmt.Sprintf("L%d", time.Now().Unix()), "control ID prefix (unique per run)")
	results := flag.Int("results", 0, "send an ORU^R01 with this many OBX results (a new order each); 0: the 1 KB four-result ORU")
	flag.Parse()

	var sent, errs atomic.Int64
	var mu sync.Mutex
	var window, all []time.Duration
	var lastErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	// Pacing: message n (counted over all connections) is due at
	// start + n/rate; a connection that falls behind sends at once, so
	// the average rate holds unless the receiver cannot keep up.
	var issued atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &mllp.Client{Addr: *to, AckTimeout: 30 * time.Second}
			defer cl.Close()
			for i := 0; ; i++ {
				if *rate > 0 {
					due := start.Add(time.Duration(float64(issued.Add(1)) / *rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
				}
				if ctx.Err() != nil {
					return
				}
				msg := message(*prefix, c, i, *results)
				t0 := time.Now()
				ack, err := cl.Send(context.Background(), msg)
				d := time.Since(t0)
				if err == nil {
					if code := ackCode(ack); code != "AA" && code != "CA" {
						err = fmt.Errorf("answer %s: %q", code, ack)
					}
				}
				if err != nil {
					errs.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				sent.Add(1)
				mu.Lock()
				window = append(window, d)
				mu.Unlock()
			}
		}()
	}
	report := time.NewTicker(*every)
	defer report.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	prev, prevAt := int64(0), start
	for {
		select {
		case <-report.C:
			mu.Lock()
			w := window
			window = nil
			all = append(all, w...)
			mu.Unlock()
			n, now := sent.Load(), time.Now()
			p50, p99 := percentiles(w)
			fmt.Printf("t=%4.0fs sent=%d rate=%.0f/s p50=%.2fms p99=%.2fms errors=%d\n", now.Sub(start).Seconds(), n,
				float64(n-prev)/now.Sub(prevAt).Seconds(), ms(p50), ms(p99), errs.Load())
			prev, prevAt = n, now
		case <-done:
			mu.Lock()
			all = append(all, window...)
			mu.Unlock()
			el := time.Since(start)
			p50, p99 := percentiles(all)
			fmt.Printf("total: sent=%d in %.1fs = %.0f msg/s, ack p50=%.2fms p99=%.2fms max=%.2fms errors=%d\n",
				sent.Load(), el.Seconds(), float64(sent.Load())/el.Seconds(), ms(p50), ms(p99), ms(maxOf(all)), errs.Load())
			if errs.Load() > 0 {
				fmt.Fprintf(os.Stderr, "last error: %v\n", lastErr.Load())
				os.Exit(1)
			}
			return
		}
	}
}

// message is a synthetic ORU with a unique control ID: about 1 KB with
// four results, or with the given number of results.
func message(prefix string, conn, i, results int) []byte {
	if results > 0 {
		return synthetic.AppendORUResults(nil, "LOAD", prefix+"-", conn, i, results)
	}
	return synthetic.AppendORU(nil, "LOAD", prefix+"-", conn, i)
}

func ackCode(ack []byte) string {
	m, err := hl7v2.Parse(ack)
	if err != nil {
		return "unparseable"
	}
	return m.Get("MSA-1")
}

func percentiles(d []time.Duration) (time.Duration, time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100]
}

func maxOf(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
