package httpapi

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestSecureCookies: cookies are Secure when this server speaks TLS, or
// when a trusted proxy says the client used HTTPS — and only then.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	s := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	tlsOn := New(Config{SecureCookies: true})
	for _, c := range []struct {
		name   string
		s      *Server
		remote string
		proto  string
		tls    bool
		want   bool
	}{
		{"plain HTTP", s, "192.0.2.1:5000", "", false, false},
		{"TLS configured", tlsOn, "192.0.2.1:5000", "", false, true},
		{"TLS on this connection", s, "192.0.2.1:5000", "", true, true},
		{"trusted proxy, https", s, "10.1.2.3:5000", "https", false, true},
		{"trusted proxy, http", s, "10.1.2.3:5000", "http", false, false},
		{"untrusted peer claims https", s, "192.0.2.1:5000", "https", false, false},
	} {
		r := httptest.NewRequest("GET", "/api/v1/session", nil)
		r.RemoteAddr = c.remote
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if got := c.s.secure(r); got != c.want {
			t.Errorf("%s: secure = %v, want %v", c.name, got, c.want)
		}
	}
}
