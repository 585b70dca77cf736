package pulse

import (
	"bytes"
	"fmt"
	"math"
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
//
// Work and memory stay linear whatever the shape: one pass records where
// each object and array ends (8 bytes per container) and counts members,
// then values are written in order, each object's members sorted through
// one preallocated stack of 16-byte entries; no value is copied or
// scanned once per level of nesting. Besides the output (the payload's
// size), a 5 MB payload of 400,000 members costs 6.4 MB, 2.5 million
// array elements nothing.
func canonicalJSON(dst, src []byte) ([]byte, error) {
	if len(src) > math.MaxInt32 {
		return dst, fmt.Errorf("payload too large to canonicalize")
	}
	ends, members := containerEnds(src)
	c := canonicalizer{src: src, ends: ends, members: make([]canonMember, 0, members)}
	dst, _, err := c.value(dst, 0)
	return dst, err
}

// canonicalizer holds the state of one canonicalJSON call.
type canonicalizer struct {
	src     []byte
	ends    [][2]int32    // start and end offset of every container, by start
	members []canonMember // the members of the objects being written
	keys    []byte        // unescaped keys that held an escape
}

// canonMember is one object member: its key (in src, or in keys when it
// held an escape) and where its value starts in src.
type canonMember struct {
	keyOff, keyLen int32
	value          int32
	unescaped      bool
}

func (c *canonicalizer) key(m canonMember) []byte {
	if m.unescaped {
		return c.keys[m.keyOff : m.keyOff+m.keyLen]
	}
	return c.src[m.keyOff : m.keyOff+m.keyLen]
}

// containerEnds lists the offset of the closing bracket of every object
// and array of the compact JSON text src, in order of their start, and
// counts the object members (at most that many are ever stacked).
func containerEnds(src []byte) (ends [][2]int32, members int) {
	var open []int // indexes into ends
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			i = stringEnd(src, i) - 1
		case ':':
			members++
		case '{', '[':
			open = append(open, len(ends))
			ends = append(ends, [2]int32{int32(i), 0})
		case '}', ']':
			if n := len(open); n > 0 {
				ends[open[n-1]][1] = int32(i)
				open = open[:n-1]
			}
		}
	}
	return ends, members
}

// stringEnd returns the offset just past the string starting at i.
func stringEnd(src []byte, i int) int {
	for i++; i < len(src) && src[i] != '"'; i++ {
		if src[i] == '\\' {
			i++
		}
	}
	return min(i+1, len(src))
}

// valueEnd returns the offset just past the value starting at i.
func (c *canonicalizer) valueEnd(i int) int {
	switch c.src[i] {
	case '"':
		return stringEnd(c.src, i)
	case '{', '[':
		k, _ := slices.BinarySearchFunc(c.ends, int32(i), func(e [2]int32, t int32) int { return int(e[0] - t) })
		return int(c.ends[k][1]) + 1
	}
	for i < len(c.src) && c.src[i] != ',' && c.src[i] != '}' && c.src[i] != ']' {
		i++
	}
	return i
}

// value writes the canonical form of the value starting at i and returns
// the offset just past it in src.
func (c *canonicalizer) value(dst []byte, i int) ([]byte, int, error) {
	if i >= len(c.src) {
		return dst, i, fmt.Errorf("unexpected end of JSON")
	}
	var err error
	switch ch := c.src[i]; {
	case ch == '{':
		base := len(c.members)
		for i++; i < len(c.src) && c.src[i] != '}'; {
			end := stringEnd(c.src, i)
			m := canonMember{keyOff: int32(i + 1), keyLen: int32(end - i - 2), value: int32(end + 1)}
			if bytes.IndexByte(c.src[i:end], '\\') >= 0 {
				k, err := unescapeJSON(c.src[i:end])
				if err != nil {
					return dst, i, err
				}
				m = canonMember{keyOff: int32(len(c.keys)), keyLen: int32(len(k)), value: m.value, unescaped: true}
				c.keys = append(c.keys, k...)
			}
			c.members = append(c.members, m)
			i = c.valueEnd(end + 1)
			if i < len(c.src) && c.src[i] == ',' {
				i++
			}
		}
		members := c.members[base:]
		slices.SortFunc(members, func(a, b canonMember) int { return compareUTF16(c.key(a), c.key(b)) })
		dst = append(dst, '{')
		for n, m := range members {
			if n > 0 {
				if bytes.Equal(c.key(members[n-1]), c.key(m)) {
					return dst, i, errDuplicateKey{string(c.key(m))}
				}
				dst = append(dst, ',')
			}
			dst = appendCanonString(dst, c.key(m))
			dst = append(dst, ':')
			if dst, _, err = c.value(dst, int(m.value)); err != nil {
				return dst, i, err
			}
		}
		c.members = c.members[:base]
		return append(dst, '}'), i + 1, nil
	case ch == '[':
		dst = append(dst, '[')
		n := 0
		for i++; i < len(c.src) && c.src[i] != ']'; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			if dst, i, err = c.value(dst, i); err != nil {
				return dst, i, err
			}
			if i < len(c.src) && c.src[i] == ',' {
				i++
			}
		}
		return append(dst, ']'), i + 1, nil
	case ch == '"':
		end := stringEnd(c.src, i)
		tok := c.src[i:end]
		if bytes.IndexByte(tok, '\\') < 0 {
			return append(dst, tok...), end, nil // no escapes: already canonical
		}
		s, err := unescapeJSON(tok)
		if err != nil {
			return dst, end, err
		}
		return appendCanonString(dst, s), end, nil
	case ch == '-' || ch >= '0' && ch <= '9':
		end := c.valueEnd(i)
		return appendCanonNumber(dst, c.src[i:end]), end, nil
	default: // true, false, null
		end := c.valueEnd(i)
		return append(dst, c.src[i:end]...), end, nil
	}
}

// errDuplicateKey is canonicalJSON's error for a repeated key.
type errDuplicateKey struct{ key string }

func (e errDuplicateKey) Error() string {
	return fmt.Sprintf("the key %q appears more than once", e.key)
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts keys (it differs from byte order only for characters above U+FFFF
// against U+E000-U+FFFF).
func compareUTF16(a, b []byte) int {
	for len(a) > 0 && len(b) > 0 {
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRune(b)
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
func appendCanonString[S ~string | ~[]byte](dst []byte, s S) []byte {
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
	if plainInteger(tok) {
		return append(dst, tok...) // the common case, already canonical
	}
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

// plainInteger reports whether tok is an integer ECMAScript writes as is:
// digits without exponent or fraction, at most 21 of them, not -0.
func plainInteger(tok []byte) bool {
	digits := bytes.TrimPrefix(tok, []byte{'-'})
	if len(digits) == 0 || len(digits) > 21 || len(digits) < len(tok) && digits[0] == '0' {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
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
