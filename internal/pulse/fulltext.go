package pulse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Full-text search limits (q=). MaxTextScan bounds the work of one search
// request on stores that answer q= by scanning (docs/STORAGE.md).
const (
	MaxTextQueryLen = 256   // characters of q
	MaxTextTerms    = 8     // words and quoted phrases in q
	MaxTextScan     = 20000 // candidate events one request may examine
)

// Phrase is one term of a full-text query: tokens that must appear one
// after another in one string (message or one payload string value). A
// word is a phrase of one token.
type Phrase []string

// parseTextQuery splits q into words and "quoted phrases" and tokenizes
// each like the text it is compared with. A word that is several tokens
// ("foo-bar", "東京") is a phrase of them.
func parseTextQuery(q string) ([]Phrase, string) {
	if q == "" || utf8.RuneCountInString(q) > MaxTextQueryLen || strings.IndexByte(q, 0) >= 0 || !utf8.ValidString(q) {
		return nil, fmt.Sprintf("must be 1-%d characters of valid UTF-8", MaxTextQueryLen)
	}
	if strings.Count(q, `"`)%2 != 0 {
		return nil, "has a quote that is not closed"
	}
	var terms []Phrase
	for i, part := range strings.Split(q, `"`) {
		if i%2 == 1 { // inside quotes: one phrase
			if p := Tokenize(part); len(p) > 0 {
				terms = append(terms, p)
			}
			continue
		}
		for _, w := range strings.Fields(part) {
			if p := Tokenize(w); len(p) > 0 {
				terms = append(terms, p)
			}
		}
	}
	switch {
	case len(terms) == 0:
		return nil, "must contain at least one word (letters or digits)"
	case len(terms) > MaxTextTerms:
		return nil, fmt.Sprintf("may hold at most %d words and phrases", MaxTextTerms)
	}
	return terms, ""
}

// Tokenize splits s into lower-case tokens: runs of letters, digits and
// combining marks; every Han, Hiragana or Katakana character is a token of
// its own (these scripts do not separate words by spaces, so a query
// "東京" is the phrase 東 京). Lower case is Unicode's simple mapping
// (ẞ → ß; ß is not "ss"); text is compared as sent, without normalization.
func Tokenize(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		switch {
		case isIdeograph(r):
			if start >= 0 {
				out = append(out, strings.ToLower(s[start:i]))
				start = -1
			}
			out = append(out, strings.ToLower(string(r)))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
			if start < 0 {
				start = i
			}
		default:
			if start >= 0 {
				out = append(out, strings.ToLower(s[start:i]))
				start = -1
			}
		}
	}
	if start >= 0 {
		out = append(out, strings.ToLower(s[start:]))
	}
	return out
}

func isIdeograph(r rune) bool {
	return r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r))
}

// MatchesText reports whether every phrase of text occurs in e's message
// or in one of its payload's string values (at any depth; keys are not
// searched). A payload that is not valid JSON is searched as one string.
func MatchesText(e *Event, text []Phrase) bool {
	if len(text) == 0 {
		return true
	}
	if !mayMatch(e, text) {
		return false
	}
	fields := [][]string{Tokenize(e.Message)}
	if len(e.Payload) > 0 {
		var v any
		if err := json.Unmarshal(e.Payload, &v); err != nil {
			fields = append(fields, Tokenize(string(e.Payload)))
		} else {
			fields = appendStrings(fields, v)
		}
	}
	for _, p := range text {
		found := false
		for _, f := range fields {
			if containsPhrase(f, p) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// mayMatch rejects most events that cannot match before any tokenizing
// or JSON decoding (the scan's main cost): every token must occur in the
// lower-cased message or payload bytes. Tokens are lower-cased rune by
// rune like the whole text, so a token of the text is a substring of it.
// A payload with an escape may spell a token differently, so it is
// always decoded.
func mayMatch(e *Event, text []Phrase) bool {
	if bytes.IndexByte(e.Payload, '\\') >= 0 {
		return true
	}
	msg, payload := strings.ToLower(e.Message), bytes.ToLower(e.Payload)
	for _, p := range text {
		for _, t := range p {
			if !strings.Contains(msg, t) && !bytes.Contains(payload, []byte(t)) {
				return false
			}
		}
	}
	return true
}

func appendStrings(fields [][]string, v any) [][]string {
	switch v := v.(type) {
	case string:
		if t := Tokenize(v); len(t) > 0 {
			fields = append(fields, t)
		}
	case []any:
		for _, x := range v {
			fields = appendStrings(fields, x)
		}
	case map[string]any:
		for _, x := range v {
			fields = appendStrings(fields, x)
		}
	}
	return fields
}

func containsPhrase(tokens []string, p Phrase) bool {
outer:
	for i := 0; i+len(p) <= len(tokens); i++ {
		for j, t := range p {
			if tokens[i+j] != t {
				continue outer
			}
		}
		return true
	}
	return false
}

// TextSearcher is an EventStore that answers a q= search itself, with
// SearchText's contract (the parts event store skips whole blocks by
// their token filters). SearchText uses it when the store has it.
type TextSearcher interface {
	SearchText(ctx context.Context, tenantID string, f EventFilter, budget int) (events []*Event, resume *Cursor, err error)
}

// SearchText answers a search whose filter has Text: through the store's
// own SearchText when it is a TextSearcher, by ScanText otherwise. Work
// per request is bounded by budget candidates (events that pass every
// other filter); see ScanText for the answer and resume.
func SearchText(ctx context.Context, s EventStore, tenantID string, f EventFilter, budget int) (events []*Event, resume *Cursor, err error) {
	if ts, ok := s.(TextSearcher); ok {
		return ts.SearchText(ctx, tenantID, f, budget)
	}
	return ScanText(ctx, s, tenantID, f, budget)
}

// ScanText answers a search whose filter has Text on a store that cannot
// match text itself: it reads the candidates (the events matching every
// other filter) newest first in growing chunks and keeps those whose text
// matches, until f.Limit matches (after skipping f.Offset) or budget
// candidates have been examined. resume is nil when the answer is
// complete; otherwise the page may be short and resume is the position
// of the last candidate examined, where the next request continues (the
// API's next_cursor). Work per request is thus bounded by budget events,
// whatever the store holds (docs/STORAGE.md).
func ScanText(ctx context.Context, s EventStore, tenantID string, f EventFilter, budget int) (events []*Event, resume *Cursor, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	skip := f.Offset
	text := f.Text
	f.Text, f.Offset = nil, 0
	chunk := min(max(2*(limit+skip), 100), MaxSearchLimit)
	events = []*Event{}
	for scanned := 0; scanned < budget; {
		f.Limit = min(chunk, budget-scanned)
		batch, err := s.SearchEvents(ctx, tenantID, f)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range batch {
			if !MatchesText(e, text) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			events = append(events, e)
			if len(events) == limit {
				return events, nil, nil
			}
		}
		scanned += len(batch)
		if len(batch) < f.Limit {
			return events, nil, nil // no more candidates
		}
		c := CursorAfter(batch[len(batch)-1])
		f.After = &c
		chunk = min(2*chunk, MaxSearchLimit)
	}
	return events, f.After, nil
}
