package chaos

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestChaosGracefulShutdown sends SIGTERM under load, several times,
// restarting the server each time: the exit code is 0, nothing acknowledged
// is lost, and no request the server had started is left without an answer
// (an event that was committed but whose answer was lost would come back
// as a "duplicate" on the client's retry). Connections refused after the
// listener closed are retried.
func TestChaosGracefulShutdown(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			srv := startServer(t, b.url(t))
			key := srv.tenant("graceful", 1_000_000_000)
			f := startFleet(t, srv.URL, key, fleetConfig{
				name: "term-" + b.name, clients: 8, batchMax: 40, pace: 2 * time.Millisecond, retry: true,
			})
			rounds := pick(2, 6)
			var took []time.Duration
			for i := range rounds {
				time.Sleep(time.Duration(700+rand.IntN(800)) * time.Millisecond) // a random moment under load
				f.rec.setPhase(fmt.Sprintf("sigterm-%d", i+1))
				code, d := srv.terminate(30 * time.Second)
				took = append(took, d)
				if code != 0 {
					t.Errorf("SIGTERM %d: exit code %d, want 0", i+1, code)
				}
				srv.start()
				f.rec.setPhase("load")
			}
			time.Sleep(time.Second) // load on the last incarnation
			f.Stop(30 * time.Second)
			fig := f.verify(t, srv)
			logFigures(t, "SIGTERM "+b.name, fig)
			exactlyOnce(t, fig)
			inShutdown := srv.requestsDuringShutdown()
			// A reset can still hit a request the server never read: one
			// written into a kept-alive connection just as the server
			// closed it as idle, or into the listen backlog. AnswersLost
			// == 0 below proves none of them had been committed.
			unread := fig.transportErrors() - fig.transportErrorsOf("refused")
			t.Logf("SIGTERM %s: %d rounds, shutdown took %v, %d requests answered between SIGTERM and exit, %d connections closed before the server read the request",
				b.name, rounds, took, inShutdown, unread)
			if fig.AnswersLost != 0 {
				t.Errorf("%d events were committed but their request got no answer: graceful shutdown dropped in-flight requests", fig.AnswersLost)
			}
			if fig.Sent != fig.Acknowledged {
				t.Errorf("%d events sent but %d acknowledged", fig.Sent, fig.Acknowledged)
			}
			if fig.Unexpected != 0 {
				t.Errorf("%d unexpected answers (see log)", fig.Unexpected)
			}
			record("sigterm_"+b.name, map[string]any{
				"rounds": rounds, "exit_codes_zero": !t.Failed(), "shutdown_ms": durationsMs(took),
				"requests_answered_during_shutdown": inShutdown, "closed_before_read": unread, "figures": fig,
			})
		})
	}
}

func durationsMs(ds []time.Duration) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.Milliseconds()
	}
	return out
}
