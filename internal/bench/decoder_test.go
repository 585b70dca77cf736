package bench

import (
	"bytes"
	stdjson "encoding/json"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
)

// The JSON decoder comparison behind BENCHMARKS.md ("The JSON decoder"):
// encoding/json against goccy/go-json, a faster drop-in decoder, on the
// two decodes of the ingest path — one ~560-byte event into the validator's
// wire shape (raw status code, tags and payload; unknown fields refused) and
// a 100-event batch body split into raw events.
//
//	go test -run '^$' -bench BenchmarkJSONDecode -benchmem ./internal/bench

// wireEvent mirrors pulse's eventIn (unexported there).
type wireEvent struct {
	EventType  *string            `json:"event_type"`
	Severity   *string            `json:"severity"`
	Service    *string            `json:"service"`
	Endpoint   *string            `json:"endpoint"`
	StatusCode stdjson.RawMessage `json:"status_code"`
	UserID     *string            `json:"user_id"`
	Message    *string            `json:"message"`
	Tags       stdjson.RawMessage `json:"tags"`
	Timestamp  *string            `json:"timestamp"`
	ExternalID *string            `json:"external_id"`
	Payload    stdjson.RawMessage `json:"payload"`
}

type wireBatch struct {
	Events []stdjson.RawMessage `json:"events"`
}

func decoderInputs() (event, batch []byte) {
	ts := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	event = eventJSON(nil, new(timeCache), "run", 42, ts)
	batch = append(batch, `{"events":[`...)
	for i := range 100 {
		if i > 0 {
			batch = append(batch, ',')
		}
		batch = eventJSON(batch, new(timeCache), "run", i, ts)
	}
	return event, append(batch, "]}"...)
}

func BenchmarkJSONDecode(b *testing.B) {
	event, batch := decoderInputs()
	decoders := []struct {
		name   string
		decode func(data []byte, v any) error
	}{
		{"encoding-json", func(data []byte, v any) error {
			dec := stdjson.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			return dec.Decode(v)
		}},
		{"goccy-go-json", func(data []byte, v any) error {
			dec := gojson.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			return dec.Decode(v)
		}},
	}
	for _, d := range decoders {
		b.Run("event/"+d.name, func(b *testing.B) {
			b.SetBytes(int64(len(event)))
			b.ReportAllocs()
			for b.Loop() {
				var in wireEvent
				if err := d.decode(event, &in); err != nil || in.Service == nil || len(in.Payload) == 0 {
					b.Fatalf("decode: %v", err)
				}
			}
		})
		b.Run("batch100/"+d.name, func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				var in wireBatch
				if err := d.decode(batch, &in); err != nil || len(in.Events) != 100 {
					b.Fatalf("decode: %v (%d events)", err, len(in.Events))
				}
			}
		})
	}
}

// TestDecodersAgree guards the comparison: both decoders read the same
// fields from the benchmark's inputs.
func TestDecodersAgree(t *testing.T) {
	event, batch := decoderInputs()
	var a, b wireEvent
	if err := stdjson.Unmarshal(event, &a); err != nil {
		t.Fatal(err)
	}
	if err := gojson.Unmarshal(event, &b); err != nil {
		t.Fatal(err)
	}
	if *a.Service != *b.Service || *a.ExternalID != *b.ExternalID || !bytes.Equal(a.Payload, b.Payload) || !bytes.Equal(a.Tags, b.Tags) {
		t.Errorf("decoders disagree:\n%+v\n%+v", a, b)
	}
	var ba, bb wireBatch
	if err := stdjson.Unmarshal(batch, &ba); err != nil {
		t.Fatal(err)
	}
	if err := gojson.Unmarshal(batch, &bb); err != nil {
		t.Fatal(err)
	}
	if len(ba.Events) != 100 || len(bb.Events) != 100 || !bytes.Equal(ba.Events[99], bb.Events[99]) {
		t.Errorf("batch split differs: %d vs %d events", len(ba.Events), len(bb.Events))
	}
}
