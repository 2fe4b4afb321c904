package test

// Contract tests for what a first `terraform apply` needs and the offline
// checks cannot see: they read the .tf files with hcl/v2.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/sentinel-tvm/sentinel-tvm/internal/apidoc"
)

// TestNothingDependsOnTheApplier: no resource or policy may change with
// whoever runs plan or apply (a teammate's or CI's plan must not fail on
// KMS, nor rewrite the key policy).
func TestNothingDependsOnTheApplier(t *testing.T) {
	for _, dir := range append([]string{root}, moduleDirs(t)...) {
		m := parseModule(t, dir)
		for f, src := range m.src {
			if strings.Contains(string(src), "aws_iam_session_context") {
				t.Errorf("%s uses aws_iam_session_context: the applier's identity must not reach the configuration", f)
			}
		}
	}
}

// kmsStatement is one statement of data.aws_iam_policy_document.kms.
func kmsStatements(t *testing.T, m *module) map[string]*hclsyntax.Body {
	t.Helper()
	out := map[string]*hclsyntax.Body{}
	for _, b := range m.block(t, "data.aws_iam_policy_document.kms").Body.Blocks {
		body := b.Body
		if b.Type == "dynamic" {
			body = nested(b, "content")[0].Body
		} else if b.Type != "statement" {
			continue
		}
		out[mustLiteral(t, body.Attributes["sid"])] = body
	}
	return out
}

// actionsOf is a statement's actions: a literal list, or a local holding one.
func actionsOf(t *testing.T, m *module, body *hclsyntax.Body) []string {
	t.Helper()
	e := body.Attributes["actions"].Expr
	if st, ok := e.(*hclsyntax.ScopeTraversalExpr); ok && st.Traversal.RootName() == "local" {
		name := st.Traversal[1].(hcl.TraverseAttr).Name
		e = m.locals[name].Expr
	}
	return literalList(t, e)
}

// conditionKeys lists the variables of a statement's conditions.
func conditionKeys(t *testing.T, body *hclsyntax.Body) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for _, c := range body.Blocks {
		if c.Type == "condition" {
			keys[mustLiteral(t, c.Body.Attributes["variable"])] = true
		}
	}
	return keys
}

// TestKMSKeyPolicy: administrators cannot use the key or grant it to
// themselves; direct use only for the key_users input; the account's
// principals only through SSM, DynamoDB and Lambda of this account.
func TestKMSKeyPolicy(t *testing.T) {
	m := parseModule(t, root)
	st := kmsStatements(t, m)

	admin, ok := st["KeyAdministration"]
	if !ok {
		t.Fatal("kms.tf: no KeyAdministration statement")
	}
	if got := m.text(nested(&hclsyntax.Block{Body: admin}, "principals")[0].Body.Attributes["identifiers"].Expr); got != "local.kms_key_administrators" {
		t.Errorf("KeyAdministration principals %s, want local.kms_key_administrators (var.key_administrators)", got)
	}
	use := regexp.MustCompile(`^kms:(Create\*|CreateGrant|Decrypt|Encrypt|ReEncrypt|GenerateDataKey|GenerateMac|Sign|Verify|DeriveSharedSecret|\*)`)
	for _, a := range actionsOf(t, m, admin) {
		if use.MatchString(a) || strings.Contains(a, "*") {
			t.Errorf("KeyAdministration grants %s: administrators must neither use the key nor create grants", a)
		}
	}

	acct, ok := st["AccountUseThroughServices"]
	if !ok {
		t.Fatal("kms.tf: no AccountUseThroughServices statement")
	}
	if keys := conditionKeys(t, acct); !keys["kms:CallerAccount"] || !keys["kms:ViaService"] {
		t.Errorf("AccountUseThroughServices conditions %v: want kms:CallerAccount and kms:ViaService", keys)
	}
	if got := m.text(m.locals["kms_account_via_services"].Expr); strings.Contains(got, "sns.") || !strings.Contains(got, "ssm.") || !strings.Contains(got, "dynamodb.") {
		t.Errorf("kms_account_via_services = %s: want SSM and DynamoDB (and Lambda), nothing else", got)
	}

	users, ok := st["KeyUsers"]
	if !ok {
		t.Fatal("kms.tf: no KeyUsers statement")
	}
	if got := m.text(nested(&hclsyntax.Block{Body: users}, "principals")[0].Body.Attributes["identifiers"].Expr); got != "var.key_users" {
		t.Errorf("KeyUsers principals %s, want var.key_users", got)
	}
	for _, a := range actionsOf(t, m, users) {
		if strings.HasPrefix(a, "kms:Create") || strings.HasPrefix(a, "kms:Put") {
			t.Errorf("KeyUsers grants %s: users use the key, they do not administer it", a)
		}
	}
	// Every other statement is for a named principal or a service, and
	// never grants administration.
	for sid, body := range st {
		if sid == "KeyAdministration" {
			continue
		}
		for _, a := range actionsOf(t, m, body) {
			if strings.HasPrefix(a, "kms:Put") || strings.HasPrefix(a, "kms:Schedule") || a == "kms:*" {
				t.Errorf("%s grants %s", sid, a)
			}
		}
	}
}

// TestPolicyChangeHasNoWindow: the function reads the parameter version its
// environment's sha256 describes, and the parameter's tier can only grow
// (a tier downgrade would replace it: delete, then create).
func TestPolicyChangeHasNoWindow(t *testing.T) {
	m := parseModule(t, root)
	env := envKeys(t, m, m.block(t, "resource.aws_lambda_function.api"))
	if got := m.text(env["SENTINEL_POLICY_PARAMETER"]); got != `"${aws_ssm_parameter.policy[0].name}:${aws_ssm_parameter.policy[0].version}"` {
		t.Errorf("SENTINEL_POLICY_PARAMETER = %s: want the parameter's name:version", got)
	}
	if got := attrString(t, m.block(t, "resource.aws_ssm_parameter.policy"), "tier"); got != "Intelligent-Tiering" {
		t.Errorf("the policy parameter's tier is %q: a computed Standard/Advanced choice replaces the parameter when the bundle shrinks", got)
	}
}

// TestAPIResourcePolicy: the resource policy names the API's execution ARN
// (AWS rewrites execute-api:/* to it: a change on every plan), is its own
// resource, and a change to it redeploys the stage.
func TestAPIResourcePolicy(t *testing.T) {
	m := parseModule(t, root)
	doc := m.block(t, "data.aws_iam_policy_document.api_resource")
	src := string(doc.Range().SliceBytes(m.src[doc.Range().Filename]))
	if strings.Contains(src, `"execute-api:/*"`) {
		t.Error("api_resource names execute-api:/*; use the full execution ARN")
	}
	if got := m.text(m.locals["api_execute_arn"].Expr); got != `var.create ? "${aws_api_gateway_rest_api.this[0].execution_arn}/*" : null` {
		t.Errorf("api_execute_arn = %s", got)
	}
	if _, ok := m.block(t, "resource.aws_api_gateway_rest_api.this").Body.Attributes["policy"]; ok {
		t.Error("aws_api_gateway_rest_api sets policy: the policy names the API's own ARN and belongs in aws_api_gateway_rest_api_policy")
	}
	m.block(t, "resource.aws_api_gateway_rest_api_policy.this")
	trig := m.block(t, "resource.aws_api_gateway_deployment.this").Body.Attributes["triggers"]
	if trig == nil || !strings.Contains(m.text(trig.Expr), "aws_api_gateway_rest_api_policy.this[0].policy") {
		t.Error("the deployment's triggers do not include the resource policy: a policy change would not take effect")
	}
}

// isModule reports whether dir is a Terraform module: a directory with
// .tf files (examples/ci holds a workflow, not a module).
func isModule(dir string) bool {
	tf, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	return len(tf) > 0
}

// moduleDirs are the examples and submodules.
func moduleDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, pat := range []string{"examples/*", "modules/*"} {
		ds, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if isModule(d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

// knownAtPlan are the roots of references whose values plan knows before
// anything exists: inputs, paths, and data sources of the caller's
// account, partition and region.
var knownAtPlan = map[string]bool{
	"var": true, "path": true, "terraform": true,
	"data.aws_caller_identity": true, "data.aws_partition": true, "data.aws_region": true,
}

// unknownRefs lists the references of e, through locals, whose values are
// known only after apply (resources, modules, other data sources).
func unknownRefs(m *module, e hclsyntax.Expression, seen map[string]bool) []string {
	var out []string
	for _, tr := range e.Variables() {
		rootName := tr.RootName()
		switch rootName {
		case "local":
			name := tr[1].(hcl.TraverseAttr).Name
			if seen[name] {
				continue
			}
			seen[name] = true
			if a, ok := m.locals[name]; ok {
				out = append(out, unknownRefs(m, a.Expr, seen)...)
			}
			continue
		case "data":
			key := "data." + tr[1].(hcl.TraverseAttr).Name
			if !knownAtPlan[key] {
				out = append(out, key)
			}
			continue
		case "each", "count", "self":
			continue
		}
		if !knownAtPlan[rootName] {
			name := rootName
			if len(tr) > 1 {
				if a, ok := tr[1].(hcl.TraverseAttr); ok {
					name += "." + a.Name
				}
			}
			out = append(out, name)
		}
	}
	return out
}

// TestExamplesCompileThePolicyAtPlan: the policy an example gives the
// module is known at plan time, so plan compiles and tests it (and checks
// its size) before anything is created. Role ARNs are built from known
// values, not read from the role modules.
func TestExamplesCompileThePolicyAtPlan(t *testing.T) {
	ex, err := filepath.Glob(filepath.Join(root, "examples", "*", "main.tf"))
	if err != nil || len(ex) == 0 {
		t.Fatalf("no examples (%v)", err)
	}
	for _, f := range ex {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := parseModule(t, dir)
			mod := m.block(t, "module.sentinel_tvm")
			found := false
			for _, name := range []string{"policy_files", "policies_dir"} {
				a, ok := mod.Body.Attributes[name]
				if !ok {
					continue
				}
				found = true
				if refs := unknownRefs(m, a.Expr, map[string]bool{}); len(refs) > 0 {
					t.Errorf("%s: %s depends on %v, known only after apply: the policy would compile mid-apply", a.SrcRange, name, refs)
				}
			}
			if !found {
				t.Fatal("module sentinel_tvm has neither policy_files nor policies_dir")
			}
		})
	}
}

// TestUnknownRefsSeesModuleOutputs keeps the check above able to fail.
func TestUnknownRefsSeesModuleOutputs(t *testing.T) {
	src := []byte(`
locals {
  arn  = module.role.arn
  name = "x-${var.name}"
}
module "sentinel_tvm" {
  policy_files = { "p.hcl" = templatefile("p.tftpl", { a = local.arn, n = local.name, id = data.aws_caller_identity.current.account_id, r = random_string.s.result }) }
}
`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	m := parseModule(t, dir)
	got := unknownRefs(m, m.block(t, "module.sentinel_tvm").Body.Attributes["policy_files"].Expr, map[string]bool{})
	want := map[string]bool{"module.role": true, "random_string.s": true}
	if len(got) != len(want) {
		t.Fatalf("unknownRefs = %v, want %v", got, want)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected %s in %v", g, got)
		}
	}
}

// TestExamplesLeaveAccountSettingsAlone: no example sets the account-wide
// API Gateway CloudWatch role unless told to.
func TestExamplesLeaveAccountSettingsAlone(t *testing.T) {
	ex, _ := filepath.Glob(filepath.Join(root, "examples", "*"))
	for _, dir := range ex {
		if !isModule(dir) {
			continue
		}
		m := parseModule(t, dir)
		v, ok := m.blocks["variable.api_gateway_account"]
		if !ok {
			t.Errorf("%s: no api_gateway_account variable", dir)
			continue
		}
		if got := attrString(t, v, "default"); got == "create" {
			t.Errorf("%s: api_gateway_account defaults to create: the example would take over the account's API Gateway logging role", dir)
		}
	}
}

// TestGatewayBodyUpToDate: the body API Gateway imports is what
// tools/apidoc derives from api/openapi.yaml (`make docs` rewrites it), the
// module imports it, and an import warning fails the apply.
func TestGatewayBodyUpToDate(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, apidoc.DocumentPath))
	if err != nil {
		t.Fatal(err)
	}
	want, err := apidoc.Gateway(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, apidoc.GatewayPath))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is stale: run make docs", apidoc.GatewayPath)
	}
	m := parseModule(t, root)
	if got := m.text(m.locals["api_body"].Expr); !strings.Contains(got, `"${path.module}/`+apidoc.GatewayPath+`"`) {
		t.Errorf("api_body = %s: the REST API must import %s", got, apidoc.GatewayPath)
	}
	api := m.block(t, "resource.aws_api_gateway_rest_api.this")
	if a, ok := api.Body.Attributes["fail_on_warnings"]; !ok || m.text(a.Expr) != "true" {
		t.Error("aws_api_gateway_rest_api.this does not fail on import warnings")
	}
}
