// Command iampolicies renders every IAM policy document the module and the
// handler write, with placeholder values, into a directory of JSON files
// that IAM linters (parliament) read and reviewers can open:
//
//	go run ./tools/iampolicies -out build/iam
//
// The Terraform documents (data "aws_iam_policy_document" blocks, with
// their dynamic blocks) of the root module and modules/protected-role are
// evaluated with hcl/v2: variables take their defaults with every optional
// feature switched on (topics, tracing, source CIDRs, a PRIVATE endpoint,
// a revocation writer role in other accounts), resources' attributes are
// placeholder ARNs in account 111122223333, and the compiled policy's role
// ARNs are placeholders in two accounts. The handler's documents are the
// revocation deny statements of internal/revoke and the session policies
// the example policies in policies/ render for a placeholder request.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
)

const (
	account = "111122223333"
	region  = "eu-west-1"
	name    = "sentinel-tvm"
)

func main() {
	out := flag.String("out", "build/iam", "directory for the JSON documents")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "iampolicies:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	docs := map[string][]byte{}
	root, err := renderModule(".", rootOverrides())
	if err != nil {
		return fmt.Errorf("root module: %w", err)
	}
	for k, v := range root {
		docs["module-"+k] = v
	}
	pr, err := renderModule("modules/protected-role", map[string]cty.Value{
		"name":                   cty.StringVal("dev-readonly"),
		"tvm_execution_role_arn": cty.StringVal("arn:aws:iam::" + account + ":role/" + name + "-function"),
	})
	if err != nil {
		return fmt.Errorf("modules/protected-role: %w", err)
	}
	for k, v := range pr {
		docs["protected-role-"+k] = v
	}
	for k, v := range revocationDocs() {
		docs[k] = v
	}
	sess, err := sessionPolicies()
	if err != nil {
		return err
	}
	for k, v := range sess {
		docs[k] = v
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(docs))
	for k := range docs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var pretty map[string]any
		if err := json.Unmarshal(docs[k], &pretty); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		b, _ := json.MarshalIndent(pretty, "", "  ")
		if err := os.WriteFile(filepath.Join(out, k+".json"), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("iampolicies: %d documents in %s\n", len(names), out)
	return nil
}

// rootOverrides switches every optional document of the root module on.
func rootOverrides() map[string]cty.Value {
	return map[string]cty.Value{
		"allowed_account_ids":  cty.ListVal([]cty.Value{cty.StringVal(account)}),
		"allowed_org_ids":      cty.ListVal([]cty.Value{cty.StringVal("o-a1b2c3d4e5")}),
		"allowed_source_cidrs": cty.ListVal([]cty.Value{cty.StringVal("203.0.113.0/24")}),
		"revoker_role_name":    cty.StringVal(name + "-revocation-writer"),
		"api_gateway_account":  cty.StringVal("create"),
		"key_users":            cty.ListVal([]cty.Value{cty.StringVal("arn:aws:iam::" + account + ":role/log-readers")}),
		"lambda":               cty.ObjectVal(map[string]cty.Value{"tracing": cty.True}),
		"notifications":        cty.ObjectVal(map[string]cty.Value{"create_topic": cty.True}),
		"alarms":               cty.ObjectVal(map[string]cty.Value{"create_topic": cty.True}),
		"api": cty.ObjectVal(map[string]cty.Value{
			"endpoint_type":    cty.StringVal("PRIVATE"),
			"vpc_endpoint_ids": cty.ListVal([]cty.Value{cty.StringVal("vpce-0a1b2c3d4e5f60718")}),
		}),
	}
}

// localOverrides replace what the plan-time policy compile yields (tests
// swap them).
var localOverrides = map[string]cty.Value{
	"policy_role_arns": cty.ListVal([]cty.Value{
		cty.StringVal("arn:aws:iam::" + account + ":role/sentinel/dev-readonly"),
		cty.StringVal("arn:aws:iam::" + account + ":role/sentinel/dev-admin"),
		cty.StringVal("arn:aws:iam::444455556666:role/sentinel/prod-admin"),
	}),
	"policy_profiles": cty.ListVal([]cty.Value{cty.StringVal("dev-readonly"), cty.StringVal("dev-admin"), cty.StringVal("prod-admin")}),
	"policy_sha256":   cty.StringVal(strings.Repeat("0", 64)),
}

// placeholderARN is a resource's ARN (and name, id) by type.
func placeholder(typ, res string) map[string]cty.Value {
	n := name + "-" + res
	arn := ""
	switch typ {
	case "aws_iam_role":
		arn = "arn:aws:iam::" + account + ":role/" + n
	case "aws_dynamodb_table":
		n = name
		arn = "arn:aws:dynamodb:" + region + ":" + account + ":table/" + n
	case "aws_ssm_parameter":
		n = "/" + name + "/policy-bundle"
		arn = "arn:aws:ssm:" + region + ":" + account + ":parameter" + n
	case "aws_lambda_function":
		if res == "api" {
			n = name
		}
		arn = "arn:aws:lambda:" + region + ":" + account + ":function:" + n
	case "aws_cloudwatch_log_group":
		n = "/aws/lambda/" + n
		arn = "arn:aws:logs:" + region + ":" + account + ":log-group:" + n
	case "aws_sns_topic":
		arn = "arn:aws:sns:" + region + ":" + account + ":" + n
	case "aws_kms_key":
		n = "1234abcd-12ab-34cd-56ef-1234567890ab"
		arn = "arn:aws:kms:" + region + ":" + account + ":key/" + n
	case "aws_api_gateway_rest_api":
		n = "a1b2c3d4e5"
		arn = "arn:aws:apigateway:" + region + "::/restapis/" + n
	default:
		arn = "arn:aws:" + strings.TrimPrefix(typ, "aws_") + ":" + region + ":" + account + ":" + n
	}
	return map[string]cty.Value{
		"arn": cty.StringVal(arn), "name": cty.StringVal(n), "id": cty.StringVal(n), "key_id": cty.StringVal(n),
		"execution_arn": cty.StringVal("arn:aws:execute-api:" + region + ":" + account + ":a1b2c3d4e5"),
		"invoke_arn":    cty.StringVal("arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + arn + "/invocations"),
		"function_name": cty.StringVal(n), "version": cty.NumberIntVal(1),
	}
}

type mod struct {
	vars      map[string]cty.Value
	locals    map[string]hcl.Expression
	resources map[string]map[string]map[string]cty.Value // type -> name -> attrs
	counted   map[string]bool                            // "type.name" has count or for_each
	docs      []*hclsyntax.Block
}

func parse(dir string, overrides map[string]cty.Value) (*mod, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	p := hclparse.NewParser()
	m := &mod{vars: map[string]cty.Value{}, locals: map[string]hcl.Expression{}, resources: map[string]map[string]map[string]cty.Value{}, counted: map[string]bool{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			return nil, diags
		}
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "variable":
				v, err := variable(b, overrides[b.Labels[0]])
				if err != nil {
					return nil, fmt.Errorf("variable %s: %w", b.Labels[0], err)
				}
				m.vars[b.Labels[0]] = v
			case "locals":
				for n, a := range b.Body.Attributes {
					m.locals[n] = a.Expr
				}
			case "resource":
				if m.resources[b.Labels[0]] == nil {
					m.resources[b.Labels[0]] = map[string]map[string]cty.Value{}
				}
				m.resources[b.Labels[0]][b.Labels[1]] = placeholder(b.Labels[0], b.Labels[1])
				_, c := b.Body.Attributes["count"]
				_, fe := b.Body.Attributes["for_each"]
				m.counted[b.Labels[0]+"."+b.Labels[1]] = c || fe
			case "data":
				_, c := b.Body.Attributes["count"]
				m.counted["data."+b.Labels[0]+"."+b.Labels[1]] = c
				if b.Labels[0] == "aws_iam_policy_document" {
					m.docs = append(m.docs, b)
				}
			}
		}
	}
	return m, nil
}

// variable is a variable's value: the override merged over the default,
// converted to its type with optional attributes' defaults applied.
func variable(b *hclsyntax.Block, override cty.Value) (cty.Value, error) {
	ty, defaults := cty.DynamicPseudoType, (*typeexpr.Defaults)(nil)
	if a, ok := b.Body.Attributes["type"]; ok {
		var diags hcl.Diagnostics
		ty, defaults, diags = typeexpr.TypeConstraintWithDefaults(a.Expr)
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
	}
	v := cty.NullVal(ty)
	if a, ok := b.Body.Attributes["default"]; ok {
		dv, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			return cty.NilVal, diags
		}
		v = dv
	}
	if override != cty.NilVal {
		if v.Type().IsObjectType() && !v.IsNull() && override.Type().IsObjectType() {
			merged := v.AsValueMap()
			if merged == nil {
				merged = map[string]cty.Value{}
			}
			for k, x := range override.AsValueMap() {
				merged[k] = x
			}
			v = cty.ObjectVal(merged)
		} else {
			v = override
		}
	}
	if defaults != nil {
		v = defaults.Apply(v)
	}
	return convert.Convert(v, ty)
}

func functions() map[string]function.Function {
	return map[string]function.Function{
		"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"concat": stdlib.ConcatFunc, "distinct": stdlib.DistinctFunc, "length": stdlib.LengthFunc,
		"coalesce": stdlib.CoalesceFunc, "contains": stdlib.ContainsFunc, "regex": stdlib.RegexFunc,
		"split": stdlib.SplitFunc, "join": stdlib.JoinFunc, "format": stdlib.FormatFunc,
		"lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc, "merge": stdlib.MergeFunc,
		"keys": stdlib.KeysFunc, "values": stdlib.ValuesFunc, "flatten": stdlib.FlattenFunc,
		"substr": stdlib.SubstrFunc, "replace": stdlib.ReplaceFunc, "min": stdlib.MinFunc,
		"max": stdlib.MaxFunc, "floor": stdlib.FloorFunc, "compact": stdlib.CompactFunc,
		"tostring": stdlib.MakeToFunc(cty.String), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"can":   tryfunc.CanFunc, "try": tryfunc.TryFunc, "one": oneFunc,
	}
}

// oneFunc is Terraform's one(): the element of a zero- or one-element list
// or tuple, or null; the module reads its counted resources with it.
var oneFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		if !v.Type().IsListType() && !v.Type().IsTupleType() && !v.Type().IsSetType() {
			return cty.NilVal, fmt.Errorf("one: want a list, set or tuple, got %s", v.Type().FriendlyName())
		}
		if !v.IsKnown() {
			return cty.DynamicVal, nil
		}
		switch n := v.LengthInt(); n {
		case 0:
			return cty.NullVal(cty.DynamicPseudoType), nil
		case 1:
			it := v.ElementIterator()
			it.Next()
			_, e := it.Element()
			return e, nil
		default:
			return cty.NilVal, fmt.Errorf("one: %d elements, want at most one", n)
		}
	},
})

// evalContext evaluates the locals it can (several passes: locals refer to
// locals) and the policy documents rendered so far.
func (m *mod) evalContext(rendered map[string]cty.Value) *hcl.EvalContext {
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: functions()}
	ctx.Variables["var"] = cty.ObjectVal(m.vars)
	ctx.Variables["path"] = cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal("."), "root": cty.StringVal(".")})
	for typ, byName := range m.resources {
		objs := map[string]cty.Value{}
		for n, attrs := range byName {
			o := cty.ObjectVal(attrs)
			if m.counted[typ+"."+n] {
				// count and for_each: index [0] and a "this"-style key.
				objs[n] = cty.TupleVal([]cty.Value{o})
			} else {
				objs[n] = o
			}
		}
		ctx.Variables[typ] = cty.ObjectVal(objs)
	}
	// The account's data sources, as one instance where they have a count.
	current := func(typ string, attrs map[string]cty.Value) cty.Value {
		v := cty.ObjectVal(attrs)
		if m.counted["data."+typ+".current"] {
			v = cty.TupleVal([]cty.Value{v})
		}
		return cty.ObjectVal(map[string]cty.Value{"current": v})
	}
	data := map[string]cty.Value{
		"aws_caller_identity": current("aws_caller_identity", map[string]cty.Value{"account_id": cty.StringVal(account), "arn": cty.StringVal("arn:aws:iam::" + account + ":role/deployer")}),
		"aws_partition":       current("aws_partition", map[string]cty.Value{"partition": cty.StringVal("aws"), "dns_suffix": cty.StringVal("amazonaws.com")}),
		"aws_region":          current("aws_region", map[string]cty.Value{"region": cty.StringVal(region), "name": cty.StringVal(region)}),
	}
	if len(rendered) > 0 {
		data["aws_iam_policy_document"] = cty.ObjectVal(rendered)
	}
	ctx.Variables["data"] = cty.ObjectVal(data)

	locals := map[string]cty.Value{}
	for k, v := range localOverrides {
		locals[k] = v
	}
	for pass := 0; pass < 10; pass++ {
		progress := false
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for n, e := range m.locals {
			if _, done := locals[n]; done {
				continue
			}
			v, diags := e.Value(ctx)
			if diags.HasErrors() || !v.IsWhollyKnown() {
				continue
			}
			locals[n], progress = v, true
		}
		if !progress {
			break
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

func renderModule(dir string, overrides map[string]cty.Value) (map[string][]byte, error) {
	m, err := parse(dir, overrides)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	rendered := map[string]cty.Value{}
	var lastErr error
	// Documents may use other documents (source_policy_documents): passes.
	for pass := 0; pass < 3; pass++ {
		ctx := m.evalContext(rendered)
		lastErr = nil
		for _, b := range m.docs {
			n := b.Labels[1]
			if _, done := out[n]; done {
				continue
			}
			doc, skip, err := renderDoc(b, ctx)
			if err != nil {
				lastErr = fmt.Errorf("data.aws_iam_policy_document.%s: %w", n, err)
				continue
			}
			if skip {
				out[n] = nil
				continue
			}
			out[n] = doc
			attrs := cty.ObjectVal(map[string]cty.Value{"json": cty.StringVal(string(doc)), "minified_json": cty.StringVal(string(doc))})
			if _, ok := b.Body.Attributes["count"]; ok {
				attrs = cty.TupleVal([]cty.Value{attrs})
			}
			rendered[n] = attrs
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	return out, nil
}

// renderDoc renders one aws_iam_policy_document as the provider does.
func renderDoc(b *hclsyntax.Block, ctx *hcl.EvalContext) ([]byte, bool, error) {
	if a, ok := b.Body.Attributes["count"]; ok {
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			return nil, false, diags
		}
		var n int
		if err := gocty(v, &n); err != nil {
			return nil, false, err
		}
		if n == 0 {
			return nil, true, nil
		}
	}
	stmts, err := blocks(b.Body, "statement", ctx)
	if err != nil {
		return nil, false, err
	}
	var out []map[string]any
	for _, s := range stmts {
		st, err := statement(s.body, s.ctx)
		if err != nil {
			return nil, false, err
		}
		out = append(out, st)
	}
	doc, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": out})
	return doc, false, err
}

type scoped struct {
	body *hclsyntax.Body
	ctx  *hcl.EvalContext
}

// strs evaluates each named attribute of the block as strs does, in order.
func (s scoped) strs(names ...string) ([][]string, error) {
	out := make([][]string, len(names))
	for i, name := range names {
		v, err := strs(s.body, name, s.ctx)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// blocks expands the body's typ blocks and dynamic typ blocks.
func blocks(body *hclsyntax.Body, typ string, ctx *hcl.EvalContext) ([]scoped, error) {
	var out []scoped
	for _, b := range body.Blocks {
		switch {
		case b.Type == typ:
			out = append(out, scoped{b.Body, ctx})
		case b.Type == "dynamic" && b.Labels[0] == typ:
			fe, diags := b.Body.Attributes["for_each"].Expr.Value(ctx)
			if diags.HasErrors() {
				return nil, diags
			}
			iter := typ
			if a, ok := b.Body.Attributes["iterator"]; ok {
				iter = hcl.ExprAsKeyword(a.Expr)
			}
			var content *hclsyntax.Body
			for _, c := range b.Body.Blocks {
				if c.Type == "content" {
					content = c.Body
				}
			}
			for it := fe.ElementIterator(); it.Next(); {
				k, v := it.Element()
				child := ctx.NewChild()
				child.Variables = map[string]cty.Value{iter: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
				out = append(out, scoped{content, child})
			}
		}
	}
	return out, nil
}

func strs(body *hclsyntax.Body, name string, ctx *hcl.EvalContext) ([]string, error) {
	a, ok := body.Attributes[name]
	if !ok {
		return nil, nil
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if v.Type() == cty.String {
		return []string{v.AsString()}, nil
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		return nil, err
	}
	var out []string
	err = gocty(lv, &out)
	return out, err
}

func one(ss []string) any {
	if len(ss) == 1 {
		return ss[0]
	}
	return ss
}

func statement(body *hclsyntax.Body, ctx *hcl.EvalContext) (map[string]any, error) {
	st := map[string]any{"Effect": "Allow"}
	if e, err := strs(body, "effect", ctx); err != nil {
		return nil, err
	} else if len(e) == 1 {
		st["Effect"] = e[0]
	}
	if s, err := strs(body, "sid", ctx); err != nil {
		return nil, err
	} else if len(s) == 1 {
		st["Sid"] = s[0]
	}
	for attr, key := range map[string]string{"actions": "Action", "not_actions": "NotAction", "resources": "Resource", "not_resources": "NotResource"} {
		ss, err := strs(body, attr, ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", attr, err)
		}
		if len(ss) > 0 {
			sort.Strings(ss)
			st[key] = one(ss)
		}
	}
	for typ, key := range map[string]string{"principals": "Principal", "not_principals": "NotPrincipal"} {
		ps, err := blocks(body, typ, ctx)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			continue
		}
		pm := map[string]any{}
		for _, p := range ps {
			v, err := p.strs("type", "identifiers")
			if err != nil {
				return nil, err
			}
			t, ids := v[0], v[1]
			if t[0] == "AWS" && len(ids) == 1 && ids[0] == "*" && len(ps) == 1 {
				pm = nil
				st[key] = "*"
				break
			}
			sort.Strings(ids)
			pm[t[0]] = one(ids)
		}
		if pm != nil {
			st[key] = pm
		}
	}
	cs, err := blocks(body, "condition", ctx)
	if err != nil {
		return nil, err
	}
	if len(cs) > 0 {
		cm := map[string]map[string]any{}
		for _, c := range cs {
			v, err := c.strs("test", "variable", "values")
			if err != nil {
				return nil, err
			}
			test, variable, values := v[0], v[1], v[2]
			if cm[test[0]] == nil {
				cm[test[0]] = map[string]any{}
			}
			cm[test[0]][variable[0]] = one(values)
		}
		st["Condition"] = cm
	}
	return st, nil
}

// revocationDocs are the inline policy the revoker writes into a vended
// role: a session's deny and the cutoff deny, as internal/revoke renders
// them.
func revocationDocs() map[string][]byte {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	doc := map[string]any{
		"Version":   "2012-10-17",
		"Statement": []json.RawMessage{revoke.PackedStatement(exp, []string{"0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"}), revoke.CutoffStatement(exp.Add(-time.Hour))},
	}
	b, _ := json.Marshal(doc)
	return map[string][]byte{"handler-revocations": b}
}

// sessionPolicies renders the session policy of every profile that has one,
// in policies/ and in the examples' policy templates (rendered with
// placeholders as templatefile would), for a placeholder caller.
func sessionPolicies() (map[string][]byte, error) {
	out := map[string][]byte{}
	sets := map[string][]policy.Source{}
	srcs, err := policy.ReadDir("policies")
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		if !policy.IsTestFile(s.Name) {
			sets["policies"] = append(sets["policies"], s)
		}
	}
	tpls, _ := filepath.Glob("examples/*/policies/*.hcl.tftpl")
	vars := map[string]cty.Value{
		"partition": cty.StringVal("aws"), "account_id": cty.StringVal(account), "bucket": cty.StringVal(name + "-tenant-data"),
		"tenants":           cty.StringVal(`["` + account + `"]`),
		"approvers":         cty.StringVal(`["arn:aws:iam::` + account + `:role/security"]`),
		"tenant_role_arn":   cty.StringVal("arn:aws:iam::" + account + ":role/tenant"),
		"readonly_role_arn": cty.StringVal("arn:aws:iam::" + account + ":role/readonly"),
		"admin_role_arn":    cty.StringVal("arn:aws:iam::" + account + ":role/admin"),
	}
	for _, f := range tpls {
		if strings.HasSuffix(f, ".test.hcl.tftpl") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		expr, diags := hclsyntax.ParseTemplate(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, diags
		}
		v, diags := expr.Value(&hcl.EvalContext{Variables: vars})
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %w", f, diags)
		}
		ex := "example-" + filepath.Base(filepath.Dir(filepath.Dir(f)))
		sets[ex] = append(sets[ex], policy.Source{Name: strings.TrimSuffix(filepath.Base(f), ".tftpl"), Data: []byte(v.AsString())})
	}
	for set, srcs := range sets {
		c, diags := policy.Compile(srcs)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %w", set, diags)
		}
		pr, err := c.Policy.Principal("arn:aws:sts::"+account+":assumed-role/engineer/alice", "AROAEXAMPLEID:alice", "o-a1b2c3d4e5")
		if err != nil {
			return nil, err
		}
		for _, n := range c.Policy.ProfileNames() {
			d := policy.Decision{Effect: policy.Allow, Profile: n, Duration: time.Hour, Requested: time.Hour}
			scope, err := c.Policy.Render(d, &policy.Request{Principal: pr, Profile: n, Time: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)})
			if err != nil {
				return nil, fmt.Errorf("%s: profile %s: %w", set, n, err)
			}
			if scope.SessionPolicy != "" {
				out["session-"+set+"-"+n] = []byte(scope.SessionPolicy)
			}
		}
	}
	return out, nil
}
