package chaos

import (
	"testing"
	"time"
)

// logBacklog reads pulsestream_ingest_log_backlog_messages from srv (-1
// when it cannot be read).
func logBacklog(srv *server) float64 {
	m, err := srv.metrics()
	if err != nil {
		return -1
	}
	v, ok := m["pulsestream_ingest_log_backlog_messages"]
	if !ok {
		return -1
	}
	return v
}

// waitDrained waits until srv reports an empty ingest log (the gauge is
// refreshed every second) and returns how long it took.
func waitDrained(t *testing.T, srv *server, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	zeros := 0
	for {
		if logBacklog(srv) == 0 {
			// Twice in a row, over a refresh of the gauge.
			if zeros++; zeros >= 2 {
				return time.Since(start)
			}
		} else {
			zeros = 0
		}
		if time.Since(start) > timeout {
			t.Fatalf("the ingest log still holds %v events %v after the load stopped", logBacklog(srv), timeout)
		}
		time.Sleep(700 * time.Millisecond) // waiting for the writers
	}
}

// metricValue reads one sample of srv's metrics (0 when absent).
func metricValue(srv *server, name string) float64 {
	m, _ := srv.metrics()
	return m[name]
}
