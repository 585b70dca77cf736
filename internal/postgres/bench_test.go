package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/storetest"
)

// BenchmarkInsertBatch100 and BenchmarkInsertBatch1000 compare ways to
// write a batch of event rows in one transaction:
//
//	InsertEvents  the whole call, half of the events with external ids
//	unnest        insertEventRows: INSERT ... SELECT FROM unnest($arrays)
//	copy          COPY straight into the partitioned events table
//	copy_staging  COPY into a temporary table, then INSERT ... SELECT
func BenchmarkInsertBatch100(b *testing.B)  { benchmarkInsertBatch(b, 100) }
func BenchmarkInsertBatch1000(b *testing.B) { benchmarkInsertBatch(b, 1000) }

func benchmarkInsertBatch(b *testing.B, n int) {
	// Each variant writes into its own schema, so none inserts into a table
	// the others have grown.
	setup := func(b *testing.B) (*DB, func(i int, keyed bool) []*pulse.Event) {
		db := openTestDB(b)
		tn := createTenant(b, db, 0)
		at := now()
		batch := func(i int, keyed bool) []*pulse.Event {
			events := make([]*pulse.Event, n)
			for j := range events {
				ext := ""
				if keyed && j%2 == 0 {
					ext = fmt.Sprintf("b-%d-%d", i, j)
				}
				events[j] = newEvent(tn.ID, at, ext)
				events[j].ContentHash = "0123456789abcdef0123456789abcdef"
			}
			return events
		}
		mustInsert(b, db, tn.ID, batch(-1, false)...) // creates the partition
		return db, batch
	}
	b.Run("InsertEvents", func(b *testing.B) {
		db, batch := setup(b)
		tenantID := batch(0, false)[0].TenantID
		for i := 0; b.Loop(); i++ {
			if _, err := db.InsertEvents(b.Context(), tenantID, batch(i, true)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/event")
	})
	rows := func(name string, write func(ctx context.Context, tx pgx.Tx, tenantID string, events []*pulse.Event) error) {
		b.Run(name, func(b *testing.B) {
			db, batch := setup(b)
			for i := 0; b.Loop(); i++ {
				events := batch(i, false)
				if err := pgx.BeginFunc(b.Context(), db.pool, func(tx pgx.Tx) error {
					return write(b.Context(), tx, events[0].TenantID, events)
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/event")
		})
	}
	rows("unnest", insertEventRows)
	rows("copy", copyEventRows)
	rows("copy_staging", copyStagingEventRows)
}

var copyColumns = []string{"tenant_id", "id", "external_id", "event_type", "severity", "service", "endpoint", "status_code",
	"user_id", "message", "tags", "ts", "received_at", "payload", "content_hash"}

func copyValues(tenantID string, events []*pulse.Event) ([][]any, error) {
	out := make([][]any, len(events))
	for i, e := range events {
		var ext, code, tags, payload any
		if e.ExternalID != "" {
			ext = e.ExternalID
		}
		if e.StatusCode != 0 {
			code = int32(e.StatusCode)
		}
		if len(e.Tags) > 0 {
			b, err := json.Marshal(e.Tags)
			if err != nil {
				return nil, err
			}
			tags = string(b)
		}
		if len(e.Payload) > 0 {
			payload = string(e.Payload)
		}
		out[i] = []any{tenantID, e.ID, ext, e.EventType, string(e.Severity), e.Service, e.Endpoint, code,
			e.UserID, e.Message, tags, e.Timestamp, e.ReceivedAt, payload, e.ContentHash}
	}
	return out, nil
}

func copyEventRows(ctx context.Context, tx pgx.Tx, tenantID string, events []*pulse.Event) error {
	vals, err := copyValues(tenantID, events)
	if err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns, pgx.CopyFromRows(vals))
	return err
}

func copyStagingEventRows(ctx context.Context, tx pgx.Tx, tenantID string, events []*pulse.Event) error {
	vals, err := copyValues(tenantID, events)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS events_stage (LIKE events) ON COMMIT DELETE ROWS`); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events_stage"}, copyColumns, pgx.CopyFromRows(vals)); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO events SELECT * FROM events_stage`)
	return err
}

// BenchmarkSearchText: q= by the bounded scan (storetest.BenchSearchText).
func BenchmarkSearchText(b *testing.B) { storetest.BenchSearchText(b, openTestDB(b)) }
