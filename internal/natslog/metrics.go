package natslog

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	publish         prometheus.Histogram
	publishFailures *prometheus.CounterVec
	duplicates      prometheus.Counter
	backlog         prometheus.Gauge
	backlogBytes    prometheus.Gauge
	backlogAge      prometheus.Gauge
	batch           prometheus.Histogram
	written         *prometheus.CounterVec
	writeFailures   prometheus.Counter
	redeliveries    prometheus.Counter
	poison          prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pulsestream_ingest_log_publish_seconds",
			Help:    "Time from the first publish of a request's events to the last JetStream acknowledgement (or the failure).",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		publishFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_ingest_log_publish_failures_total",
			Help: "Requests whose events the ingest log did not take, by reason (unavailable, full: 503, nothing kept; unknown: 503 outcome_unknown).",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_ingest_log_duplicates_total",
			Help: "Events with an external_id in messages JetStream recognised as replays (the same request sent again) within its duplicate window.",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_ingest_log_backlog_messages",
			Help: "Messages (each one ingest request's accepted events, or up to 1000 of them) waiting in the ingest log to be written to the database (consumer lag).",
		}),
		backlogBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_ingest_log_backlog_bytes",
			Help: "Bytes the ingest log's backlog holds (compare with --ingest-log-max-bytes).",
		}),
		backlogAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_ingest_log_backlog_age_seconds",
			Help: "Age of the oldest event waiting in the ingest log (consumer lag in seconds; 0 when empty).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pulsestream_ingest_log_write_batch_events",
			Help:    "Events a writer fetched and wrote at once (from one or more messages).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_ingest_log_written_events_total",
			Help: "Events the writers moved from the log into the database, by outcome (created, duplicate: already stored, conflict).",
		}, []string{"outcome"}),
		writeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_ingest_log_write_failures_total",
			Help: "Writes of one tenant's part of a batch that failed; the events stay in the log and come back.",
		}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_ingest_log_redeliveries_total",
			Help: "Messages delivered to a writer more than once (a failed write, a crash, an acknowledgement lost).",
		}),
		poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_ingest_log_poison_messages_total",
			Help: "Messages in the log that no known format decodes, dropped.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.publish, m.publishFailures, m.duplicates, m.backlog, m.backlogBytes, m.backlogAge,
			m.batch, m.written, m.writeFailures, m.redeliveries, m.poison)
	}
	return m
}
