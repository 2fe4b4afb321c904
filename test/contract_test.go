package test

// Contract tests between the Terraform module and the Go code, offline:
// they parse the .tf files with hcl/v2 and compare them with what the
// handler really reads, calls and serves.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/tfdocs"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// root is the module's directory (the repository root).
const root = ".."

// module is a parsed Terraform module: its top-level blocks by address.
type module struct {
	blocks map[string]*hclsyntax.Block // "resource.TYPE.NAME", "data.TYPE.NAME", "variable.NAME", "output.NAME"
	locals map[string]*hclsyntax.Attribute
	src    map[string][]byte // file name => bytes
}

func parseModule(t *testing.T, dir string) *module {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	sort.Strings(files)
	p := hclparse.NewParser()
	m := &module{blocks: map[string]*hclsyntax.Block{}, locals: map[string]*hclsyntax.Attribute{}, src: map[string][]byte{}}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		m.src[file.Body.(*hclsyntax.Body).SrcRange.Filename] = file.Bytes
		for _, b := range file.Body.(*hclsyntax.Body).Blocks {
			if b.Type == "locals" {
				for name, a := range b.Body.Attributes {
					m.locals[name] = a
				}
				continue
			}
			m.blocks[strings.Join(append([]string{b.Type}, b.Labels...), ".")] = b
		}
	}
	return m
}

func (m *module) block(t *testing.T, addr string) *hclsyntax.Block {
	t.Helper()
	b, ok := m.blocks[addr]
	if !ok {
		t.Fatalf("the module has no %s", addr)
	}
	return b
}

// text is an expression's source.
func (m *module) text(e hclsyntax.Expression) string {
	r := e.Range()
	return string(r.SliceBytes(m.src[r.Filename]))
}

// literal evaluates an expression without variables (string literals,
// lists of them); ok is false for anything else.
func literal(e hclsyntax.Expression) (string, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
		return "", false
	}
	return v.AsString(), true
}

func literalList(t *testing.T, e hclsyntax.Expression) []string {
	t.Helper()
	tup, ok := e.(*hclsyntax.TupleConsExpr)
	if !ok {
		t.Fatalf("%s: want a literal list", e.Range())
	}
	var out []string
	for _, x := range tup.Exprs {
		s, ok := literal(x)
		if !ok {
			t.Fatalf("%s: want a string literal", x.Range())
		}
		out = append(out, s)
	}
	return out
}

func attrString(t *testing.T, b *hclsyntax.Block, name string) string {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Fatalf("%s: %s has no %s", b.DefRange(), b.Type, name)
	}
	s, ok := literal(a.Expr)
	if !ok {
		t.Fatalf("%s: %s is not a string literal", a.SrcRange, name)
	}
	return s
}

func nested(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// TestTableMatchesStore: the table's keys, attributes, indexes and TTL
// attribute are store.TableSchema's.
func TestTableMatchesStore(t *testing.T) {
	m := parseModule(t, root)
	tbl := m.block(t, "resource.aws_dynamodb_table.this")
	want := store.TableSchema("x")

	type index struct{ Name, Hash, Range, Projection string }
	got := struct {
		Billing, Hash, Range, TTL string
		Attributes                map[string]string
		Indexes                   []index
	}{
		Billing:    attrString(t, tbl, "billing_mode"),
		Hash:       attrString(t, tbl, "hash_key"),
		Range:      attrString(t, tbl, "range_key"),
		Attributes: map[string]string{},
	}
	for _, a := range nested(tbl, "attribute") {
		got.Attributes[attrString(t, a, "name")] = attrString(t, a, "type")
	}
	for _, g := range nested(tbl, "global_secondary_index") {
		got.Indexes = append(got.Indexes, index{attrString(t, g, "name"), attrString(t, g, "hash_key"), attrString(t, g, "range_key"), attrString(t, g, "projection_type")})
	}
	ttl := nested(tbl, "ttl")
	if len(ttl) != 1 {
		t.Fatalf("the table has %d ttl blocks, want 1", len(ttl))
	}
	got.TTL = attrString(t, ttl[0], "attribute_name")
	if e, ok := ttl[0].Body.Attributes["enabled"]; !ok || m.text(e.Expr) != "true" {
		t.Error("TTL is not enabled = true")
	}

	wantT := got
	wantT.Billing = string(want.BillingMode)
	wantT.TTL = store.AttrTTL
	wantT.Attributes = map[string]string{}
	for _, a := range want.AttributeDefinitions {
		wantT.Attributes[*a.AttributeName] = string(a.AttributeType)
	}
	for _, k := range want.KeySchema {
		if k.KeyType == "HASH" {
			wantT.Hash = *k.AttributeName
		} else {
			wantT.Range = *k.AttributeName
		}
	}
	wantT.Indexes = nil
	for _, g := range want.GlobalSecondaryIndexes {
		ix := index{Name: *g.IndexName, Projection: string(g.Projection.ProjectionType)}
		for _, k := range g.KeySchema {
			if k.KeyType == "HASH" {
				ix.Hash = *k.AttributeName
			} else {
				ix.Range = *k.AttributeName
			}
		}
		wantT.Indexes = append(wantT.Indexes, ix)
	}
	if len(want.LocalSecondaryIndexes) != 0 || len(nested(tbl, "local_secondary_index")) != 0 {
		t.Error("local secondary indexes: the contract has none")
	}
	if d := cmp.Diff(wantT, got); d != "" {
		t.Errorf("table.tf and store.TableSchema differ (-store +terraform):\n%s", d)
	}
	for _, blk := range []string{"point_in_time_recovery", "server_side_encryption"} {
		bs := nested(tbl, blk)
		if len(bs) != 1 || m.text(bs[0].Body.Attributes["enabled"].Expr) != "true" {
			t.Errorf("the table's %s is not enabled = true", blk)
		}
	}
}

// configReads returns the variables vend.ConfigFromEnv reads and the
// required ones (those it names as missing in an empty environment).
func configReads(t *testing.T) (read, required map[string]bool) {
	read, required = map[string]bool{}, map[string]bool{}
	_, err := vend.ConfigFromEnv(func(k string) string { read[k] = true; return "" })
	if err == nil {
		t.Fatal("ConfigFromEnv accepted an empty environment")
	}
	for _, m := range regexp.MustCompile(`(SENTINEL_[A-Z0-9_]+) is required`).FindAllStringSubmatch(err.Error(), -1) {
		required[m[1]] = true
	}
	if len(required) == 0 {
		t.Fatalf("no required variable found in %q", err)
	}
	return read, required
}

// mainReads returns the variables lambda/tvm reads itself
// (os.Getenv("...") in its source), e.g. the function mode.
func mainReads(t *testing.T) map[string]bool {
	out := map[string]bool{}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, filepath.Join(root, "lambda/tvm"), func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		ast.Inspect(p, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Getenv" {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					out[s] = true
				}
			}
			return true
		})
	}
	return out
}

// envKeys returns the names a function's environment block sets: an
// object literal, or merge() of object literals (conditional parts
// included).
func envKeys(t *testing.T, m *module, fn *hclsyntax.Block) map[string]hclsyntax.Expression {
	t.Helper()
	env := nested(fn, "environment")
	if len(env) != 1 {
		t.Fatalf("%s: want one environment block", fn.DefRange())
	}
	out := map[string]hclsyntax.Expression{}
	var walk func(e hclsyntax.Expression)
	walk = func(e hclsyntax.Expression) {
		switch e := e.(type) {
		case *hclsyntax.ObjectConsExpr:
			for _, it := range e.Items {
				k, ok := literal(it.KeyExpr)
				if !ok {
					t.Fatalf("%s: environment keys must be literal names", it.KeyExpr.Range())
				}
				out[k] = it.ValueExpr
			}
		case *hclsyntax.FunctionCallExpr:
			if e.Name != "merge" {
				t.Fatalf("%s: want merge() or an object", e.Range())
			}
			for _, a := range e.Args {
				walk(a)
			}
		case *hclsyntax.ConditionalExpr:
			walk(e.TrueResult)
			walk(e.FalseResult)
		default:
			t.Fatalf("%s: the environment is %T; write it as literal objects", e.Range(), e)
		}
	}
	walk(env[0].Body.Attributes["variables"].Expr)
	return out
}

// TestFunctionEnvironment: the API function sets only variables the
// handler reads and every required one; the revoker only those
// lambda/tvm reads, with SENTINEL_FUNCTION=revoker.
func TestFunctionEnvironment(t *testing.T) {
	m := parseModule(t, root)
	read, required := configReads(t)
	fromMain := mainReads(t)

	api := envKeys(t, m, m.block(t, "resource.aws_lambda_function.api"))
	for k := range api {
		if !read[k] && !fromMain[k] {
			t.Errorf("lambda.tf: the API function sets %s, which the handler does not read (vend.ConfigFromEnv, lambda/tvm)", k)
		}
	}
	for k := range required {
		if _, ok := api[k]; !ok {
			t.Errorf("lambda.tf: the API function does not set %s, which vend.ConfigFromEnv requires", k)
		}
	}

	rev := envKeys(t, m, m.block(t, "resource.aws_lambda_function.revoker"))
	for k := range rev {
		if !fromMain[k] {
			t.Errorf("lambda.tf: the revoker sets %s, which lambda/tvm does not read", k)
		}
	}
	if e, ok := rev["SENTINEL_FUNCTION"]; !ok || m.text(e) != `"revoker"` {
		t.Error(`lambda.tf: the revoker must set SENTINEL_FUNCTION = "revoker"`)
	}
	if _, ok := api["SENTINEL_FUNCTION"]; ok && m.text(api["SENTINEL_FUNCTION"]) != `"api"` {
		t.Error(`lambda.tf: the API function's SENTINEL_FUNCTION must be "api" or unset`)
	}
}

// sdkCalls finds the AWS API operations the Lambda's code can call: the
// methods of interfaces in the bootstrap's packages that take an AWS SDK
// *service.XInput. It returns "service:Operation" => where.
func sdkCalls(t *testing.T) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}} {{.Dir}}{{end}}", "./lambda/tvm")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/sentinel-tvm/sentinel-tvm/"
	calls := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(path, self) {
			continue
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkgs {
			for _, f := range p.Files {
				services := map[string]string{} // import name => service
				for _, imp := range f.Imports {
					ip, _ := strconv.Unquote(imp.Path.Value)
					if svc, ok := strings.CutPrefix(ip, "github.com/aws/aws-sdk-go-v2/service/"); ok && !strings.Contains(svc, "/") {
						name := svc
						if imp.Name != nil {
							name = imp.Name.Name
						}
						services[name] = svc
					}
				}
				ast.Inspect(f, func(n ast.Node) bool {
					ts, ok := n.(*ast.TypeSpec)
					if !ok {
						return true
					}
					it, ok := ts.Type.(*ast.InterfaceType)
					if !ok {
						return true
					}
					for _, meth := range it.Methods.List {
						ft, ok := meth.Type.(*ast.FuncType)
						if !ok || len(meth.Names) == 0 {
							continue
						}
						for _, prm := range ft.Params.List {
							star, ok := prm.Type.(*ast.StarExpr)
							if !ok {
								continue
							}
							sel, ok := star.X.(*ast.SelectorExpr)
							if !ok {
								continue
							}
							pkg, _ := sel.X.(*ast.Ident)
							if svc, ok := services[pkg.Name]; ok && sel.Sel.Name == meth.Names[0].Name+"Input" {
								calls[svc+":"+meth.Names[0].Name] = strings.TrimPrefix(path, self) + "." + ts.Name.Name
							}
						}
					}
					return true
				})
			}
		}
	}
	return calls
}

// iamActions maps an SDK operation to the IAM actions it needs.
var iamActions = map[string][]string{
	"dynamodb:GetItem":            {"dynamodb:GetItem"},
	"dynamodb:PutItem":            {"dynamodb:PutItem"},
	"dynamodb:UpdateItem":         {"dynamodb:UpdateItem"},
	"dynamodb:DeleteItem":         {"dynamodb:DeleteItem"},
	"dynamodb:Query":              {"dynamodb:Query"},
	"dynamodb:TransactWriteItems": {"dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
	"ssm:GetParameter":            {"ssm:GetParameter"},
	"sts:AssumeRole":              {"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"},
	"lambda:Invoke":               {"lambda:InvokeFunction"},
	"iam:GetRolePolicy":           {"iam:GetRolePolicy"},
	"iam:PutRolePolicy":           {"iam:PutRolePolicy"},
	"iam:ListRolePolicies":        {"iam:ListRolePolicies"},
	"sns:Publish":                 {"sns:Publish"},
	// The revoker asks STS for its own account; this needs no permission.
	"sts:GetCallerIdentity": {},
}

// statement is a policy document statement as iam.tf writes it.
type statement struct {
	sid       string
	actions   []string
	resources string // source text
}

func statements(t *testing.T, m *module, addr string) map[string]statement {
	t.Helper()
	out := map[string]statement{}
	for _, b := range m.block(t, addr).Body.Blocks {
		body := b.Body
		if b.Type == "dynamic" {
			body = nested(b, "content")[0].Body
		} else if b.Type != "statement" {
			continue
		}
		st := statement{sid: mustLiteral(t, body.Attributes["sid"]), actions: literalList(t, body.Attributes["actions"].Expr)}
		if r, ok := body.Attributes["resources"]; ok {
			st.resources = m.text(r.Expr)
		}
		out[st.sid] = st
	}
	return out
}

func mustLiteral(t *testing.T, a *hclsyntax.Attribute) string {
	t.Helper()
	if a == nil {
		t.Fatal("a policy statement without sid")
	}
	s, ok := literal(a.Expr)
	if !ok {
		t.Fatalf("%s: want a string literal", a.SrcRange)
	}
	return s
}

// TestGrantsMatchTheCode: every AWS API operation the bootstrap's code can
// call is granted to the function that calls it (IAM writes to the
// revoker, everything else to the API function), on this module's
// resources, and nothing else is granted.
func TestGrantsMatchTheCode(t *testing.T) {
	m := parseModule(t, root)
	calls := sdkCalls(t)
	if len(calls) == 0 {
		t.Fatal("found no AWS SDK calls in the bootstrap's packages")
	}
	want := map[string]map[string]bool{"api": {}, "revoker": {}}
	for op, where := range calls {
		acts, ok := iamActions[op]
		if !ok {
			t.Errorf("%s calls %s: add it to iamActions here and grant it in iam.tf", where, op)
			continue
		}
		fn := "api"
		if strings.HasPrefix(op, "iam:") {
			fn = "revoker"
		}
		for _, a := range acts {
			want[fn][a] = true
		}
	}
	// The revoker reads the session record of every request it gets
	// (revoke.Sessions: store.Dynamo.GetSession).
	want["revoker"]["dynamodb:GetItem"] = true
	// Grants that are not SDK calls of the code: the runtime's logging,
	// X-Ray, KMS through SSM and DynamoDB, and the revoker's writer roles
	// in other accounts (credentials of stscreds).
	infra := map[string]bool{"Logs": true, "XRay": true, "KeyThroughServices": true, "WriterRolesInOtherAccounts": true}
	// Where each grant must point.
	resources := map[string]string{
		"Table":             `[aws_dynamodb_table.this[0].arn, "${aws_dynamodb_table.this[0].arn}/index/*"]`,
		"PolicyParameter":   `[aws_ssm_parameter.policy[0].arn]`,
		"AssumeVendedRoles": `local.vended_role_grants`,
		"InvokeRevoker":     `[aws_lambda_function.revoker[0].arn]`,
		"Notify":            `[local.notify_topic_arn]`,
		"RevocationPolicy":  `local.revoker_writes`,
		"SessionTable":      `[aws_dynamodb_table.this[0].arn]`,
	}
	for fn, addr := range map[string]string{"api": "data.aws_iam_policy_document.api", "revoker": "data.aws_iam_policy_document.revoker"} {
		got := map[string]bool{}
		for sid, st := range statements(t, m, addr) {
			if infra[sid] {
				continue
			}
			if r, ok := resources[sid]; !ok || st.resources != r {
				t.Errorf("%s statement %q: resources %s, want %s", addr, sid, st.resources, r)
			}
			for _, a := range st.actions {
				got[a] = true
			}
		}
		for a := range want[fn] {
			if !got[a] {
				t.Errorf("iam.tf: the %s function calls what needs %s, which %s does not grant", fn, a, addr)
			}
		}
		for a := range got {
			if !want[fn][a] {
				t.Errorf("iam.tf: %s grants %s, which the %s function's code never needs", addr, a, fn)
			}
		}
	}
}

// designRoutes are the v1 routes of docs/design.md "HTTP API".
var designRoutes = []string{
	"POST /v1/credentials", "GET /v1/profiles",
	"POST /v1/approvals", "GET /v1/approvals", "GET /v1/approvals/{id}",
	"POST /v1/approvals/{id}/approve", "POST /v1/approvals/{id}/deny", "POST /v1/approvals/{id}/cancel",
	"POST /v1/break-glass", "GET /v1/break-glass", "POST /v1/break-glass/{id}/close",
	"GET /v1/sessions", "GET /v1/sessions/{id}", "POST /v1/sessions/{id}/revoke",
	"GET /v1/health",
}

// handlerRoutes finds the "METHOD /v1/..." string literals of internal/vend:
// the keys of the handler's router.
func handlerRoutes(t *testing.T) map[string]bool {
	out := map[string]bool{}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, filepath.Join(root, "internal/vend"), func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) /v1/[a-z0-9{}/-]+$`)
	for _, p := range pkgs {
		ast.Inspect(p, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && re.MatchString(s) {
					out[s] = true
				}
			}
			return true
		})
	}
	return out
}

// TestRoutesDeclaredWithIAMAuth: api/openapi.yaml declares docs/design.md's
// routes and every route the handler serves, each with AWS_IAM auth and
// the Lambda proxy integration; api.tf renders it with the function's
// invoke ARN and redeploys when it changes.
func TestRoutesDeclaredWithIAMAuth(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "api/openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	declared := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, node := range ops {
			if method == "parameters" {
				continue
			}
			route := strings.ToUpper(method) + " " + path
			declared[route] = true
			var op struct {
				OperationID string `yaml:"operationId"`
				Auth        struct {
					Type string `yaml:"type"`
				} `yaml:"x-amazon-apigateway-auth"`
				Integration struct {
					Type       string `yaml:"type"`
					HTTPMethod string `yaml:"httpMethod"`
					URI        string `yaml:"uri"`
				} `yaml:"x-amazon-apigateway-integration"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s: %v", route, err)
			}
			if op.Auth.Type != "AWS_IAM" {
				t.Errorf("%s: x-amazon-apigateway-auth type %q, want AWS_IAM", route, op.Auth.Type)
			}
			if op.Integration.Type != "aws_proxy" || op.Integration.HTTPMethod != "POST" || op.Integration.URI != "${lambda_invoke_arn}" {
				t.Errorf("%s: integration %+v, want aws_proxy POST ${lambda_invoke_arn}", route, op.Integration)
			}
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", route)
			}
		}
	}
	for _, r := range designRoutes {
		if !declared[r] {
			t.Errorf("api/openapi.yaml lacks the route %s of docs/design.md", r)
		}
	}
	for r := range handlerRoutes(t) {
		if !declared[r] {
			t.Errorf("the handler serves %s, which api/openapi.yaml does not declare", r)
		}
	}

	m := parseModule(t, root)
	if txt := m.text(m.locals["api_body"].Expr); !strings.Contains(txt, `templatefile("${path.module}/api/openapi.gateway.yaml"`) || !strings.Contains(txt, "aws_lambda_function.api[0].invoke_arn") {
		t.Errorf("api.tf: api_body = %s, want templatefile of api/openapi.gateway.yaml (derived from api/openapi.yaml: TestGatewayBodyUpToDate) with the API function's invoke ARN", txt)
	}
	dep := m.block(t, "resource.aws_api_gateway_deployment.this")
	if !strings.Contains(m.text(dep.Body.Attributes["triggers"].Expr), "local.api_body") {
		t.Error("api.tf: the deployment is not triggered by the API body")
	}
}

// TestREADMEDocsUpToDate: the inputs/outputs tables of the module READMEs
// are what tools/tfdocs renders from the .tf files (`make docs` rewrites them).
func TestREADMEDocsUpToDate(t *testing.T) {
	for _, dir := range []string{root, filepath.Join(root, "modules/protected-role"), filepath.Join(root, "modules/revocation-writer")} {
		want, err := tfdocs.Render(dir)
		if err != nil {
			t.Fatal(err)
		}
		readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), want) {
			t.Errorf("%s/README.md: the inputs/outputs tables are stale: run make docs", dir)
		}
	}
}
