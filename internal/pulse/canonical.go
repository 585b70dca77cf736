package pulse

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonical JSON: what makes two payloads "the same content" for
// idempotency. It is RFC 8785 (JSON Canonicalization Scheme) — object
// members sorted by their UTF-16 code units, no insignificant whitespace,
// strings with the fewest escapes, numbers in ECMAScript form — with one
// deliberate difference: numbers are compared as the exact decimal value
// sent, not rounded to float64 first. 1, 1.0, 1e0 and 10e-1 are the same
// number; 12345678901234567890 and 12345678901234567891 are not (RFC 8785
// would make them both 12345678901234567000, and a replay that changed a
// stored digit would pass as a duplicate). Every number a float64-based
// encoder writes comes out byte for byte as RFC 8785 writes it.

// canonicalJSON appends the canonical form of src, a compact, valid JSON
// value (json.Compact's output), to dst. It fails on an object holding the
// same key twice (after unescaping), which has no canonical form, and on a
// lone UTF-16 surrogate escape.
func canonicalJSON(dst, src []byte) ([]byte, error) {
	p := canonParser{src: src}
	v, err := p.value()
	if err != nil {
		return dst, err
	}
	return v.appendTo(dst)
}

// canonValue is one parsed JSON value: a scalar keeps its source token, a
// container its members (keys unescaped for objects).
type canonValue struct {
	kind byte // '{', '[', '"', '0' (number) or 'l' (true, false, null)
	raw  []byte
	keys []string
	kids []canonValue
}

type canonParser struct {
	src []byte
	i   int
}

// errDuplicateKey is canonicalJSON's error for a repeated key.
type errDuplicateKey struct{ key string }

func (e errDuplicateKey) Error() string {
	return fmt.Sprintf("the key %q appears more than once", e.key)
}

func (p *canonParser) value() (canonValue, error) {
	if p.i >= len(p.src) {
		return canonValue{}, fmt.Errorf("unexpected end of JSON")
	}
	switch c := p.src[p.i]; {
	case c == '{' || c == '[':
		v := canonValue{kind: c}
		p.i++
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		for p.i < len(p.src) && p.src[p.i] != end {
			if c == '{' {
				tok := p.stringToken()
				key, err := unescapeJSON(tok)
				if err != nil {
					return v, err
				}
				v.keys = append(v.keys, key)
				p.i++ // ':'
			}
			kid, err := p.value()
			if err != nil {
				return v, err
			}
			v.kids = append(v.kids, kid)
			if p.i < len(p.src) && p.src[p.i] == ',' {
				p.i++
			}
		}
		p.i++
		return v, nil
	case c == '"':
		return canonValue{kind: '"', raw: p.stringToken()}, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		for p.i < len(p.src) && strings.IndexByte("+-.eE0123456789", p.src[p.i]) >= 0 {
			p.i++
		}
		return canonValue{kind: '0', raw: p.src[start:p.i]}, nil
	default:
		start := p.i
		for p.i < len(p.src) && p.src[p.i] >= 'a' && p.src[p.i] <= 'z' {
			p.i++
		}
		return canonValue{kind: 'l', raw: p.src[start:p.i]}, nil
	}
}

// stringToken returns the string starting at p.i, quotes included.
func (p *canonParser) stringToken() []byte {
	start := p.i
	for p.i++; p.i < len(p.src) && p.src[p.i] != '"'; p.i++ {
		if p.src[p.i] == '\\' {
			p.i++
		}
	}
	p.i++
	return p.src[start:min(p.i, len(p.src))]
}

func (v *canonValue) appendTo(dst []byte) ([]byte, error) {
	var err error
	switch v.kind {
	case '{':
		order := make([]int, len(v.keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return compareUTF16(v.keys[a], v.keys[b]) })
		dst = append(dst, '{')
		for n, i := range order {
			if n > 0 {
				if v.keys[order[n-1]] == v.keys[i] {
					return dst, errDuplicateKey{v.keys[i]}
				}
				dst = append(dst, ',')
			}
			dst = appendCanonString(dst, v.keys[i])
			dst = append(dst, ':')
			if dst, err = v.kids[i].appendTo(dst); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case '[':
		dst = append(dst, '[')
		for i := range v.kids {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = v.kids[i].appendTo(dst); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case '"':
		if !slices.Contains(v.raw, '\\') {
			return append(dst, v.raw...), nil // no escapes: already canonical
		}
		s, err := unescapeJSON(v.raw)
		if err != nil {
			return dst, err
		}
		return appendCanonString(dst, s), nil
	case '0':
		return appendCanonNumber(dst, v.raw), nil
	}
	return append(dst, v.raw...), nil
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts keys (it differs from byte order only for characters above U+FFFF
// against U+E000-U+FFFF).
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return utf16Key(ra) - utf16Key(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// utf16Key maps a rune to a value ordered as its UTF-16 encoding is:
// supplementary characters (surrogate pairs, 0xD800...) sort between
// U+D7FF and U+E000.
func utf16Key(r rune) int {
	switch {
	case r >= 0x10000:
		return 0xD800<<11 + int(r-0x10000)
	case r >= 0xE000:
		return 0xE000<<11 + int(r)
	}
	return int(r)
}

// appendCanonString writes s quoted with RFC 8785's escapes: \" \\ \b \f
// \n \r \t, \u00xx for other control characters, everything else as is.
func appendCanonString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

// appendCanonNumber writes the exact decimal value of the JSON number tok
// in ECMAScript's Number::toString layout: integers up to 21 digits
// written out, 1e21 and beyond and below 1e-6 in exponent form (1e+21,
// 1.5e-7), -0 as 0. An exponent too large to compute with (more than 9
// digits) leaves the token as sent.
func appendCanonNumber(dst, tok []byte) []byte {
	s := string(tok)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expText := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], s[i+1:]
	}
	exp := 0
	if expText != "" {
		e := strings.TrimLeft(strings.TrimPrefix(expText, "+"), "0")
		if strings.HasPrefix(expText, "-") {
			e = strings.TrimLeft(expText[1:], "0")
		}
		if len(e) > 9 {
			return append(dst, tok...)
		}
		if e != "" {
			exp, _ = strconv.Atoi(e)
		}
		if strings.HasPrefix(expText, "-") {
			exp = -exp
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= len(frac)
	if digits == "" {
		return append(dst, '0')
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	// value = digits × 10^exp = 0.digits × 10^n
	k := len(digits)
	n := k + exp
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// errLoneSurrogate is what unescapeJSON returns for a \ud800-\udfff escape
// that is not half of a pair.
var errLoneSurrogate = fmt.Errorf("lone UTF-16 surrogate escape")

// unescapeJSON decodes a JSON string token (quotes included, known valid
// apart from surrogates), refusing lone surrogate escapes where
// encoding/json would put U+FFFD.
func unescapeJSON(tok []byte) (string, error) {
	if len(tok) >= 2 {
		tok = tok[1 : len(tok)-1]
	}
	if !slices.Contains(tok, '\\') {
		return string(tok), nil
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '\\' || i+1 >= len(tok) {
			b = append(b, c)
			continue
		}
		i++
		switch tok[i] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n := decodeUEscape(tok[i-1:])
			if r < 0 {
				return "", errLoneSurrogate
			}
			b = utf8.AppendRune(b, r)
			i += n - 2
		default: // " \ /
			b = append(b, tok[i])
		}
	}
	return string(b), nil
}

// decodeUEscape decodes the \uXXXX escape (or surrogate pair of escapes) at
// the start of s: the rune and the bytes used, or -1 for a lone surrogate
// or a malformed escape.
func decodeUEscape(s []byte) (rune, int) {
	r1 := hex4(s)
	switch {
	case r1 < 0:
		return -1, 0
	case !utf16.IsSurrogate(r1):
		return r1, 6
	case r1 >= 0xDC00: // a low half first
		return -1, 0
	}
	r2 := hex4(s[6:])
	if r2 < 0xDC00 || r2 > 0xDFFF {
		return -1, 0
	}
	return utf16.DecodeRune(r1, r2), 12
}

// hex4 is the value of `\uXXXX` at the start of s, or -1.
func hex4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	v, err := strconv.ParseUint(string(s[2:6]), 16, 32)
	if err != nil {
		return -1
	}
	return rune(v)
}

// loneSurrogate returns the offset in the JSON text raw of the first
// \uXXXX escape that is an unpaired UTF-16 surrogate, or -1. Both JSON
// decoders the service uses would store such an escape as U+FFFD, so the
// stored text would not be what was sent.
func loneSurrogate(raw []byte) int {
	for off := 0; ; {
		i := bytes.Index(raw[off:], []byte(`\u`))
		if i < 0 {
			return -1
		}
		i += off
		off = i + 2
		// \u is an escape only after an even number of other backslashes.
		bs := 0
		for j := i - 1; j >= 0 && raw[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 1 {
			continue
		}
		r := hex4(raw[i:])
		if r < 0 || !utf16.IsSurrogate(r) {
			continue
		}
		if dec, n := decodeUEscape(raw[i:]); dec < 0 {
			return i
		} else {
			off = i + n
		}
	}
}
