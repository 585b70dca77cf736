package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var (
	services  = []string{"checkout", "accounts", "search", "payments", "catalog", "shipping", "auth", "cart", "reviews", "pricing"}
	endpoints = []string{"/api/pay", "/api/login", "/api/search", "/api/cart", "/api/items/{id}", "/api/orders"}
	types     = []string{"http.request", "http.error", "job.finished", "signup", "payment.failed"}
	sevs      = []string{"debug", "info", "info", "info", "warning", "error", "critical"}
	filler    = strings.Repeat("lorem ipsum dolor sit amet ", 5)
)

// eventJSON appends one ~560-byte event, the same shape as the comparison
// figures in BENCHMARKS.md, with a unique external id.
func eventJSON(b []byte, run string, n int, ts time.Time) []byte {
	b = append(b, `{"event_type":"`...)
	b = append(b, types[n%len(types)]...)
	b = append(b, `","severity":"`...)
	b = append(b, sevs[n%len(sevs)]...)
	b = append(b, `","service":"`...)
	b = append(b, services[n%len(services)]...)
	b = append(b, `","endpoint":"`...)
	b = append(b, endpoints[n%len(endpoints)]...)
	b = append(b, `","status_code":`...)
	b = strconv.AppendInt(b, int64(statusCode(n)), 10)
	b = append(b, `,"user_id":"user-`...)
	b = strconv.AppendInt(b, int64(n%5000), 10)
	b = append(b, `","message":"request handled `...)
	b = append(b, filler...)
	b = append(b, `","tags":{"region":"eu-`...)
	b = strconv.AppendInt(b, int64(n%4), 10)
	b = append(b, `","version":"v1.`...)
	b = strconv.AppendInt(b, int64(n%7), 10)
	b = append(b, `","host":"host-`...)
	b = strconv.AppendInt(b, int64(n%50), 10)
	b = append(b, `"},"timestamp":"`...)
	b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","external_id":"`...)
	b = appendID(b, run, n)
	b = append(b, `","payload":{"trace_id":"`...)
	b = appendTraceID(b, n)
	b = append(b, `","duration_ms":`...)
	b = strconv.AppendInt(b, int64(n%1000), 10)
	b = append(b, `,"attrs":{"a":1,"b":[1,2,3],"c":"xyz"}}}`...)
	return b
}

func statusCode(n int) int { return 200 + (n%4)*100 + n%3 }

// appendID appends event n's external id.
func appendID(b []byte, run string, n int) []byte {
	b = append(b, run...)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(n), 10)
}

func appendTraceID(b []byte, n int) []byte { return fmt.Appendf(b, "%016x", uint64(n)*2654435761) }
