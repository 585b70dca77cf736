package chaos

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestChaosGzipAmplification is issue 13's memory attack against the real
// binary with its default settings: rounds of 40 concurrent gzip batches of
// ~70 KiB each (~9.9 MiB decompressed), from two tenants. Before the decode
// budget this took VmHWM from 33 MB to 1.5 GB; now the peak resident memory
// (VmHWM, and RssAnon sampled every 20 ms) stays under the overload bound of
// RELIABILITY.md (512 MiB), the excess is refused with 503, and the node is
// ready right after.
func TestChaosGzipAmplification(t *testing.T) {
	const rssLimitMiB = 512
	srv := startServer(t, "sqlite://"+t.TempDir()+"/pulsestream.db")
	keys := []string{srv.tenant("gzip-a", 1_000_000_000), srv.tenant("gzip-b", 1_000_000_000)}
	body := amplifiedBatch(t)
	t.Logf("attack body: %d bytes gzip", len(body))

	var anonPeak int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			anonPeak = max(anonPeak, srv.procStatusKiB("RssAnon"))
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	counts := map[int]int{}
	var mu sync.Mutex
	for range pick(3, 10) {
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/events/batch", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+keys[i%2])
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := apiClient.Do(req)
				st := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					st = resp.StatusCode
				}
				mu.Lock()
				counts[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	close(stopSampling)
	<-sampled
	peak := srv.peakRSSMiB()
	anon := float64(anonPeak) / 1024
	t.Logf("gzip amplification: answers %v; peak RSS %.1f MiB (VmHWM), peak RssAnon %.1f MiB (sampled)", counts, peak, anon)
	if peak > rssLimitMiB || anon > rssLimitMiB {
		t.Errorf("peak RSS %.1f MiB / RssAnon %.1f MiB under the gzip attack; want < %d MiB", peak, anon, rssLimitMiB)
	}
	for st, n := range counts {
		if st != http.StatusOK && st != http.StatusCreated && st != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d; want 2xx or 503", n, st)
		}
	}
	if counts[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no batch was refused by the decode budget: %v", counts)
	}
	if st, b, err := srv.get("/ready", ""); err != nil || st != http.StatusOK {
		t.Errorf("/ready right after the attack: %d %v %s", st, err, b)
	}
}

// amplifiedBatch is 1000 events of ~10 KiB of repeated bytes: ~9.9 MiB of
// JSON that gzips to a few dozen KiB.
func amplifiedBatch(t *testing.T) []byte {
	t.Helper()
	pad := strings.Repeat("x", 10_000)
	events := make([]map[string]any, 1000)
	for i := range events {
		events[i] = map[string]any{"event_type": "http.request", "service": "gzip", "severity": "info", "payload": map[string]any{"pad": pad, "i": i}}
	}
	raw, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	if len(raw) > 10<<20 {
		t.Fatalf("batch is %d bytes, over the 10 MiB default body limit", len(raw))
	}
	return buf.Bytes()
}
