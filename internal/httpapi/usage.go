package httpapi

import (
	"net/http"
	"time"

	"github.com/pulsestream/pulsestream/internal/ingest"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

const maxUsageIntervals = 24 * 93

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.clock.Now().UTC()
	errs := pulse.CheckQuery(q, []string{"interval", "start_time", "end_time"})
	step := time.Hour
	switch q.Get("interval") {
	case "", "hour":
	case "day":
		step = 24 * time.Hour
	default:
		errs = append(errs, pulse.FieldError{Field: "interval", Message: "must be hour or day", Reason: "interval.invalid"})
	}
	parse := func(name string, def time.Time) time.Time {
		v := q.Get(name)
		if v == "" {
			return def
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, pulse.FieldError{Field: name, Message: "must be an RFC 3339 time", Reason: name + ".invalid"})
		}
		return t.UTC()
	}
	end := parse("end_time", now.Truncate(time.Hour).Add(time.Hour))
	start := parse("start_time", end.Add(-24*time.Hour))
	if len(errs) == 0 && !end.After(start) {
		errs = append(errs, pulse.FieldError{Field: "end_time", Message: "must be after start_time", Reason: "end_time.invalid"})
	}
	if len(errs) == 0 && end.Sub(start)/step > maxUsageIntervals {
		errs = append(errs, pulse.FieldError{Field: "start_time", Message: "the range holds too many intervals (at most 2232)", Reason: "start_time.range"})
	}
	if len(errs) > 0 {
		s.writeError(w, r, pulse.Invalid(errs...))
		return
	}
	t := tenantFrom(r.Context())
	counts, err := s.store.ListUsage(r.Context(), t.ID, start.Truncate(step), end)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	quota, err := s.ingest.Quota(r.Context(), t)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"limit":     t.RateLimitPerMinute,
		"remaining": max(quota.Remaining, 0),
		"interval":  map[time.Duration]string{time.Hour: "hour", 24 * time.Hour: "day"}[step],
		"intervals": ingest.Summarize(counts, start, end, step),
	})
}
