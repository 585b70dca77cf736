package ingest

import (
	"strings"
	"testing"

	"pulsestream/internal/pulse"
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

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"events":[{"event_type":"x","service":"s"}]}`))
	f.Add([]byte(`{"events":[]}`))
	f.Add([]byte(`{"events":[{}],"x":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := DecodeBatch(body, 1000)
		if err != nil {
			if c := pulse.ErrorCode(err); c != pulse.EINVALID && c != pulse.EBADREQUEST {
				t.Fatalf("unexpected code %q", c)
			}
			return
		}
		if len(evs) < 1 || len(evs) > 1000 {
			t.Fatalf("%d events accepted", len(evs))
		}
	})
}
