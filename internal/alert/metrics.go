package alert

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the alerting metrics, shared by the Evaluator and the Deliverer.
type Metrics struct {
	evaluations *prometheus.CounterVec
	tickSeconds prometheus.Histogram
	lag         prometheus.Gauge
	alerts      *prometheus.GaugeVec
	attempts    *prometheus.CounterVec
	queueDepth  prometheus.Gauge
	deferred    *prometheus.CounterVec

	groupsDropped *prometheus.CounterVec
	groups        prometheus.Gauge
}

// DroppedMaxGroups is the reason label of an event not counted because its
// group would have exceeded the rule's max_groups_per_rule.
const DroppedMaxGroups = "max_groups_per_rule"

// DeferredTenantConcurrency is the reason label of a delivery put off
// because its tenant had its share of deliveries in flight.
const DeferredTenantConcurrency = "tenant_concurrency"

// NewMetrics registers the alerting metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_alert_rule_evaluations_total",
			Help: "Rule evaluations, by result (ok, or error when the tick failed).",
		}, []string{"result"}),
		tickSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pulsestream_alert_evaluation_duration_seconds",
			Help:    "Time one evaluation tick takes (read new events, match, evaluate, write transitions).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_alert_evaluation_lag_seconds",
			Help: "Time from the newest evaluated event's receipt to the end of the tick that evaluated it.",
		}),
		alerts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pulsestream_alerts",
			Help: "Alerts known to the evaluator on this node, by state (firing, pending).",
		}, []string{"state"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_notification_attempts_total",
			Help: "Webhook delivery attempts, by outcome (delivered, retry, failed).",
		}, []string{"outcome"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_notification_queue_depth",
			Help: "Notifications waiting to be delivered (pending), as seen by the evaluating node.",
		}),
		deferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_notification_deferred_total",
			Help: "Deliveries put off without an attempt, by reason (tenant_concurrency: the tenant had its share of deliveries in flight on this node).",
		}, []string{"reason"}),
		groupsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_alert_groups_dropped_total",
			Help: "Matching events not counted because they opened a new group beyond a limit, by reason (max_groups_per_rule).",
		}, []string{"reason"}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_alert_groups",
			Help: "Groups (series) the evaluator on this node holds, all rules together (bounded by rules × max_groups_per_rule).",
		}),
	}
	m.deferred.WithLabelValues(DeferredTenantConcurrency) // present at 0 before the first
	m.groupsDropped.WithLabelValues(DroppedMaxGroups)
	if reg != nil {
		reg.MustRegister(m.evaluations, m.tickSeconds, m.lag, m.alerts, m.attempts, m.queueDepth, m.deferred, m.groupsDropped, m.groups)
	}
	return m
}
