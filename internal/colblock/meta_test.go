package colblock

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// randFilter mostly asks for values some event of evs has, sometimes for
// absent ones, and combines a few conditions.
func randFilter(r *rand.Rand, evs []*pulse.Event) pulse.EventFilter {
	e := pick(r, evs)
	var f pulse.EventFilter
	for range 1 + r.IntN(3) {
		switch r.IntN(12) {
		case 0:
			f.EventType = pick(r, []string{e.EventType, "absent.type"})
		case 1:
			f.Severities = pick(r, [][]pulse.Severity{{e.Severity}, {"error", "critical"}, {}})
		case 2:
			f.Service = pick(r, []string{e.Service, "absent-service"})
		case 3:
			f.Endpoint = pick(r, []string{e.Endpoint, "/absent"})
		case 4:
			f.StatusCode = pick(r, []int{e.StatusCode, 302, 0})
		case 5:
			f.StatusCodeMin = pick(r, []int{e.StatusCode, 100 + r.IntN(500)})
			f.StatusCodeMax = pick(r, []int{0, e.StatusCode, 100 + r.IntN(500)})
		case 6:
			f.UserID = pick(r, []string{e.UserID, "absent-user"})
		case 7:
			f.ExternalID = pick(r, []string{e.ExternalID, "absent-ext"})
		case 8:
			for k, v := range e.Tags {
				f.Tags = append(f.Tags, pulse.Tag{Key: k, Value: pick(r, []string{v, "absent"})})
				break
			}
		case 9:
			f.Start = e.Timestamp.Add(time.Duration(r.IntN(3)-1) * time.Microsecond)
			f.End = f.Start.Add(time.Duration(r.IntN(3)) * time.Microsecond)
		case 10: // words of the message or payload, or absent ones
			toks := pulse.Tokenize(e.Message + " " + string(e.Payload))
			if len(toks) > 0 {
				i := r.IntN(len(toks))
				f.Text = append(f.Text, pulse.Phrase(toks[i:min(len(toks), i+1+r.IntN(3))]))
			}
			if r.IntN(3) == 0 {
				f.Text = append(f.Text, pulse.Tokenize(pick(r, []string{"zzzabsent", "東京", "été"})))
			}
		case 11:
			f.NoMatch = r.IntN(4) == 0
		}
	}
	return f
}

// TestMayMatchNeverMisses: for random filters over random blocks, MayMatch
// (on the Meta as stored) is true whenever an event of the block matches.
func TestMayMatchNeverMisses(t *testing.T) {
	t.Parallel()
	pruned, total := 0, 0
	for seed := range uint64(150) {
		r := rand.New(rand.NewPCG(seed, 2))
		evs := randEvents(r, 1+r.IntN(pick(r, []int{5, 200})))
		m, block, err := Encode(evs)
		if err != nil {
			t.Fatal(err)
		}
		m, err = UnmarshalMeta(MarshalMeta(m))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(block, "t")
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			f := randFilter(r, got)
			match := slices.ContainsFunc(got, f.Matches)
			may := m.MayMatch(&f)
			if match && !may {
				t.Fatalf("seed %d: MayMatch false for %+v, which an event matches", seed, f)
			}
			if !match {
				total++
				if !may {
					pruned++
				}
			}
		}
		for _, e := range got {
			if e.UserID != "" && !m.MayHaveUser(e.UserID) || e.ExternalID != "" && !m.MayHaveExternalID(e.ExternalID) {
				t.Fatalf("seed %d: user %q or external id %q missed", seed, e.UserID, e.ExternalID)
			}
		}
	}
	t.Logf("of %d filters no event matched, MayMatch ruled out %d", total, pruned)
	if pruned < total/2 {
		t.Fatalf("MayMatch ruled out only %d of %d filters no event matched", pruned, total)
	}
}

// TestMayMatchPrunes: a filter for a value no event has is ruled out in at
// least 90 % of blocks (the Bloom filters aim at 1 % false positives).
func TestMayMatchPrunes(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 3))
	const blocks = 100
	filters := map[string]func(i int) pulse.EventFilter{
		"service": func(i int) pulse.EventFilter { return pulse.EventFilter{Service: fmt.Sprint("svc-absent-", i)} },
		"user":    func(i int) pulse.EventFilter { return pulse.EventFilter{UserID: fmt.Sprint("user-absent-", i)} },
		"ext":     func(i int) pulse.EventFilter { return pulse.EventFilter{ExternalID: fmt.Sprint("ext-absent-", i)} },
		"tag": func(i int) pulse.EventFilter {
			return pulse.EventFilter{Tags: []pulse.Tag{{Key: "a0", Value: fmt.Sprint(i)}}}
		},
		"token": func(i int) pulse.EventFilter {
			return pulse.EventFilter{Text: []pulse.Phrase{{fmt.Sprint("absent", i)}}}
		},
		"status": func(i int) pulse.EventFilter { return pulse.EventFilter{StatusCode: 302} },
	}
	missed := map[string]int{}
	users := 0
	for i := range blocks {
		evs := randEvents(r, pick(r, []int{10, 100, 1000}))
		for _, e := range evs {
			e.StatusCode = pick(r, []int{200, 404, 500})
			if len(e.Payload) > 1000 {
				e.Payload = e.Payload[:1000]
			}
		}
		m, _, err := Encode(evs)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range filters {
			f := f(i)
			if m.MayMatch(&f) {
				missed[name]++
			}
		}
		if m.MayHaveUser(fmt.Sprint("user-absent-", i)) {
			users++
		}
	}
	for name := range filters {
		if missed[name] > blocks/10 {
			t.Errorf("%s: %d of %d blocks not ruled out", name, missed[name], blocks)
		}
	}
	if users > blocks/10 {
		t.Errorf("MayHaveUser: %d of %d blocks not ruled out", users, blocks)
	}
	t.Logf("not ruled out, of %d: %v", blocks, missed)
}

// TestBloomFalsePositives measures the rate on blocks of growing size.
func TestBloomFalsePositives(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 10, 1000, 30000} {
		var bb bloomBuilder
		for i := range n {
			bb.addStrings([]string{fmt.Sprint("key-", i), fmt.Sprint("key-", i)}) // repeats count once
		}
		b := bb.build()
		for i := range n {
			if !b.has(xxhash.Sum64String(fmt.Sprint("key-", i))) {
				t.Fatalf("n=%d: key %d missing", n, i)
			}
		}
		fp := 0
		const probes = 100000
		for i := range probes {
			if b.has(xxhash.Sum64String(fmt.Sprint("other-", i))) {
				fp++
			}
		}
		t.Logf("n=%d: %d bytes, %.3f %% false positives", n, 8*len(b), 100*float64(fp)/probes)
		if fp > probes/50 {
			t.Errorf("n=%d: %d of %d false positives", n, fp, probes)
		}
	}
}

// TestAddTextIsTokenize: the Bloom filter gets exactly pulse.Tokenize's
// tokens, on addText's ASCII path as on the other.
func TestAddTextIsTokenize(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(4, 4))
	const chars = "aZz09 -_.,\"\\{}:AbCé東\x00\x7f\n"
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		s := string(b)
		var bb bloomBuilder
		bb.addText(s)
		var want []uint64
		for _, tok := range pulse.Tokenize(s) {
			want = append(want, xxhash.Sum64String(tok))
		}
		if !slices.Equal(bb.hashes, want) {
			t.Fatalf("addText(%q) differs from pulse.Tokenize: %v", s, pulse.Tokenize(s))
		}
	}
}
