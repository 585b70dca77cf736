package apidocs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"time"
)

// CSP is the Content-Security-Policy under which the docs page works: it
// loads only its own script and style sheet, from this origin.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Patterns are the ServeMux patterns Handler serves; mount each of them.
// "GET /docs/assets/" is the page's script and style sheet and is not an
// API operation, so Routes does not list it.
var Patterns = []string{"GET /openapi.json", "GET /docs", "GET /docs/assets/"}

//go:embed assets
var assets embed.FS

// file is one embedded response body with its content type and ETag.
type file struct {
	body        []byte
	contentType string
	etag        string
}

func newFile(body []byte, contentType string) file {
	sum := sha256.Sum256(body)
	return file{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

func mustAsset(name, contentType string) file {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic("apidocs: " + err.Error()) // embedded at build time; cannot fail
	}
	return newFile(b, contentType)
}

// Handler serves the document at GET /openapi.json, the docs page at
// GET /docs and its script and style sheet under GET /docs/assets/. Every
// response carries CSP and revalidates by ETag. Mount it on each of
// Patterns; it answers 404 for anything else.
func Handler() http.Handler {
	page := mustAsset("index.html", "text/html; charset=utf-8")
	byName := map[string]file{
		"app.js":    mustAsset("app.js", "text/javascript; charset=utf-8"),
		"style.css": mustAsset("style.css", "text/css; charset=utf-8"),
	}
	doc := newFile(spec, "application/json")

	mux := http.NewServeMux()
	mux.Handle("GET /openapi.json", doc)
	mux.Handle("GET /docs", page)
	mux.HandleFunc("GET /docs/assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		f, ok := byName[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f.ServeHTTP(w, r)
	})
	return mux
}

// ServeHTTP writes f; http.ServeContent answers HEAD, If-None-Match and
// Range requests.
func (f file) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
