package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts a client's X-Request-ID only if it is short and
// harmless to echo and log.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	// mayBeKept: the answer was a refusal whose outcome is unknown
	// (EUNKNOWN): the request may have been stored.
	mayBeKept bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// shed counts requests refused by the in-flight cap; auditFailures
	// audit entries that could not be written.
	shed          prometheus.Counter
	auditFailures prometheus.Counter
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pulsestream_http_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pulsestream_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	m.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pulsestream_http_requests_shed_total",
		Help: "Requests answered 503 because the node was at --max-in-flight.",
	})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pulsestream_audit_write_failures_total",
		Help: "Audit log entries that could not be written (the change itself happened).",
	})
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.inflight, m.shed, m.auditFailures)
	}
	return m
}

// loggedPath is the path as logged: an invitation link's token
// (/invite/<token>, a secret) is left out.
func loggedPath(p string) string {
	if strings.HasPrefix(p, "/invite/") {
		return "/invite/…"
	}
	return p
}

// hsts is the Strict-Transport-Security sent on every TLS response: one
// year, this host only (subdomains may be other services).
const hsts = "max-age=31536000"

// observe is the outermost middleware: request id, security headers, panic
// recovery, one log line and metrics per request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		h := w.Header()
		h.Set("X-Request-ID", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil { // served over TLS by this node: browsers must never fall back to plain HTTP
			h.Set("Strict-Transport-Security", hsts)
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxRequestID, id))
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.Error("panic in handler", "panic", p, "request_id", id)
				if sw.status == 0 {
					s.writeError(sw, r, errPanic)
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(route, r.Method).Observe(d.Seconds())
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			s.logger.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
				slog.String("path", loggedPath(r.URL.Path)), slog.Int("status", status), slog.Int("bytes", sw.bytes),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("remote", s.clientIP(r)))
		}()
		next.ServeHTTP(sw, r)
	})
}
