package console

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/t/x/events?a=1": "/t/x/events?a=1", "": "/", "https://evil.example/": "/", "//evil.example": "/",
		"/\\evil.example": "/", "events": "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAPIQuery(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 500, time.UTC)
	q, rng, start, end := apiQuery(url.Values{"service": {" web "}, "endpoint": {""}, "tag": {"env:prod", ""}, "range": {"15m"}}, now)
	if rng != "15m" || q.Get("service") != "web" || q.Has("endpoint") || len(q["tag"]) != 1 ||
		!end.Equal(time.Date(2026, 1, 2, 15, 4, 6, 0, time.UTC)) || end.Sub(start) != 15*time.Minute {
		t.Errorf("preset: %v %s %s %s", q, rng, start, end)
	}
	q, _, start, end = apiQuery(url.Values{"range": {"custom"}, "start_time": {"2026-01-01T10:00"}, "end_time": {"2026-01-01T11:00:00Z"}}, now)
	if !start.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2026, 1, 1, 11, 0, 0, 0, time.UTC)) ||
		q.Get("start_time") != "2026-01-01T10:00:00Z" {
		t.Errorf("custom: %v %s %s", q, start, end)
	}
}

func TestDrawHistogram(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	h := &pulse.Histogram{Interval: "1m", End: t0.Add(2 * time.Minute), Total: 6, Buckets: []pulse.HistogramBucket{
		{Start: t0, Count: 4, Groups: map[string]int64{"info": 3, "error": 1}},
		{Start: t0.Add(time.Minute), Count: 2, Groups: map[string]int64{"info": 2}},
	}}
	svg := drawHistogram(h)
	if len(svg.Bars) != 2 || len(svg.Bars[0].Segs) != 2 || len(svg.Bars[1].Segs) != 1 {
		t.Fatalf("bars: %+v", svg.Bars)
	}
	// The tallest bar fills the chart; info is at the bottom, error above it.
	info, errSeg := svg.Bars[0].Segs[0], svg.Bars[0].Segs[1]
	if info.Class != "sev-info" || errSeg.Class != "sev-error" || info.Y+info.H != chartH || errSeg.Y+errSeg.H != info.Y ||
		errSeg.Y != 4 || info.H != 3*errSeg.H {
		t.Errorf("segments: %+v %+v", info, errSeg)
	}
	if !strings.Contains(svg.Summary, "6 events") || !strings.Contains(svg.Summary, "1 error") || !strings.Contains(svg.Summary, "5 info") {
		t.Errorf("summary %q", svg.Summary)
	}
}

func TestPagesParse(t *testing.T) {
	pages := parsePages()
	for _, name := range []string{"signin", "setup", "invite", "explorer", "event", "tail", "alerts", "alert", "keys", "rules", "rule",
		"members", "usage", "audit", "tenants", "users", "welcome", "error", "secrets"} {
		if pages[name] == nil {
			t.Errorf("no page %q", name)
		}
	}
}
