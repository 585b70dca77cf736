package client

import (
	"log/slog"
	"testing"
)

func TestSlogHandler(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s, newFakeClock())
	log := slog.New(NewSlogHandler(c, &SlogOptions{Level: slog.LevelDebug - 4}))
	log.With("service", "api").WithGroup("req").Warn("slow request", "path", "/pay", "ms", 1830, "status_code", 502)
	log.Info("ready", "status_code", 200, "user_id", "u-1", "endpoint", "/pay", "event_type", "boot")
	log.Debug("d")
	log.Error("e")
	log.Log(t.Context(), slog.LevelError+4, "c")
	log.Log(t.Context(), slog.LevelDebug-4, "trace")
	log.WithGroup("g").With("a", "x").Info("grouped", slog.Group("", "b", 1), slog.Group("h", "service", "not-a-field"))
	flush(t, c)
	b := s.batch(t)
	if len(b) != 7 {
		t.Fatalf("%d events, want 7", len(b))
	}
	g := b[6]
	gtags, _ := g["tags"].(map[string]any)
	gpayload, _ := g["payload"].(map[string]any)
	if gtags["g.a"] != "x" || gtags["g.h.service"] != "not-a-field" || gpayload["g.b"] != 1.0 || g["service"] != "checkout" {
		t.Fatalf("grouped record → %v", g)
	}
	w := b[0]
	tags, _ := w["tags"].(map[string]any)
	payload, _ := w["payload"].(map[string]any)
	if w["severity"] != "warning" || w["message"] != "slow request" || w["service"] != "api" || w["event_type"] != "log" ||
		tags["req.path"] != "/pay" || payload["req.ms"] != 1830.0 || payload["req.status_code"] != 502.0 {
		t.Fatalf("warn record → %v", w)
	}
	i := b[1]
	if i["severity"] != "info" || i["status_code"] != 200.0 || i["user_id"] != "u-1" || i["endpoint"] != "/pay" ||
		i["event_type"] != "boot" || i["service"] != "checkout" {
		t.Fatalf("info record → %v", i)
	}
	for n, want := range []string{"debug", "error", "critical", "debug"} {
		if got := b[n+2]["severity"]; got != want {
			t.Errorf("record %d severity %v, want %s", n+2, got, want)
		}
	}
}

func TestSlogLevelFilter(t *testing.T) {
	h := NewSlogHandler(&Client{}, nil)
	if h.Enabled(t.Context(), slog.LevelDebug) || !h.Enabled(t.Context(), slog.LevelInfo) {
		t.Fatal("default level must be Info")
	}
}
