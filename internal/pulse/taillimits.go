package pulse

import "fmt"

// The largest live tail overrides a tenant may get.
const (
	MaxTailStreams         = 10_000
	MaxTailEventsPerSecond = 10_000 // as --tail-events-per-second
)

// TailLimits overrides the configured live tail limits (GET
// /api/v1/events/tail) for one tenant; a zero field uses the node's
// default (--tails-per-tenant, --tail-events-per-second). The per-node cap
// is not per tenant and stays a node flag.
type TailLimits struct {
	MaxStreams      int `json:"max_streams"`       // concurrent tails of the tenant on one node
	EventsPerSecond int `json:"events_per_second"` // events sent per second and tail
}

// TailLimitsPatch lists the tail limit overrides that change; nil means
// unchanged, 0 means "use the default".
type TailLimitsPatch struct {
	MaxStreams      *int `json:"max_streams"`
	EventsPerSecond *int `json:"events_per_second"`
}

func (p *TailLimitsPatch) apply(l *TailLimits) {
	if p.MaxStreams != nil {
		l.MaxStreams = *p.MaxStreams
	}
	if p.EventsPerSecond != nil {
		l.EventsPerSecond = *p.EventsPerSecond
	}
}

// With returns l with the non-zero fields of override in place of its own.
func (l TailLimits) With(override TailLimits) TailLimits {
	if override.MaxStreams > 0 {
		l.MaxStreams = override.MaxStreams
	}
	if override.EventsPerSecond > 0 {
		l.EventsPerSecond = override.EventsPerSecond
	}
	return l
}

func (l TailLimits) fieldErrors() []FieldError {
	var errs []FieldError
	check := func(field string, v, hi int) {
		if v < 0 || v > hi {
			errs = append(errs, FieldError{Field: "tail_limits." + field, Message: fmt.Sprintf("must be between 0 (the default) and %d", hi), Reason: "tail_limits.invalid"})
		}
	}
	check("max_streams", l.MaxStreams, MaxTailStreams)
	check("events_per_second", l.EventsPerSecond, MaxTailEventsPerSecond)
	return errs
}
