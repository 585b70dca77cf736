package colblock

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// FuzzDecodeBlock feeds Decode and UnmarshalMeta the same bytes: corrupt
// input is an error wrapping ErrCorrupt, never a panic; a block that
// decodes re-encodes to the same events.
func FuzzDecodeBlock(f *testing.F) {
	for seed, n := range []int{1, 2, 3, 5, 20, 50} { // small columns are not compressed: the fuzzer can reach their decoding
		r := rand.New(rand.NewPCG(uint64(seed), 9))
		m, block, err := Encode(randEvents(r, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(block)
		f.Add(MarshalMeta(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := UnmarshalMeta(b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("UnmarshalMeta: %v, want ErrCorrupt", err)
		}
		evs, err := Decode(b, "t")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decode: %v, want ErrCorrupt", err)
			}
			return
		}
		_, again, err := Encode(evs)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		evs2, err := Decode(again, "t")
		if err != nil || !reflect.DeepEqual(evs, evs2) {
			t.Fatalf("re-encoded block differs: %v", err)
		}
	})
}
