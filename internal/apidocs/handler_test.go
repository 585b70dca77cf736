package apidocs

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// server mounts Handler on Patterns the way httpapi does.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h := Handler()
	for _, p := range Patterns {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

var (
	// absoluteURL is an http(s) or protocol-relative URL.
	absoluteURL = regexp.MustCompile(`(?i)https?://|["'(]//[a-z0-9]`)
	// inlineCode is what CSP blocks: style elements and attributes, event
	// handler attributes and javascript: URLs.
	inlineCode = regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`)
	assetRef   = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
)

func TestDocsPage(t *testing.T) {
	t.Parallel()
	srv := server(t)
	res, page := get(t, srv.URL+"/docs")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /docs: %s", res.Status)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET /docs: Content-Type %q", ct)
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != CSP {
		t.Errorf("GET /docs: Content-Security-Policy %q, want CSP", csp)
	}
	// Under CSP no inline script, style or event handler would run.
	if m := inlineCode.Find(page); m != nil {
		t.Errorf("the page contains %q, which CSP blocks", m)
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAll(page, -1) {
		if !bytes.Contains(m, []byte(`src="`)) {
			t.Errorf("inline script %s", m)
		}
	}

	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json"}
	checked := map[string]bool{}
	bodies := map[string][]byte{"/docs": page}
	for _, m := range assetRef.FindAllSubmatch(page, -1) {
		ref := string(m[1])
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("the page references %q, not a path on this server", ref)
			continue
		}
		res, body := get(t, srv.URL+ref)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s (referenced by the page): %s", ref, res.Status)
			continue
		}
		for ext, want := range wantType {
			if strings.HasSuffix(ref, ext) {
				checked[ext] = true
				if ct := res.Header.Get("Content-Type"); ct != want {
					t.Errorf("GET %s: Content-Type %q, want %q", ref, ct, want)
				}
			}
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", ref)
		}
		bodies[ref] = body
	}
	for ext := range wantType {
		if !checked[ext] {
			t.Errorf("the page references no %s file", ext)
		}
	}
	for ref, body := range bodies {
		if ref == "/openapi.json" {
			continue // the document may cite external specifications; the page loads nothing from them
		}
		if m := absoluteURL.Find(body); m != nil {
			t.Errorf("%s references another origin: %q", ref, m)
		}
	}
}

func TestSpecServed(t *testing.T) {
	t.Parallel()
	srv := server(t)
	res, body := get(t, srv.URL+"/openapi.json")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %s, %q", res.Status, res.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, Spec()) {
		t.Error("GET /openapi.json differs from Spec()")
	}
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if res, _ := get(t, srv.URL+"/openapi.json", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: %s, want 304", res.Status)
	}
}

func TestUnknownAssetIsNotFound(t *testing.T) {
	t.Parallel()
	srv := server(t)
	for _, path := range []string{"/docs/assets/nope.js", "/docs/assets/index.html", "/docs/assets/"} {
		if res, _ := get(t, srv.URL+path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, res.Status)
		}
	}
}

// TestScriptParses runs the docs script through node's syntax check where
// node is installed; the page is otherwise only tested by hand in a browser.
func TestScriptParses(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	if out, err := exec.Command(node, "--check", "assets/app.js").CombinedOutput(); err != nil {
		t.Errorf("node --check assets/app.js: %v\n%s", err, out)
	}
}
