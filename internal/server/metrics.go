package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/concord-health/concord"
)

// metrics is the server's Prometheus registry: Go runtime and process
// metrics, HTTP requests by route, method and status with latency
// histograms, and the store's pools and commits.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(store concord.Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "concord_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "concord_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route pattern and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency,
	)
	if store != nil {
		m.reg.MustRegister(storeCollector{store})
	}
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// storeCollector reads the store's pool and commit counters at scrape time.
type storeCollector struct{ s concord.Store }

var (
	storeConns = prometheus.NewDesc("concord_store_connections",
		"Store connections by state (open, in_use, idle, max).", []string{"kind", "state"}, nil)
	storeWaits = prometheus.NewDesc("concord_store_wait_total",
		"Times a caller waited for a store connection.", []string{"kind"}, nil)
	storeWaitSeconds = prometheus.NewDesc("concord_store_wait_seconds_total",
		"Time spent waiting for store connections.", []string{"kind"}, nil)
	storeCommits = prometheus.NewDesc("concord_store_commits_total",
		"Physical write transactions committed (one commit serves a group of writes).", []string{"kind"}, nil)
	storeWrites = prometheus.NewDesc("concord_store_writes_total",
		"Logical write transactions committed.", []string{"kind"}, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeConns
	ch <- storeWaits
	ch <- storeWaitSeconds
	ch <- storeCommits
	ch <- storeWrites
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	k := c.s.Kind()
	for state, v := range map[string]int{"open": st.Open, "in_use": st.InUse, "idle": st.Idle, "max": st.MaxOpen} {
		ch <- prometheus.MustNewConstMetric(storeConns, prometheus.GaugeValue, float64(v), k, state)
	}
	ch <- prometheus.MustNewConstMetric(storeWaits, prometheus.CounterValue, float64(st.WaitCount), k)
	ch <- prometheus.MustNewConstMetric(storeWaitSeconds, prometheus.CounterValue, st.WaitDuration.Seconds(), k)
	ch <- prometheus.MustNewConstMetric(storeCommits, prometheus.CounterValue, float64(st.Commits), k)
	ch <- prometheus.MustNewConstMetric(storeWrites, prometheus.CounterValue, float64(st.Writes), k)
}
