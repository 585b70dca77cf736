package ingest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestDecodeNDJSON(t *testing.T) {
	t.Parallel()
	evs, err := DecodeNDJSON([]byte("{\"a\":1}\r\n\n  {\"b\":2}  \nnot json\n"), 10)
	if err != nil || len(evs) != 3 || string(evs[0]) != `{"a":1}` || string(evs[1]) != `{"b":2}` || string(evs[2]) != "not json" {
		t.Fatalf("%q, %v", evs, err)
	}
	for _, body := range []string{"", "\n\n", " \r\n"} {
		if _, err := DecodeNDJSON([]byte(body), 10); pulse.ErrorCode(err) != pulse.EINVALID {
			t.Errorf("%q: %v, want EINVALID events.count", body, err)
		}
	}
	if _, err := DecodeNDJSON([]byte(strings.Repeat("{}\n", 11)), 10); pulse.ErrorCode(err) != pulse.EINVALID {
		t.Errorf("11 lines with a limit of 10: %v", err)
	}
	if evs, err := DecodeNDJSON([]byte(strings.Repeat("{}\n", 10)), 10); err != nil || len(evs) != 10 {
		t.Errorf("10 lines with a limit of 10: %d, %v", len(evs), err)
	}
}

// FuzzDecodeNDJSON: every non-blank line is one event, in order, trimmed;
// only a count outside 1..max is an error.
func FuzzDecodeNDJSON(f *testing.F) {
	f.Add([]byte("{\"event_type\":\"x\",\"service\":\"s\"}\n{\"event_type\":\"y\",\"service\":\"s\"}\n"))
	f.Add([]byte("\n\r\n"))
	f.Add([]byte("{\"a\":\"\\u00e9\\ud800\"}\r\n1\n\"x\"\nnull"))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := DecodeNDJSON(body, 5)
		var want [][]byte
		for _, l := range bytes.Split(body, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				want = append(want, l)
			}
		}
		if len(want) == 0 || len(want) > 5 {
			if pulse.ErrorCode(err) != pulse.EINVALID {
				t.Fatalf("%d lines: %v", len(want), err)
			}
			return
		}
		if err != nil || len(evs) != len(want) {
			t.Fatalf("%d events, %v; want %d", len(evs), err, len(want))
		}
		for i := range evs {
			if !bytes.Equal(evs[i], want[i]) {
				t.Fatalf("event %d = %q, want %q", i, evs[i], want[i])
			}
		}
	})
}
