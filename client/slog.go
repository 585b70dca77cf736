package client

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// SlogOptions configures NewSlogHandler.
type SlogOptions struct {
	// Level is the least level sent (default slog.LevelInfo).
	Level slog.Leveler
	// EventType of the events (default "log"); an attribute "event_type"
	// overrides it per record.
	EventType string
}

// NewSlogHandler returns a slog.Handler that sends each record as an event
// through c:
//
//	slog.SetDefault(slog.New(client.NewSlogHandler(c, nil)))
//
// The mapping:
//   - level → severity: below Info debug, below Warn info, below Error
//     warning, below Error+4 error, from Error+4 critical;
//   - message → message, record time → timestamp;
//   - top-level attributes "service", "event_type", "endpoint", "user_id",
//     "external_id" (strings) and "status_code" (an integer 100–599) → those
//     fields;
//   - other string attributes → tags while the server's tag limits allow
//     (50 tags, key ≤ 64 characters without ':', value ≤ 256 characters);
//   - everything else → payload. Groups prefix keys with "group.".
//
// Handle calls Send with the record's context, so with the default
// (blocking) buffer policy a log call waits while the buffer is full; use
// WithDropWhenFull to never wait.
func NewSlogHandler(c *Client, opts *SlogOptions) slog.Handler {
	h := &slogHandler{c: c, eventType: "log", level: slog.LevelInfo}
	if opts != nil {
		if opts.Level != nil {
			h.level = opts.Level
		}
		if opts.EventType != "" {
			h.eventType = opts.EventType
		}
	}
	return h
}

type slogHandler struct {
	c         *Client
	level     slog.Leveler
	eventType string
	prefix    string        // open groups, "a.b."
	attrs     []groupedAttr // from WithAttrs
}

type groupedAttr struct {
	prefix string // the groups open when the attribute was added
	attr   slog.Attr
}

func (h *slogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *slogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = make([]groupedAttr, 0, len(h.attrs)+len(as))
	n.attrs = append(n.attrs, h.attrs...)
	for _, a := range as {
		n.attrs = append(n.attrs, groupedAttr{prefix: h.prefix, attr: a})
	}
	return &n
}

func (h *slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix += name + "."
	return &n
}

func (h *slogHandler) Handle(ctx context.Context, r slog.Record) error {
	ev := Event{EventType: h.eventType, Severity: severityOf(r.Level), Message: r.Message, Timestamp: r.Time}
	payload := map[string]any{}
	for _, ga := range h.attrs {
		addAttr(&ev, payload, ga.prefix, ga.attr)
	}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(&ev, payload, h.prefix, a)
		return true
	})
	if len(payload) > 0 {
		ev.Payload = payload
	}
	return h.c.Send(ctx, ev)
}

func severityOf(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return SeverityDebug
	case l < slog.LevelWarn:
		return SeverityInfo
	case l < slog.LevelError:
		return SeverityWarning
	case l < slog.LevelError+4:
		return SeverityError
	default:
		return SeverityCritical
	}
}

func addAttr(ev *Event, payload map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	key := prefix + a.Key
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = key + "."
		}
		for _, g := range v.Group() {
			addAttr(ev, payload, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	if v.Kind() == slog.KindString {
		s := v.String()
		switch key {
		case "service":
			ev.Service = s
			return
		case "event_type":
			ev.EventType = s
			return
		case "endpoint":
			ev.Endpoint = s
			return
		case "user_id":
			ev.UserID = s
			return
		case "external_id":
			ev.ExternalID = s
			return
		}
		if len(ev.Tags) < 50 && len(key) <= 64 && !strings.Contains(key, ":") && len(s) <= 256 {
			if ev.Tags == nil {
				ev.Tags = map[string]string{}
			}
			ev.Tags[key] = s
			return
		}
		payload[key] = s
		return
	}
	if key == "status_code" {
		n := int64(-1)
		switch v.Kind() {
		case slog.KindInt64:
			n = v.Int64()
		case slog.KindUint64:
			n = int64(min(v.Uint64(), 1000))
		}
		if n >= 100 && n <= 599 {
			ev.StatusCode = int(n)
			return
		}
	}
	payload[key] = jsonValue(v)
}

// jsonValue turns a slog value into something encoding/json takes.
func jsonValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time()
	case slog.KindAny:
		x := v.Any()
		if err, ok := x.(error); ok {
			return err.Error()
		}
		if _, err := json.Marshal(x); err != nil {
			return fmt.Sprint(x)
		}
		return x
	default:
		return v.Any()
	}
}
