package bench

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStatusMB(t *testing.T) {
	status := "Name:\tpulsestream\nVmHWM:\t  225280 kB\nVmRSS:\t  200000 kB\nRssAnon:\t   81920 kB\nRssFile:\t  118080 kB\n"
	for _, c := range []struct {
		field string
		want  float64
		ok    bool
	}{
		{"VmHWM", 220, true},
		{"RssAnon", 80, true},
		{"VmRSS", 200000.0 / 1024, true},
		{"RssShmem", 0, false}, // absent
		{"Vm", 0, false},       // a prefix of other fields is not a field
	} {
		got, ok := statusMB(strings.NewReader(status), c.field)
		if got != c.want || ok != c.ok {
			t.Errorf("statusMB(%s) = %v, %v; want %v, %v", c.field, got, ok, c.want, c.ok)
		}
	}
}

// TestAnonPeak samples this test process: the peak includes memory that
// was allocated and touched after sampling began.
func TestAnonPeak(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	before, ok := procAnonRSS(os.Getpid())
	if !ok {
		t.Fatal("RssAnon not readable for this process")
	}
	stop := anonPeak(os.Getpid(), time.Millisecond)
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	peak := stop()
	runtime.KeepAlive(buf)
	if peak < before+48 {
		t.Errorf("peak anon %.0f MB, want at least %.0f MB (64 MB touched on top of %.0f MB)", peak, before+48, before)
	}
}
