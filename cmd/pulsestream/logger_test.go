package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

// Durations in the server's logs are seconds with the unit in the key, in
// both formats, whoever logs them (goose and River log time.Duration).
func TestLoggerDurationsInSeconds(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	var buf bytes.Buffer
	newLogger(cfg, &buf).Info("applied migration", "duration", 1500*time.Millisecond, "n", 3)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["duration_s"] != 1.5 || line["duration"] != nil || line["n"] != 3.0 {
		t.Errorf("json line: %s", buf.Bytes())
	}
	buf.Reset()
	cfg.LogFormat = "text"
	newLogger(cfg, &buf).Info("m", "took", 250*time.Millisecond)
	if !bytes.Contains(buf.Bytes(), []byte("took_s=0.25")) {
		t.Errorf("text line: %s", buf.Bytes())
	}
}
