package colblock

import (
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/pulsestream/pulsestream/internal/pulse"
)

// A bloom is a Bloom filter of 64·len(b) bits (a power of two; none: the
// empty set) with bloomK bits per key, the positions h1 + i·h2 of the
// key's 64-bit xxhash (stable across processes and versions, unlike
// hash/maphash). Filters are sized for ~1 % false positives at most
// maxBloomWords (64 KiB), past which the rate grows.
type bloom []uint64

const (
	bloomK        = 7
	bitsPerKey    = 10 // ≈ 0.8 % false positives with bloomK = 7
	maxBloomWords = 8192
)

func (b bloom) has(h uint64) bool {
	if len(b) == 0 {
		return false
	}
	mask, h2 := uint64(len(b))*64-1, h>>32|1
	for i := range uint64(bloomK) {
		p := (h + i*h2) & mask
		if b[p>>6]&(1<<(p&63)) == 0 {
			return false
		}
	}
	return true
}

func (b bloom) set(h uint64) {
	mask, h2 := uint64(len(b))*64-1, h>>32|1
	for i := range uint64(bloomK) {
		p := (h + i*h2) & mask
		b[p>>6] |= 1 << (p & 63)
	}
}

// bloomBuilder collects the keys' hashes (with repeats) of one filter.
type bloomBuilder struct {
	hashes []uint64
	lower  []byte // addText's buffer
}

func (bb *bloomBuilder) add(h uint64) { bb.hashes = append(bb.hashes, h) }

// addStrings adds each non-empty string (an empty field is not a value a
// filter can ask for).
func (bb *bloomBuilder) addStrings(ss []string) {
	for _, s := range ss {
		if s != "" {
			bb.add(xxhash.Sum64String(s))
		}
	}
}

// addText adds the tokens of s, as pulse.Tokenize makes them. ASCII text
// (most of it) takes a path of its own that does not allocate: its tokens
// are the runs of letters and digits, lower-cased.
func (bb *bloomBuilder) addText(s string) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			for _, t := range pulse.Tokenize(s) {
				bb.add(xxhash.Sum64String(t))
			}
			return
		}
	}
	start, upper := -1, false
	for i := 0; i <= len(s); i++ {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
		}
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			if start >= 0 {
				bb.addToken(s[start:i], upper)
			}
			start, upper = -1, false
			continue
		}
		if start < 0 {
			start = i
		}
	}
}

func (bb *bloomBuilder) addToken(t string, upper bool) {
	if !upper {
		bb.add(xxhash.Sum64String(t))
		return
	}
	bb.lower = bb.lower[:0]
	for i := range len(t) {
		c := t[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		bb.lower = append(bb.lower, c)
	}
	bb.add(xxhash.Sum64(bb.lower))
}

// build makes the filter: first as large as the hashes could need, then,
// from the share of bits set (which estimates how many keys were
// distinct), folded in halves (OR of the two halves: a key's position
// modulo the smaller power of two) down to the size the distinct keys need.
func (bb *bloomBuilder) build() bloom {
	if len(bb.hashes) == 0 {
		return nil
	}
	words := 1
	for words < maxBloomWords && words*64 < len(bb.hashes)*bitsPerKey {
		words *= 2
	}
	b := make(bloom, words)
	for _, h := range bb.hashes {
		b.set(h)
	}
	ones := 0
	for _, w := range b {
		ones += bits.OnesCount64(w)
	}
	m := float64(words * 64)
	keys := math.Inf(1)
	if float64(ones) < m {
		keys = -m / bloomK * math.Log(1-float64(ones)/m)
	}
	for len(b) > 1 && float64(len(b)/2*64) >= keys*bitsPerKey {
		half := len(b) / 2
		for i := range half {
			b[i] |= b[half+i]
		}
		b = b[:half]
	}
	if len(b) < words {
		b = slices.Clone(b) // not to keep the larger array
	}
	return b
}

// tagHash is the key of one tag pair.
func tagHash(k, v string) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(k)
	d.Write([]byte{0})
	d.WriteString(v)
	return d.Sum64()
}
