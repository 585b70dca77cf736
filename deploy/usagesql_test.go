package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/postgres"
	"github.com/pulsestream/pulsestream/internal/pulse"
	"github.com/pulsestream/pulsestream/internal/testkit"
)

// TestUsageTopKQuery runs the dashboard's per-tenant table query against
// the real schema: the tenants with the most rate-limited events in the
// time range come first, other metrics and older hours do not count.
func TestUsageTopKQuery(t *testing.T) {
	t.Parallel()
	url := testkit.PostgresSchema(t, "deploy_topk")
	ctx := t.Context()
	db, err := postgres.Open(ctx, url, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	hour := now.Truncate(time.Hour)
	var ids []string
	for _, name := range []string{"small", "big", "old"} {
		tn, _, err := pulse.CreateTenantWithKey(ctx, db, now, name, 60, 30)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tn.ID)
	}
	if err := db.AddUsage(ctx, []pulse.UsageCount{
		{TenantID: ids[0], Hour: hour, Metric: "rate_limited", Count: 5},
		{TenantID: ids[0], Hour: hour, Metric: "created", Count: 1000},
		{TenantID: ids[1], Hour: hour, Metric: "rate_limited", Count: 50},
		{TenantID: ids[2], Hour: hour.Add(-72 * time.Hour), Metric: "rate_limited", Count: 500},
	}); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile("grafana/pulsestream.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				RawSQL string `json:"rawSql"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var sql string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.RawSQL != "" {
				sql = tg.RawSQL
			}
		}
	}
	if sql == "" {
		t.Fatal("the dashboard has no SQL panel")
	}
	// Grafana's macro for a 24-hour dashboard range.
	sql = strings.Replace(sql, "$__timeFilter(u.hour)", "u.hour BETWEEN now() - interval '24 hours' AND now()", 1)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("the dashboard's SQL fails on the real schema: %v\n%s", err, sql)
	}
	var got []string
	for rows.Next() {
		var name, id string
		var n int64
		if err := rows.Scan(&name, &id, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%d", name, n))
		if (name == "big" && id != ids[1]) || (name == "small" && id != ids[0]) {
			t.Errorf("tenant %s has id %s", name, id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "big=50,small=5" {
		t.Errorf("top tenants = %v, want big=50,small=5", got)
	}
}
