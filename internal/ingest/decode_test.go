package ingest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

func decodeOpts(decode func([]byte, any) error) pulse.ParseOptions {
	return pulse.ParseOptions{Now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Retention: 30 * 24 * time.Hour, Decode: decode}
}

var decodeSeeds = []string{
	`{"event_type":"x","service":"s"}`,
	`{"event_type":"a.b","service":"s","severity":"error","status_code":500,"tags":{"a":"b","c":"d"},"payload":{"x":[1,{"y":null}]},"timestamp":"2026-11-26T11:00:00Z","external_id":"e"}`,
	`{"event_type":5,"service":"s"}`, `{"event_type":"x","service":"s","tags":{"a":1}}`, `{"event_type":"x","service":"s","tags":[1]}`,
	`{"event_type":"x","service":"s","extra":1}`, `{"event_type":"x","Service":"s"}`, `{"event_type":"x","service":"s"} {}`,
	`{"event_type":"x","service":"s","service":"t"}`, `{"event_type":"x","service":null,"user_id":true}`, `{"event_type":"\u00e9\ud800","service":"s"}`,
	`[]`, `null`, `{"payload":"\u0000"}`, `{"event_type":"x","service":"s","status_code":"500"}`, `{`,
	`{"event_type":"x","service":"s","status_code":5e2}`, `{"event_type":"x","service":"s","status_code":-0}`, `{"event_type":"x","service":"s","status_code":500.0}`,
	`{"event_type":"x","service":"s","service":5}`, ` { "event_type" : "\u0078" , "service" : "s" } `, `{"event_type":"x","service":"s","payload":{"a":{"b":{"c":[[[[]]]]}}}}`,
	`{"event_type":"x","service":"s","tags":{"a":"\ud83d\ude00"}}`, `{"event_type":"x","service":"s","tags":{"a":"1","\u0061":"2"}}`,
	`{"event_type":"x","service":"s","payload":{"\u0062":1.0,"a":"\udc00"}}`, `{"event_type":"x","\u0073ervice":"s"}`, `{"event_type":"x","service":"s","tags":null,"payload":null,"external_id":null}`,
}

// FuzzParseEventDecoders checks the ingest path's decoder (goccy/go-json
// with encoding/json for whatever it refuses) against encoding/json alone:
// the same event, or the same error, for every input.
func FuzzParseEventDecoders(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := pulse.ParseEvent(data, decodeOpts(nil))
		got, gotErr := pulse.ParseEvent(data, decodeOpts(decodeEvent))
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("errors differ:\n fast: %#v\n  std: %#v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("events differ:\n fast: %+v\n  std: %+v", got, want)
		}
	})
}

func TestDecodeEventMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range decodeSeeds {
		want, wantErr := pulse.ParseEvent([]byte(s), decodeOpts(nil))
		got, gotErr := pulse.ParseEvent([]byte(s), decodeOpts(decodeEvent))
		if !reflect.DeepEqual(gotErr, wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n fast: %+v %v\n  std: %+v %v", s, got, gotErr, want, wantErr)
		}
	}
}

// BenchmarkParseEventDecoders: one ~560-byte event, decoded, validated and
// hashed, with each decoder.
func BenchmarkParseEventDecoders(b *testing.B) {
	ev := []byte(`{"event_type":"http.request","severity":"error","service":"checkout","endpoint":"/api/pay","status_code":502,` +
		`"user_id":"user-42","message":"request handled ` + strings.Repeat("lorem ipsum ", 12) + `",` +
		`"tags":{"region":"eu-1","version":"v1.3","host":"host-7"},"timestamp":"2026-11-26T11:59:00Z","external_id":"run-123456",` +
		`"payload":{"trace_id":"00000000deadbeef","duration_ms":183,"attrs":{"a":1,"b":[1,2,3],"c":"xyz"}}}`)
	for _, d := range []struct {
		name   string
		decode func([]byte, any) error
	}{{"encoding-json", nil}, {"goccy-go-json", decodeEvent}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pulse.ParseEvent(ev, decodeOpts(d.decode)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
