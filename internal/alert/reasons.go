package alert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
)

// Why a delivery attempt failed, as the tenant sees it (a notification's
// last_error and each attempt's error): a stable phrase that says what to
// fix on the receiver's side, never what only the server should know — the
// resolver's address, the node's own addresses, the Go error chain. The
// detail goes to the server's log (Deliverer.logFailure).
const (
	ReasonAddressNotAllowed = "address not allowed (not a public address)"
	ReasonDNS               = "dns lookup failed"
	ReasonConnectTimeout    = "connect timeout"
	ReasonRefused           = "connection refused"
	ReasonReset             = "connection reset"
	ReasonClosed            = "connection closed before the answer"
	ReasonTLS               = "tls handshake failed"
	ReasonTimeout           = "timeout waiting for the answer"
	ReasonRedirects         = "too many redirects"
	ReasonSecret            = "webhook secret unusable"
	ReasonURL               = "invalid url"
	ReasonInterrupted       = "delivery interrupted (server shutting down)"
	ReasonFailed            = "delivery failed"
)

// statusReason is the reason of an attempt the receiver answered with a
// status that is not 2xx.
func statusReason(code int) string { return fmt.Sprintf("the receiver answered %d", code) }

var (
	errTooManyRedirects = errors.New("too many redirects")
	errSecret           = errors.New("webhook secret unusable")
	errURL              = errors.New("invalid webhook url")
)

// failureReason maps an error of the webhook client to one of the Reason
// phrases. Order matters: a DNS failure inside a dial is a DNS failure, a
// forbidden address wins over everything.
func failureReason(err error) string {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		netErr  net.Error
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
		authErr x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invErr  x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		return ReasonAddressNotAllowed
	case errors.Is(err, errSecret):
		return ReasonSecret
	case errors.Is(err, errURL):
		return ReasonURL
	case errors.Is(err, errTooManyRedirects):
		return ReasonRedirects
	case errors.As(err, &dnsErr):
		return ReasonDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ReasonReset
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alert),
		errors.As(err, &authErr), errors.As(err, &hostErr), errors.As(err, &invErr):
		return ReasonTLS
	case errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Timeout(), isTLSHandshakeTimeout(err):
		return ReasonConnectTimeout
	case errors.Is(err, context.Canceled):
		return ReasonInterrupted
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonClosed
	}
	return ReasonFailed
}

// isTLSHandshakeTimeout recognises net/http's TLS handshake timeout, whose
// type is unexported; its message is fixed in net/http.
func isTLSHandshakeTimeout(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "net/http: TLS handshake timeout" {
			return true
		}
	}
	return false
}

// failureDetail is the error for the server's log: without the request URL,
// whose path or query may hold a token of the tenant's receiver.
func failureDetail(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
