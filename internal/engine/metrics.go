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
	return []prometheus.Collector{e.metrics.received, e.metrics.delivered, e.metrics.ackTime, queueCollector{e}, changesCollector{e}}
}

// changesCollector reports how far each changes source is behind the
// change log, read from the store when scraped.
type changesCollector struct{ e *Engine }

var changesBehind = prometheus.NewDesc("concord_changes_behind",
	"Change log entries a channel's changes source has not read yet, by channel.", []string{"channel"}, nil)

func (c changesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- changesBehind }

func (c changesCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var last int64
	for _, channel := range c.e.channels() {
		if channel.Changes == nil {
			continue
		}
		st := c.e.opt.Store
		if last == 0 {
			var err error
			if last, err = st.LastChange(ctx); err != nil {
				c.e.opt.Logger.Warn("metrics: change log", "err", err)
				return
			}
		}
		pos, found, err := st.Cursor(ctx, channel.Name)
		if err != nil {
			c.e.opt.Logger.Warn("metrics: change cursor", "channel", channel.Name, "err", err)
			continue
		}
		if !found && !channel.Changes.FromBeginning {
			pos = last // starts at the end
		}
		ch <- prometheus.MustNewConstMetric(changesBehind, prometheus.GaugeValue, float64(max(last-pos, 0)), channel.Name)
	}
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
