package subscription

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkRestHookLatency measures the time from a write through /fhir
// to its rest-hook notification arriving (full-resource, a matching
// Observation, one write at a time), wired as concord serve wires it (a
// write wakes the matcher). It reports the p50 and p99 latency; ns/op is
// the same round trip. CONCORD_TEST_POSTGRES adds the PostgreSQL case.
func BenchmarkRestHookLatency(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			n := startNode(b, openStore(b, backend), Options{Poll: -1})
			rcv := newReceiver(b)
			n.create(n.admin, "Subscription", subscription("Observation?code=http://loinc.org|1234-5", rcv.URL, "application/fhir+json"))
			body := observation("1234-5")
			measureLatency(b, rcv, func() { n.create(n.admin, "Observation", body) })
		})
	}
}

// BenchmarkClientTopicLatency is BenchmarkRestHookLatency for a
// topic-based subscription on a topic defined by a client (a Basic
// resource: an Encounter trigger with queryCriteria.current and a
// fhirPathCriteria on %previous and %current): each write of a finished
// Encounter to its notification Bundle arriving.
func BenchmarkClientTopicLatency(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			n := startNode(b, openStore(b, backend), Options{Poll: -1})
			rcv := newReceiver(b)
			const url = "http://example.org/fhir/SubscriptionTopic/bench"
			n.create(n.admin, "Basic", topicBasic(url, "1", "active", [][]any{encounterTrigger([]string{"create", "update"}, "status=finished",
				"(%previous.id.empty() or (%previous.status != 'finished')) and (%current.status = 'finished')")}, "subject"))
			id := n.create(n.admin, "Subscription", topicSubscription(rcv.URL, url, "subject=Patient/p1"))
			select {
			case <-rcv.hits: // the handshake
			case <-time.After(30 * time.Second):
				b.Fatal("no handshake within 30 s")
			}
			for deadline := time.Now().Add(30 * time.Second); n.read("Subscription/" + id)["status"] != "active"; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatal("the subscription not active within 30 s")
				}
			}
			body := encounter("", "p1", "finished")
			measureLatency(b, rcv, func() { n.create(n.admin, "Encounter", body) })
		})
	}
}

// measureLatency runs write b.N times, each time waiting for its
// notification at rcv, and reports the p50 and p99 of write to arrival.
func measureLatency(b *testing.B, rcv *receiver, write func()) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		write()
		select {
		case <-rcv.hits:
		case <-time.After(30 * time.Second):
			b.Fatal("no notification within 30 s")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
