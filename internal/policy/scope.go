package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// STS limits that the rendered scoping must respect (checked before STS is
// called, so a violation is our clear error, not an STS one).
const (
	MaxSessionPolicyLength = 2048 // characters of the inline session policy JSON
	MaxSessionTags         = 50   // tags per session, the service's own included
	MaxTagKeyLength        = 128
	MaxTagValueLength      = 256

	// ServiceTagPrefix marks the tags the service adds itself (session ID,
	// principal, profile, how the session was granted); policies may not
	// set tags with it, nor with the reserved "aws:" prefix.
	ServiceTagPrefix = "sentinel:"
	// ServiceTagCount is how many tags the service adds to every session.
	ServiceTagCount = 4
)

// Tag is one STS session tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Scope is the rendered scoping of an allowed session.
type Scope struct {
	SessionPolicy string // compact JSON; "" when the profile has none
	Tags          []Tag  // sorted by key
}

// ErrUnsafeValue is returned by Render when a value interpolated into the
// scoping contains a wildcard or policy-variable character, which could
// widen a session policy. The request must be denied.
var ErrUnsafeValue = errors.New("a request value used in the session scoping contains '*', '?' or '$'")

// ErrEmptyValue is returned by Render when a value the session scoping
// reads is empty for this request (principal.user of an untrusted caller,
// principal.org_id outside an organization, ...): "homes/${principal.user}*"
// would become "homes/*". The request must be denied.
var ErrEmptyValue = errors.New("a value the session scoping reads is empty for this caller")

// ScopeError is a rendered session policy or tag set that breaks an STS
// limit. The request must get no credentials.
type ScopeError struct{ Problems []string }

func (e *ScopeError) Error() string { return "session scoping: " + strings.Join(e.Problems, "; ") }

// Render evaluates the profile's session_policy and session_tags for an
// allowed decision and checks every STS limit. The JSON is produced by an
// encoder from the evaluated values, never by concatenation.
func (p *Policy) Render(d Decision, req *Request) (Scope, error) {
	prof, ok := p.profiles[d.Profile]
	if !ok || d.Effect != Allow {
		return Scope{}, fmt.Errorf("render: decision for profile %q is not an allow", d.Profile)
	}
	if prof.sessionPolicy == nil && prof.sessionTags == nil {
		return Scope{}, nil
	}
	ctx := requestContext(req, d.Requested)
	for _, ref := range prof.scopeRefs {
		v := ctx.Variables[ref.root].GetAttr(ref.attr)
		if v.Type() != cty.String {
			continue
		}
		if v.AsString() == "" {
			return Scope{}, fmt.Errorf("%w (%s.%s)", ErrEmptyValue, ref.root, ref.attr)
		}
		if strings.ContainsAny(v.AsString(), "*?$") {
			return Scope{}, fmt.Errorf("%w (%s.%s)", ErrUnsafeValue, ref.root, ref.attr)
		}
	}
	return renderScope(prof.sessionPolicy, prof.sessionTags, ctx)
}

// renderScope evaluates and checks the scoping expressions in ctx. The
// compiler uses it with worst-case values, the service with the request's.
func renderScope(policyExpr, tagsExpr hcl.Expression, ctx *hcl.EvalContext) (Scope, error) {
	var s Scope
	var problems []string
	if policyExpr != nil {
		doc, err := evalJSON(policyExpr, ctx)
		if err != nil {
			return Scope{}, fmt.Errorf("session_policy: %w", err)
		}
		problems = append(problems, checkPolicyDocument(doc)...)
		js, err := encodeJSON(doc)
		if err != nil {
			return Scope{}, fmt.Errorf("session_policy: %w", err)
		}
		if n := len([]rune(js)); n > MaxSessionPolicyLength {
			problems = append(problems, fmt.Sprintf("the session policy is %d characters, STS allows %d", n, MaxSessionPolicyLength))
		}
		s.SessionPolicy = js
	}
	if tagsExpr != nil {
		v, err := evalJSON(tagsExpr, ctx)
		if err != nil {
			return Scope{}, fmt.Errorf("session_tags: %w", err)
		}
		tags, tagProblems := checkTags(v)
		problems = append(problems, tagProblems...)
		s.Tags = tags
	}
	if len(problems) > 0 {
		return Scope{}, &ScopeError{Problems: problems}
	}
	return s, nil
}

// evalJSON evaluates expr and converts the value into plain Go values
// (map[string]any, []any, string, json.Number, bool, nil).
func evalJSON(expr hcl.Expression, ctx *hcl.EvalContext) (any, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diagsError(diags)
	}
	return ctyToGo(v)
}

func diagsError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			msgs = append(msgs, strings.TrimSuffix(d.Summary+": "+d.Detail, ": "))
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

func ctyToGo(v cty.Value) (any, error) {
	if !v.IsWhollyKnown() {
		return nil, errors.New("value is not known")
	}
	if v.IsNull() {
		return nil, nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Number:
		return json.Number(v.AsBigFloat().Text('f', -1)), nil
	case t == cty.Bool:
		return v.True(), nil
	case t.IsObjectType() || t.IsMapType():
		m := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			g, err := ctyToGo(e)
			if err != nil {
				return nil, err
			}
			m[k.AsString()] = g
		}
		return m, nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		l := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			g, err := ctyToGo(e)
			if err != nil {
				return nil, err
			}
			l = append(l, g)
		}
		return l, nil
	}
	return nil, fmt.Errorf("values of type %s cannot be rendered as JSON", t.FriendlyName())
}

// encodeJSON renders compact JSON with sorted object keys and without HTML
// escaping (which would only lengthen the policy).
func encodeJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

var (
	policyKeys    = []string{"Version", "Id", "Statement"}
	statementKeys = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)

// checkPolicyDocument checks that doc is an IAM policy document that STS
// accepts as a session policy.
func checkPolicyDocument(doc any) []string {
	m, ok := doc.(map[string]any)
	if !ok {
		return []string{"a session policy must be an object with Version and Statement"}
	}
	var problems []string
	for _, k := range sortedKeys(m) {
		if !contains(policyKeys, k) {
			problems = append(problems, unknownElement("policy", k, policyKeys))
		}
	}
	if v, ok := m["Version"]; !ok {
		problems = append(problems, `Version is required; use "2012-10-17"`)
	} else if v != "2012-10-17" && v != "2008-10-17" {
		problems = append(problems, fmt.Sprintf(`Version %v is not an IAM policy version; use "2012-10-17"`, v))
	}
	if v, ok := m["Id"]; ok {
		if _, isStr := v.(string); !isStr {
			problems = append(problems, "Id must be a string")
		}
	}
	var stmts []any
	switch s := m["Statement"].(type) {
	case []any:
		stmts = s
	case map[string]any:
		stmts = []any{s}
	case nil:
		return append(problems, "Statement is required: an object or a list of objects")
	default:
		return append(problems, "Statement must be an object or a list of objects")
	}
	if len(stmts) == 0 {
		problems = append(problems, "Statement must hold at least one statement")
	}
	for i, st := range stmts {
		for _, p := range checkStatement(st) {
			problems = append(problems, fmt.Sprintf("Statement[%d]: %s", i, p))
		}
	}
	return problems
}

// unknownElement words an element that is not one of allowed.
func unknownElement(what, k string, allowed []string) string {
	return fmt.Sprintf("unknown %s element %q (allowed: %s)%s", what, k, strings.Join(allowed, ", "), suggestion(k, allowed))
}

func checkStatement(st any) []string {
	m, ok := st.(map[string]any)
	if !ok {
		return []string{"a statement must be an object"}
	}
	var problems []string
	for _, k := range sortedKeys(m) {
		switch {
		case k == "Principal" || k == "NotPrincipal":
			problems = append(problems, k+" is not allowed in a session policy")
		case !contains(statementKeys, k):
			problems = append(problems, unknownElement("statement", k, statementKeys))
		}
	}
	if e := m["Effect"]; e != "Allow" && e != "Deny" {
		problems = append(problems, `Effect must be "Allow" or "Deny"`)
	}
	problems = append(problems, checkPair(m, "Action", "NotAction")...)
	problems = append(problems, checkPair(m, "Resource", "NotResource")...)
	if c, ok := m["Condition"]; ok {
		cm, isMap := c.(map[string]any)
		if !isMap {
			problems = append(problems, "Condition must be an object of operators")
		}
		for _, op := range sortedKeys(cm) {
			if _, ok := cm[op].(map[string]any); !ok {
				problems = append(problems, fmt.Sprintf("Condition %q must map condition keys to values", op))
			}
		}
	}
	if sid, ok := m["Sid"]; ok {
		s, isStr := sid.(string)
		if !isStr || !isAlnum(s) {
			problems = append(problems, "Sid must be a string of letters and digits")
		}
	}
	return problems
}

func isAlnum(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// checkPair checks that exactly one of a and b is present, as a non-empty
// string or a non-empty list of non-empty strings.
func checkPair(m map[string]any, a, b string) []string {
	va, hasA := m[a]
	vb, hasB := m[b]
	switch {
	case hasA && hasB:
		return []string{fmt.Sprintf("use %s or %s, not both", a, b)}
	case !hasA && !hasB:
		return []string{fmt.Sprintf("%s (or %s) is required", a, b)}
	case hasB:
		a, va = b, vb
	}
	switch v := va.(type) {
	case string:
		if v != "" {
			return nil
		}
	case []any:
		if len(v) == 0 {
			break
		}
		for _, e := range v {
			if s, ok := e.(string); !ok || s == "" {
				return []string{a + " must be a string or a list of strings"}
			}
		}
		return nil
	}
	return []string{a + " must be a non-empty string or list of strings"}
}

// checkTags checks an evaluated session_tags value against the STS rules and
// returns the tags sorted by key.
func checkTags(v any) ([]Tag, []string) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, []string{"session_tags must be an object of tag keys to string values"}
	}
	var problems []string
	tags := make([]Tag, 0, len(m))
	seen := map[string]string{}
	for _, k := range sortedKeys(m) {
		val, isStr := m[k].(string)
		switch {
		case !isStr:
			problems = append(problems, fmt.Sprintf("tag %q: the value must be a string", k))
			continue
		case len([]rune(k)) < 1 || len([]rune(k)) > MaxTagKeyLength:
			problems = append(problems, fmt.Sprintf("tag %q: keys must be 1 to %d characters", k, MaxTagKeyLength))
		case !validTagText(k):
			problems = append(problems, fmt.Sprintf("tag %q: keys may hold only letters, digits, spaces and _ . : / = + - @", k))
		case strings.HasPrefix(strings.ToLower(k), ServiceTagPrefix) || strings.HasPrefix(strings.ToLower(k), "aws:"):
			problems = append(problems, fmt.Sprintf("tag %q: the prefixes %q and \"aws:\" are reserved", k, ServiceTagPrefix))
		}
		if other, dup := seen[strings.ToLower(k)]; dup {
			problems = append(problems, fmt.Sprintf("tags %q and %q differ only in case; STS treats them as one", other, k))
		}
		seen[strings.ToLower(k)] = k
		if n := len([]rune(val)); n > MaxTagValueLength {
			problems = append(problems, fmt.Sprintf("tag %q: the value is %d characters, STS allows %d", k, n, MaxTagValueLength))
		} else if !validTagText(val) {
			problems = append(problems, fmt.Sprintf("tag %q: values may hold only letters, digits, spaces and _ . : / = + - @", k))
		}
		tags = append(tags, Tag{Key: k, Value: val})
	}
	if len(tags)+ServiceTagCount > MaxSessionTags {
		problems = append(problems, fmt.Sprintf("%d session tags plus the service's %d exceed the STS limit of %d", len(tags), ServiceTagCount, MaxSessionTags))
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags, problems
}

// validTagText reports whether s uses only the characters STS allows in tag
// keys and values: Unicode letters, digits and spaces, and _ . : / = + - @.
func validTagText(s string) bool {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Zs, r) || strings.ContainsRune("_.:/=+-@", r)) {
			return false
		}
	}
	return true
}
