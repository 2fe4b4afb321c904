package test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestPlanNeedsNoGo: the module's plan-time work is the sentinel provider's.
// No configuration here runs a program at plan time (data "external", go
// run), requires hashicorp/external, or puts an absolute path into the plan
// (abspath: every checkout path would plan a diff).
func TestPlanNeedsNoGo(t *testing.T) {
	dirs := []string{root}
	for _, pattern := range []string{"modules/*", "examples/*"} {
		more, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range more {
			if tf, _ := filepath.Glob(filepath.Join(d, "*.tf")); len(tf) > 0 {
				dirs = append(dirs, d)
			}
		}
	}
	forbidden := regexp.MustCompile(`\bdata\s+"external"|hashicorp/external|"go",\s*"run"|\babspath\(`)
	for _, dir := range dirs {
		m := parseModule(t, dir)
		for name, src := range m.src {
			for _, loc := range forbidden.FindAllIndex(src, -1) {
				line := 1 + strings.Count(string(src[:loc[0]]), "\n")
				t.Errorf("%s:%d: %q: plan would need a program, Go or the checkout path", name, line, src[loc[0]:loc[1]])
			}
		}
	}
}

// TestModuleUsesTheProvider: the root module requires sentinel-tvm/sentinel
// and takes the policy's bundle, hash and role ARNs, and the handler zip,
// from its data sources.
func TestModuleUsesTheProvider(t *testing.T) {
	m := parseModule(t, root)
	tf := m.block(t, "terraform")
	var source string
	for _, b := range tf.Body.Blocks {
		if b.Type != "required_providers" {
			continue
		}
		a, ok := b.Body.Attributes["sentinel"]
		if !ok {
			t.Fatal("required_providers has no sentinel")
		}
		obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
		if !ok {
			t.Fatalf("%s: sentinel is not an object", a.SrcRange)
		}
		for _, item := range obj.Items {
			if k, _ := literal(item.KeyExpr); k == "source" || m.text(item.KeyExpr) == "source" {
				source, _ = literal(item.ValueExpr)
			}
		}
	}
	if source != "sentinel-tvm/sentinel" {
		t.Errorf("the sentinel provider's source is %q, want sentinel-tvm/sentinel", source)
	}

	p := m.block(t, "data.sentinel_policy.this")
	for attr, want := range map[string]string{"dir": "var.policies_dir", "run_tests": "!var.policy_skip_tests"} {
		if a, ok := p.Body.Attributes[attr]; !ok || m.text(a.Expr) != want {
			t.Errorf("data.sentinel_policy.this.%s should be %s", attr, want)
		}
	}
	for local, want := range map[string]string{
		"policy_bundle":    "one(data.sentinel_policy.this[*].bundle)",
		"policy_sha256":    "one(data.sentinel_policy.this[*].sha256)",
		"policy_role_arns": "var.create ? data.sentinel_policy.this[0].role_arns : []",
		"policy_profiles":  "var.create ? data.sentinel_policy.this[0].profiles : []",
	} {
		if a, ok := m.locals[local]; !ok || m.text(a.Expr) != want {
			t.Errorf("local.%s should be %s", local, want)
		}
	}
	m.block(t, "data.sentinel_lambda_package.handler")
	for _, local := range []string{"handler_zip_path", "handler_zip_hash"} {
		if a, ok := m.locals[local]; !ok || !strings.Contains(m.text(a.Expr), "data.sentinel_lambda_package.handler[*].") {
			t.Errorf("local.%s does not come from data.sentinel_lambda_package.handler", local)
		}
	}
	for _, fn := range []string{"resource.aws_lambda_function.api", "resource.aws_lambda_function.revoker"} {
		b := m.block(t, fn)
		for attr, want := range map[string]string{"filename": "local.handler_zip_path", "source_code_hash": "local.handler_zip_hash", "s3_bucket": "local.handler_s3_bucket"} {
			if a, ok := b.Body.Attributes[attr]; !ok || m.text(a.Expr) != want {
				t.Errorf("%s.%s should be %s", fn, attr, want)
			}
		}
	}
}
