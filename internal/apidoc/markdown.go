package apidoc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
)

// MarkdownPath is the generated reference, relative to the repository root.
const MarkdownPath = "docs/api.md"

// Markdown renders the API reference of a loaded document: its operations
// (parameters, request body, answers with their error codes, headers and
// links)
// and every schema.
func Markdown(doc *openapi3.T) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ops := Operations(doc)

	w("# Sentinel TVM HTTP API (v%s)\n\n", doc.Info.Version)
	w("<!-- Generated from %s by tools/apidoc (make docs). Do not edit: edit the document. -->\n\n", DocumentPath)
	w("This reference is generated from [`%s`](../%s), the API's single source of truth\n", DocumentPath, DocumentPath)
	w("(the REST API is built from it, and the handler and the Go client are tested against it).\n\n")
	w("%s\n", strings.TrimSpace(doc.Info.Description))

	w("\n## Authentication\n\n")
	for _, req := range doc.Security {
		for _, name := range sortedKeys(req) {
			ss := doc.Components.SecuritySchemes[name]
			if ss == nil || ss.Value == nil {
				continue
			}
			w("Every operation requires `%s`, in the `%s` %s: %s\n", name, ss.Value.Name, ss.Value.In, oneLine(ss.Value.Description))
		}
	}

	w("\n## Operations\n\n")
	w("| route | operation | summary |\n|---|---|---|\n")
	for _, op := range ops {
		w("| [`%s`](#%s) | `%s` | %s |\n", op.Route(), slug(op.Route()), op.Op.OperationID, cell(op.Op.Summary))
	}
	for _, op := range ops {
		o := op.Op
		w("\n### %s\n\n", op.Route())
		w("`%s`: %s.", o.OperationID, strings.TrimSuffix(o.Summary, "."))
		if o.Description != "" {
			w(" %s", oneLine(o.Description))
		}
		w("\n")
		if params := op.Parameters(); len(params) > 0 {
			w("\n| parameter | in | type | required | description |\n|---|---|---|---|---|\n")
			for _, p := range params {
				v := p.Value
				w("| `%s` | %s | %s | %s | %s |\n", v.Name, v.In, pipes(typeOf(v.Schema)), yesNo(v.Required), cell(v.Description))
			}
		}
		if rb := o.RequestBody; rb != nil && rb.Value != nil {
			for _, ct := range sortedKeys(rb.Value.Content) {
				req := "optional"
				if rb.Value.Required {
					req = "required"
				}
				w("\nRequest body (`%s`, %s): %s.", ct, req, typeOf(rb.Value.Content[ct].Schema))
				if rb.Value.Description != "" {
					w(" %s", oneLine(rb.Value.Description))
				}
				w("\n")
			}
		}
		w("\n| status | body | headers | description |\n|---|---|---|---|\n")
		for _, status := range op.Statuses() {
			r := o.Responses.Status(status)
			var headers []string
			for _, name := range sortedKeys(r.Value.Headers) {
				h := r.Value.Headers[name].Value
				hs := fmt.Sprintf("`%s`: %s", name, typeOf(h.Schema))
				if h.Required {
					hs += " (always)"
				}
				headers = append(headers, hs)
			}
			w("| %d | %s | %s | %s |\n", status, pipes(typeOf(ResponseSchema(r))), pipes(strings.Join(headers, "; ")), cell(deref(r.Value.Description)))
		}
		for _, status := range op.Statuses() {
			if links, _ := Links(doc, o.Responses.Status(status)); len(links) > 0 {
				w("\nLinks from %d: %s.\n", status, linksLine(links))
			}
		}
	}

	w("\n## Error codes\n\n")
	if ec := doc.Components.Schemas["ErrorCode"]; ec != nil {
		w("%s\n", strings.TrimSpace(ec.Value.Description))
	}
	w("\nError codes by operation:\n\n| route | status: codes |\n|---|---|\n")
	for _, op := range ops {
		var parts []string
		for _, status := range op.Statuses() {
			if codes, ok := ErrorCodes(ResponseSchema(op.Op.Responses.Status(status))); ok {
				parts = append(parts, fmt.Sprintf("%d: %s", status, codeList(codes)))
			}
		}
		w("| `%s` | %s |\n", op.Route(), strings.Join(parts, "; "))
	}

	w("\n## Headers\n\n| header | type | description |\n|---|---|---|\n")
	for _, p := range sortedKeys(doc.Components.Parameters) {
		v := doc.Components.Parameters[p].Value
		if v.In == "header" {
			w("| `%s` (request) | %s | %s |\n", v.Name, pipes(typeOf(v.Schema)), cell(v.Description))
		}
	}
	for _, name := range sortedKeys(doc.Components.Headers) {
		h := doc.Components.Headers[name].Value
		w("| `%s` (answer) | %s | %s |\n", headerName(doc, name), pipes(typeOf(h.Schema)), cell(h.Description))
	}

	w("\n## Schemas\n")
	for _, name := range sortedKeys(doc.Components.Schemas) {
		s := doc.Components.Schemas[name].Value
		if isCodeHelper(s) {
			continue // rendered inside the error schemas that use it
		}
		w("\n### %s\n\n", name)
		if s.Description != "" && name != "ErrorCode" {
			w("%s\n\n", strings.TrimSpace(s.Description))
		}
		if codes, ok := ErrorCodes(doc.Components.Schemas[name]); ok && len(s.AllOf) > 0 {
			w("[Error](#error) with `error.code` %s.\n", codeList(codes))
			continue
		}
		rows := fieldRows(s, "")
		if len(rows) == 0 {
			w("%s.\n", capitalize(typeOf(&openapi3.SchemaRef{Value: s})))
			continue
		}
		w("| field | type | required | description |\n|---|---|---|---|\n")
		for _, r := range rows {
			w("| `%s` | %s | %s | %s |\n", r.name, pipes(r.typ), yesNo(r.required), cell(r.desc))
		}
		if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
			w("\nNo other fields.\n")
		}
	}
	return b.String()
}

type fieldRow struct {
	name, typ, desc string
	required        bool
}

// fieldRows lists an object's properties, inline objects' properties
// after them with dotted names.
func fieldRows(s *openapi3.Schema, prefix string) []fieldRow {
	if s == nil || len(s.Properties) == 0 || len(s.AllOf) > 0 || len(s.OneOf) > 0 {
		return nil
	}
	var rows []fieldRow
	for _, name := range sortedKeys(s.Properties) {
		p := s.Properties[name]
		desc := "" // a $ref's own description is at its schema
		if p.Ref == "" {
			desc = p.Value.Description
		}
		rows = append(rows, fieldRow{name: prefix + name, typ: typeOf(p), desc: desc, required: slices.Contains(s.Required, name)})
		if p.Ref == "" {
			rows = append(rows, fieldRows(p.Value, prefix+name+".")...)
		}
	}
	return rows
}

// typeOf describes a schema in a table cell.
func typeOf(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil {
		return ""
	}
	if name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/"); ok {
		if codes, ok := ErrorCodes(ref); ok && len(ref.Value.AllOf) > 0 {
			return fmt.Sprintf("[%s](#%s) (%s)", name, slug(name), codeList(codes))
		}
		return fmt.Sprintf("[%s](#%s)", name, slug(name))
	}
	s := ref.Value
	switch {
	case len(s.OneOf) > 0:
		var parts []string
		for _, b := range s.OneOf {
			parts = append(parts, typeOf(b))
		}
		return "one of " + strings.Join(parts, ", ")
	case len(s.AllOf) == 1:
		return typeOf(s.AllOf[0])
	case len(s.AllOf) > 1:
		var parts []string
		for _, b := range s.AllOf {
			parts = append(parts, typeOf(b))
		}
		return "all of " + strings.Join(parts, ", ")
	}
	t := strings.Join(s.Type.Slice(), " or ")
	if t == "" {
		t = "any"
	}
	switch {
	case t == "array":
		return "array of " + typeOf(s.Items)
	case t == "object":
		return "object"
	}
	var c []string
	if s.Format != "" {
		c = append(c, s.Format)
	}
	if len(s.Enum) > 0 {
		var vs []string
		for _, v := range s.Enum {
			vs = append(vs, fmt.Sprintf("`%v`", v))
		}
		c = append(c, "one of "+strings.Join(vs, ", "))
	}
	if s.Pattern != "" {
		c = append(c, "matching `"+s.Pattern+"`")
	}
	if s.Min != nil {
		c = append(c, "≥ "+num(*s.Min))
	}
	if s.Max != nil {
		c = append(c, "≤ "+num(*s.Max))
	}
	if s.MinLength > 0 {
		c = append(c, fmt.Sprintf("%d+ characters", s.MinLength))
	}
	if s.MaxLength != nil {
		c = append(c, fmt.Sprintf("at most %d characters", *s.MaxLength))
	}
	if s.Default != nil {
		c = append(c, fmt.Sprintf("default `%v`", s.Default))
	}
	if len(c) > 0 {
		t += " (" + strings.Join(c, ", ") + ")"
	}
	return t
}

// isCodeHelper reports a schema that only narrows error.code (the second
// half of an error status's allOf).
func isCodeHelper(s *openapi3.Schema) bool {
	if len(s.Properties) != 1 || s.Properties["error"] == nil || len(s.Required) > 0 {
		return false
	}
	e := s.Properties["error"].Value
	c := e.Properties["code"]
	return c != nil && c.Ref == "" && len(c.Value.Enum) > 0
}

func headerName(doc *openapi3.T, component string) string {
	for _, op := range Operations(doc) {
		for _, r := range op.Op.Responses.Map() {
			if r.Value == nil {
				continue
			}
			for name, h := range r.Value.Headers {
				if h.Ref == "#/components/headers/"+component {
					return name
				}
			}
		}
	}
	return component
}

func codeList(codes []string) string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = "`" + c + "`"
	}
	return strings.Join(out, ", ")
}

// slug is GitHub's anchor of a heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cell(s string) string { return pipes(oneLine(s)) }

// pipes escapes the pipes of a table cell.
func pipes(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
