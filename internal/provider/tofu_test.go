package provider

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// The OpenTofu tests run `tofu plan` on configurations that use only this
// provider, the one `make provider` built (SENTINEL_TVM_PROVIDER), installed
// through a CLI configuration's dev_overrides (TestTofuInit... through
// `tofu init` from a mirror in the registry's layout), with a PATH that has
// no go on it: planning needs no Go toolchain. `make test` sets both
// variables.

// tofuEnv is what each OpenTofu test needs.
type tofuEnv struct {
	tofu string
	env  []string
}

func newTofuEnv(t *testing.T) *tofuEnv {
	t.Helper()
	tofu, prov := os.Getenv("SENTINEL_TVM_TOFU"), os.Getenv("SENTINEL_TVM_PROVIDER")
	if tofu == "" || prov == "" {
		t.Skip("SENTINEL_TVM_TOFU and SENTINEL_TVM_PROVIDER are not set (make test sets them)")
	}
	prov, err := filepath.Abs(prov)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cliConfig := filepath.Join(tmp, "tofurc")
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"sentinel-tvm/sentinel\" = %q\n  }\n  direct {}\n}\n", filepath.Dir(prov))
	if err := os.WriteFile(cliConfig, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	// PATH without any directory that holds go.
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "go")); err == nil {
			continue
		}
		dirs = append(dirs, d)
	}
	pathNoGo := strings.Join(dirs, string(os.PathListSeparator))
	check := exec.Command("sh", "-c", "command -v go")
	check.Env = []string{"PATH=" + pathNoGo}
	if out, err := check.Output(); err == nil {
		t.Fatalf("go is still on the PATH the tests use: %s", out)
	}
	return &tofuEnv{tofu: tofu, env: []string{
		"PATH=" + pathNoGo,
		"HOME=" + tmp,
		"TF_CLI_CONFIG_FILE=" + cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_PLUGIN_CACHE_DIR=",
		"CHECKPOINT_DISABLE=1",
	}}
}

// plan writes files into dir, runs plan there and returns plan's
// combined output and whether it succeeded.
func (e *tofuEnv) plan(t *testing.T, dir string, files map[string]string) (string, bool) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// No init: with dev_overrides OpenTofu uses the provider as it is,
	// and init would look the address up in the registry regardless.
	return e.run(dir, "plan", "-input=false", "-no-color", "-lock=false")
}

func (e *tofuEnv) run(dir string, args ...string) (string, bool) {
	cmd := exec.Command(e.tofu, args...)
	cmd.Dir = dir
	cmd.Env = e.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err == nil
}

const tofuRequired = `terraform {
  required_providers {
    sentinel = {
      source = "sentinel-tvm/sentinel"
    }
  }
}
`

func TestTofuPlanGoodPolicy(t *testing.T) {
	e := newTofuEnv(t)
	dir := t.TempDir()
	out, ok := e.plan(t, dir, map[string]string{
		"main.tf": tofuRequired + `
data "sentinel_policy" "p" {
  dir = "${path.module}/policy"
}

output "sha256" {
  value = data.sentinel_policy.p.sha256
}

output "role_arns" {
  value = data.sentinel_policy.p.role_arns
}
`,
		"policy/profiles.hcl": goodProfiles,
		"policy/rules.hcl":    goodRules,
		"policy/dev.test.hcl": passingTest,
	})
	if !ok {
		t.Fatalf("plan failed:\n%s", out)
	}
	compiled, diags := policy.Compile([]policy.Source{{Name: "profiles.hcl", Data: []byte(goodProfiles)}, {Name: "rules.hcl", Data: []byte(goodRules)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if want := fmt.Sprintf("sha256    = %q", compiled.SHA256); !strings.Contains(out, want) {
		t.Errorf("plan does not output %s:\n%s", want, out)
	}
	if !strings.Contains(out, `"arn:aws:iam::111122223333:role/dev-admin"`) {
		t.Errorf("plan does not output the role ARN:\n%s", out)
	}
}

// TestTofuPlanThroughAModule plans the data source inside a module whose
// inputs (one of dir and files null) are unknown while Terraform validates
// the configuration, as in the Sentinel TVM module.
func TestTofuPlanThroughAModule(t *testing.T) {
	e := newTofuEnv(t)
	dir := t.TempDir()
	files := map[string]string{
		"main.tf": tofuRequired + `
module "tvm" {
  source       = "./tvm"
  policies_dir = "${path.root}/policy"
}

output "sha256" {
  value = module.tvm.sha256
}
`,
		"tvm/main.tf": tofuRequired + `
variable "policies_dir" {
  type    = string
  default = null
}

variable "policy_files" {
  type    = map(string)
  default = {}
}

data "sentinel_policy" "this" {
  dir   = var.policies_dir
  files = length(var.policy_files) > 0 ? var.policy_files : null
}

output "sha256" {
  value = data.sentinel_policy.this.sha256
}
`,
		"policy/profiles.hcl": goodProfiles,
		"policy/rules.hcl":    goodRules,
	}
	// Only the local module needs installing: tofu get installs modules, no
	// providers.
	e.plan(t, dir, files)
	if out, ok := e.run(dir, "get", "-no-color"); !ok {
		t.Fatalf("tofu get:\n%s", out)
	}
	out, ok := e.plan(t, dir, files)
	if !ok || !strings.Contains(out, "sha256 = ") {
		t.Fatalf("plan through a module failed:\n%s", out)
	}
}

func TestTofuPlanBrokenPolicyFails(t *testing.T) {
	e := newTofuEnv(t)
	out, ok := e.plan(t, t.TempDir(), map[string]string{
		"main.tf": tofuRequired + `
data "sentinel_policy" "p" {
  dir = "policy"
}
`,
		"policy/profiles.hcl": brokenProfiles,
		"policy/rules.hcl":    goodRules,
	})
	if ok {
		t.Fatalf("plan succeeded on a broken policy:\n%s", out)
	}
	for _, want := range []string{"Error: policy/profiles.hcl:2:14: ", `In block profile "dev".`} {
		if !containsText(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

func TestTofuPlanShowsWarning(t *testing.T) {
	e := newTofuEnv(t)
	out, ok := e.plan(t, t.TempDir(), map[string]string{
		"main.tf": tofuRequired + `
data "sentinel_policy" "p" {
  dir = "policy"
}

output "warnings" {
  value = data.sentinel_policy.p.warnings
}
`,
		"policy/profiles.hcl": goodProfiles,
		"policy/rules.hcl":    warnRules,
	})
	if !ok {
		t.Fatalf("a warning failed the plan:\n%s", out)
	}
	for _, want := range []string{"Warning: policy/rules.hcl:10:18: Ignored max_duration", `In block rule "no-contractors".`, `policy/rules.hcl:10:18: warning: Ignored max_duration`} {
		if !containsText(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

func TestTofuPlanFailedTestFails(t *testing.T) {
	e := newTofuEnv(t)
	out, ok := e.plan(t, t.TempDir(), map[string]string{
		"main.tf": tofuRequired + `
data "sentinel_policy" "p" {
  dir = "policy"
}
`,
		"policy/profiles.hcl": goodProfiles,
		"policy/rules.hcl":    goodRules,
		"policy/dev.test.hcl": failingTest,
	})
	if ok {
		t.Fatalf("plan succeeded with a failing policy test:\n%s", out)
	}
	for _, want := range []string{`Error: Policy test "engineer is refused dev" failed`, `expected deny, got allow by "engineers"`} {
		if !containsText(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

func TestTofuPlanFilesFromTemplate(t *testing.T) {
	e := newTofuEnv(t)
	out, ok := e.plan(t, t.TempDir(), map[string]string{
		"main.tf": tofuRequired + `
locals {
  account_id = "444455556666"
}

data "sentinel_policy" "p" {
  files = {
    "profiles.hcl" = templatefile("${path.module}/profiles.hcl.tftpl", { account_id = local.account_id })
    "rules.hcl"    = file("${path.module}/rules.hcl")
  }
}

output "role_arns" {
  value = data.sentinel_policy.p.role_arns
}
`,
		"profiles.hcl.tftpl": strings.ReplaceAll(goodProfiles, "111122223333", "${account_id}"),
		"rules.hcl":          goodRules,
	})
	if !ok {
		t.Fatalf("plan failed:\n%s", out)
	}
	if !strings.Contains(out, `"arn:aws:iam::444455556666:role/dev-admin"`) {
		t.Errorf("plan does not output the rendered role ARN:\n%s", out)
	}
}

// TestTofuLambdaPackageSameEverywhere plans the same configuration in two
// directories (two checkouts) and wants the same relative filename and
// source_code_hash, and the file there holding the zip with that hash.
func TestTofuLambdaPackageSameEverywhere(t *testing.T) {
	e := newTofuEnv(t)
	conf := map[string]string{"main.tf": tofuRequired + `
data "sentinel_lambda_package" "handler" {
  architecture = "arm64"
}

output "filename" {
  value = data.sentinel_lambda_package.handler.filename
}

output "source_code_hash" {
  value = data.sentinel_lambda_package.handler.source_code_hash
}
`}
	re := regexp.MustCompile(`(?m)^\s+\+ (filename|source_code_hash)\s+= "([^"]+)"$`)
	var seen []map[string]string
	for _, dir := range []string{filepath.Join(t.TempDir(), "checkout-a"), filepath.Join(t.TempDir(), "elsewhere", "checkout-b")} {
		out, ok := e.plan(t, dir, conf)
		if !ok {
			t.Fatalf("plan failed in %s:\n%s", dir, out)
		}
		got := map[string]string{}
		for _, m := range re.FindAllStringSubmatch(out, -1) {
			got[m[1]] = m[2]
		}
		if got["filename"] == "" || got["source_code_hash"] == "" || filepath.IsAbs(got["filename"]) {
			t.Fatalf("plan outputs %v:\n%s", got, out)
		}
		zip, err := os.ReadFile(filepath.Join(dir, got["filename"]))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(zip)
		if h := base64.StdEncoding.EncodeToString(sum[:]); h != got["source_code_hash"] {
			t.Errorf("the zip's sha256 is %s, the plan says %s", h, got["source_code_hash"])
		}
		if !bytes.HasPrefix(zip, []byte("PK")) {
			t.Errorf("%s is not a zip", got["filename"])
		}
		seen = append(seen, got)
	}
	if seen[0]["filename"] != seen[1]["filename"] || seen[0]["source_code_hash"] != seen[1]["source_code_hash"] {
		t.Errorf("two checkouts plan differently: %v and %v", seen[0], seen[1])
	}
}

// containsText reports whether out holds want, whatever the line wrapping
// of OpenTofu's diagnostics.
func containsText(out, want string) bool {
	return strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " "))
}

// TestTofuInitInstallsRegistryLayout installs the provider the way a
// registry does, through `tofu init` from a filesystem mirror in the
// registry's packed layout (terraform-provider-sentinel_VERSION_OS_ARCH.zip
// holding terraform-provider-sentinel_vVERSION), and plans with it. With
// SENTINEL_TVM_DIST=dist/VERSION it takes the zip `make dist` built;
// otherwise it packs SENTINEL_TVM_PROVIDER the same way.
func TestTofuInitInstallsRegistryLayout(t *testing.T) {
	e := newTofuEnv(t)
	mirror := filepath.Join(t.TempDir(), "mirror")
	pkgDir := filepath.Join(mirror, "registry.opentofu.org", "sentinel-tvm", "sentinel")
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	platform := runtime.GOOS + "_" + runtime.GOARCH
	version := "0.0.0-test"
	if dist := os.Getenv("SENTINEL_TVM_DIST"); dist != "" {
		zips, _ := filepath.Glob(filepath.Join(dist, "provider", "terraform-provider-sentinel_*_"+platform+".zip"))
		if len(zips) != 1 {
			t.Fatalf("%s/provider has %d zips for %s", dist, len(zips), platform)
		}
		name := filepath.Base(zips[0])
		version = strings.TrimSuffix(strings.TrimPrefix(name, "terraform-provider-sentinel_"), "_"+platform+".zip")
		b, err := os.ReadFile(zips[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkgDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		bin, err := os.ReadFile(os.Getenv("SENTINEL_TVM_PROVIDER"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: "terraform-provider-sentinel_v" + version, Method: zip.Deflate}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err == nil {
			_, err = w.Write(bin)
		}
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("terraform-provider-sentinel_%s_%s.zip", version, platform)
		if err := os.WriteFile(filepath.Join(pkgDir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rc := filepath.Join(t.TempDir(), "mirror.tfrc")
	conf := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"sentinel-tvm/sentinel\"]\n  }\n}\n", mirror)
	if err := os.WriteFile(rc, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := &tofuEnv{tofu: e.tofu, env: append(slices.DeleteFunc(slices.Clone(e.env), func(s string) bool {
		return strings.HasPrefix(s, "TF_CLI_CONFIG_FILE=")
	}), "TF_CLI_CONFIG_FILE="+rc)}

	dir := t.TempDir()
	main := strings.Replace(tofuRequired, `source = "sentinel-tvm/sentinel"`, fmt.Sprintf("source  = \"sentinel-tvm/sentinel\"\n      version = %q", version), 1) + `
data "sentinel_policy" "p" {
  files = { "profiles.hcl" = "profile \"dev\" {\n  role_arn = \"arn:aws:iam::111122223333:role/dev\"\n}\n" }
}

output "profiles" {
  value = data.sentinel_policy.p.profiles
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	out, ok := env.run(dir, "init", "-input=false", "-no-color")
	if !ok || !containsText(out, "Installing sentinel-tvm/sentinel v"+version) {
		t.Fatalf("tofu init did not install sentinel-tvm/sentinel %s:\n%s", version, out)
	}
	lock, err := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
	if err != nil || !strings.Contains(string(lock), `version     = "`+version+`"`) || !strings.Contains(string(lock), `"h1:`) {
		t.Errorf("the lock file does not pin %s with its hash (%v):\n%s\ninit said:\n%s", version, err, lock, out)
	}
	out, ok = env.run(dir, "plan", "-input=false", "-no-color")
	if !ok || !containsText(out, `+ profiles = [ + "dev", ]`) {
		t.Errorf("plan with the installed provider:\n%s", out)
	}
}
