package httpapi

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// DecodeAmplification is how many bytes of memory one byte of a request
// body costs while it is read and parsed: io.ReadAll's growing buffer (up
// to 2×), the batch split into raw events (1×) and the decoded events.
// Measured with TestDecodeAmplification: a 10 MiB batch allocates about
// 3.3 bytes per body byte; 4 keeps a margin.
const DecodeAmplification = 4

// DefaultDecodeTenantShare is the fraction of the decode budget one tenant
// may hold at once, so one tenant cannot take all of it.
const DefaultDecodeTenantShare = 0.5

// decodeBudget bounds the memory spent on request bodies being read and
// parsed, across all requests of a node (--max-decode-bytes) and per
// tenant (a share of it). A request is charged as its decompressed bytes
// arrive (DecodeAmplification per byte) and keeps the charge until its
// handler returns. Beyond the budget it is refused at once with 503
// EOVERLOADED and Retry-After rather than made to wait: a waiting request
// would hold its connection, its in-flight slot and the kernel's buffers,
// and the client's retry after a second costs less than a queue.
type decodeBudget struct {
	total, perTenant int64

	mu       sync.Mutex
	used     int64
	peak     int64
	byTenant map[string]int64

	inUse, peakUse prometheus.Gauge
	refused        prometheus.Counter
}

func newDecodeBudget(total int64, share float64, reg prometheus.Registerer) *decodeBudget {
	b := &decodeBudget{
		total: total, perTenant: int64(float64(total) * share), byTenant: map[string]int64{},
		inUse: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_decode_budget_bytes_in_use",
			Help: "Memory charged to request bodies being read and parsed (bounded by --max-decode-bytes).",
		}),
		peakUse: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pulsestream_decode_budget_bytes_peak",
			Help: "The most memory ever charged to request bodies at once since the start (never above --max-decode-bytes).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pulsestream_decode_budget_refused_total",
			Help: "Requests answered 503 because the decode memory budget (node or tenant share) was spent.",
		}),
	}
	if reg != nil {
		reg.MustRegister(b.inUse, b.peakUse, b.refused)
	}
	return b
}

// errOverloaded is the answer beyond the budget.
func errOverloaded() error {
	return &pulse.Error{Code: pulse.EOVERLOADED, Message: "the server is decoding as many request bodies as its memory budget allows; retry later", RetryAfter: time.Second}
}

// lease is one request's charge against the budget; a nil lease charges
// nothing.
type lease struct {
	b      *decodeBudget
	tenant string
	held   int64
	// prepaid body bytes were charged already (a signed request's raw
	// body, read before its signature is checked): reading them again,
	// decompressed, charges only what goes beyond.
	prepaid int64
}

type ctxLeaseKey struct{}

// bodyLease is the request's lease: the one a middleware that read the
// body already holds (verifySigned), or a new one with its release.
func (s *Server) bodyLease(r *http.Request) (*lease, func()) {
	if l, ok := r.Context().Value(ctxLeaseKey{}).(*lease); ok {
		return l, func() {}
	}
	l := s.decode.lease(tenantFrom(r.Context()).ID)
	return l, l.release
}

func (b *decodeBudget) lease(tenant string) *lease {
	if b == nil {
		return nil
	}
	return &lease{b: b, tenant: tenant}
}

// charge takes n body bytes (times DecodeAmplification) from the budget,
// or returns EOVERLOADED and takes nothing.
func (l *lease) charge(n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	if free := min(int64(n), l.prepaid); free > 0 {
		l.prepaid -= free
		n -= int(free)
		if n == 0 {
			return nil
		}
	}
	return l.take(int64(n) * DecodeAmplification)
}

// chargeMemory takes n bytes of memory built from the body (the event
// JSON an OTLP export generates) until giveBack, or returns EOVERLOADED
// and takes nothing.
func (l *lease) chargeMemory(n int) error {
	if l == nil || n <= 0 {
		return nil
	}
	return l.take(int64(n))
}

func (l *lease) take(c int64) error {
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+c > b.total || b.byTenant[l.tenant]+c > b.perTenant {
		b.refused.Inc()
		return errOverloaded()
	}
	b.used += c
	b.peak = max(b.peak, b.used)
	b.byTenant[l.tenant] += c
	l.held += c
	b.inUse.Set(float64(b.used))
	b.peakUse.Set(float64(b.peak))
	return nil
}

// giveBack returns n bytes taken with chargeMemory before the request ends.
func (l *lease) giveBack(n int) {
	if l == nil || n <= 0 {
		return
	}
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	c := min(int64(n), l.held)
	b.used -= c
	if b.byTenant[l.tenant] -= c; b.byTenant[l.tenant] == 0 {
		delete(b.byTenant, l.tenant)
	}
	l.held -= c
	b.inUse.Set(float64(b.used))
}

// release gives back everything the lease holds.
func (l *lease) release() {
	if l == nil || l.held == 0 {
		return
	}
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= l.held
	if b.byTenant[l.tenant] -= l.held; b.byTenant[l.tenant] == 0 {
		delete(b.byTenant, l.tenant)
	}
	l.held = 0
	b.inUse.Set(float64(b.used))
}

// chargingReader charges its lease for every byte read through it.
type chargingReader struct {
	r io.Reader
	l *lease
}

func (c chargingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if cerr := c.l.charge(n); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// prepay records n body bytes as charged already (see lease.prepaid).
func (l *lease) prepay(n int) {
	if l != nil {
		l.prepaid += int64(n)
	}
}
