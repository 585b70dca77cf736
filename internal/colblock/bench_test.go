package colblock

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// benchEvents are n events shaped like internal/bench's (a ~150-byte
// message, a nested payload, 3 tags), one per millisecond.
func benchEvents(n int) []*pulse.Event {
	services := []string{"checkout", "accounts", "search", "payments", "catalog", "shipping", "auth", "cart", "reviews", "pricing"}
	endpoints := []string{"/api/pay", "/api/login", "/api/search", "/api/cart", "/api/items/{id}", "/api/orders"}
	types := []string{"http.request", "http.error", "job.finished", "signup", "payment.failed"}
	sevs := []pulse.Severity{"debug", "info", "info", "info", "warning", "error", "critical"}
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 5)
	start := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	evs := make([]*pulse.Event, n)
	for i := range evs {
		ts := start.Add(time.Duration(i) * time.Millisecond)
		evs[i] = &pulse.Event{
			ID:         fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x", ts.UnixMilli()>>16, ts.UnixMilli()&0xffff, r.IntN(1<<12), 0x8000|r.IntN(1<<14), r.Int64N(1<<48)),
			ExternalID: fmt.Sprint("run1-", i), EventType: types[i%len(types)], Severity: sevs[i%len(sevs)],
			Service: services[i%len(services)], Endpoint: endpoints[i%len(endpoints)], StatusCode: 200 + (i%4)*100 + i%3,
			UserID: fmt.Sprint("user-", i%5000), Message: "request handled " + filler,
			Tags:      map[string]string{"region": fmt.Sprint("eu-", i%4), "version": fmt.Sprint("v1.", i%7), "host": fmt.Sprint("host-", i%50)},
			Timestamp: ts, ReceivedAt: ts.Add(time.Duration(i%40) * time.Millisecond),
			Payload:     fmt.Appendf(nil, `{"trace_id":"%016x","duration_ms":%d,"attrs":{"a":1,"b":[1,2,3],"c":"xyz"}}`, uint64(i)*2654435761, i%1000),
			ContentHash: fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()),
		}
	}
	return evs
}

func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			evs := benchEvents(n)
			size := 0
			cpu := cpuTime()
			for b.Loop() {
				m, block, err := Encode(evs)
				if err != nil {
					b.Fatal(err)
				}
				size = len(block) + len(MarshalMeta(m))
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N*n), "cpu-ns/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			b.ReportMetric(float64(size)/float64(n), "B/event")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			_, block, err := Encode(benchEvents(n))
			if err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime()
			for b.Loop() {
				if _, err := Decode(block, "t"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N*n), "cpu-ns/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			b.ReportMetric(float64(len(block))/float64(n), "B/event")
		})
	}
}

// cpuTime is the CPU time the process has used, in nanoseconds (garbage
// collection included): unlike the wall clock, it does not grow when other
// work shares the machine.
func cpuTime() int64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return u.Utime.Nano() + u.Stime.Nano()
}
