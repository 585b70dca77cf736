package apidocs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// loadDoc decodes the embedded document into plain maps.
func loadDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(Spec(), &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return doc
}

type operation struct {
	method, path string
	item, op     map[string]any
}

func operations(doc map[string]any) []operation {
	var ops []operation
	for path, item := range doc["paths"].(map[string]any) {
		item := item.(map[string]any)
		for _, m := range methods {
			if op, ok := item[m].(map[string]any); ok {
				ops = append(ops, operation{strings.ToUpper(m), path, item, op})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

func TestSpecIsOpenAPI31(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info lacks title or version: %v", info)
	}
	if len(Spec()) == 0 || &Spec()[0] == &Spec()[0] {
		t.Error("Spec must return a fresh copy")
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	want := []string{
		"GET /health", "GET /ready", "GET /metrics", "GET /openapi.json", "GET /docs",
		"POST /admin/v1/tenants", "GET /admin/v1/tenants", "GET /admin/v1/tenants/{id}", "PATCH /admin/v1/tenants/{id}",
		"POST /admin/v1/tenants/{id}/api-keys", "GET /admin/v1/tenants/{id}/api-keys",
		"DELETE /admin/v1/tenants/{id}/api-keys/{key_id}",
		"POST /api/v1/events", "POST /api/v1/events/batch", "POST /v1/logs", "GET /api/v1/events",
		"POST /api/v1/ingest/elasticsearch/_bulk", "POST /api/v1/ingest/elasticsearch/{index}/_bulk",
		"GET /api/v1/ingest/elasticsearch", "GET /api/v1/ingest/elasticsearch/_cluster/health", "GET /api/v1/events/{id}", "GET /api/v1/usage",
		"GET /api/v1/events/histogram", "GET /api/v1/events/tail",
		"POST /api/v1/alert-rules", "GET /api/v1/alert-rules", "GET /api/v1/alert-rules/{id}", "PUT /api/v1/alert-rules/{id}",
		"PATCH /api/v1/alert-rules/{id}", "DELETE /api/v1/alert-rules/{id}", "POST /api/v1/alert-rules/{id}/test",
		"POST /api/v1/alert-rules/preview",
		"GET /api/v1/alerts", "GET /api/v1/alerts/{id}", "POST /api/v1/alerts/{id}/acknowledge", "GET /api/v1/alerts/{id}/notifications",
		"GET /api/v1/notifications/{id}", "POST /api/v1/notifications/{id}/retry",
		"POST /api/v1/silences", "GET /api/v1/silences", "DELETE /api/v1/silences/{id}",
		"POST /admin/v1/tenants/{id}/api-keys/{key_id}/rotate", "GET /admin/v1/audit-log", "GET /admin/v1/backup",
		"GET /api/v1/api-keys", "POST /api/v1/api-keys", "DELETE /api/v1/api-keys/{id}", "POST /api/v1/api-keys/{id}/rotate",
		"GET /api/v1/signing-secrets", "POST /api/v1/signing-secrets", "DELETE /api/v1/signing-secrets/{id}", "GET /api/v1/audit-log",
		// Sign-in, sessions, invitations, first run (issue 14).
		"POST /api/v1/session", "GET /api/v1/session", "DELETE /api/v1/session", "POST /api/v1/session/revoke-all",
		"POST /api/v1/session/password", "POST /api/v1/session/totp", "POST /api/v1/session/totp/confirm",
		"POST /api/v1/session/totp/disable", "POST /api/v1/invitations", "GET /api/v1/invitations",
		"DELETE /api/v1/invitations/{id}", "POST /api/v1/invitations/accept", "POST /api/v1/setup",
		"POST /admin/v1/users", "GET /admin/v1/users", "PATCH /admin/v1/users/{id}", "GET /admin/v1/tenants/{id}/members",
		"PUT /admin/v1/tenants/{id}/members/{user_id}", "DELETE /admin/v1/tenants/{id}/members/{user_id}",
		"GET /api/v1/users/{user_id}/events/export", "DELETE /api/v1/users/{user_id}/events",
		"GET /api/v1/members", "PUT /api/v1/members/{user_id}", "DELETE /api/v1/members/{user_id}",
	}
	slices.Sort(want)
	got := Routes()
	if !slices.Equal(got, want) {
		t.Errorf("Routes() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got[0] = "changed"
	if Routes()[0] == "changed" {
		t.Error("Routes must return a fresh slice")
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	tags := map[string]bool{}
	for _, tag := range doc["tags"].([]any) {
		tags[tag.(map[string]any)["name"].(string)] = true
	}
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	ids := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)

	for _, o := range operations(doc) {
		name := o.method + " " + o.path
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", name)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q also used by %s", name, id, prev)
		}
		ids[id] = name
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", name)
		}

		opTags, _ := o.op["tags"].([]any)
		if len(opTags) == 0 {
			t.Errorf("%s: no tag", name)
		}
		for _, tag := range opTags {
			if !tags[tag.(string)] {
				t.Errorf("%s: tag %q is not declared in tags", name, tag)
			}
		}

		sec, ok := o.op["security"].([]any)
		if !ok {
			t.Errorf("%s: no security (use [] for a public route)", name)
		}
		for _, req := range sec {
			for scheme := range req.(map[string]any) {
				if schemes[scheme] == nil {
					t.Errorf("%s: security scheme %q is not defined", name, scheme)
				}
			}
		}
		if len(sec) > 0 && o.op["responses"].(map[string]any)["401"] == nil {
			t.Errorf("%s: authenticated but documents no 401", name)
		}

		responses, _ := o.op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s: no responses", name)
		}
		for code, r := range responses {
			if n, err := strconv.Atoi(code); err != nil || n < 100 || n > 599 {
				t.Errorf("%s: response key %q is not a status code", name, code)
			}
			r, err := resolve(doc, r)
			if err != nil {
				t.Errorf("%s %s: %v", name, code, err)
				continue
			}
			if d, _ := r["description"].(string); d == "" {
				t.Errorf("%s %s: no description", name, code)
			}
			if _, ok := r["headers"].(map[string]any)["X-Request-ID"]; !ok {
				t.Errorf("%s %s: no X-Request-ID header", name, code)
			}
		}

		// Every {param} of the path is declared exactly once, in: path,
		// required; no path parameter is declared that the path lacks.
		declared := map[string]int{}
		params := append(asSlice(o.item["parameters"]), asSlice(o.op["parameters"])...)
		for _, p := range params {
			p, err := resolve(doc, p)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if p["in"] == "path" {
				declared[p["name"].(string)]++
				if p["required"] != true {
					t.Errorf("%s: path parameter %v is not required", name, p["name"])
				}
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			if declared[m[1]] != 1 {
				t.Errorf("%s: path parameter %q declared %d times, want 1", name, m[1], declared[m[1]])
			}
			delete(declared, m[1])
		}
		for p := range declared {
			t.Errorf("%s: declares path parameter %q that the path lacks", name, p)
		}
	}
}

// resolve follows v's $ref, if any, and returns the object it names.
func resolve(doc map[string]any, v any) (map[string]any, error) {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%v is not an object", short(v))
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if v, err = resolvePointer(doc, ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too long at %v", short(v))
}

// walk calls fn for every object in v with its JSON path.
func walk(v any, at string, fn func(m map[string]any, at string)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v, at)
		for k, x := range v {
			walk(x, at+"/"+k, fn)
		}
	case []any:
		for i, x := range v {
			walk(x, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

func TestRefsResolve(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	n := 0
	walk(doc, "#", func(m map[string]any, at string) {
		ref, ok := m["$ref"]
		if !ok {
			return
		}
		n++
		s, ok := ref.(string)
		if !ok {
			t.Errorf("%s: $ref is not a string", at)
			return
		}
		if _, err := resolvePointer(doc, s); err != nil {
			t.Errorf("%s: %v", at, err)
		}
	})
	if n == 0 {
		t.Error("found no $ref at all; is the walk broken?")
	}
}

// TestExamplesMatchSchemas checks every example of a media type, parameter
// or header against its schema, and every schema's own examples.
func TestExamplesMatchSchemas(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	checked := 0
	check := func(schema, value any, at string) {
		checked++
		for _, e := range validate(doc, schema, value, at) {
			t.Error(e)
		}
	}
	walk(doc, "#", func(m map[string]any, at string) {
		if schema, ok := m["schema"]; ok {
			if ex, ok := m["example"]; ok {
				check(schema, ex, at+"/example")
			}
			if exs, ok := m["examples"].(map[string]any); ok {
				for name, ex := range exs {
					e, err := resolve(doc, ex)
					if err != nil {
						t.Errorf("%s/examples/%s: %v", at, name, err)
						continue
					}
					check(schema, e["value"], at+"/examples/"+name)
				}
			}
		}
		if exs, ok := m["examples"].([]any); ok {
			for i, ex := range exs {
				check(m, ex, fmt.Sprintf("%s/examples/%d", at, i))
			}
		}
	})
	if checked < 30 {
		t.Errorf("checked only %d examples; is the walk broken?", checked)
	}
}

// TestProblemExamples checks that every problem example carries the status
// of the response it documents, and that error responses are problems
// (except the OTLP door's own errors: a google.rpc.Status in the request's
// format, as the OTLP spec requires, and the Elasticsearch door's own
// errors: Elasticsearch's error object, which shippers parse).
func TestProblemExamples(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	for _, o := range operations(doc) {
		for code, r := range o.op["responses"].(map[string]any) {
			r, err := resolve(doc, r)
			if err != nil {
				t.Fatal(err)
			}
			content, _ := r["content"].(map[string]any)
			problem, isProblem := content["application/problem+json"].(map[string]any)
			_, isOTLPStatus := content["application/x-protobuf"]
			_, isESError := content["application/json"]
			if code >= "400" && !isProblem && !(strings.HasPrefix(o.path, "/v1/") && isOTLPStatus) &&
				!(strings.HasPrefix(o.path, "/api/v1/ingest/elasticsearch/") && isESError) {
				t.Errorf("%s %s %s: error response without application/problem+json", o.method, o.path, code)
			}
			if !isProblem {
				continue
			}
			var values []any
			if ex, ok := problem["example"]; ok {
				values = append(values, ex)
			}
			for _, ex := range asSlice(mapValues(problem["examples"])) {
				e, _ := resolve(doc, ex)
				values = append(values, e["value"])
			}
			if len(values) == 0 {
				t.Errorf("%s %s %s: problem without an example", o.method, o.path, code)
			}
			for _, v := range values {
				if got := fmt.Sprint(v.(map[string]any)["status"]); got != code {
					t.Errorf("%s %s %s: example has status %s", o.method, o.path, code, got)
				}
			}
		}
	}
}

func mapValues(v any) []any {
	m, _ := v.(map[string]any)
	out := make([]any, 0, len(m))
	for _, x := range m {
		out = append(out, x)
	}
	return out
}

// TestProblemTypes checks the values of Problem.type: each links to its
// entry on the docs page (the page gives each entry the fragment as id).
func TestProblemTypes(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	typ, err := resolvePointer(doc, "#/components/schemas/Problem/properties/type/oneOf")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, alt := range typ.([]any) {
		alt := alt.(map[string]any)
		c, _ := alt["const"].(string)
		if !regexp.MustCompile(`^/docs#problem-[a-z_]+$`).MatchString(c) || seen[c] {
			t.Errorf("problem type %q: want a unique /docs#problem-<code>", c)
		}
		seen[c] = true
		if alt["title"] == nil || alt["description"] == nil {
			t.Errorf("problem type %q: no title or description for the docs page", c)
		}
	}
	if len(seen) == 0 {
		t.Error("Problem.type lists no problem types")
	}
}
