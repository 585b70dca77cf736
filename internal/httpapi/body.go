package httpapi

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// readJSONBody checks Content-Type and reads the body (readBody), which
// must be UTF-8.
func readJSONBody(r *http.Request, max int64, l *lease) ([]byte, error) {
	if mt := mediaType(r); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, pulse.Errorf(pulse.EUNSUPPORTED, "Content-Type must be application/json")
	}
	return readUTF8Body(r, max, l)
}

// readUTF8Body is readBody for a text body (any Content-Type).
func readUTF8Body(r *http.Request, max int64, l *lease) ([]byte, error) {
	data, err := readBody(r, max, l)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(data) {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not valid UTF-8")
	}
	return data, nil
}

// mediaType is the request's Content-Type without parameters ("" when
// absent or malformed).
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// readBody checks Content-Encoding and reads the body, refusing more than
// max bytes after decompression (so a gzip bomb stops at max). A body cut
// off mid-stream, or empty, is a 400; one that misses the body deadline
// (--body-read-timeout) a 408. The decompressed bytes are charged to l as
// they arrive (nil: not charged), so a request beyond the decode budget
// stops reading at once with EOVERLOADED.
func readBody(r *http.Request, max int64, l *lease) ([]byte, error) {
	if r.ContentLength > max && r.Header.Get("Content-Encoding") == "" {
		return nil, pulse.Errorf(pulse.ETOOLARGE, "the body is larger than %d bytes", max)
	}
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		// The compressed stream is not capped here: decompressed output is
		// (below), which also bounds how much compressed input is read, and
		// a body that is too large after decompression must be a 413.
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, bodyTimeout()
			}
			return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not valid gzip")
		}
		defer zr.Close()
		body = zr
	default:
		return nil, pulse.Errorf(pulse.EUNSUPPORTED, "Content-Encoding must be gzip or identity")
	}
	data, err := readCharged(body, max, l)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is empty")
	}
	return data, nil
}

// readCharged reads at most max bytes of body, charged to l, and turns
// read errors into the client's problem: 413 beyond max, 408 past the body
// deadline, 503 beyond the decode budget, 400 for a broken stream.
func readCharged(body io.Reader, max int64, l *lease) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(chargingReader{r: body, l: l}, max+1))
	if err != nil {
		var pe *pulse.Error
		if errors.As(err, &pe) {
			return nil, pe
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, bodyTimeout()
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, pulse.Errorf(pulse.ETOOLARGE, "the body is larger than %d bytes", max)
		}
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
			return nil, pulse.Errorf(pulse.EBADREQUEST, "the body is not valid gzip")
		}
		return nil, &pulse.Error{Code: pulse.EBADREQUEST, Message: "the body could not be read completely", Err: fmt.Errorf("read body: %w", err)}
	}
	if int64(len(data)) > max {
		return nil, pulse.Errorf(pulse.ETOOLARGE, "the body is larger than %d bytes", max)
	}
	return data, nil
}

func bodyTimeout() error {
	return pulse.Errorf(pulse.ETIMEOUT, "the body arrived too slowly and was cut off at the body deadline")
}
