package subscription

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the subscription manager's Prometheus metrics.
type metrics struct {
	events   prometheus.Counter
	attempts *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "concord_subscription_events_total",
			Help: "Subscription events queued by this node's matcher.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "concord_subscription_notifications_total",
			Help: "Subscription notification attempts by this node, by kind (event, handshake, heartbeat) and outcome (sent, failed).",
		}, []string{"kind", "outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "concord_subscription_latency_seconds",
			Help:    "Time from a resource version's lastUpdated to its rest-hook notification being taken.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60, 600, 3600},
		}),
	}
}

// attempt counts one notification attempt.
func (mt *metrics) attempt(kind string, err error) {
	outcome := "sent"
	if err != nil {
		outcome = "failed"
	}
	mt.attempts.WithLabelValues(kind, outcome).Inc()
}

// Collectors returns the manager's metrics for a Prometheus registry,
// with how far the matcher is behind the change log (read from the store
// when scraped, so it is right whichever node matches).
func (m *Manager) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.metrics.events, m.metrics.attempts, m.metrics.latency, behindCollector{m}}
}

type behindCollector struct{ m *Manager }

var matcherBehind = prometheus.NewDesc("concord_subscription_matcher_behind",
	"Change log entries the subscription matcher has not read yet.", nil, nil)

func (c behindCollector) Describe(ch chan<- *prometheus.Desc) { ch <- matcherBehind }

func (c behindCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	last, err := c.m.opt.Store.LastChange(ctx)
	if err != nil {
		return
	}
	cursor, _, err := c.m.opt.Store.Cursor(ctx, cursorName)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(matcherBehind, prometheus.GaugeValue, float64(max(0, last-cursor)))
}
