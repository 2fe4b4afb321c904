package apidoc

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Link is one OpenAPI link of a response: where the answer's values lead.
type Link struct {
	Name   string
	Target Operation
	// Params maps the target's parameter names to runtime expressions;
	// Body is the target's request body (an object of expressions), or nil.
	Params map[string]string
	Body   map[string]string
}

// Links lists the links of one response of an operation, in the order of
// their targets in Operations, then by name.
func Links(doc *openapi3.T, r *openapi3.ResponseRef) ([]Link, error) {
	if r == nil || r.Value == nil {
		return nil, nil
	}
	ops := Operations(doc)
	var out []Link
	var errs []error
	for _, name := range sortedKeys(r.Value.Links) {
		lr := r.Value.Links[name]
		if lr == nil || lr.Value == nil {
			errs = append(errs, fmt.Errorf("link %s: unresolved", name))
			continue
		}
		l := lr.Value
		if l.OperationRef != "" {
			errs = append(errs, fmt.Errorf("link %s: operationRef is not supported here; use operationId", name))
			continue
		}
		i := slices.IndexFunc(ops, func(o Operation) bool { return o.Op.OperationID == l.OperationID })
		if i < 0 {
			errs = append(errs, fmt.Errorf("link %s: no operation %q", name, l.OperationID))
			continue
		}
		link := Link{Name: name, Target: ops[i], Params: map[string]string{}}
		for p, v := range l.Parameters {
			s, ok := v.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("link %s: parameter %s is not an expression", name, p))
				continue
			}
			link.Params[p] = s
		}
		if l.RequestBody != nil {
			m, ok := l.RequestBody.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("link %s: requestBody is not an object", name))
				continue
			}
			link.Body = map[string]string{}
			for k, v := range m {
				s, ok := v.(string)
				if !ok {
					errs = append(errs, fmt.Errorf("link %s: requestBody member %s is not an expression", name, k))
					continue
				}
				link.Body[k] = s
			}
		}
		out = append(out, link)
	}
	slices.SortStableFunc(out, func(a, b Link) int {
		ia := slices.IndexFunc(ops, func(o Operation) bool { return o.Route() == a.Target.Route() })
		ib := slices.IndexFunc(ops, func(o Operation) bool { return o.Route() == b.Target.Route() })
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, errors.Join(errs...)
}

// checkLinks checks what kin-openapi does not: every link of every
// response names an operation of the document, sets only parameters that
// operation has (and all its required path parameters) and only members
// of its request body, and every $response.body#/pointer it uses exists
// in the response's schema.
func checkLinks(doc *openapi3.T) error {
	var errs []error
	for _, op := range Operations(doc) {
		for _, status := range sortedKeys(op.Op.Responses.Map()) {
			r := op.Op.Responses.Value(status)
			links, err := Links(doc, r)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", op.Op.OperationID, status, err))
			}
			for _, l := range links {
				where := fmt.Sprintf("%s %s link %s", op.Op.OperationID, status, l.Name)
				params := l.Target.Parameters()
				for name, expr := range l.Params {
					in, bare, qualified := strings.Cut(name, ".")
					if !qualified {
						bare, in = name, ""
					}
					if !slices.ContainsFunc(params, func(p *openapi3.ParameterRef) bool {
						return p.Value.Name == bare && (in == "" || p.Value.In == in)
					}) {
						errs = append(errs, fmt.Errorf("%s: %s has no parameter %s", where, l.Target.Op.OperationID, name))
					}
					if err := checkExpression(expr, r); err != nil {
						errs = append(errs, fmt.Errorf("%s: parameter %s: %w", where, name, err))
					}
				}
				for _, p := range params {
					if p.Value.In != openapi3.ParameterInPath {
						continue
					}
					_, bare := l.Params[p.Value.Name]
					_, qualified := l.Params["path."+p.Value.Name]
					if !bare && !qualified {
						errs = append(errs, fmt.Errorf("%s: sets no path parameter %s", where, p.Value.Name))
					}
				}
				if l.Body != nil {
					var body *openapi3.SchemaRef
					if rb := l.Target.Op.RequestBody; rb != nil && rb.Value != nil {
						if mt := rb.Value.Content.Get("application/json"); mt != nil {
							body = mt.Schema
						}
					}
					for member, expr := range l.Body {
						if body == nil || !hasPointer(body, []string{member}) {
							errs = append(errs, fmt.Errorf("%s: %s's request body has no member %s", where, l.Target.Op.OperationID, member))
						}
						if err := checkExpression(expr, r); err != nil {
							errs = append(errs, fmt.Errorf("%s: body member %s: %w", where, member, err))
						}
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// checkExpression accepts $response.body#/pointer expressions whose pointer
// exists in the response's schema.
func checkExpression(expr string, r *openapi3.ResponseRef) error {
	ptr, ok := strings.CutPrefix(expr, "$response.body#/")
	if !ok {
		return fmt.Errorf("%q: only $response.body#/... expressions are used here", expr)
	}
	var segs []string
	for _, s := range strings.Split(ptr, "/") {
		segs = append(segs, strings.NewReplacer("~1", "/", "~0", "~").Replace(s))
	}
	if !hasPointer(ResponseSchema(r), segs) {
		return fmt.Errorf("%q: the response's schema has no /%s", expr, ptr)
	}
	return nil
}

// hasPointer reports whether some branch of the schema has the JSON
// pointer's path: object properties by name, array items by index.
func hasPointer(ref *openapi3.SchemaRef, segs []string) bool {
	if ref == nil || ref.Value == nil {
		return false
	}
	if len(segs) == 0 {
		return true
	}
	s := ref.Value
	for _, branches := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
		for _, b := range branches {
			if hasPointer(b, segs) {
				return true
			}
		}
	}
	if p := s.Properties[segs[0]]; p != nil {
		return hasPointer(p, segs[1:])
	}
	if _, err := strconv.ParseUint(segs[0], 10, 32); err == nil && s.Items != nil {
		return hasPointer(s.Items, segs[1:])
	}
	return false
}

// linksLine renders a response's links for docs/api.md: the targets,
// grouped by what they are given.
func linksLine(links []Link) string {
	type group struct {
		args    string
		targets []string
	}
	var groups []*group
	for _, l := range links {
		var args []string
		for _, p := range sortedKeys(l.Params) {
			args = append(args, fmt.Sprintf("`%s` = `%s`", p, l.Params[p]))
		}
		for _, m := range sortedKeys(l.Body) {
			args = append(args, fmt.Sprintf("body `%s` = `%s`", m, l.Body[m]))
		}
		a := strings.Join(args, ", ")
		target := fmt.Sprintf("[`%s`](#%s)", l.Target.Op.OperationID, slug(l.Target.Route()))
		if i := slices.IndexFunc(groups, func(g *group) bool { return g.args == a }); i >= 0 {
			groups[i].targets = append(groups[i].targets, target)
			continue
		}
		groups = append(groups, &group{args: a, targets: []string{target}})
	}
	var parts []string
	for _, g := range groups {
		parts = append(parts, fmt.Sprintf("%s with %s", strings.Join(g.targets, ", "), g.args))
	}
	return strings.Join(parts, "; ")
}
