package pulse

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseEventFilter(t *testing.T) {
	t.Parallel()
	q, _ := url.ParseQuery("service=api&severity=error&severity=critical&min_severity=error&tag=a:b&tag=c:d:e&status_code_min=500&limit=10&start_time=2026-01-01T00:00:00Z")
	f, err := ParseEventFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	if f.Service != "api" || f.Limit != 10 || f.StatusCodeMin != 500 || !f.Start.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("parsed %+v", f)
	}
	if !slices.Equal(f.Severities, []Severity{SeverityError, SeverityCritical}) {
		t.Errorf("severities %v", f.Severities)
	}
	if len(f.Tags) != 2 || f.Tags[1] != (Tag{"c", "d:e"}) {
		t.Errorf("tags %v", f.Tags)
	}
	q, _ = url.ParseQuery("severity=debug&min_severity=error")
	if f, err := ParseEventFilter(q); err != nil || !f.NoMatch {
		t.Errorf("contradicting severities must match nothing: %+v %v", f, err)
	}
	if f, _ := ParseEventFilter(url.Values{}); f.Limit != DefaultSearchLimit {
		t.Errorf("default limit %d", f.Limit)
	}
}

func TestParseEventFilterRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"limit=0": "limit", "limit=1001": "limit", "limit=abc": "limit", "offset=10001": "offset", "offset=-1": "offset",
		"severity=loud": "severity", "min_severity=x": "min_severity", "start_time=yesterday": "start_time",
		"status_code=99": "status_code", "status_code_min=abc": "status_code_min", "tag=novalue": "tag", "tag=:v": "tag",
		"cursor=garbage": "cursor", "colour=red": "colour", "service=a&service=b": "service",
		"start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z": "end_time",
		"status_code_min=500&status_code_max=400":                       "status_code_max",
		"service=%00": "service",
		"q=":          "q", "q=%22open": "q", "q=---": "q", "q=a+b+c+d+e+f+g+h+i": "q", "q=" + strings.Repeat("a", MaxTextQueryLen+1): "q",
		"q=a&q=b": "q",
	}
	for query, field := range cases {
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseEventFilter(q)
		pe, ok := err.(*Error)
		if !ok || pe.Code != EINVALID || !slices.ContainsFunc(pe.Fields, func(f FieldError) bool { return f.Field == field }) {
			t.Errorf("%s: want EINVALID naming %s, got %v", query, field, err)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := Cursor{Timestamp: time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC), ID: NewID()}
	got, err := DecodeCursor(c.Encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, c)
	}
	for _, bad := range []string{"", "abc", c.Encode() + "x", "AAAAAAAAAAA"} {
		if _, err := DecodeCursor(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{Timestamp: time.Unix(1, 0), ID: "01a21942-f63c-74e9-b713-cca26cca1176"}.Encode())
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			return
		}
		if !ValidID(c.ID) {
			t.Fatalf("decoded a cursor with a bad id %q", c.ID)
		}
		if again, err := DecodeCursor(c.Encode()); err != nil || again != c {
			t.Fatalf("re-encode mismatch: %+v vs %+v", again, c)
		}
	})
}

func FuzzParseEventFilter(f *testing.F) {
	for _, s := range []string{"service=a&limit=5", "tag=a:b&tag=c:d", "severity=error,critical&min_severity=warning", "cursor=x", "offset=5&limit=1000",
		"q=timeout", "q=%22connection+reset%22+db", "q=Stra%C3%9Fe&service=api", "q=%22", "q=%E6%9D%B1%E4%BA%AC", "q=a+b+c+d+e+f+g+h+i", "q=---"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		flt, err := ParseEventFilter(q)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("unexpected code: %v", err)
			}
			return
		}
		if flt.Limit < 1 || flt.Limit > MaxSearchLimit || flt.Offset < 0 || flt.Offset > MaxSearchOffset {
			t.Fatalf("out-of-range paging accepted: %+v", flt)
		}
		if len(flt.Text) > MaxTextTerms || q.Has("q") && len(flt.Text) == 0 {
			t.Fatalf("q accepted as %d terms: %q", len(flt.Text), q.Get("q"))
		}
		for _, p := range flt.Text {
			if len(p) == 0 || slices.Contains(p, "") {
				t.Fatalf("empty phrase or token in %q", flt.Text)
			}
		}
	})
}
