package httpapi

import (
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestOTLPResponse: the hand-encoded ExportLogsServiceResponse decodes
// with the official type, in protobuf and in OTLP JSON.
func TestOTLPResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rejected int64
		msg      string
	}{{0, ""}, {1, "log record 2: timestamp is old"}, {1 << 40, "ü"}}
	for _, tt := range tests {
		for _, isJSON := range []bool{false, true} {
			var got collogspb.ExportLogsServiceResponse
			data := otlpResponse(isJSON, tt.rejected, tt.msg)
			var err error
			if isJSON {
				err = protojson.Unmarshal(data, &got)
			} else {
				err = proto.Unmarshal(data, &got)
			}
			if err != nil {
				t.Fatalf("json %v %d: %v", isJSON, tt.rejected, err)
			}
			if ps := got.GetPartialSuccess(); ps.GetRejectedLogRecords() != tt.rejected || ps.GetErrorMessage() != tt.msg || (tt.rejected == 0) != (ps == nil) {
				t.Errorf("json %v: decoded %v, want %d %q", isJSON, &got, tt.rejected, tt.msg)
			}
		}
	}
}
