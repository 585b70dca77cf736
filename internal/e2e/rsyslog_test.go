package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rsyslogConf forwards what arrives on a TCP port to the bulk door with
// omelasticsearch, the configuration README.md gives (Basic auth, the
// key as password).
const rsyslogConf = `
global(workDirectory="%[1]s")
module(load="imtcp")
module(load="omelasticsearch")
template(name="pulsestream" type="list" option.jsonf="on") {
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="message" name="msg" position.from="2" format="jsonf")
  property(outname="host.name" name="hostname" format="jsonf")
  property(outname="service.name" name="programname" format="jsonf")
  property(outname="log.level" name="syslogseverity-text" format="jsonf")
}
ruleset(name="forward") {
  action(type="omelasticsearch" server="%[2]s" searchIndex="syslog" template="pulsestream"
         bulkmode="on" uid="pulsestream" pwd="%[3]s" errorFile="%[1]s/es-errors.json"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}
input(type="imtcp" address="127.0.0.1" port="%[4]d" ruleset="forward")
`

// TestRsyslogForwards: rsyslogd from Debian's packages (rsyslog,
// rsyslog-elasticsearch; .ci/run installs them) forwards syslog lines to
// the bulk endpoint → stored with the documented mapping.
func TestRsyslogForwards(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		bin = "/usr/sbin/rsyslogd"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("PULSESTREAM_REQUIRE_EXTERNAL") == "1" || os.Getenv("CI") == "true" { // .ci/run installs it: there the test is mandatory
			t.Fatal("rsyslogd is not installed although CI=true (.ci/run installs rsyslog rsyslog-elasticsearch)")
		}
		t.Skip("rsyslogd is not installed (apt-get install rsyslog rsyslog-elasticsearch)")
	}
	eachBackend(t, func(t *testing.T, n *node) {
		_, key := n.tenant("rsyslog", 0)
		dir := t.TempDir()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close() // rsyslogd takes the port over
		conf := filepath.Join(dir, "rsyslog.conf")
		if err := os.WriteFile(conf, []byte(fmt.Sprintf(rsyslogConf, dir, n.URL+esBase, key, port)), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Skipf("rsyslogd does not start: %v", err)
		}
		t.Cleanup(func() {
			cancel()
			_ = cmd.Wait()
			if t.Failed() {
				errs, _ := os.ReadFile(filepath.Join(dir, "es-errors.json"))
				t.Logf("rsyslogd output:\n%s\nerror file:\n%s", out.String(), errs)
			}
		})

		// Waiting for rsyslogd to listen and to forward is not a bound
		// under test: it only ends the test when rsyslog never delivers.
		deadline := time.Now().Add(60 * time.Second)
		var conn net.Conn
		for conn == nil {
			if conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
				if time.Now().After(deadline) {
					t.Fatalf("rsyslogd never listened: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		at := n.Clock.Now().Add(-time.Minute).UTC()
		for _, line := range []string{"<11>%s web-1 checkout[42]: payment failed", "<14>%s web-1 checkout[42]: payment ok"} {
			fmt.Fprintf(conn, line+"\n", at.Format(time.RFC3339))
		}
		conn.Close()

		for {
			page := n.search(key, q("service", "checkout"))
			if len(page.Events) == 2 {
				bySev := map[string]storedEvent{}
				for _, e := range page.Events {
					bySev[e.Severity] = e
				}
				e := bySev["error"]
				if e.Message != "payment failed" || e.Tags["host.name"] != "web-1" || e.EventType != "log" || !e.Timestamp.Equal(at) || bySev["info"].Message != "payment ok" {
					t.Errorf("stored %+v", page.Events)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslog delivered %d of 2 lines", len(page.Events))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
