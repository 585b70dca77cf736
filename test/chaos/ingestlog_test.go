package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/testkit"
)

// The ingest log (log mode, --ingest-log): events are published to a
// JetStream stream and answered 202, and every node's writers move them
// into PostgreSQL. These tests start their own nats-server processes.

// logFlags are the serve flags of a log-mode node. Events stay below the
// 1 MiB a default nats-server accepts per message; events fetched by a
// killed node come back after 5 s instead of 30.
func logFlags(natsURL string, extra ...string) []string {
	return append([]string{"--ingest-log", natsURL, "--max-payload-bytes", "524288", "--request-timeout", "2s", "--ingest-log-timeout", "1s",
		"--ingest-log-ack-wait", "5s"}, extra...)
}

// postEvent sends one event body and returns the status, the Retry-After
// header, the decoded {id, status} and the latency.
func postEvent(srv *server, key, body string) (int, string, map[string]string, time.Duration) {
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	start := time.Now()
	resp, err := apiClient.Do(req)
	lat := time.Since(start)
	if err != nil {
		return 0, "", map[string]string{"error": err.Error()}, lat
	}
	defer resp.Body.Close()
	out := map[string]string{}
	var raw map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), out, lat
}

// postBatch sends events as one batch and returns the status and the
// per-event results.
func postBatch(srv *server, key string, events ...string) (int, []map[string]any) {
	body := `{"events":[` + strings.Join(events, ",") + `]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/events/batch", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out struct {
		Results []map[string]any `json:"results"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Results
}

func eventBody(ext, msg string) string {
	return fmt.Sprintf(`{"event_type":"log.test","service":"chaos","severity":"info","external_id":%q,"message":%q}`, ext, msg)
}

// storedIDs searches srv for the events of key's tenant with external id
// ext and returns their ids.
func storedIDs(t *testing.T, srv *server, key, ext string) []string {
	t.Helper()
	st, body, err := srv.get("/api/v1/events?limit=100&external_id="+url.QueryEscape(ext), key)
	if err != nil || st != http.StatusOK {
		t.Fatalf("search: %d %v %.200s", st, err, body)
	}
	var page struct {
		Events []struct {
			ID         string `json:"id"`
			ExternalID string `json:"external_id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range page.Events {
		if e.ExternalID == ext {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// TestChaosIngestLogUnreachable cuts, then blackholes, the connection to
// JetStream: ingestion answers 503 with Retry-After within the request
// timeout (never hangs), /ready answers 503, the events refused are not
// stored, and after the restore the node takes events again by itself.
func TestChaosIngestLogUnreachable(t *testing.T) {
	nats := testkit.StartNATS(t, 1)
	db := postgresURL(t)
	p := testkit.StartProxy(t, strings.TrimPrefix(nats[0].URL, "nats://"))
	srv := startServer(t, db, logFlags("nats://"+p.Addr)...)
	key := srv.tenant("log-down", 1_000_000_000)
	if st, _, ans, _ := postEvent(srv, key, eventBody("up-0", "before")); st != http.StatusAccepted || ans["status"] != "accepted" {
		t.Fatalf("before the outage: %d %v; want 202 accepted", st, ans)
	}
	results := map[string]any{}
	for _, mode := range []string{"cut", "blackhole"} {
		if mode == "cut" {
			p.Cut()
		} else {
			p.Blackhole()
		}
		statuses := map[int]int{}
		var worst time.Duration
		for i := range 4 {
			st, retry, ans, lat := postEvent(srv, key, eventBody(fmt.Sprintf("down-%s-%d", mode, i), "during"))
			statuses[st]++
			worst = max(worst, lat)
			if st != http.StatusServiceUnavailable || retry == "" {
				t.Errorf("JetStream %s: answered %d (Retry-After %q) %v; want 503 with Retry-After", mode, st, retry, ans)
			}
			// --request-timeout is 2s; the bound is generous for a loaded machine.
			if lat > 8*time.Second {
				t.Errorf("JetStream %s: a request took %v; want bounded by --request-timeout 2s", mode, lat)
			}
		}
		if st, _, _ := srv.get("/ready", ""); st != http.StatusServiceUnavailable {
			t.Errorf("JetStream %s: /ready answered %d; want 503", mode, st)
		}
		p.Restore()
		start := time.Now()
		for n := 0; ; n++ {
			st, _, _, _ := postEvent(srv, key, eventBody(fmt.Sprintf("up-%s-%d", mode, n), "after"))
			if st == http.StatusAccepted {
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("JetStream %s: still %d 30 s after the restore", mode, st)
			}
			time.Sleep(100 * time.Millisecond) // waiting for the reconnection
		}
		t.Logf("JetStream %s: answers %v, slowest %v; taking events again %v after the restore", mode, statuses, worst.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		results[mode] = map[string]any{"statuses": statuses, "max_latency_ms": ms(worst), "recovered_ms": time.Since(start).Milliseconds()}
	}
	waitDrained(t, srv, 30*time.Second)
	if ids := storedIDs(t, srv, key, "up-0"); len(ids) != 1 {
		t.Errorf("the event accepted before the outage is stored %d times", len(ids))
	}
	for _, mode := range []string{"cut", "blackhole"} {
		for i := range 4 {
			if ids := storedIDs(t, srv, key, fmt.Sprintf("down-%s-%d", mode, i)); len(ids) > 1 {
				t.Errorf("an event refused during the %s is stored %d times", mode, len(ids))
			}
		}
	}
	record("ingest_log_unreachable", results)
}

// TestChaosIngestLogReplays replays one external_id through two nodes,
// inside JetStream's duplicate window (the log answers duplicate with the
// first id, or conflict for other content, while PostgreSQL is down) and
// after it (the database answers), and once after the window while the
// first copy still waits in the log (both copies enter the log, each
// answered with its own id; the database's key keeps one of them), and
// after it through a node with --ingest-log-check-stored=false: every time,
// one stored event.
func TestChaosIngestLogReplays(t *testing.T) {
	nats := testkit.StartNATS(t, 1)
	db := postgresURL(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	pg := testkit.StartProxy(t, u.Host)
	db = strings.Replace(db, u.Host, pg.Addr, 1)
	const window = time.Second
	flags := logFlags(nats[0].URL, "--ingest-log-dedup-window", window.String(), "--pg-statement-timeout", "1s")
	a, b := startServer(t, db, flags...), startServer(t, db, flags...)
	// c does not look stored ids up before publishing.
	c := startServer(t, db, append(flags, "--ingest-log-check-stored=false")...)
	key := a.tenant("replays", 1_000_000_000)
	for i, n := range []*server{a, b, c} { // each node has seen the key before the outage
		if st, _, ans, _ := postEvent(n, key, eventBody(fmt.Sprintf("warm-%d", i), "warm")); st != http.StatusAccepted {
			t.Fatalf("warm-up: %d %v", st, ans)
		}
	}

	pg.Cut() // the writers hold the events; only the log can recognise a replay
	st, _, first, _ := postEvent(a, key, eventBody("r-1", "one"))
	if st != http.StatusAccepted {
		t.Fatalf("first send: %d %v", st, first)
	}
	if st, _, ans, _ := postEvent(b, key, eventBody("r-1", "one")); st != http.StatusOK || ans["status"] != "duplicate" || ans["id"] != first["id"] {
		t.Errorf("replay through the other node inside the window: %d %v; want 200 duplicate %s", st, ans, first["id"])
	}
	if st, _, ans, _ := postEvent(b, key, eventBody("r-1", "other content")); st != http.StatusConflict || ans["id"] != first["id"] {
		t.Errorf("other content inside the window: %d %v; want 409 naming %s", st, ans, first["id"])
	}
	// Inside the window, one event sent again inside another request (a
	// batch, another node): JetStream recognises whole requests only, so
	// it is answered 202 accepted with a new id, and the database keeps one
	// copy (DEPLOYMENT.md, "Replays JetStream cannot recognise").
	st, _, alone, _ := postEvent(a, key, eventBody("r-3", "three"))
	if st != http.StatusAccepted {
		t.Fatalf("send r-3: %d %v", st, alone)
	}
	st, inBatch := postBatch(b, key, eventBody("r-3", "three"), eventBody("r-4", "four"))
	if st != http.StatusAccepted || len(inBatch) != 2 || inBatch[0]["status"] != "accepted" || inBatch[0]["id"] == alone["id"] {
		t.Fatalf("r-3 again inside a batch: %d %v; want 202 accepted with a new id", st, inBatch)
	}
	// After the window, with the first copy still in the log: the log
	// takes the replay as new, and the database will keep one of the two.
	st, _, late, _ := postEvent(a, key, eventBody("r-2", "two"))
	if st != http.StatusAccepted {
		t.Fatalf("send r-2: %d %v", st, late)
	}
	time.Sleep(window + 200*time.Millisecond) // JetStream's own clock decides the window
	st, _, again, _ := postEvent(b, key, eventBody("r-2", "two"))
	if st != http.StatusAccepted {
		t.Errorf("replay of r-2 after the window, the database down: %d %v; want 202 accepted", st, again)
	}

	pg.Restore()
	waitDrained(t, a, 30*time.Second)
	// After the window, the first copy written: the database answers.
	if st, _, ans, _ := postEvent(b, key, eventBody("r-1", "one")); st != http.StatusOK || ans["status"] != "duplicate" || ans["id"] != first["id"] {
		t.Errorf("replay after the window: %d %v; want 200 duplicate %s", st, ans, first["id"])
	}
	// Without the look-up, the log takes it as new; the database keeps
	// the first copy.
	if st, _, ans, _ := postEvent(c, key, eventBody("r-1", "one")); st != http.StatusAccepted || ans["id"] == first["id"] {
		t.Errorf("replay after the window through a node without the look-up: %d %v; want 202 accepted with a new id", st, ans)
	}
	waitDrained(t, a, 30*time.Second)
	if ids := storedIDs(t, a, key, "r-1"); len(ids) != 1 || ids[0] != first["id"] {
		t.Errorf("r-1 stored as %v; want once as %s", ids, first["id"])
	}
	// Which copy the database keeps depends on which a writer stores
	// first (a failed write returns its messages out of order): once.
	if ids := storedIDs(t, b, key, "r-2"); len(ids) != 1 || ids[0] != late["id"] && ids[0] != again["id"] {
		t.Errorf("r-2 stored as %v; want once, as %s or %s", ids, late["id"], again["id"])
	}
	if ids := storedIDs(t, b, key, "r-3"); len(ids) != 1 || ids[0] != alone["id"] && ids[0] != inBatch[0]["id"] {
		t.Errorf("r-3 stored as %v; want once, as %s or %v", ids, alone["id"], inBatch[0]["id"])
	}
	if ids := storedIDs(t, b, key, "r-4"); len(ids) != 1 {
		t.Errorf("r-4 stored as %v; want once", ids)
	}
	// Every node runs writers, so any of the three may have written it.
	dups := 0.0
	for _, n := range []*server{a, b, c} {
		dups += metricValue(n, `pulsestream_ingest_log_written_events_total{outcome="duplicate"}`)
	}
	if dups < 1 {
		t.Errorf("the writers report %v duplicates; want the second copy of r-2 absorbed", dups)
	}
}

// TestChaosIngestLogPostgresOutage cuts PostgreSQL under load in log mode:
// ingestion keeps answering 202 (no 5xx at all) while the log grows, and
// after the restore the backlog drains with every acknowledged event
// stored exactly once.
func TestChaosIngestLogPostgresOutage(t *testing.T) {
	nats := testkit.StartNATS(t, 1)
	db := postgresURL(t)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.StartProxy(t, u.Host)
	srv := startServer(t, strings.Replace(db, u.Host, p.Addr, 1), logFlags(nats[0].URL, "--pg-statement-timeout", "1s")...)
	key := srv.tenant("log-pg-outage", 1_000_000_000)
	f := startFleet(t, srv.URL, key, fleetConfig{
		name: "logpg", clients: 6, batchMax: 40, pace: 5 * time.Millisecond, retry: true, retryPause: 100 * time.Millisecond,
	})
	time.Sleep(time.Second) // load before the outage
	outage := pick(5*time.Second, 20*time.Second)
	f.rec.setPhase("outage")
	p.Cut()
	time.Sleep(outage / 2)
	backlog := logBacklog(srv)
	time.Sleep(outage / 2)
	p.Restore()
	f.rec.setPhase("recovery")
	time.Sleep(time.Second) // load after the outage
	f.Stop(30 * time.Second)
	drained := waitDrained(t, srv, 60*time.Second)
	st := f.rec.phaseStatuses("outage")
	t.Logf("PostgreSQL cut for %v in log mode: answers %v, backlog half-way %v events; drained %v after the load stopped", outage, st, backlog, drained.Round(time.Millisecond))
	for _, phase := range []string{"", "outage", "recovery"} {
		for status, n := range f.rec.phaseStatuses(phase) {
			if strings.HasPrefix(status, "5") {
				t.Errorf("phase %q: %d answers %s; log mode must keep answering 2xx while PostgreSQL is down", phase, n, status)
			}
		}
	}
	if st["202"] == 0 {
		t.Errorf("no event accepted during the outage: %v", st)
	}
	if backlog <= 0 {
		t.Errorf("the log's backlog was %v half-way through the outage; want it growing", backlog)
	}
	fig := f.verify(t, srv)
	logFigures(t, "log mode, PostgreSQL outage", fig)
	exactlyOnce(t, fig)
	if fig.Sent != fig.Acknowledged {
		t.Errorf("%d events sent but %d acknowledged", fig.Sent, fig.Acknowledged)
	}
	// The tenant's usage counts accepted events as created (flushed every
	// second, held in memory while PostgreSQL was down).
	for deadline := time.Now().Add(15 * time.Second); ; {
		created := usageCreated(t, srv, key)
		if created == int64(fig.Acknowledged) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("usage reports %d created; want the %d accepted events", created, fig.Acknowledged)
			break
		}
		time.Sleep(200 * time.Millisecond) // waiting for the usage flush
	}
	record("ingest_log_postgres_outage", map[string]any{"outage_ms": outage.Milliseconds(), "outage_statuses": st,
		"backlog_half_way": backlog, "drained_ms": drained.Milliseconds(), "figures": fig})
}

// TestChaosIngestLogCluster runs 3 log-mode nodes on a 3-node JetStream
// cluster (stream R3) under concurrent load; mid-run one nats-server is
// killed and restarted, then one pulsestream node is killed with SIGKILL.
// Every acknowledged event must be stored exactly once (lost 0,
// duplicated 0), and nothing answered with a plain 503 may be stored.
func TestChaosIngestLogCluster(t *testing.T) {
	nats := testkit.StartNATS(t, 3)
	db := postgresURL(t)
	flags := logFlags(testkit.NATSURLs(nats), "--ingest-log-replicas", "3")
	var nodes []*server
	for range 3 {
		nodes = append(nodes, startServer(t, db, flags...))
	}
	key := nodes[0].tenant("log-cluster", 1_000_000_000)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL)
	}
	f := startFleet(t, urls[0], key, fleetConfig{
		name: "logcluster", clients: 9, batchMax: 20, pace: 5 * time.Millisecond, retry: true, retryPause: 100 * time.Millisecond, urls: urls,
	})
	time.Sleep(1500 * time.Millisecond) // load before
	f.rec.setPhase("nats-killed")
	nats[1].Kill()
	time.Sleep(pick(2*time.Second, 10*time.Second)) // the cluster runs on two servers
	nats[1].Start()
	nats[1].WaitHealthy(60 * time.Second)
	f.rec.setPhase("node-killed")
	time.Sleep(500 * time.Millisecond) // load with the cluster whole again
	nodes[2].kill()
	time.Sleep(2 * time.Second) // load on the two nodes left
	f.rec.setPhase("end")
	f.Stop(30 * time.Second)
	drained := waitDrained(t, nodes[0], 60*time.Second)
	fig := f.verify(t, nodes[0])
	logFigures(t, "log mode, 3-node JetStream cluster", fig)
	t.Logf("drained %v after the load stopped; redeliveries seen by the nodes left: %v, %v", drained.Round(time.Millisecond),
		metricValue(nodes[0], "pulsestream_ingest_log_redeliveries_total"), metricValue(nodes[1], "pulsestream_ingest_log_redeliveries_total"))
	exactlyOnce(t, fig)
	for _, phase := range []string{"", "nats-killed", "node-killed", "end"} {
		if n := f.rec.phaseStatuses(phase)["500"]; n > 0 {
			t.Errorf("phase %q: %d answers 500", phase, n)
		}
	}
	record("ingest_log_cluster", map[string]any{"drained_ms": drained.Milliseconds(), "figures": fig})
}

// usageCreated sums the "created" counts of the tenant's usage report.
func usageCreated(t *testing.T, srv *server, key string) int64 {
	t.Helper()
	st, body, err := srv.get("/api/v1/usage", key)
	if err != nil || st != http.StatusOK {
		t.Fatalf("usage: %d %v %.200s", st, err, body)
	}
	var u struct {
		Intervals []struct {
			Created int64 `json:"created"`
		} `json:"intervals"`
	}
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, iv := range u.Intervals {
		n += iv.Created
	}
	return n
}
