package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// procCPU returns user+system CPU seconds of pid (Linux /proc).
func procCPU(pid int) (float64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, true // USER_HZ is 100 on Linux
}

// procPeakRSS returns VmHWM (peak resident set) of pid in MB. It counts
// the database file's pages that SQLite reads through its memory map
// (file-backed, reclaimable page cache) as well as the process's own memory.
func procPeakRSS(pid int) (float64, bool) { return procStatusMB(pid, "VmHWM") }

// procAnonRSS returns RssAnon (resident anonymous memory: heap, stacks,
// SQLite's page cache; no file-backed pages) of pid in MB.
func procAnonRSS(pid int) (float64, bool) { return procStatusMB(pid, "RssAnon") }

func procStatusMB(pid int, field string) (float64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return statusMB(f, field)
}

// statusMB reads one "Field:  123 kB" line of a /proc/PID/status file.
func statusMB(r io.Reader, field string) (float64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

// anonPeak samples procAnonRSS every interval until stop is called, which
// returns the largest sample (the kernel keeps no peak of anonymous memory).
func anonPeak(pid int, interval time.Duration) (stop func() float64) {
	done := make(chan struct{})
	result := make(chan float64, 1)
	go func() {
		peak, _ := procAnonRSS(pid)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if mb, ok := procAnonRSS(pid); ok {
					peak = max(peak, mb)
				}
			case <-done:
				if mb, ok := procAnonRSS(pid); ok {
					peak = max(peak, mb)
				}
				result <- peak
				return
			}
		}
	}()
	return func() float64 {
		close(done)
		return <-result
	}
}
