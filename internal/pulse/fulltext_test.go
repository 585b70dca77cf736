package pulse

import (
	"net/url"
	"slices"
	"testing"
)

func TestTokenize(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"Connection RESET by peer":   {"connection", "reset", "by", "peer"},
		"user_id=42; path=/v1/users": {"user", "id", "42", "path", "v1", "users"},
		"STRASSE Straße ẞ":           {"strasse", "straße", "ß"},
		"Naïve café":                 {"naïve", "café"},
		"東京で会議":                      {"東", "京", "で", "会", "議"},
		"서울 시청":                      {"서울", "시청"},
		"ab東c":                       {"ab", "東", "c"},
		"":                           nil,
		"-- !! --":                   nil,
	}
	for in, want := range cases {
		if got := Tokenize(in); !slices.Equal(got, want) {
			t.Errorf("Tokenize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseTextQuery(t *testing.T) {
	t.Parallel()
	q := url.Values{"q": {`Timeout "connection reset" foo-bar 東京`}}
	f, err := ParseEventFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	want := []Phrase{{"timeout"}, {"connection", "reset"}, {"foo", "bar"}, {"東", "京"}}
	if !slices.EqualFunc(f.Text, want, func(a, b Phrase) bool { return slices.Equal(a, b) }) {
		t.Errorf("Text = %q, want %q", f.Text, want)
	}
}

func TestMatchesText(t *testing.T) {
	t.Parallel()
	e := &Event{
		Message: "Payment FAILED for Straße 5",
		Payload: []byte(`{"error":{"detail":"connection reset by peer","codes":["E42","naïve"]},"key_only":1,"note":"東京で会議"}`),
	}
	cases := map[string]bool{
		"payment":                  true,
		"PAYMENT failed":           true,
		`"payment failed"`:         true,
		`"failed payment"`:         false,
		"straße":                   true,
		"STRASSE":                  false, // ß is not folded to ss
		"reset":                    true,  // nested payload string
		`"connection reset"`:       true,
		`"peer e42"`:               false, // a phrase stays inside one string
		"e42 NAÏVE":                true,  // array values
		"key_only":                 false, // keys are not searched
		"東京":                       true,
		"京東":                       false,
		"会議":                       true,
		"payment missing":          false, // every term must match
		`"for straße 5" "by peer"`: true,
		"pay":                      false, // whole tokens only
	}
	for q, want := range cases {
		text, msg := parseTextQuery(q)
		if msg != "" {
			t.Fatalf("%q: %s", q, msg)
		}
		if got := MatchesText(e, text); got != want {
			t.Errorf("q=%q: match %v, want %v", q, got, want)
		}
	}
	// An escape in the payload spells a word the raw bytes do not show.
	escaped := &Event{Payload: []byte(`{"a":"CAF\u00c9 au lait"}`)}
	if !MatchesText(escaped, []Phrase{{"café"}}) || MatchesText(escaped, []Phrase{{"thé"}}) {
		t.Error("escaped payload strings are not searched as decoded")
	}
	f := EventFilter{Text: []Phrase{{"payment"}}}
	if !f.Matches(e) {
		t.Error("Matches ignores Text")
	}
	f.Text = []Phrase{{"absent"}}
	if f.Matches(e) {
		t.Error("Matches ignores Text")
	}
}
