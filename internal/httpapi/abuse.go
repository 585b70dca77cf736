package httpapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// DefaultAuthFailuresPerMinute is how many failed authentications one
// client IP may make per minute (as a burst, refilling evenly) before its
// further failures are answered 429 instead of 401. A valid key or admin
// token is honoured from that IP all the same: the limit slows a broken or
// guessing client without locking out the others behind the same address.
const DefaultAuthFailuresPerMinute = 20

// clientIP is the address the request came from. The peer's address is
// used unless the peer is a trusted proxy: then X-Forwarded-For is read
// from the right, skipping trusted proxies, and the first other address is
// the client (what a client writes at the left end is never believed).
func (s *Server) clientIP(r *http.Request) string {
	peer := remoteAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			ip, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer.String() // a malformed chain: trust only the proxy itself
			}
			ip = ip.Unmap()
			if !s.trusted(ip) {
				return ip.String()
			}
			peer = ip
		}
	}
	return peer.String()
}

func remoteAddr(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func authFailureKey(ip string) string { return "auth-failure:" + ip }

func tooManyFailures(q pulse.Quota) error {
	return &pulse.Error{Code: pulse.ERATELIMITED, Message: "too many failed authentications from this address; retry later", RetryAfter: max(q.RetryAfter, time.Second)}
}

// authFailed answers a failed authentication (401, or 429 once the client
// IP's failures are used up) and counts it against the IP. It is called
// only after the credential was checked, so it never refuses a valid one.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request, err error) {
	if s.AuthFailures != nil {
		q, lerr := s.AuthFailures.Take(context.WithoutCancel(r.Context()), authFailureKey(s.clientIP(r)), s.AuthFailuresPerMinute, 1)
		if lerr == nil && q.Granted == 0 {
			noteFrom(r.Context()).authThrottled = true
			s.writeError(w, r, tooManyFailures(q))
			return
		}
	}
	s.writeError(w, r, err)
}

// exemptFromInFlight are routes an orchestrator or Prometheus must reach
// even when the node is saturated: a load balancer probing /ready must not
// drop a node because slow clients hold its request slots (/ready answers
// from the database's state, not from the slots). A live tail holds its
// request for as long as it is open; TailConfig caps tails on their own.
var exemptFromInFlight = map[string]bool{"/health": true, "/ready": true, "/metrics": true, "/api/v1/events/tail": true}

// limitInFlight answers 503 (Retry-After: 1) instead of queueing once
// MaxInFlight requests are being served, so an overloaded node sheds load
// rather than falling over. /health, /ready and /metrics are exempt.
func (s *Server) limitInFlight(next http.Handler) http.Handler {
	if s.inFlight == nil {
		return next
	}
	sem := s.inFlight // shared by every Handler() of this server
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exemptFromInFlight[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			s.metrics.shed.Inc()
			s.writeError(w, r, &pulse.Error{Code: pulse.EUNAVAILABLE, Message: "the server is at its limit of concurrent requests; retry later", RetryAfter: time.Second})
		}
	})
}

// bodyDeadline gives a request with a body BodyReadTimeout to send all of
// it (the server's --read-timeout is far longer): a client trickling its
// body a byte at a time would otherwise hold a request slot for the whole
// read timeout. readJSONBody answers a body cut off by the deadline 408.
// Once the body has been read to its end the deadline is lifted, so that
// the server's background read of an idle connection cannot cancel a
// request still being handled.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	if s.BodyReadTimeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(s.BodyReadTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline at the body's end.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
