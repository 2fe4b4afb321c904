package provider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// Policies the tests compile. goodPolicy compiles cleanly; its test passes.
const (
	goodProfiles = `profile "dev" {
  role_arn = "arn:aws:iam::111122223333:role/dev-admin"
}
`
	goodRules = `rule "engineers" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/engineer"]
}
`
	passingTest = `test "engineer gets dev" {
  principal = "arn:aws:sts::111122223333:assumed-role/engineer/alice"
  profile   = "dev"
  expect    = "allow"
}
`
	failingTest = `test "engineer is refused dev" {
  principal = "arn:aws:sts::111122223333:assumed-role/engineer/alice"
  profile   = "dev"
  expect    = "deny"
}
`
	// A deny rule's max_duration is ignored: a warning, at line 10, column 18.
	warnRules = goodRules + `rule "no-contractors" {
  effect       = "deny"
  profiles     = ["dev"]
  principals   = ["arn:aws:iam::111122223333:role/contractor"]
  max_duration = "1h"
}
`
	// role_arn is not an ARN: an error at line 2, column 14.
	brokenProfiles = `profile "dev" {
  role_arn = "not-an-arn"
}
`
)

func TestProviderSchemaAndDataSources(t *testing.T) {
	ctx := context.Background()
	p := New("1.2.3")()
	var meta fwprovider.MetadataResponse
	p.Metadata(ctx, fwprovider.MetadataRequest{}, &meta)
	if meta.TypeName != "sentinel" || meta.Version != "1.2.3" {
		t.Errorf("metadata %+v, want sentinel 1.2.3", meta)
	}
	var names []string
	for _, f := range p.DataSources(ctx) {
		var r datasource.MetadataResponse
		f().Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: meta.TypeName}, &r)
		names = append(names, r.TypeName)
	}
	if want := []string{"sentinel_policy", "sentinel_lambda_package"}; !slices.Equal(names, want) {
		t.Errorf("data sources %v, want %v", names, want)
	}
}

func TestPolicySchema(t *testing.T) {
	s := schemaOf(t, &policyDataSource{})
	for name, want := range map[string]string{
		"dir": "optional", "files": "optional", "run_tests": "optional",
		"bundle": "computed", "sha256": "computed", "role_arns": "computed", "profiles": "computed", "warnings": "computed",
	} {
		a, ok := s.Attributes[name]
		switch {
		case !ok:
			t.Errorf("no attribute %s", name)
		case want == "optional" && (!a.IsOptional() || a.IsComputed()):
			t.Errorf("%s should be an optional input", name)
		case want == "computed" && (!a.IsComputed() || a.IsOptional()):
			t.Errorf("%s should be computed only", name)
		}
	}
	if len(s.Attributes) != 8 {
		t.Errorf("%d attributes, want 8", len(s.Attributes))
	}
}

func TestLambdaPackageSchema(t *testing.T) {
	s := schemaOf(t, &lambdaPackageDataSource{})
	if a := s.Attributes["architecture"]; a == nil || !a.IsRequired() {
		t.Error("architecture should be required")
	}
	for _, name := range []string{"filename", "source_code_hash", "version"} {
		if a := s.Attributes[name]; a == nil || !a.IsComputed() || a.IsOptional() {
			t.Errorf("%s should be computed only", name)
		}
	}
}

func TestPolicyCompilesFiles(t *testing.T) {
	files := map[string]string{"profiles.hcl": goodProfiles, "rules.hcl": goodRules, "dev.test.hcl": passingTest}
	state, diags := readPolicy(t, policyConfig{files: files})
	if diags.HasError() || diags.WarningsCount() != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	compiled, hd := policy.Compile([]policy.Source{{Name: "profiles.hcl", Data: []byte(goodProfiles)}, {Name: "rules.hcl", Data: []byte(goodRules)}})
	if hd.HasErrors() {
		t.Fatal(hd)
	}
	if state.Bundle != string(compiled.Bundle) || state.SHA256 != compiled.SHA256 {
		t.Errorf("bundle/sha256 differ from the compiler's: %s vs %s", state.SHA256, compiled.SHA256)
	}
	if !slices.Equal(state.RoleARNs, []string{"arn:aws:iam::111122223333:role/dev-admin"}) || !slices.Equal(state.Profiles, []string{"dev"}) {
		t.Errorf("role_arns %v, profiles %v", state.RoleARNs, state.Profiles)
	}
	if len(state.Warnings) != 0 {
		t.Errorf("warnings %v, want none", state.Warnings)
	}
}

func TestPolicyDirMatchesCLIBundle(t *testing.T) {
	dir := "../../policies"
	state, diags := readPolicy(t, policyConfig{dir: dir})
	if diags.HasError() {
		t.Fatalf("diagnostics: %v", diags)
	}
	srcs, err := policy.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	compiled, hd := policy.Compile(srcs)
	if hd.HasErrors() {
		t.Fatal(hd)
	}
	if state.SHA256 != compiled.SHA256 || len(state.RoleARNs) != len(compiled.RoleARNs) {
		t.Errorf("sha256 %s, want %s", state.SHA256, compiled.SHA256)
	}
}

func TestPolicyErrorNamesFileLineAndBlock(t *testing.T) {
	_, diags := readPolicy(t, policyConfig{files: map[string]string{"profiles.hcl": brokenProfiles, "rules.hcl": goodRules}})
	errs := diags.Errors()
	if len(errs) == 0 {
		t.Fatal("no error for a role_arn that is not an ARN")
	}
	d := errs[0]
	if !strings.HasPrefix(d.Summary(), "profiles.hcl:2:14: ") || !strings.Contains(d.Detail(), `In block profile "dev".`) {
		t.Errorf("error %q / %q, want it at profiles.hcl:2:14 in block profile \"dev\"", d.Summary(), d.Detail())
	}
	if ad, ok := d.(diag.DiagnosticWithPath); !ok || !ad.Path().Equal(path.Root("files").AtMapKey("profiles.hcl")) {
		t.Errorf("error not attached to files[\"profiles.hcl\"]: %#v", d)
	}
}

func TestPolicyWarningShownAndListed(t *testing.T) {
	state, diags := readPolicy(t, policyConfig{files: map[string]string{"profiles.hcl": goodProfiles, "rules.hcl": warnRules}})
	if diags.HasError() {
		t.Fatalf("a warning failed the read: %v", diags)
	}
	w := diags.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0].Summary(), "rules.hcl:10:18: Ignored max_duration") || !strings.Contains(w[0].Detail(), `In block rule "no-contractors".`) {
		t.Fatalf("warnings %v, want the ignored max_duration at rules.hcl:10:18 in rule \"no-contractors\"", w)
	}
	if len(state.Warnings) != 1 || !strings.HasPrefix(state.Warnings[0], "rules.hcl:10:18: warning: Ignored max_duration") || !strings.HasSuffix(state.Warnings[0], `(in block rule "no-contractors")`) {
		t.Errorf("warnings attribute %q", state.Warnings)
	}
}

func TestPolicyFailedTestIsAnError(t *testing.T) {
	files := map[string]string{"profiles.hcl": goodProfiles, "rules.hcl": goodRules, "dev.test.hcl": failingTest}
	_, diags := readPolicy(t, policyConfig{files: files})
	errs := diags.Errors()
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
	if s, d := errs[0].Summary(), errs[0].Detail(); s != `Policy test "engineer is refused dev" failed` || !strings.Contains(d, `dev.test.hcl:1: test "engineer is refused dev": expected deny, got allow by "engineers"`) {
		t.Errorf("error %q / %q", s, d)
	}

	// run_tests = false: the same files compile, the test file unread.
	f := false
	state, diags := readPolicy(t, policyConfig{files: files, runTests: &f})
	if diags.HasError() || state.SHA256 == "" {
		t.Errorf("run_tests = false: %v", diags)
	}
}

func TestPolicyConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  policyConfig
		want string
	}{
		{"neither", policyConfig{}, "Give exactly one of dir and files"},
		{"both", policyConfig{dir: "x", files: map[string]string{"a.hcl": ""}}, "Give exactly one of dir and files"},
		{"bad name", policyConfig{files: map[string]string{"../a.hcl": goodProfiles}}, "Bad policy file name"},
		{"no files", policyConfig{files: map[string]string{}}, "No policy files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &policyDataSource{}
			var resp datasource.ValidateConfigResponse
			d.ValidateConfig(context.Background(), datasource.ValidateConfigRequest{Config: tc.cfg.config(t)}, &resp)
			if !hasError(resp.Diagnostics, tc.want) {
				t.Errorf("diagnostics %v, want an error %q", resp.Diagnostics, tc.want)
			}
		})
	}
	// A module's inputs are unknown during validation: no error then, and
	// Read still refuses both or neither once the values are known.
	var resp datasource.ValidateConfigResponse
	(&policyDataSource{}).ValidateConfig(context.Background(), datasource.ValidateConfigRequest{Config: policyConfig{unknown: true}.config(t)}, &resp)
	if resp.Diagnostics.HasError() {
		t.Errorf("unknown dir and files: %v", resp.Diagnostics)
	}
	for _, c := range []policyConfig{{}, {dir: "x", files: map[string]string{"a.hcl": goodProfiles}}} {
		if _, diags := readPolicy(t, c); !hasError(diags, "Give exactly one of dir and files") {
			t.Errorf("read %+v: %v", c, diags)
		}
	}
	_, diags := readPolicy(t, policyConfig{dir: filepath.Join(t.TempDir(), "missing")})
	if !hasError(diags, "Policy directory not readable") {
		t.Errorf("missing dir: %v", diags)
	}
	_, diags = readPolicy(t, policyConfig{files: map[string]string{"only.test.hcl": passingTest}})
	if !hasError(diags, "No policy files") {
		t.Errorf("only tests: %v", diags)
	}
}

func TestLambdaPackageWritesRelativeZip(t *testing.T) {
	t.Chdir(t.TempDir())
	zip := []byte("PK not really a zip")
	d := &lambdaPackageDataSource{version: "1.2.3", zips: func() map[string][]byte { return map[string][]byte{"arm64": zip} }}
	state, diags := readLambda(t, d, "arm64")
	if diags.HasError() {
		t.Fatal(diags)
	}
	sum := sha256.Sum256(zip)
	if want := base64.StdEncoding.EncodeToString(sum[:]); state["source_code_hash"] != want {
		t.Errorf("source_code_hash %s, want %s", state["source_code_hash"], want)
	}
	name := state["filename"]
	if filepath.IsAbs(name) || !strings.HasPrefix(name, ".terraform/sentinel-tvm/handler-arm64-") || state["version"] != "1.2.3" {
		t.Errorf("state %v", state)
	}
	if b, err := os.ReadFile(name); err != nil || string(b) != string(zip) {
		t.Errorf("the zip at %s: %q, %v", name, b, err)
	}

	_, diags = readLambda(t, d, "amd64")
	if !hasError(diags, "This provider build has no Lambda package") {
		t.Errorf("no amd64 zip: %v", diags)
	}
}

// --- helpers ---------------------------------------------------------------

func schemaOf(t *testing.T, d datasource.DataSource) datasourceSchema {
	t.Helper()
	var resp datasource.SchemaResponse
	d.Schema(context.Background(), datasource.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	if diags := resp.Schema.ValidateImplementation(context.Background()); diags.HasError() {
		t.Fatal(diags)
	}
	return datasourceSchema{resp.Schema.Attributes, resp.Schema}
}

type policyConfig struct {
	dir      string
	files    map[string]string
	runTests *bool
	// unknown makes dir and files unknown, as a module's inputs are while
	// Terraform validates the configuration.
	unknown bool
}

func (c policyConfig) config(t *testing.T) tfsdk.Config {
	s := schemaOf(t, &policyDataSource{}).full
	typ := s.Type().TerraformType(context.Background()).(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	if c.dir != "" {
		vals["dir"] = tftypes.NewValue(tftypes.String, c.dir)
	}
	if c.files != nil {
		m := map[string]tftypes.Value{}
		for k, v := range c.files {
			m[k] = tftypes.NewValue(tftypes.String, v)
		}
		vals["files"] = tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, m)
	}
	if c.runTests != nil {
		vals["run_tests"] = tftypes.NewValue(tftypes.Bool, *c.runTests)
	}
	if c.unknown {
		vals["dir"] = tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
		vals["files"] = tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, tftypes.UnknownValue)
	}
	return tfsdk.Config{Schema: s, Raw: tftypes.NewValue(typ, vals)}
}

type policyState struct {
	Bundle, SHA256               string
	RoleARNs, Profiles, Warnings []string
}

func readPolicy(t *testing.T, c policyConfig) (policyState, diag.Diagnostics) {
	t.Helper()
	ctx := context.Background()
	cfg := c.config(t)
	d := &policyDataSource{}
	resp := datasource.ReadResponse{State: tfsdk.State{Schema: cfg.Schema, Raw: tftypes.NewValue(cfg.Raw.Type(), nil)}}
	d.Read(ctx, datasource.ReadRequest{Config: cfg}, &resp)
	var out policyState
	if resp.Diagnostics.HasError() {
		return out, resp.Diagnostics
	}
	var m policyModel
	if diags := resp.State.Get(ctx, &m); diags.HasError() {
		t.Fatal(diags)
	}
	out.Bundle, out.SHA256 = m.Bundle.ValueString(), m.SHA256.ValueString()
	for _, l := range []struct {
		from interface {
			ElementsAs(context.Context, any, bool) diag.Diagnostics
		}
		to *[]string
	}{{m.RoleARNs, &out.RoleARNs}, {m.Profiles, &out.Profiles}, {m.Warnings, &out.Warnings}} {
		if diags := l.from.ElementsAs(ctx, l.to, false); diags.HasError() {
			t.Fatal(diags)
		}
	}
	return out, resp.Diagnostics
}

func readLambda(t *testing.T, d *lambdaPackageDataSource, arch string) (map[string]string, diag.Diagnostics) {
	t.Helper()
	ctx := context.Background()
	s := schemaOf(t, d).full
	typ := s.Type().TerraformType(ctx).(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	vals["architecture"] = tftypes.NewValue(tftypes.String, arch)
	cfg := tfsdk.Config{Schema: s, Raw: tftypes.NewValue(typ, vals)}
	resp := datasource.ReadResponse{State: tfsdk.State{Schema: s, Raw: tftypes.NewValue(typ, nil)}}
	d.Read(ctx, datasource.ReadRequest{Config: cfg}, &resp)
	out := map[string]string{}
	if resp.Diagnostics.HasError() {
		return out, resp.Diagnostics
	}
	var m lambdaPackageModel
	if diags := resp.State.Get(ctx, &m); diags.HasError() {
		t.Fatal(diags)
	}
	out["filename"], out["source_code_hash"], out["version"] = m.Filename.ValueString(), m.SourceCodeHash.ValueString(), m.Version.ValueString()
	return out, resp.Diagnostics
}

func hasError(diags diag.Diagnostics, summary string) bool {
	for _, d := range diags.Errors() {
		if d.Summary() == summary {
			return true
		}
	}
	return false
}

func TestDiagnosticNamesNestedBlockAndWholePolicy(t *testing.T) {
	rules := `rule "weekdays" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/engineer"]
  schedule {
    days = ["funday"]
  }
}
`
	_, diags := readPolicy(t, policyConfig{files: map[string]string{"profiles.hcl": goodProfiles, "rules.hcl": rules}})
	errs := diags.Errors()
	if len(errs) == 0 || !strings.HasPrefix(errs[0].Summary(), "rules.hcl:6:") || !strings.Contains(errs[0].Detail(), `In block rule "weekdays" > schedule.`) {
		t.Errorf("errors %v, want one at rules.hcl:6 in rule \"weekdays\" > schedule", errs)
	}

	// No profile at all: a problem of the policy as a whole, or at least
	// one whose block is named.
	_, diags = readPolicy(t, policyConfig{files: map[string]string{"rules.hcl": goodRules}})
	for _, d := range diags.Errors() {
		if !strings.Contains(d.Detail(), "In block ") && !strings.Contains(d.Detail(), "In the policy as a whole.") && !strings.Contains(d.Detail(), "In the top level of ") {
			t.Errorf("error %q / %q names no block", d.Summary(), d.Detail())
		}
	}
	if !diags.HasError() {
		t.Error("a rule naming a profile that does not exist compiled")
	}
}
