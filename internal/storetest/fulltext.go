package storetest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func init() {
	register("FullTextSearch", testFullTextSearch)
	register("FullTextPaging", testFullTextPaging)
}

// textEvents are the tenant's events for the full-text cases: messages and
// payloads as stored, read back through the store (PostgreSQL keeps the
// payload as json, SQLite as bytes: both must search the same).
func textEvents(t *testing.T, s pulse.Store, tenantID string) []*pulse.Event {
	t.Helper()
	base := now().Add(-time.Hour)
	texts := []struct{ msg, payload, service string }{
		{"Payment FAILED for order 42", `{"reason":"card declined"}`, "billing"},
		{"payment ok", "", "billing"},
		{"Lieferung an die Straße", `{"city":"München"}`, "api"},
		{"a naïve approach", `{"deep":{"deeper":[1,{"text":"Connection RESET by peer"}]}}`, "api"},
		{"東京で会議", `{"note":"ソウル 서울 시청"}`, "worker"},
		{"timeout talking to db", `{"timeout_ms":3000,"key timeout":"x"}`, "worker"},
		{"connection refused", `["reset","later"]`, "api"},
		{"", `{"error":"payment failed twice"}`, "api"},
	}
	var events []*pulse.Event
	for i, x := range texts {
		e := newEvent(tenantID, base.Add(time.Duration(i)*time.Minute))
		e.Message, e.Service = x.msg, x.service
		if i%2 == 1 {
			e.Severity = pulse.SeverityError
		}
		if x.payload != "" {
			e.Payload = []byte(x.payload)
		}
		events = append(events, rehash(e))
	}
	insert(t, s, tenantID, events...)
	return events
}

func textFilter(t *testing.T, query string) pulse.EventFilter {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pulse.ParseEventFilter(q)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return f
}

func searchText(t *testing.T, s pulse.Store, tenantID string, f pulse.EventFilter, budget int) ([]*pulse.Event, *pulse.Cursor) {
	t.Helper()
	got, resume, err := pulse.SearchText(t.Context(), s, tenantID, f, budget)
	if err != nil {
		t.Fatalf("SearchText(%+v): %v", f, err)
	}
	return got, resume
}

func testFullTextSearch(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	events := textEvents(t, s, tn.ID)
	other := createTenant(t, s, 0)
	textEvents(t, s, other.ID) // the same texts: a search that forgets the tenant shows up
	byIndex := func(is ...int) []*pulse.Event {
		var out []*pulse.Event
		for i := len(events) - 1; i >= 0; i-- { // newest first
			for _, j := range is {
				if i == j {
					out = append(out, events[i])
				}
			}
		}
		return out
	}
	cases := []struct {
		query string
		want  []int
	}{
		{"q=payment", []int{0, 1, 7}},
		{"q=PAYMENT", []int{0, 1, 7}},
		{"q=%22payment+failed%22", []int{0, 7}},
		{"q=%22failed+payment%22", nil},
		{"q=payment+declined", []int{0}}, // every term, message or payload
		{"q=stra%C3%9Fe", []int{2}},
		{"q=STRA%C3%9FE", []int{2}},
		{"q=strasse", nil}, // documented: ß is not folded to ss
		{"q=m%C3%BCnchen", []int{2}},
		{"q=NA%C3%8FVE", []int{3}},
		{"q=reset", []int{3, 6}},                    // nested object and array values
		{"q=%22connection+reset%22", []int{3}},      // not across message and payload
		{"q=timeout", []int{5}},                     // keys are not searched
		{"q=%E6%9D%B1%E4%BA%AC", []int{4}},          // 東京: a phrase of ideographs
		{"q=%E4%BA%AC%E6%9D%B1", nil},               // 京東
		{"q=%E3%82%BD%E3%82%A6%E3%83%AB", []int{4}}, // ソウル in the payload
		{"q=%EC%84%9C%EC%9A%B8", []int{4}},          // 서울: Hangul words are words
		{"q=pay", nil},                              // whole words only
		{"q=payment&service=billing", []int{0, 1}},
		{"q=payment&service=billing&severity=error", []int{1}},
		{"q=connection&severity=info", []int{6}},
	}
	for _, tc := range cases {
		f := textFilter(t, tc.query)
		f.Limit = pulse.MaxSearchLimit
		got, resume := searchText(t, s, tn.ID, f, pulse.MaxTextScan)
		checkSearch(t, tc.query, got, byIndex(tc.want...))
		if resume != nil {
			t.Errorf("%s: resume %v on a complete scan", tc.query, resume)
		}
		// The domain's reference agrees with the store's answer.
		checkSearch(t, tc.query+" (reference)", got, reference(events, f))
	}
	if got, _ := searchText(t, s, newID(), textFilter(t, "q=payment"), pulse.MaxTextScan); len(got) != 0 {
		t.Errorf("an unknown tenant found %d events", len(got))
	}
}

// testFullTextPaging walks a q= search page by page, with a scan budget
// smaller than the data so that pages come back short with a resume
// cursor: the pages together are exactly the matches, in order, once.
func testFullTextPaging(t *testing.T, s pulse.Store) {
	tn := createTenant(t, s, 0)
	base := now().Add(-time.Hour).Truncate(time.Second)
	var events []*pulse.Event
	for i := range 120 {
		e := newEvent(tn.ID, base.Add(time.Duration(i%40)*time.Second)) // ties on the timestamp
		e.Message = fmt.Sprintf("event %d", i)
		if i%7 == 0 {
			e.Message += " needle"
		}
		if i%11 == 0 {
			e.Payload = []byte(`{"m":["haystack NEEDLE"]}`)
		}
		events = append(events, rehash(e))
	}
	insert(t, s, tn.ID, events...)
	want := reference(events, pulse.EventFilter{Text: []pulse.Phrase{{"needle"}}, Limit: pulse.MaxSearchLimit})
	if len(want) < 20 {
		t.Fatalf("only %d matches in the data", len(want))
	}
	for _, budget := range []int{pulse.MaxTextScan, 6} {
		f := textFilter(t, "q=needle&limit=4")
		var got []*pulse.Event
		short := 0
	pages:
		for range 200 {
			page, resume := searchText(t, s, tn.ID, f, budget)
			got = append(got, page...)
			switch {
			case len(page) == f.Limit:
				c := pulse.CursorAfter(page[len(page)-1])
				f.After = &c
				continue
			case resume != nil:
				short++
				f.After = resume
				continue
			}
			break pages
		}
		checkSearch(t, fmt.Sprintf("budget %d: all pages", budget), got, want)
		if budget < len(events) && short == 0 {
			t.Errorf("budget %d: no page stopped at the budget", budget)
		}
	}
	// Offset skips matches, not candidates.
	f := textFilter(t, "q=needle&limit=3&offset=2")
	got, _ := searchText(t, s, tn.ID, f, pulse.MaxTextScan)
	checkSearch(t, "offset", got, want[2:5])
}
