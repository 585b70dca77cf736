package ingest

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	events         *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	rateLimited    prometheus.Counter
	limiterLatency prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_events_total",
			Help: "Events handled by ingestion, by outcome (created, duplicate, conflict, rejected, rate_limited; accepted: into the ingest log, log mode).",
		}, []string{"outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_rejected_events_total",
			Help: "Events rejected by validation, by reason (field.rule).",
		}, []string{"reason"}),
		// No tenant label: /metrics must not list tenants (each tenant
		// sees its own refusals in /api/v1/usage).
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_rate_limited_events_total",
			Help: "Events refused because their tenant's quota was used up (per tenant: /api/v1/usage).",
		}),
		limiterLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pulsestream_rate_limiter_decision_seconds",
			Help:    "Time the rate limiter took to decide.",
			Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1, 0.5},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.rejected, m.rateLimited, m.limiterLatency)
	}
	return m
}
