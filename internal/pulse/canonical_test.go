package pulse

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{`{"a":{"d":[3,{"z":1,"y":2}],"c":null}}`, `{"a":{"c":null,"d":[3,{"y":2,"z":1}]}}`},
		{`[1,1.0,1e0,1E+0,10e-1,0.1e1,100e-2]`, `[1,1,1,1,1,1,1]`},
		{`[0,-0,0.0,0e5,-0.0e-3]`, `[0,0,0,0,0]`},
		{`[1.5,-1.50,0.000001,1e-7,123e18,1e21,12345678901234567890,12345678901234567891]`,
			`[1.5,-1.5,0.000001,1e-7,123000000000000000000,1e+21,12345678901234567890,12345678901234567891]`},
		{`[1e400,-2.5E-400,4.35,0.3]`, `[1e+400,-2.5e-400,4.35,0.3]`},
		{`["\u0061\/\"\\\n\u001f\u00e9\ud83d\ude00\u2028"]`, "[\"a/\\\"\\\\\\n\\u001fé😀\u2028\"]"},
		{`{"\u0062":1,"a":2}`, `{"a":2,"b":1}`},
		// UTF-16 order: U+1F600 (a surrogate pair) sorts before U+FF61.
		{`{"｡":1,"😀":2,"a":3}`, `{"a":3,"😀":2,"｡":1}`},
		{`{"a":true,"b":false}`, `{"a":true,"b":false}`},
	}
	for _, c := range cases {
		got, err := canonicalJSON(nil, []byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{`{"a":1,"a":2}`, `{"a":1,"\u0061":1}`, `[{"x":{"k":1,"k":1}}]`} {
		if _, err := canonicalJSON(nil, []byte(in)); err == nil {
			t.Errorf("%s: duplicate key accepted", in)
		}
	}
}

func TestLoneSurrogate(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		`"\ud800"`:             1,
		`"\udc00"`:             1,
		`"x\ud83dy"`:           2,
		`"\ud83d\u0041"`:       1,
		`"\ud83d\ude00"`:       -1,
		`"\\ud800"`:            -1, // an escaped backslash, then text
		`"\\\ud800"`:           3,
		`"\u0041\ud83d"`:       7,
		`"\ud83d\ude00\udc00"`: 13,
	}
	for in, want := range cases {
		if got := loneSurrogate([]byte(in)); got != want {
			t.Errorf("loneSurrogate(%s) = %d, want %d", in, got, want)
		}
	}
}

// TestParseEventIdempotencyCanonical: replays that differ only in form are
// the same content (a duplicate); any change of value is not (a conflict).
func TestParseEventIdempotencyCanonical(t *testing.T) {
	t.Parallel()
	const base = `{"event_type":"x","service":"s","external_id":"k","timestamp":"2026-11-26T09:00:00Z","payload":{"a":[1,"é"],"b":1,"n":12345678901234567890}}`
	orig := mustParse(t, base)
	cases := []struct {
		name, body string
		same       bool
	}{
		{"identical", base, true},
		{"keys reordered", `{"payload":{"n":12345678901234567890,"b":1,"a":[1,"é"]},"timestamp":"2026-11-26T09:00:00Z","external_id":"k","service":"s","event_type":"x"}`, true},
		{"1.0 for 1", strings.Replace(base, `"b":1`, `"b":1.0`, 1), true},
		{"1e0 for 1", strings.Replace(base, `"b":1`, `"b":1e0`, 1), true},
		{"escaped string", strings.Replace(base, `"é"`, `"\u00e9"`, 1), true},
		{"white space", strings.Replace(base, `"b":1`, `"b" :  1 `, 1), true},
		{"same instant, other offset", strings.Replace(base, `09:00:00Z`, `10:00:00.000+01:00`, 1), true},
		{"other number", strings.Replace(base, `"b":1`, `"b":2`, 1), false},
		{"1 vs \"1\"", strings.Replace(base, `"b":1`, `"b":"1"`, 1), false},
		{"big integer, last digit", strings.Replace(base, `67890`, `67891`, 1), false},
		{"array order", strings.Replace(base, `[1,"é"]`, `["é",1]`, 1), false},
		{"other instant", strings.Replace(base, `09:00:00Z`, `09:00:01Z`, 1), false},
		{"other external id", strings.Replace(base, `"k"`, `"K"`, 1), false},
	}
	for _, c := range cases {
		e := mustParse(t, c.body)
		if got := e.SameContent(orig.ContentHash); got != c.same {
			t.Errorf("%s: SameContent = %v, want %v", c.name, got, c.same)
		}
	}
}

// TestParseEventLegacyHash: events stored before the canonical hash carry
// the hash of their bytes as sent (golden values computed by that
// version); a byte-identical replay still matches them, and a body that
// was already canonical hashes as it always did.
func TestParseEventLegacyHash(t *testing.T) {
	t.Parallel()
	nonCanonical := mustParse(t, `{"event_type":"x","service":"s","external_id":"k","timestamp":"2026-11-26T10:00:00+01:00","payload":{"b":1.0,"a":[1e0,"\u00e9"]}}`)
	const oldNonCanonical = "8df2ce292632cee5b9a38f77684182dd"
	if nonCanonical.ContentHash == oldNonCanonical || !nonCanonical.SameContent(oldNonCanonical) {
		t.Errorf("non-canonical body: hash %s, legacy match %v", nonCanonical.ContentHash, nonCanonical.SameContent(oldNonCanonical))
	}
	canonical := mustParse(t, `{"event_type":"x","service":"s","external_id":"k","timestamp":"2026-11-26T09:00:00Z","payload":{"a":[1,"é"],"b":1}}`)
	if old := "3689522e632de1ac85199f66c93af0fc"; canonical.ContentHash != old {
		t.Errorf("canonical body: hash %s, want the old %s", canonical.ContentHash, old)
	}
	if !canonical.SameContent(nonCanonical.ContentHash) || !nonCanonical.SameContent(canonical.ContentHash) {
		t.Error("the two forms must be the same content")
	}
	if canonical.SameContent(oldNonCanonical) {
		t.Error("an old byte hash matches only its own bytes (documented)")
	}
}

func TestParseEventEscapesAndSurrogates(t *testing.T) {
	t.Parallel()
	cases := []struct{ body, field, reason string }{
		{`{"event_type":"x","service":"s","tags":{"a":"1","\u0061":"2"}}`, "tags.a", "field.duplicate"},
		{`{"event_type":"x","service":"s","\u0073ervice":"t"}`, "service", "field.duplicate"},
		{`{"event_type":"x","service":"s","payload":{"a":1,"\u0061":2}}`, "payload", "field.duplicate"},
		{`{"event_type":"x","service":"s","payload":{"x":[{"k":1,"k":2}]}}`, "payload", "field.duplicate"},
		{`{"event_type":"x","service":"s","tags":{"a":"\ud800"}}`, "tags", "tags.invalid"},
		{`{"event_type":"x","service":"s","tags":{"\udc00":"a"}}`, "tags", "tags.invalid"},
		{`{"event_type":"x","service":"s\ud83d"}`, "service", "service.invalid"},
		{`{"event_type":"x","service":"s","message":"a\ud800b"}`, "message", "message.invalid"},
		{`{"event_type":"x","service":"s","payload":{"k":["\udfff"]}}`, "payload", "payload.invalid"},
		{`{"event_type":"x","service":"s","payload":{"\ud800":1}}`, "payload", "payload.invalid"},
		{`{"event_type":"x","service":"s","\ud800":1}`, "event", "event.invalid"},
	}
	for _, c := range cases {
		_, err := ParseEvent([]byte(c.body), parseOpts())
		pe, ok := err.(*Error)
		if !ok || pe.Code != EINVALID || !slices.ContainsFunc(pe.Fields, func(f FieldError) bool { return f.Field == c.field && f.Reason == c.reason }) {
			t.Errorf("%s: want EINVALID with %s/%s, got %v", c.body, c.field, c.reason, err)
		}
	}
	// Not JSON stays a 400, surrogate or not.
	if _, err := ParseEvent([]byte(`{"event_type":"x","service":"\ud800`), parseOpts()); ErrorCode(err) != EBADREQUEST {
		t.Errorf("truncated body: want EBADREQUEST, got %v", err)
	}
	// Escapes that decode to distinct keys, and surrogate pairs, are fine.
	mustParse(t, `{"event_type":"x","service":"s","tags":{"a":"\ud83d\ude00","\u0062":"1"},"payload":{"\\u0061":1,"a":2}}`)
}

func TestParseEventExternalIDRules(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{" k", "k ", "\tk", "k\u00a0", "\u3000k", "a\nb", "a\rb", "a\x7fb", "a\u0085b",
		"a\u200bb", "a\u200db", "\ufeffk", "a\u202eb", "a\u2066b", "a\u2028b", "a\u2029b", "a\u00adb"} {
		_, err := ParseEvent([]byte(`{"event_type":"x","service":"s","external_id":`+quoteJSON(bad)+`}`), parseOpts())
		pe, ok := err.(*Error)
		if !ok || pe.Code != EINVALID || !slices.ContainsFunc(pe.Fields, func(f FieldError) bool { return f.Field == "external_id" && f.Reason == "external_id.invalid" }) {
			t.Errorf("external_id %q: want EINVALID naming external_id, got %v", bad, err)
		}
	}
	for _, good := range []string{"k", "order 42", "Bestellung-Größe", "注文/7", "e\u0301", "😀x", "a:b/c#d"} {
		if e := mustParse(t, `{"event_type":"x","service":"s","external_id":`+quoteJSON(good)+`}`); e.ExternalID != good {
			t.Errorf("external_id %q stored as %q", good, e.ExternalID)
		}
	}
}

func mustParse(t *testing.T, body string) *Event {
	t.Helper()
	e, err := ParseEvent([]byte(body), parseOpts())
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return e
}

func quoteJSON(s string) string { return string(appendCanonString(nil, s)) }

// FuzzCanonicalJSON: the canonical form is valid JSON, its own canonical
// form, and means what the input means.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[1.0,"\u00e9",{"d":null,"c":true}]}`, `[1e2,-0.0,"\ud83d\ude00"]`, `{"a":{"a":{"b":1,"a":2}}}`, `"x"`, `1E-7`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, data) != nil || loneSurrogate(compact.Bytes()) >= 0 {
			return
		}
		got, err := canonicalJSON(nil, compact.Bytes())
		if err != nil {
			return // a duplicate key
		}
		if !json.Valid(got) {
			t.Fatalf("invalid output %s from %s", got, data)
		}
		again, err := canonicalJSON(nil, got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %s -> %s (%v)", got, again, err)
		}
		var in, out any
		if json.Unmarshal(data, &in) != nil || json.Unmarshal(got, &out) != nil {
			return // a number beyond float64
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("meaning changed: %s -> %s", data, got)
		}
	})
}
