package chaos

import (
	"flag"
	"os"
	"slices"
	"testing"
	"time"
)

var soakFlag = flag.Duration("chaos.soak", 0, "run TestChaosSoak for this long (also PULSESTREAM_SOAK=10m)")

func soakDuration(t *testing.T) time.Duration {
	if *soakFlag > 0 {
		return *soakFlag
	}
	if v := os.Getenv("PULSESTREAM_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PULSESTREAM_SOAK=%q: %v", v, err)
		}
		return d
	}
	return 0
}

// TestChaosSoak runs a steady load for PULSESTREAM_SOAK (not in CI by
// default) and samples the server's goroutines and resident memory from
// /metrics: goroutines and the Go heap must stay flat, and every
// acknowledged event is stored exactly once at the end. Resident memory is
// reported but not required to be flat: SQLite's page cache (64 MiB per
// connection) and memory map (256 MiB) fill as the database grows.
func TestChaosSoak(t *testing.T) {
	d := soakDuration(t)
	if d == 0 {
		t.Skip("the soak runs only when asked: PULSESTREAM_SOAK=10m go test ./test/chaos/ -run Soak -v -timeout 30m")
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			srv := startServer(t, b.url(t))
			key := srv.tenant("soak", 1_000_000_000)
			f := startFleet(t, srv.URL, key, fleetConfig{name: "soak-" + b.name, clients: 8, batchMax: 20, pace: 50 * time.Millisecond, retry: true})
			every := max(d/20, 5*time.Second)
			type sample struct {
				At         string  `json:"at"`
				Goroutines float64 `json:"goroutines"`
				RSSMiB     float64 `json:"rss_mib"`
				HeapMiB    float64 `json:"go_heap_inuse_mib"`
				Acked      int     `json:"acknowledged"`
			}
			var samples []sample
			start := time.Now()
			for time.Since(start) < d {
				time.Sleep(every) // the sampling period
				m, err := srv.metrics()
				if err != nil {
					t.Fatalf("metrics: %v", err)
				}
				s := sample{At: time.Since(start).Round(time.Second).String(), Goroutines: m["go_goroutines"],
					RSSMiB: m["process_resident_memory_bytes"] / (1 << 20), HeapMiB: m["go_memstats_heap_inuse_bytes"] / (1 << 20), Acked: f.rec.acked()}
				samples = append(samples, s)
				t.Logf("soak %s %6s: goroutines=%3.0f rss=%6.1f MiB go_heap=%5.1f MiB acknowledged=%d", b.name, s.At, s.Goroutines, s.RSSMiB, s.HeapMiB, s.Acked)
			}
			f.Stop(30 * time.Second)
			fig := f.verify(t, srv)
			logFigures(t, "soak "+b.name, fig)
			exactlyOnce(t, fig)

			// Flat: after a warm-up of a quarter of the run, the last
			// quarter holds no more goroutines and hardly more Go heap
			// than the second quarter.
			q := len(samples) / 4
			if q >= 1 {
				warm, last := samples[q:2*q], samples[len(samples)-q:]
				g := func(ss []sample) []float64 {
					out := []float64{}
					for _, s := range ss {
						out = append(out, s.Goroutines)
					}
					return out
				}
				heap := func(ss []sample) float64 {
					sum := 0.0
					for _, s := range ss {
						sum += s.HeapMiB
					}
					return sum / float64(len(ss))
				}
				if slices.Max(g(last)) > slices.Max(g(warm))+10 {
					t.Errorf("goroutines grow: %v early, %v at the end", g(warm), g(last))
				}
				if heap(last) > 1.5*heap(warm)+16 {
					t.Errorf("Go heap grows: %.1f MiB early, %.1f MiB at the end", heap(warm), heap(last))
				}
			}
			record("soak_"+b.name, map[string]any{"duration": d.String(), "samples": samples, "figures": fig})
		})
	}
}
