package chaos

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestChaosKill9 SIGKILLs the server at random moments under load from 8
// clients (single events and batches) and restarts it on the same database;
// the clients retry everything that got no 2xx. Afterwards every
// acknowledged external_id is stored exactly once.
func TestChaosKill9(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			db := b.url(t)
			srv := startServer(t, db)
			key := srv.tenant("kill9", 1_000_000_000)
			f := startFleet(t, srv.URL, key, fleetConfig{
				name: "kill9-" + b.name, clients: 8, batchMax: 40, pace: 2 * time.Millisecond, retry: true,
			})
			kills := pick(4, 15)
			var downtime time.Duration
			for i := range kills {
				time.Sleep(time.Duration(700+rand.IntN(1300)) * time.Millisecond) // a random moment under load
				before := f.rec.acked()
				srv.kill()
				down := time.Now()
				srv.start()
				downtime += time.Since(down)
				t.Logf("kill %d/%d: SIGKILL after %d acknowledged events, ready again in %v", i+1, kills, before, time.Since(down).Round(time.Millisecond))
			}
			time.Sleep(time.Second) // load on the last incarnation
			f.Stop(30 * time.Second)
			fig := f.verify(t, srv)
			logFigures(t, "kill -9 "+b.name, fig)
			exactlyOnce(t, fig)
			if fig.Sent != fig.Acknowledged {
				t.Errorf("%d events sent but %d acknowledged: the clients' retries did not get every event in", fig.Sent, fig.Acknowledged)
			}
			if n := fig.Unexpected; n != 0 {
				t.Errorf("%d unexpected answers (see log)", n)
			}
			record("kill9_"+b.name, map[string]any{
				"kills_survived": kills, "restarts": srv.starts - 1, "total_restart_ms": downtime.Milliseconds(),
				"peak_rss_mib_last_process": srv.peakRSSMiB(), "figures": fig,
			})
		})
	}
}
