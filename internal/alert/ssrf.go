package alert

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when a webhook resolves to an address that
// server-side request forgery could abuse (loopback, private, link-local —
// which holds the cloud metadata addresses —, shared, reserved, multicast).
var ErrForbiddenAddress = errors.New("the webhook address is not public")

// Webhook timeouts by default: reaching a receiver (DNS, TCP connect, TLS
// handshake) must be quick, answering may take longer. A receiver that
// accepts and never answers holds one of its tenant's delivery slots for
// the response timeout (see TenantConcurrency).
const (
	DefaultConnectTimeout  = 2 * time.Second
	DefaultResponseTimeout = 10 * time.Second
)

// ClientConfig shapes the webhook HTTP client.
type ClientConfig struct {
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses (tests, or receivers on the same network).
	AllowPrivate bool
	// ConnectTimeout bounds DNS resolution with the TCP connect, and
	// separately the TLS handshake. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for the receiver's answer once the
	// request is written. Default DefaultResponseTimeout.
	ResponseTimeout time.Duration
}

func (c ClientConfig) withDefaults() ClientConfig {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = DefaultResponseTimeout
	}
	return c
}

// AttemptTimeout bounds one whole delivery attempt with the client: connect,
// handshake, response and reading (up to 64 KiB of) its body.
func (c ClientConfig) AttemptTimeout() time.Duration {
	c = c.withDefaults()
	return 2*c.ConnectTimeout + c.ResponseTimeout
}

var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 private space
}

// forbidden reports whether ip must not be dialled.
func forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// NewHTTPClient returns the client webhooks are sent with: the connect and
// response timeouts of cfg, no proxy from the environment, at most 3
// redirects, and — unless cfg.AllowPrivate — a dialer that checks every
// address it connects to after DNS resolution (so redirects and DNS
// rebinding are covered too).
func NewHTTPClient(cfg ClientConfig) *http.Client {
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || forbidden(ap.Addr()) {
				return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.ResponseTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Timeout:   cfg.AttemptTimeout(),
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errTooManyRedirects
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s: %w", req.URL.Scheme, ErrForbiddenAddress)
			}
			return nil
		},
	}
}
