package apidocs

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The document's examples are checked against its schemas by this small
// JSON Schema validator. It knows exactly the keywords the document uses and
// reports any other one, so that a new keyword is either taught here or not
// silently ignored.

var (
	annotations = []string{"description", "title", "examples", "default", "deprecated", "readOnly", "writeOnly"}
	assertions  = []string{"$ref", "type", "enum", "const", "format", "pattern", "minLength", "maxLength", "minimum", "maximum",
		"minItems", "maxItems", "items", "properties", "required", "additionalProperties", "propertyNames", "maxProperties", "oneOf", "allOf"}
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// validate returns every way v breaks schema; at names v in messages.
func validate(doc map[string]any, schema any, v any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{at + ": schema is not an object"}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !slices.Contains(annotations, k) && !slices.Contains(assertions, k) {
			fail("schema keyword %q is not supported by the test validator", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := resolvePointer(doc, ref)
		if err != nil {
			return append(errs, at+": "+err.Error())
		}
		errs = append(errs, validate(doc, target, v, at)...)
	}
	if t, ok := s["type"]; ok && !typeMatches(t, v) {
		fail("%s is not of type %v", short(v), t)
		return errs
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		fail("%s is not one of %v", short(v), e)
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		fail("%s is not %v", short(v), c)
	}
	for _, sub := range asSlice(s["allOf"]) {
		errs = append(errs, validate(doc, sub, v, at)...)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if len(validate(doc, a, v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of oneOf, want 1", n)
		}
	}
	switch v := v.(type) {
	case string:
		errs = append(errs, validateString(s, v, at)...)
	case float64:
		if min, ok := s["minimum"].(float64); ok && v < min {
			fail("%v is below %v", v, min)
		}
		if max, ok := s["maximum"].(float64); ok && v > max {
			fail("%v is above %v", v, max)
		}
	case []any:
		if min, ok := s["minItems"].(float64); ok && float64(len(v)) < min {
			fail("has %d items, fewer than %v", len(v), min)
		}
		if max, ok := s["maxItems"].(float64); ok && float64(len(v)) > max {
			fail("has %d items, more than %v", len(v), max)
		}
		if items, ok := s["items"]; ok {
			for i, x := range v {
				errs = append(errs, validate(doc, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		errs = append(errs, validateObject(doc, s, v, at)...)
	}
	return errs
}

func validateString(s map[string]any, v, at string) []string {
	var errs []string
	n := float64(len([]rune(v)))
	if min, ok := s["minLength"].(float64); ok && n < min {
		errs = append(errs, fmt.Sprintf("%s: %q is shorter than %v", at, v, min))
	}
	if max, ok := s["maxLength"].(float64); ok && n > max {
		errs = append(errs, fmt.Sprintf("%s: %q is longer than %v", at, v, max))
	}
	if p, ok := s["pattern"].(string); ok {
		if re, err := regexp.Compile(p); err != nil {
			errs = append(errs, fmt.Sprintf("%s: pattern %q does not compile: %v", at, p, err))
		} else if !re.MatchString(v) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, v, p))
		}
	}
	switch s["format"] {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %q is not an RFC 3339 time", at, v))
		}
	case "uuid":
		if !uuidRE.MatchString(v) {
			errs = append(errs, fmt.Sprintf("%s: %q is not a lower-case UUID", at, v))
		}
	}
	return errs
}

func validateObject(doc map[string]any, s map[string]any, v map[string]any, at string) []string {
	var errs []string
	for _, r := range asSlice(s["required"]) {
		if _, ok := v[r.(string)]; !ok {
			errs = append(errs, fmt.Sprintf("%s: required field %q is missing", at, r))
		}
	}
	if max, ok := s["maxProperties"].(float64); ok && float64(len(v)) > max {
		errs = append(errs, fmt.Sprintf("%s: has %d keys, more than %v", at, len(v), max))
	}
	props, _ := s["properties"].(map[string]any)
	for k, x := range v {
		if names, ok := s["propertyNames"]; ok {
			errs = append(errs, validate(doc, names, k, at+" key "+k)...)
		}
		if p, ok := props[k]; ok {
			errs = append(errs, validate(doc, p, x, at+"."+k)...)
			continue
		}
		switch extra := s["additionalProperties"].(type) {
		case bool:
			if !extra {
				errs = append(errs, fmt.Sprintf("%s: field %q is not allowed", at, k))
			}
		case map[string]any:
			errs = append(errs, validate(doc, extra, x, at+"."+k)...)
		}
	}
	return errs
}

func typeMatches(t any, v any) bool {
	for _, name := range asSlice(t) {
		switch name {
		case "null":
			if v == nil {
				return true
			}
		case "boolean":
			if _, ok := v.(bool); ok {
				return true
			}
		case "string":
			if _, ok := v.(string); ok {
				return true
			}
		case "number":
			if _, ok := v.(float64); ok {
				return true
			}
		case "integer":
			if f, ok := v.(float64); ok && f == math.Trunc(f) {
				return true
			}
		case "array":
			if _, ok := v.([]any); ok {
				return true
			}
		case "object":
			if _, ok := v.(map[string]any); ok {
				return true
			}
		}
	}
	return false
}

// asSlice treats a single value as a one-element list ("type": "string").
func asSlice(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// resolvePointer follows a local reference such as "#/components/schemas/Event".
func resolvePointer(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local to the document", ref)
	}
	var node any = doc
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if node, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return node, nil
}

func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}
