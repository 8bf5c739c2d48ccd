package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/concord-health/concord"
)

// metrics are the engine's Prometheus metrics, per channel.
type metrics struct {
	received  *prometheus.CounterVec
	delivered *prometheus.CounterVec
	ackTime   *prometheus.HistogramVec
}

func newMetrics() *metrics {
	return &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_messages_received_total",
			Help: "Messages received, by channel and the status they were stored with.",
		}, []string{"channel", "status"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_delivery_attempts_total",
			Help: "Delivery attempts, by channel, destination and outcome (sent, retry, dead).",
		}, []string{"channel", "destination", "outcome"}),
		ackTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "concord_receive_seconds",
			Help:    "Time from a message's arrival to its acknowledgment (stored and committed), by channel.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}, []string{"channel"}),
	}
}

// Collectors returns the engine's metrics for a Prometheus registry: its
// counters and the depth of every destination's queue, read from the
// store when scraped (so it is right whichever node delivers).
func (e *Engine) Collectors() []prometheus.Collector {
	return []prometheus.Collector{e.metrics.received, e.metrics.delivered, e.metrics.ackTime, queueCollector{e}}
}

type queueCollector struct{ e *Engine }

var queueDepth = prometheus.NewDesc("concord_delivery_queue",
	"Deliveries by channel, destination and status (queued, sent, dead).", []string{"channel", "destination", "status"}, nil)

func (q queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDepth }

func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := q.e.opt.Store.DeliveryCounts(ctx)
	if err != nil {
		q.e.opt.Logger.Warn("metrics: delivery counts", "err", err)
		return
	}
	for channel, dests := range counts {
		for dest, st := range dests {
			for _, status := range []string{concord.DeliveryQueued, concord.DeliverySent, concord.DeliveryDead} {
				ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(st[status]), channel, dest, status)
			}
		}
	}
}
