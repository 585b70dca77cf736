package colblock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

var (
	words   = []string{"alpha", "beta", "Gamma", "delta", "ÉCOLE", "東京", "naïve", "x", "timeout", "db-error", "ünïcode"}
	base    = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	strVals = []string{"", "a", "checkout", "payments", "/api/items/{id}", "ünï 東京", "with\x00nul", strings.Repeat("long", 100)}
)

// randUUID is a UUIDv7-shaped id.
func randUUID(r *rand.Rand) string {
	var u [16]byte
	for i := range u {
		u[i] = byte(r.Uint32())
	}
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func pick[T any](r *rand.Rand, vs []T) T { return vs[r.IntN(len(vs))] }

func randText(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = pick(r, words)
	}
	return strings.Join(ws, pick(r, []string{" ", ", ", "-", "\n"}))
}

// randEvents makes n events exercising every variant of every field; the
// shape (how many distinct values) varies with the seed so that both
// string encodings and both id encodings occur.
func randEvents(r *rand.Rand, n int) []*pulse.Event {
	card := 1 + r.IntN(3*n)
	manyTS := r.IntN(2) == 0
	plainIDs := r.IntN(10) == 0
	var evs []*pulse.Event
	for i := range n {
		e := &pulse.Event{
			ID:          randUUID(r),
			ExternalID:  pick(r, []string{"", fmt.Sprintf("ext-%d", r.IntN(card))}),
			EventType:   fmt.Sprintf("type.%d", r.IntN(1+card%7)),
			Severity:    pick(r, pulse.Severities),
			Service:     pick(r, strVals),
			Endpoint:    fmt.Sprintf("/e/%d", r.IntN(card)),
			StatusCode:  pick(r, []int{0, 200, 201, 404, 500, 599, 100 + r.IntN(500)}),
			UserID:      pick(r, []string{"", "user-" + fmt.Sprint(r.IntN(card)), "ünï"}),
			Message:     pick(r, []string{"", randText(r, 1+r.IntN(20)), strings.Repeat("é", r.IntN(300))}),
			Timestamp:   base.Add(time.Duration(r.Int64N(int64(time.Hour)))),
			ReceivedAt:  base.Add(time.Duration(r.Int64N(int64(2 * time.Hour)))).In(time.FixedZone("x", 3600)),
			ContentHash: pick(r, []string{"", randUUID(r)[:32]}),
		}
		if !manyTS {
			e.Timestamp = base.Add(time.Duration(r.IntN(3)) * time.Microsecond) // equal timestamps
		}
		if r.IntN(20) == 0 {
			e.Timestamp = base.Add(time.Duration(r.IntN(1000))) // nanoseconds, truncated on the way in
		}
		if plainIDs {
			e.ID = pick(r, []string{"not-a-uuid-", "A"}) + fmt.Sprint(i)
		}
		switch r.IntN(4) {
		case 0: // no tags
		case 1:
			e.Tags = map[string]string{}
		default:
			e.Tags = map[string]string{}
			for range 1 + r.IntN(pick(r, []int{3, 50})) {
				e.Tags[pick(r, strVals)+fmt.Sprint(r.IntN(5))] = pick(r, strVals)
			}
		}
		switch r.IntN(6) {
		case 0: // nil
		case 1:
			e.Payload = []byte{}
		case 2:
			e.Payload = []byte(`{"a":"` + randText(r, 3) + `","n":[1,{"s":"\u00e9t\u00c9 ` + pick(r, words) + `"}]}`)
		case 3:
			e.Payload = bytes.Repeat([]byte(`{"big":"`+randText(r, 5)+`"},`), 1+r.IntN(pick(r, []int{10, 10, 10, 1000})))
		case 4:
			e.Payload = []byte(`not json ` + randText(r, 2))
		default:
			e.Payload = []byte(`{"k":"` + randText(r, 4) + `","x":12}`)
		}
		evs = append(evs, e)
	}
	return evs
}

// stored is e as a block gives it back.
func stored(e *pulse.Event, tenant string) *pulse.Event {
	c := *e
	c.TenantID = tenant
	c.Timestamp = time.UnixMicro(e.Timestamp.UnixMicro()).UTC()
	c.ReceivedAt = time.UnixMicro(e.ReceivedAt.UnixMicro()).UTC()
	if len(c.Tags) == 0 {
		c.Tags = nil
	}
	return &c
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		evs := randEvents(r, 1+r.IntN(pick(r, []int{3, 100, 600})))
		before := slices.Clone(evs)
		m, block, err := Encode(evs)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !slices.Equal(before, evs) {
			t.Fatalf("seed %d: Encode reordered its argument", seed)
		}
		want := make([]*pulse.Event, len(evs))
		for i, e := range evs {
			want[i] = stored(e, "t1")
		}
		SortEvents(want)
		got, err := Decode(block, "t1")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d events, want %d", seed, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("seed %d event %d:\n got %+v\nwant %+v", seed, i, got[i], want[i])
			}
			if (got[i].Payload == nil) != (want[i].Payload == nil) {
				t.Fatalf("seed %d event %d: payload nil %v, want %v", seed, i, got[i].Payload == nil, want[i].Payload == nil)
			}
		}
		if m.Count != len(evs) || !m.MinTS.Equal(want[0].Timestamp) || !m.MaxTS.Equal(want[len(want)-1].Timestamp) {
			t.Fatalf("seed %d: meta %+v", seed, m)
		}
		for _, e := range want {
			if e.ID < m.MinID || e.ID > m.MaxID {
				t.Fatalf("seed %d: id %s outside [%s, %s]", seed, e.ID, m.MinID, m.MaxID)
			}
		}
		m2, err := UnmarshalMeta(MarshalMeta(m))
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("seed %d: meta round trip: %v\n got %+v\nwant %+v", seed, err, m2, m)
		}
	}
}

// A payload decoded from a block is its own: appending to one does not
// change the next event's, and the caller's block buffer may be reused.
func TestDecodedPayloadsAreIndependent(t *testing.T) {
	t.Parallel()
	evs := []*pulse.Event{
		{ID: "00000000-0000-7000-8000-000000000001", Timestamp: base, Payload: []byte(`{"a":1}`)},
		{ID: "00000000-0000-7000-8000-000000000002", Timestamp: base, Payload: []byte(`{"b":2}`)},
	}
	_, block, err := Encode(evs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(block, "t")
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got[0].Payload, 'x')
	clear(block)
	if string(got[0].Payload) != `{"a":1}` || string(got[1].Payload) != `{"b":2}` {
		t.Fatalf("payloads %s %s", got[0].Payload, got[1].Payload)
	}
}

func TestEncodeRefusesEmpty(t *testing.T) {
	t.Parallel()
	if _, _, err := Encode(nil); err == nil {
		t.Fatal("Encode(nil) succeeded")
	}
}

func TestCorruptBlocks(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	for _, evs := range [][]*pulse.Event{benchEvents(50), randEvents(r, 20)} {
		_, block, err := Encode(evs)
		if err != nil {
			t.Fatal(err)
		}
		testCorruptBlock(t, r, block)
	}
}

func testCorruptBlock(t *testing.T, r *rand.Rand, block []byte) {
	for _, b := range [][]byte{nil, {}, {blockVersion}, {0}, {99, 1}, append(slices.Clone(block), 0)} {
		if _, err := Decode(b, "t"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode(%.20x): %v, want ErrCorrupt", b, err)
		}
	}
	for n := range len(block) { // every truncation
		if _, err := Decode(block[:n], "t"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode of %d of %d bytes: %v, want ErrCorrupt", n, len(block), err)
		}
	}
	for range 2000 { // flipped bytes: an error or events, never a panic
		b := slices.Clone(block)
		b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		if _, err := Decode(b, "t"); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Decode: %v, want ErrCorrupt", err)
		}
	}
}

func TestCorruptMeta(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(8, 8))
	m, _, err := Encode(randEvents(r, 300))
	if err != nil {
		t.Fatal(err)
	}
	b := MarshalMeta(m)
	for n := range len(b) {
		if _, err := UnmarshalMeta(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("UnmarshalMeta of %d of %d bytes: %v, want ErrCorrupt", n, len(b), err)
		}
	}
	if _, err := UnmarshalMeta(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("UnmarshalMeta with a trailing byte: %v, want ErrCorrupt", err)
	}
	// A Meta made by hand (no pruning data) survives the round trip too.
	hand := Meta{Count: 3, MinTS: base, MaxTS: base.Add(time.Second), MinID: "a", MaxID: "b"}
	if got, err := UnmarshalMeta(MarshalMeta(hand)); err != nil || !reflect.DeepEqual(got, hand) {
		t.Fatalf("hand-made meta: %v %+v", err, got)
	}
}

// TestDecodeColumns: a projection gives the ids, the timestamps and the
// fields it selects, the others zero.
func TestDecodeColumns(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 5))
	_, block, err := Encode(randEvents(r, 50))
	if err != nil {
		t.Fatal(err)
	}
	all, err := Decode(block, "t")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[Columns]func(dst, src *pulse.Event){
		ColReceivedAt:  func(d, s *pulse.Event) { d.ReceivedAt = s.ReceivedAt },
		ColExternalID:  func(d, s *pulse.Event) { d.ExternalID = s.ExternalID },
		ColEventType:   func(d, s *pulse.Event) { d.EventType = s.EventType },
		ColSeverity:    func(d, s *pulse.Event) { d.Severity = s.Severity },
		ColService:     func(d, s *pulse.Event) { d.Service = s.Service },
		ColEndpoint:    func(d, s *pulse.Event) { d.Endpoint = s.Endpoint },
		ColStatusCode:  func(d, s *pulse.Event) { d.StatusCode = s.StatusCode },
		ColUserID:      func(d, s *pulse.Event) { d.UserID = s.UserID },
		ColMessage:     func(d, s *pulse.Event) { d.Message = s.Message },
		ColTags:        func(d, s *pulse.Event) { d.Tags = s.Tags },
		ColPayload:     func(d, s *pulse.Event) { d.Payload = s.Payload },
		ColContentHash: func(d, s *pulse.Event) { d.ContentHash = s.ContentHash },
	}
	if len(fields) != bits.OnesCount(uint(AllColumns)) {
		t.Fatalf("%d columns tested, %d exist", len(fields), bits.OnesCount(uint(AllColumns)))
	}
	for c, set := range fields {
		got, err := DecodeColumns(block, "t", c|ColEventType)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range got {
			want := &pulse.Event{ID: all[i].ID, TenantID: "t", Timestamp: all[i].Timestamp, EventType: all[i].EventType}
			set(want, all[i])
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("columns %b, event %d:\n got %+v\nwant %+v", c, i, e, want)
			}
		}
	}
}
