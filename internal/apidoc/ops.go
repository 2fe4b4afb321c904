package apidoc

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Operation is one documented operation.
type Operation struct {
	Method, Path string // "POST", "/v1/approvals/{id}/approve"
	Op           *openapi3.Operation
	Item         *openapi3.PathItem
}

// Route is the operation as the handler's router names it: "METHOD /path".
func (o Operation) Route() string { return o.Method + " " + o.Path }

var methodOrder = []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete,
	http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodConnect}

// Operations lists the document's operations in the order of their first
// tag among the document's tags, then by path, then POST before GET.
func Operations(doc *openapi3.T) []Operation {
	var out []Operation
	for _, path := range sortedKeys(doc.Paths.Map()) {
		item := doc.Paths.Value(path)
		for _, m := range methodOrder {
			if op := item.GetOperation(m); op != nil {
				out = append(out, Operation{Method: m, Path: path, Op: op, Item: item})
			}
		}
	}
	tagIndex := func(o Operation) int {
		for i, t := range doc.Tags {
			if len(o.Op.Tags) > 0 && o.Op.Tags[0] == t.Name {
				return i
			}
		}
		return len(doc.Tags)
	}
	slices.SortStableFunc(out, func(a, b Operation) int {
		if c := tagIndex(a) - tagIndex(b); c != 0 {
			return c
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return slices.Index(methodOrder, a.Method) - slices.Index(methodOrder, b.Method)
	})
	return out
}

// Parameters are the operation's parameters, the path item's first.
func (o Operation) Parameters() openapi3.Parameters {
	return append(append(openapi3.Parameters{}, o.Item.Parameters...), o.Op.Parameters...)
}

// Statuses lists the operation's documented response statuses, ascending.
func (o Operation) Statuses() []int {
	var out []int
	for k := range o.Op.Responses.Map() {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// ErrorCodes returns the codes an error response's schema admits: the enum
// of error.code, narrowed by allOf, widened by oneOf (branches without an
// error.code, such as API Gateway's own errors, add none). ok is false when
// the schema says nothing about error.code.
func ErrorCodes(ref *openapi3.SchemaRef) (codes []string, ok bool) {
	if ref == nil || ref.Value == nil {
		return nil, false
	}
	s := ref.Value
	switch {
	case len(s.OneOf) > 0:
		set := map[string]bool{}
		for _, b := range s.OneOf {
			if cs, bok := ErrorCodes(b); bok {
				ok = true
				for _, c := range cs {
					set[c] = true
				}
			}
		}
		return sortedKeys(set), ok
	case len(s.AllOf) > 0:
		var set map[string]bool
		for _, b := range s.AllOf {
			cs, bok := ErrorCodes(b)
			if !bok {
				continue
			}
			next := map[string]bool{}
			for _, c := range cs {
				if set == nil || set[c] {
					next[c] = true
				}
			}
			set, ok = next, true
		}
		return sortedKeys(set), ok
	}
	e := s.Properties["error"]
	if e == nil || e.Value == nil {
		return nil, false
	}
	c := e.Value.Properties["code"]
	if c == nil || c.Value == nil || len(c.Value.Enum) == 0 {
		return nil, false
	}
	for _, v := range c.Value.Enum {
		if str, isStr := v.(string); isStr {
			codes = append(codes, str)
		}
	}
	slices.Sort(codes)
	return codes, true
}

// ResponseSchema is the application/json schema of a response, or nil.
func ResponseSchema(r *openapi3.ResponseRef) *openapi3.SchemaRef {
	if r == nil || r.Value == nil {
		return nil
	}
	if mt := r.Value.Content.Get("application/json"); mt != nil {
		return mt.Schema
	}
	return nil
}

// sortedKeys returns m's keys in order (nil for an empty map).
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
