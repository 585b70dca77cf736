package alert

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// internalDetail matches what a tenant must never see in last_error: an
// IPv4 address, an IPv6 address or a port (the resolver's, the node's), or
// the resolver's and dialer's own words.
var internalDetail = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|[0-9a-fA-F]*:[0-9a-fA-F:]+|lookup \S+ on|dial tcp`)

func TestFailureReason(t *testing.T) {
	t.Parallel()
	post := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://hooks.example.com/x?token=s3cret", Err: err}
	}
	dial := func(err error) error { return post(&net.OpError{Op: "dial", Net: "tcp", Err: err}) }
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"dns", dial(&net.DNSError{Err: "no such host", Name: "hooks.example.com", Server: "10.0.0.2:53", IsNotFound: true}), ReasonDNS},
		{"dns timeout", dial(&net.DNSError{Err: "i/o timeout", Name: "x", Server: "[fd00::53]:53", IsTimeout: true}), ReasonDNS},
		{"refused", dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), ReasonRefused},
		{"reset", post(&net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}), ReasonReset},
		{"connect timeout", dial(os.ErrDeadlineExceeded), ReasonConnectTimeout},
		{"answer timeout", post(context.DeadlineExceeded), ReasonTimeout},
		{"forbidden", dial(errors.Join(errors.New("dial 10.1.2.3:443"), ErrForbiddenAddress)), ReasonAddressNotAllowed},
		{"redirects", post(errTooManyRedirects), ReasonRedirects},
		{"closed", post(io.EOF), ReasonClosed},
		{"tls", post(x509.UnknownAuthorityError{}), ReasonTLS},
		{"shutdown", post(context.Canceled), ReasonInterrupted},
		{"secret", permanentError{errors.Join(errSecret, errors.New("cipher: message authentication failed"))}, ReasonSecret},
		{"other", post(errors.New("proxy 10.9.9.9:3128 said no")), ReasonFailed},
	}
	for _, c := range cases {
		got := failureReason(c.err)
		if got != c.want {
			t.Errorf("%s: reason = %q, want %q (error %v)", c.name, got, c.want, c.err)
		}
		if internalDetail.MatchString(got) {
			t.Errorf("%s: reason %q shows internal detail", c.name, got)
		}
	}
	if d := failureDetail(cases[0].err); !regexp.MustCompile(`10\.0\.0\.2:53`).MatchString(d) || regexp.MustCompile(`s3cret|token`).MatchString(d) {
		t.Errorf("log detail = %q: want the resolver's address for the operator, and not the URL", d)
	}
}

// TestFailureReasonFromTheClient sends real requests that fail in each way
// the webhook client meets and checks the phrase the tenant would see.
func TestFailureReasonFromTheClient(t *testing.T) {
	t.Parallel()
	closedAddr := func() string { // a port nobody listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(stalled.Close)
	t.Cleanup(func() { close(release) })
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	t.Cleanup(hangup.Close)

	// The timeouts are short so that the test is quick; nothing is asserted
	// on how long an attempt took.
	private := NewHTTPClient(ClientConfig{AllowPrivate: true, ConnectTimeout: 200 * time.Millisecond, ResponseTimeout: 200 * time.Millisecond})
	public := NewHTTPClient(ClientConfig{})
	cases := []struct {
		name, url string
		client    *http.Client
		want      string
	}{
		{"unknown host", "http://nonexistent.invalid/hook", private, ReasonDNS},
		{"refused", "http://" + closedAddr() + "/hook", private, ReasonRefused},
		{"tls never answered", "https://" + silent.Addr().String() + "/hook", private, ReasonConnectTimeout},
		{"answer never came", stalled.URL, private, ReasonTimeout},
		{"hung up", hangup.URL, private, ReasonClosed},
		{"private address", stalled.URL, public, ReasonAddressNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp, err := c.client.Post(c.url, "application/json", nil)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("status %d, want an error", resp.StatusCode)
			}
			if got := failureReason(err); got != c.want {
				t.Fatalf("reason = %q, want %q (error: %v)", got, c.want, err)
			}
		})
	}
}
