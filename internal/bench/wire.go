package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// wireConn is one keep-alive HTTP/1.1 connection owned by one goroutine of
// an ingest scenario: the request is written with one write, the answer's
// status line and framing headers are read and its body discarded.
//
// It exists because net/http's client costs the generator ~70 µs of CPU
// per request on this machine (a reader and a writer goroutine per
// connection and the hand-offs between them, the header map, MIME header
// parsing, garbage), which at 10,000 single-event requests/s is most of a
// core the server then lacks (BENCHMARKS.md, "Load generator cost"). The
// server receives the same requests: method, path, Authorization,
// Content-Type, Content-Length and body.
type wireConn struct {
	addr, host string
	timeout    time.Duration
	conn       net.Conn
	br         *bufio.Reader
	req        []byte // reused: request line, headers, body
}

// wireAddr returns the host:port to dial for a plain-HTTP target, or ""
// when the target needs net/http (https, or not a URL).
func wireAddr(target string) (addr, host string) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", ""
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80"), u.Host
	}
	return u.Host, u.Host
}

var errBadResponse = errors.New("malformed HTTP response")

// post sends one request and returns the answer's status code. On any
// error the connection is closed and the next post dials again; the
// request is not retried.
func (c *wireConn) post(ctx context.Context, path, contentType, auth string, body []byte) (int, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 4096)
		} else {
			c.br.Reset(conn)
		}
	}
	status, keep, err := c.roundTrip(ctx, path, contentType, auth, body)
	if err != nil || !keep {
		c.close()
	}
	return status, err
}

func (c *wireConn) roundTrip(ctx context.Context, path, contentType, auth string, body []byte) (status int, keep bool, err error) {
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	b := append(c.req[:0], "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nUser-Agent: pulsestream-bench\r\nAuthorization: Bearer "...)
	b = append(b, auth...)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.req = b
	if _, err := c.conn.Write(b); err != nil {
		return 0, false, err
	}
	return readResponse(c.br)
}

func (c *wireConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// readResponse reads one HTTP/1.x response to a POST from br, discarding
// its body (Content-Length, chunked, or up to EOF), and tells whether the
// connection can carry another request.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errBadResponse
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, false, errBadResponse
	}
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, errBadResponse
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, false, errBadResponse
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
			if !chunked {
				return 0, false, fmt.Errorf("%w: transfer encoding %q", errBadResponse, value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
	}
	switch {
	case status < 200 || status == 204 || status == 304:
		if status < 200 {
			return 0, false, fmt.Errorf("%w: informational status %d", errBadResponse, status)
		}
		return status, keep, nil
	case chunked:
		return status, keep, discardChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
		return status, keep, err
	default: // the body runs to the end of the connection
		_, err = io.Copy(io.Discard, br)
		return status, false, err
	}
}

// discardChunked reads a chunked body and its trailer.
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 63)
		if err != nil {
			return errBadResponse
		}
		if size == 0 {
			for { // trailer fields, then the empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(size)); err != nil {
			return err
		}
		if crlf, err := br.ReadSlice('\n'); err != nil || len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return errBadResponse
		}
	}
}
