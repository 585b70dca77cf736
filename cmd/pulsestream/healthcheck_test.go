package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// healthcheck exits 0 on a 200 from /health and 1 otherwise, naming the URL.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	addr := strings.TrimPrefix(srv.URL, "http://")
	check := func() (int, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"healthcheck", "--addr", addr}, func(string) string { return "" }, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := check(); code != 0 || !strings.Contains(out, "/health") {
		t.Fatalf("healthy server: exit %d: %s", code, out)
	}
	status = http.StatusServiceUnavailable
	if code, out := check(); code != 1 || !strings.Contains(out, "503") {
		t.Fatalf("unhealthy server: exit %d: %s", code, out)
	}
	srv.Close()
	if code, out := check(); code != 1 || !strings.Contains(out, addr) {
		t.Fatalf("no server: exit %d: %s", code, out)
	}
	// The address comes from PULSESTREAM_ADDR like serve's.
	var out bytes.Buffer
	env := func(k string) string {
		if k == "PULSESTREAM_ADDR" {
			return "127.0.0.1:1"
		}
		return ""
	}
	if code := run(context.Background(), []string{"healthcheck"}, env, &out, &out); code != 1 || !strings.Contains(out.String(), "127.0.0.1:1/health") {
		t.Fatalf("PULSESTREAM_ADDR not used: exit %d: %s", code, out.String())
	}
}

func TestHealthURL(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		":8000":          "http://127.0.0.1:8000/health",
		"0.0.0.0:9":      "http://127.0.0.1:9/health",
		"[::]:9":         "http://[::1]:9/health",
		"10.1.2.3:80":    "http://10.1.2.3:80/health",
		"localhost:8000": "http://localhost:8000/health",
	} {
		if got, err := healthURL(addr, false); err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if got, _ := healthURL(":443", true); got != "https://127.0.0.1:443/health" {
		t.Errorf("https: %q", got)
	}
	if _, err := healthURL("8000", false); err == nil {
		t.Error("an address without a port must be refused")
	}
}
