package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// variable describes one attribute of `principal` or `request`.
type variable struct {
	typ       cty.Type
	worstCase cty.Value // the longest plausible value, for size checks
}

// Worst-case values: the longest values a request can plausibly carry, used
// at compile time to check that a rendered session policy and session tags
// stay within the STS limits. Names are IAM's 64-character maximum, the
// partition the longest commercial one, an IPv6 address at full length.
var (
	wcAccount = "123456789012"
	wcName    = strings.Repeat("n", 64)
	wcSession = strings.Repeat("s", 64)
)

var variables = map[string]map[string]variable{
	"principal": {
		"arn":          {cty.String, cty.StringVal("arn:aws-us-gov:iam::" + wcAccount + ":role/" + wcName)},
		"caller_arn":   {cty.String, cty.StringVal("arn:aws-us-gov:sts::" + wcAccount + ":assumed-role/" + wcName + "/" + wcSession)},
		"type":         {cty.String, cty.StringVal(TypeFederatedUser)},
		"account_id":   {cty.String, cty.StringVal(wcAccount)},
		"name":         {cty.String, cty.StringVal(wcName)},
		"session_name": {cty.String, cty.StringVal(wcSession)},
		"user":         {cty.String, cty.StringVal(wcSession)},
		"user_id":      {cty.String, cty.StringVal("AROA" + strings.Repeat("X", 124) + ":" + wcSession)},
		"org_id":       {cty.String, cty.StringVal("o-" + strings.Repeat("x", 32))},
	},
	"request": {
		"profile":          {cty.String, cty.StringVal(strings.Repeat("p", 64))},
		"duration_seconds": {cty.Number, cty.NumberIntVal(3600)},
		"source_ip":        {cty.String, cty.StringVal("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
		"time":             {cty.String, cty.StringVal("2026-12-31T23:59:59Z")},
		"client":           {cty.String, cty.StringVal(ClientCredentialProcess)},
	},
}

// functions are the HCL functions policy expressions may call: the string,
// collection and time helpers Terraform users know, under Terraform's names.
var functions = map[string]function.Function{
	"can":        tryfunc.CanFunc,
	"try":        tryfunc.TryFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"endswith":   endsWithFunc,
	"format":     stdlib.FormatFunc,
	"formatdate": stdlib.FormatDateFunc,
	"join":       stdlib.JoinFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lookup":     stdlib.LookupFunc,
	"lower":      stdlib.LowerFunc,
	"max":        stdlib.MaxFunc,
	"merge":      stdlib.MergeFunc,
	"min":        stdlib.MinFunc,
	"regex":      stdlib.RegexFunc,
	"regexall":   stdlib.RegexAllFunc,
	"replace":    stdlib.ReplaceFunc,
	"split":      stdlib.SplitFunc,
	"startswith": startsWithFunc,
	"strlen":     stdlib.StrlenFunc,
	"substr":     stdlib.SubstrFunc,
	"timeadd":    stdlib.TimeAddFunc,
	"tonumber":   stdlib.MakeToFunc(cty.Number),
	"tostring":   stdlib.MakeToFunc(cty.String),
	"trim":       stdlib.TrimFunc,
	"trimprefix": stdlib.TrimPrefixFunc,
	"trimspace":  stdlib.TrimSpaceFunc,
	"trimsuffix": stdlib.TrimSuffixFunc,
	"upper":      stdlib.UpperFunc,
}

func stringPredicate(f func(s, affix string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: "str", Type: cty.String},
			{Name: "affix", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

var (
	startsWithFunc = stringPredicate(strings.HasPrefix)
	endsWithFunc   = stringPredicate(strings.HasSuffix)
)

// varRef is one `principal.X` or `request.X` reference of an expression.
type varRef struct{ root, attr string }

// checkReferences reports every reference of expr that is not
// `principal.<known>` or `request.<known>`, and returns the valid ones.
func checkReferences(expr hcl.Expression) ([]varRef, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var refs []varRef
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		attrs, ok := variables[root]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported reference",
				Detail: fmt.Sprintf("Expressions may only use principal.* and request.*, not %q.%s",
					root, suggestion(root, []string{"principal", "request"})),
				Subject: tr.SourceRange().Ptr(),
			})
			continue
		}
		attr, ok := attrName(tr)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported reference",
				Detail:   fmt.Sprintf("Use %s.NAME with one of: %s.", root, strings.Join(sortedKeys(attrs), ", ")),
				Subject:  tr.SourceRange().Ptr(),
			})
			continue
		}
		if _, ok := attrs[attr]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported attribute",
				Detail: fmt.Sprintf("%s has no attribute %q; it has: %s.%s", root, attr,
					strings.Join(sortedKeys(attrs), ", "), suggestion(attr, sortedKeys(attrs))),
				Subject: tr.SourceRange().Ptr(),
			})
			continue
		}
		refs = append(refs, varRef{root, attr})
	}
	return refs, diags
}

// attrName returns X of a traversal principal.X (or principal["X"]).
func attrName(tr hcl.Traversal) (string, bool) {
	if len(tr) < 2 {
		return "", false
	}
	switch step := tr[1].(type) {
	case hcl.TraverseAttr:
		return step.Name, true
	case hcl.TraverseIndex:
		if step.Key.Type() == cty.String && step.Key.IsKnown() {
			return step.Key.AsString(), true
		}
	}
	return "", false
}

// sortedKeys returns m's keys in order (nil for an empty map).
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// evalContext builds the context for an expression, with each variable set
// by value(root, attr).
func evalContext(value func(root, attr string) cty.Value) *hcl.EvalContext {
	vars := make(map[string]cty.Value, len(variables))
	for root, attrs := range variables {
		obj := make(map[string]cty.Value, len(attrs))
		for name := range attrs {
			obj[name] = value(root, name)
		}
		vars[root] = cty.ObjectVal(obj)
	}
	return &hcl.EvalContext{Variables: vars, Functions: functions}
}

// unknownContext has every variable unknown (of its type): evaluating with it
// checks an expression's type without a request.
var unknownContext = evalContext(func(root, attr string) cty.Value {
	return cty.UnknownVal(variables[root][attr].typ)
})

// worstCaseContext has every variable at its longest plausible value.
func worstCaseContext(profile string) *hcl.EvalContext {
	return evalContext(func(root, attr string) cty.Value {
		if root == "request" && attr == "profile" {
			return cty.StringVal(profile)
		}
		return variables[root][attr].worstCase
	})
}

// parseExpression parses expression source kept in a bundle.
func parseExpression(src string) (hclsyntax.Expression, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "bundle", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("invalid expression in bundle: %s", diags.Error())
	}
	return expr, nil
}
