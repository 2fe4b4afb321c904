package test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// createExceptions are the root module's blocks that stay ungated with
// create = false, and why. Nothing that calls an AWS API, and no resource,
// belongs here.
var createExceptions = map[string]string{
	"data.aws_partition.current": "reads the provider's configuration, calls no API; locals build service principals and ARNs from it",
	"data.aws_region.current":    "reads the provider's configuration, calls no API; locals build service principals and ARNs from it",
}

// ungatedBlocks lists the module's resource and data blocks that create =
// false does not switch off: their count or for_each must reference
// var.create (directly or through locals) and, evaluated with create =
// false and every other input, local and resource attribute unknown, be 0
// or empty.
func ungatedBlocks(m *module, exceptions map[string]string) []string {
	var out []string
	for addr, b := range m.blocks {
		if b.Type != "resource" && b.Type != "data" {
			continue
		}
		if _, ok := exceptions[addr]; ok {
			continue
		}
		meta, name := b.Body.Attributes["count"], "count"
		if meta == nil {
			meta, name = b.Body.Attributes["for_each"], "for_each"
		}
		if meta == nil {
			out = append(out, addr+": no count or for_each")
			continue
		}
		if !m.reachesVar(meta.Expr, "create", map[string]bool{}) {
			out = append(out, addr+": "+name+" does not reference var.create")
			continue
		}
		v, diags := meta.Expr.Value(m.createOffContext())
		switch {
		case diags.HasErrors():
			out = append(out, addr+": "+name+" with create = false: "+diags.Error())
		case !v.IsWhollyKnown():
			out = append(out, addr+": "+name+" with create = false depends on more than var.create")
		case name == "count" && (v.IsNull() || v.Type() != cty.Number || !v.Equals(cty.Zero).True()):
			out = append(out, addr+": count with create = false is "+v.GoString())
		case name == "for_each" && (v.IsNull() || v.LengthInt() != 0):
			out = append(out, addr+": for_each with create = false is not empty")
		}
	}
	sort.Strings(out)
	return out
}

// reachesVar reports whether e references var.NAME, itself or through the
// locals it references.
func (m *module) reachesVar(e hcl.Expression, name string, seen map[string]bool) bool {
	for _, tr := range e.Variables() {
		if len(tr) < 2 {
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		switch tr.RootName() {
		case "var":
			if attr.Name == name {
				return true
			}
		case "local":
			if seen[attr.Name] {
				continue
			}
			seen[attr.Name] = true
			if a, ok := m.locals[attr.Name]; ok && m.reachesVar(a.Expr, name, seen) {
				return true
			}
		}
	}
	return false
}

// createOffContext evaluates with var.create = false and everything else
// unknown: every other variable, every resource and data source, and the
// locals as far as they follow from that.
func (m *module) createOffContext() *hcl.EvalContext {
	vars := map[string]cty.Value{}
	roots := map[string]cty.Value{"data": cty.DynamicVal, "path": cty.DynamicVal}
	for _, b := range m.blocks {
		switch b.Type {
		case "variable":
			vars[b.Labels[0]] = cty.DynamicVal
		case "resource":
			roots[b.Labels[0]] = cty.DynamicVal
		}
	}
	vars["create"] = cty.False
	ctx := &hcl.EvalContext{Variables: roots, Functions: map[string]function.Function{
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"length": stdlib.LengthFunc, "merge": stdlib.MergeFunc, "concat": stdlib.ConcatFunc, "coalesce": stdlib.CoalesceFunc,
	}}
	ctx.Variables["var"] = cty.ObjectVal(vars)
	locals := map[string]cty.Value{}
	for n := range m.locals {
		locals[n] = cty.DynamicVal
	}
	// Locals refer to locals: evaluate until nothing changes (a local that
	// does not evaluate here stays unknown).
	for pass := 0; pass <= len(m.locals); pass++ {
		ctx.Variables["local"] = cty.ObjectVal(locals)
		changed := false
		for n, a := range m.locals {
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			if !v.RawEquals(locals[n]) {
				locals[n], changed = v, true
			}
		}
		if !changed {
			break
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

// TestCreateFalseCreatesNothing: with create = false the module creates no
// resource and reads no data source (but the exceptions, which call no
// API): every resource and data block is gated on var.create.
func TestCreateFalseCreatesNothing(t *testing.T) {
	m := parseModule(t, root)
	v := m.block(t, "variable.create")
	if got := m.text(v.Body.Attributes["default"].Expr); got != "true" {
		t.Errorf("create defaults to %s, want true", got)
	}
	if got := m.text(v.Body.Attributes["type"].Expr); got != "bool" {
		t.Errorf("create has type %s, want bool", got)
	}
	for addr := range createExceptions {
		b, ok := m.blocks[addr]
		if !ok {
			t.Errorf("createExceptions names %s, which the module does not have", addr)
			continue
		}
		if b.Type != "data" {
			t.Errorf("createExceptions names %s: only data sources may stay ungated", addr)
		}
	}
	for _, u := range ungatedBlocks(m, createExceptions) {
		t.Errorf("%s: with create = false it would still be created or read (count = var.create ? 1 : 0, or var.create && <condition>)", u)
	}
}

// TestCreateGateCheckFails: the check above finds a block without a gate,
// a gate that does not switch off with create = false, and a gate through
// a local.
func TestCreateGateCheckFails(t *testing.T) {
	dir := t.TempDir()
	src := `
variable "create" {
  type    = bool
  default = true
}
variable "enabled" {
  type    = bool
  default = true
}
locals {
  on = var.create && var.enabled
}
resource "aws_sns_topic" "gated" {
  count = var.create ? 1 : 0
}
resource "aws_sns_topic" "through_local" {
  for_each = local.on ? toset(["a"]) : toset([])
}
resource "aws_sns_topic" "ungated" {
  name = "x"
}
resource "aws_sns_topic" "other_condition" {
  count = var.enabled ? 1 : 0
}
resource "aws_sns_topic" "or" {
  count = var.create || var.enabled ? 1 : 0
}
data "aws_caller_identity" "current" {}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m := parseModule(t, dir)
	got := strings.Join(ungatedBlocks(m, nil), "\n")
	for _, want := range []string{
		"data.aws_caller_identity.current: no count or for_each",
		"resource.aws_sns_topic.or: count with create = false depends on more than var.create",
		"resource.aws_sns_topic.other_condition: count does not reference var.create",
		"resource.aws_sns_topic.ungated: no count or for_each",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the check does not report %q; it reports:\n%s", want, got)
		}
	}
	for _, ok := range []string{"resource.aws_sns_topic.gated", "resource.aws_sns_topic.through_local"} {
		if strings.Contains(got, ok+":") {
			t.Errorf("the check reports %s, which create = false switches off:\n%s", ok, got)
		}
	}
	if n := len(ungatedBlocks(m, map[string]string{"data.aws_caller_identity.current": "test"})); n != 3 {
		t.Errorf("with an exception: %d findings, want 3", n)
	}
}

// TestCreateFalseEvaluates evaluates every local and output of the module
// as a plan with create = false would: every variable at its default,
// every gated resource and data source with no instance. Terraform
// evaluates every local, used or not, so none may fail (a null in a string
// template, an index into no instance); the outputs are null, or empty
// where they are maps or lists. Functions that read files or the compiled
// bundle (templatefile, filebase64sha256, base64gzip, sha256) fail here:
// create = false must not reach them.
func TestCreateFalseEvaluates(t *testing.T) {
	m := parseModule(t, root)
	ctx := m.createOffInstances(t)

	locals := map[string]cty.Value{}
	var lastErr map[string]string
	for pass := 0; pass <= len(m.locals); pass++ {
		ctx.Variables["local"] = cty.ObjectVal(locals)
		lastErr = map[string]string{}
		progress := false
		for n, a := range m.locals {
			if _, done := locals[n]; done {
				continue
			}
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() {
				lastErr[n] = diags.Error()
				continue
			}
			locals[n], progress = v, true
		}
		if !progress {
			break
		}
	}
	for n, e := range lastErr {
		t.Errorf("local.%s with create = false: %s", n, e)
	}
	if t.Failed() {
		return
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	for addr, b := range m.blocks {
		if b.Type != "output" {
			continue
		}
		v, diags := b.Body.Attributes["value"].Expr.Value(ctx)
		switch {
		case diags.HasErrors():
			t.Errorf("%s with create = false: %s", addr, diags.Error())
		case v.IsNull():
		case (v.Type().IsMapType() || v.Type().IsObjectType() || v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) && v.LengthInt() == 0:
		default:
			t.Errorf("%s with create = false is %s, want null (or empty)", addr, v.GoString())
		}
	}
}

// createOffInstances is the evaluation context of a create = false plan:
// the variables' defaults (create false), no instance of any counted or
// for_each resource or data source, and the ungated data sources' values.
func (m *module) createOffInstances(t *testing.T) *hcl.EvalContext {
	t.Helper()
	vars := map[string]cty.Value{}
	types := map[string]map[string]cty.Value{} // "resource TYPE" / "data TYPE" -> name -> value
	for addr, b := range m.blocks {
		switch b.Type {
		case "variable":
			ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(b.Body.Attributes["type"].Expr)
			if diags.HasErrors() {
				t.Fatalf("%s: %s", addr, diags.Error())
			}
			v, diags := b.Body.Attributes["default"].Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("%s: %s", addr, diags.Error())
			}
			if defaults != nil {
				v = defaults.Apply(v)
			}
			if v, err := convert.Convert(v, ty); err != nil {
				t.Fatalf("%s: %v", addr, err)
			} else {
				vars[b.Labels[0]] = v
			}
		case "resource", "data":
			key := b.Type + " " + b.Labels[0]
			if types[key] == nil {
				types[key] = map[string]cty.Value{}
			}
			switch {
			case b.Body.Attributes["count"] != nil:
				types[key][b.Labels[1]] = cty.EmptyTupleVal
			case b.Body.Attributes["for_each"] != nil:
				types[key][b.Labels[1]] = cty.EmptyObjectVal
			default:
				types[key][b.Labels[1]] = cty.DynamicVal // an exception: read at plan
			}
		}
	}
	vars["create"] = cty.False
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":  cty.ObjectVal(vars),
		"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(root), "root": cty.StringVal(root)}),
	}, Functions: createOffFunctions()}
	data := map[string]cty.Value{}
	for key, byName := range types {
		typ := strings.TrimPrefix(strings.TrimPrefix(key, "resource "), "data ")
		if strings.HasPrefix(key, "data ") {
			data[typ] = cty.ObjectVal(byName)
		} else {
			ctx.Variables[typ] = cty.ObjectVal(byName)
		}
	}
	// The exceptions: read from the provider's configuration.
	data["aws_partition"] = cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"partition": cty.StringVal("aws"), "dns_suffix": cty.StringVal("amazonaws.com")})})
	data["aws_region"] = cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"region": cty.StringVal("eu-central-1")})})
	ctx.Variables["data"] = cty.ObjectVal(data)
	return ctx
}

func createOffFunctions() map[string]function.Function {
	unavailable := func(name string) function.Function {
		return function.New(&function.Spec{
			VarParam: &function.Parameter{Name: "args", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
			Type:     function.StaticReturnType(cty.DynamicPseudoType),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
				return cty.NilVal, fmt.Errorf("%s is called with create = false", name)
			},
		})
	}
	one := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
		Type:   function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if n := args[0].LengthInt(); n != 0 {
				return cty.NilVal, fmt.Errorf("one: %d elements, want none with create = false", n)
			}
			return cty.NullVal(cty.DynamicPseudoType), nil
		},
	})
	return map[string]function.Function{
		"one": one, "can": tryfunc.CanFunc, "try": tryfunc.TryFunc,
		"coalesce": stdlib.CoalesceFunc, "concat": stdlib.ConcatFunc, "distinct": stdlib.DistinctFunc,
		"join": stdlib.JoinFunc, "jsonencode": stdlib.JSONEncodeFunc, "length": stdlib.LengthFunc,
		"merge": stdlib.MergeFunc, "regex": stdlib.RegexFunc, "sort": stdlib.SortFunc,
		"split": stdlib.SplitFunc, "substr": stdlib.SubstrFunc,
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)), "tostring": stdlib.MakeToFunc(cty.String),
		"templatefile": unavailable("templatefile"), "filebase64sha256": unavailable("filebase64sha256"),
		"base64gzip": unavailable("base64gzip"), "sha256": unavailable("sha256"),
	}
}
