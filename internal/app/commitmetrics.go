package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// commitMetrics is the pulse.CommitObserver given to the store: group
// commit sizes, latency and back-pressure as Prometheus metrics.
type commitMetrics struct {
	events, requests, seconds prometheus.Histogram
	failed, full              prometheus.Counter
}

func newCommitMetrics(reg prometheus.Registerer) *commitMetrics {
	sizes := []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}
	m := &commitMetrics{
		events: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pulsestream_commit_group_events", Buckets: sizes,
			Help: "Events per group commit (new and duplicate alike; failed groups included).",
		}),
		requests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pulsestream_commit_group_requests", Buckets: sizes,
			Help: "Ingest requests merged into one group commit.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pulsestream_commit_seconds",
			Help:    "Time to store one group: every transaction attempt, to COMMIT or the failure.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10},
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_commit_failures_total",
			Help: "Group-commit transactions that failed (every request of the group got the error).",
		}),
		full: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_commit_queue_full_total",
			Help: "Ingest requests refused with 503 because the commit queue was full.",
		}),
	}
	reg.MustRegister(m.events, m.requests, m.seconds, m.failed, m.full)
	return m
}

func (m *commitMetrics) GroupCommitted(g pulse.GroupCommit) {
	m.events.Observe(float64(g.Events))
	m.requests.Observe(float64(g.Requests))
	m.seconds.Observe(g.Duration.Seconds())
	if g.Failed {
		m.failed.Inc()
	}
}

func (m *commitMetrics) QueueFull() { m.full.Inc() }

// registerQueueGauge exports the store's commit queue length, read when
// scraped (a value sampled at commit time would stay stale for as long as
// a slow commit lasts — exactly when an operator looks at it).
func registerQueueGauge(reg prometheus.Registerer, store pulse.Store) {
	q, ok := store.(pulse.CommitQueue)
	if !ok {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pulsestream_commit_queue_waiting",
		Help: "Ingest requests waiting for the group committer now.",
	}, func() float64 { return float64(q.QueuedInserts()) }))
}
