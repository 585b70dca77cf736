package apidocs

import (
	_ "embed"
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

//go:embed openapi.json
var spec []byte

// Spec returns the OpenAPI 3.1 document as JSON (a copy the caller owns).
func Spec() []byte { return slices.Clone(spec) }

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// routes is parsed once; the document is embedded, so a parse error is a
// build defect that the package's tests catch.
var routes = sync.OnceValue(func() []string {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		panic("apidocs: openapi.json: " + err.Error())
	}
	var rs []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(methods, key) {
				rs = append(rs, strings.ToUpper(key)+" "+path)
			}
		}
	}
	slices.Sort(rs)
	return rs
})

// Routes returns every operation of the document as "METHOD /path", with
// path parameters in ServeMux form ("GET /api/v1/events/{id}"), sorted.
// The pages that Handler serves under /docs/assets/ are not operations and
// are not listed.
func Routes() []string { return slices.Clone(routes()) }
