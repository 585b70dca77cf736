package bench

import (
	"slices"
	"time"
)

// Result is one scenario's figures.
type Result struct {
	Scenario       string  `json:"scenario"`
	Backend        string  `json:"backend"`
	Events         int     `json:"events"`
	Requests       int     `json:"requests"`
	Errors         int     `json:"errors"`
	Seconds        float64 `json:"seconds"`
	EventsPerSec   float64 `json:"events_per_sec"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	ServerCPUSec   float64 `json:"server_cpu_sec,omitempty"`
	ServerCores    float64 `json:"server_cores_used,omitempty"`
	GeneratorCores float64 `json:"generator_cores_used,omitempty"` // this process (the load generator)
	PeakRSSMB      float64 `json:"server_peak_rss_mb,omitempty"`   // VmHWM, file-backed pages included
	PeakAnonMB     float64 `json:"server_peak_anon_mb,omitempty"`  // RssAnon, sampled every 200 ms
	Note           string  `json:"note,omitempty"`
}

type latencies []time.Duration

func (l latencies) pct(p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return float64(s[i].Microseconds()) / 1000
}
