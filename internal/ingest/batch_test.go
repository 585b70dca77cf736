package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func TestDecodeBatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body string
		n    int
		code string
	}{
		{`{"events":[{"a":1},{"b":2}]}`, 2, ""},
		{`{"events":[1,"x",null]}`, 3, ""}, // elements are judged one by one later
		{`{"events":[]}`, 0, pulse.EINVALID},
		{`{}`, 0, pulse.EINVALID},
		{`{"events":{}}`, 0, pulse.EINVALID},
		{`{"events":[{}],"extra":1}`, 0, pulse.EINVALID},
		{`[{"a":1}]`, 0, pulse.EINVALID},
		{`{"events":[{}]`, 0, pulse.EBADREQUEST},
		{`{"events":[{}]}{}`, 0, pulse.EBADREQUEST},
		{`{"events":[` + strings.Repeat(`{},`, 5) + `{}]}`, 0, pulse.EINVALID}, // 6 > max 5
	}
	for _, tc := range cases {
		evs, err := DecodeBatch([]byte(tc.body), 5)
		if got := pulse.ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %q, want %q (%v)", tc.body, got, tc.code, err)
		}
		if err == nil && len(evs) != tc.n {
			t.Errorf("%s: %d events, want %d", tc.body, len(evs), tc.n)
		}
	}
}

// FuzzDecodeBatch also compares the split (goccy/go-json) with
// encoding/json: a body one accepts the other must accept, with the same
// raw events.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"events":[{"event_type":"x","service":"s"}]}`))
	f.Add([]byte(`{"events":[]}`))
	f.Add([]byte(`{"events":[{}],"x":1}`))
	f.Add([]byte(`{"events":[{"a":"\u00e9\ud800"}, 1, "x", null]} `))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := DecodeBatch(body, 1000)
		var std struct {
			Events []json.RawMessage `json:"events"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		stdErr := dec.Decode(&std)
		if stdErr == nil && dec.More() {
			stdErr = errors.New("trailing data")
		}
		if err != nil {
			if c := pulse.ErrorCode(err); c != pulse.EINVALID && c != pulse.EBADREQUEST {
				t.Fatalf("unexpected code %q", c)
			}
			if stdErr != nil || pulse.ErrorCode(err) == pulse.EINVALID {
				return
			}
			t.Fatalf("refused (%v) what encoding/json accepts", err)
		}
		if stdErr != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", stdErr)
		}
		if len(evs) < 1 || len(evs) > 1000 {
			t.Fatalf("%d events accepted", len(evs))
		}
		if len(evs) != len(std.Events) {
			t.Fatalf("%d events, encoding/json splits %d", len(evs), len(std.Events))
		}
		for i := range evs {
			if !bytes.Equal(evs[i], std.Events[i]) {
				t.Fatalf("event %d: %q, encoding/json: %q", i, evs[i], std.Events[i])
			}
		}
	})
}
