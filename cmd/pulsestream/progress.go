package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal (progress is drawn only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress reports long work. On a terminal it redraws one line in place
// (percent, rate, ETA); elsewhere (a pipe, a log file, CI) it is quiet
// until the end and then writes one key=value line a machine can read.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	unit  string // "bytes" or a count ("events")
	total int64  // 0: unknown (no percent, no ETA)
	start time.Time
	now   func() time.Time

	mu   sync.Mutex // update may be called from many goroutines
	last time.Time  // of the last redraw: at most 10 a second
}

func newProgress(w io.Writer, label, unit string, total int64) *progress {
	return &progress{w: w, tty: isTerminal(w), label: label, unit: unit, total: total, start: time.Now(), now: time.Now}
}

// update draws done so far (terminal only, at most 10 times a second).
func (p *progress) update(done int64) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r\033[K%s", formatProgress(p.label, p.unit, done, p.total, now.Sub(p.start)))
}

// updateOf is update for work whose total is learnt on the way.
func (p *progress) updateOf(done, total int64) {
	p.mu.Lock()
	p.total = total
	p.mu.Unlock()
	p.update(done)
}

// finish ends the line on a terminal, or writes the summary line elsewhere.
func (p *progress) finish(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := p.now().Sub(p.start)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", formatProgress(p.label, p.unit, done, done, elapsed))
		return
	}
	fmt.Fprintf(p.w, "%s done %s=%d seconds=%.3f\n", p.label, p.unit, done, elapsed.Seconds())
}

// formatProgress is one progress line: "backup  42%  1.2 MB of 2.9 MB
// 3.4 MB/s  ETA 1s" (without a total: what was done and the rate).
func formatProgress(label, unit string, done, total int64, elapsed time.Duration) string {
	amount := func(n int64) string {
		if unit == "bytes" {
			return fmt.Sprintf("%.1f MB", float64(n)/1e6)
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	line := label
	if total > 0 {
		line += fmt.Sprintf("  %3d%%  %s of %s", min(100, done*100/total), amount(done), amount(total))
	} else {
		line += "  " + amount(done)
	}
	if elapsed <= 0 || done <= 0 {
		return line
	}
	rate := float64(done) / elapsed.Seconds()
	line += "  " + amount(int64(rate)) + "/s"
	if total > 0 && done < total {
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += "  ETA " + eta.Round(time.Second).String()
	}
	return line
}

// watchFile redraws p from the growing size of path every 200 ms until
// the returned stop is called (which waits for the watcher). Nothing runs
// when p is not on a terminal.
func watchFile(p *progress, path string) (stop func()) {
	if !p.tty {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if st, err := os.Stat(path); err == nil {
					p.update(st.Size())
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
