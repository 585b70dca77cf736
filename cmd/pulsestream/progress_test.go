package main

import (
	"bytes"
	"testing"
	"time"
)

func TestFormatProgress(t *testing.T) {
	t.Parallel()
	cases := []struct {
		unit        string
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{"bytes", 1_000_000, 4_000_000, 2 * time.Second, "backup   25%  1.0 MB of 4.0 MB  0.5 MB/s  ETA 6s"},
		{"events", 500, 1000, time.Second, "backup   50%  500 events of 1000 events  500 events/s  ETA 1s"},
		{"events", 500, 0, time.Second, "backup  500 events  500 events/s"},
		{"bytes", 0, 10, 0, "backup    0%  0.0 MB of 0.0 MB"},
		{"bytes", 10, 10, time.Second, "backup  100%  0.0 MB of 0.0 MB  0.0 MB/s"},
	}
	for _, c := range cases {
		if got := formatProgress("backup", c.unit, c.done, c.total, c.elapsed); got != c.want {
			t.Errorf("formatProgress(%d of %d %s in %v) = %q, want %q", c.done, c.total, c.unit, c.elapsed, got, c.want)
		}
	}
}

// Not on a terminal: nothing while working, one key=value line at the end.
func TestProgressNotOnTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgress(&buf, "restore", "bytes", 100)
	if p.tty {
		t.Fatal("a buffer taken for a terminal")
	}
	clock := p.start
	p.now = func() time.Time { return clock }
	p.update(50)
	if buf.Len() != 0 {
		t.Fatalf("progress drawn off a terminal: %q", buf.String())
	}
	clock = clock.Add(1500 * time.Millisecond)
	p.finish(100)
	if got := buf.String(); got != "restore done bytes=100 seconds=1.500\n" {
		t.Errorf("summary %q", got)
	}
	if stop := watchFile(p, "/nonexistent"); stop != nil {
		stop() // no watcher runs off a terminal; stop returns at once
	}
}

// On a terminal: the line is redrawn in place, at most ten times a second.
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgress(&buf, "bench", "events", 1000)
	p.tty = true
	clock := p.start
	p.now = func() time.Time { return clock }
	clock = clock.Add(time.Second)
	p.update(100)
	p.update(200) // same instant: not redrawn
	clock = clock.Add(time.Second)
	p.updateOf(400, 1000)
	p.finish(1000)
	want := "\r\033[Kbench   10%  100 events of 1000 events  100 events/s  ETA 9s" +
		"\r\033[Kbench   40%  400 events of 1000 events  200 events/s  ETA 3s" +
		"\r\033[Kbench  100%  1000 events of 1000 events  500 events/s\n"
	if got := buf.String(); got != want {
		t.Errorf("drawn %q\nwant  %q", got, want)
	}
}
