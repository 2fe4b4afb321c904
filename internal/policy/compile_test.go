package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"sort"

	"reflect"

	"strconv"
	"strings"
	"testing"
)

// src drops the newline that follows the opening backquote, so that line 1
// of a test source is the line below it.
func src(s string) string { return strings.TrimPrefix(s, "\n") }

// profilesHCL is a valid profiles file the cases below build on.
var profilesHCL = src(`
profile "app" {
  role_arn = "arn:aws:iam::111122223333:role/app"
}

profile "db-admin" {
  role_arn = "arn:aws:iam::111122223333:role/db-admin"
}
`)

// withProfiles adds profiles.hcl to files.
func withProfiles(files map[string]string) map[string]string {
	out := map[string]string{"profiles.hcl": profilesHCL}
	for k, v := range files {
		out[k] = v
	}
	return out
}

// compileFiles compiles files (in map order, which Compile must not depend
// on) and returns the result and every diagnostic as FormatDiagnostic
// renders it.
func compileFiles(t *testing.T, files map[string]string) (*Compiled, []string) {
	t.Helper()
	var srcs []Source
	for name, data := range files {
		srcs = append(srcs, Source{Name: name, Data: []byte(data)})
	}
	return compileSources(t, srcs)
}

func quoteLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\t" + strconv.Quote(l) + ",\n")
	}
	return b.String()
}

func checkDiags(t *testing.T, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", quoteLines(got), quoteLines(want))
	}
}

func TestCompileSchedules(t *testing.T) {
	files := withProfiles(map[string]string{"main.hcl": src(`
rule "evening" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "18:00-24:00"
  }
}

rule "night" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    days     = ["sun", "mon", "mon"]
    hours    = "22:00-06:00"
    timezone = "Europe/Berlin"
  }
}

rule "until-midnight" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "20:00-00:00"
  }
}
`)})
	c, got := compileFiles(t, files)
	checkDiags(t, got, nil)
	if c == nil {
		t.FailNow()
	}
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	for _, tc := range []struct {
		rule string
		want BundleSchedule
	}{
		{"evening", BundleSchedule{Days: all, Start: 18 * 60, End: 1440, Timezone: "UTC"}},
		{"night", BundleSchedule{Days: []string{"mon", "sun"}, Start: 22 * 60, End: 6 * 60, Timezone: "Europe/Berlin"}},
		{"until-midnight", BundleSchedule{Days: all, Start: 20 * 60, End: 1440, Timezone: "UTC"}},
	} {
		r, ok := c.Policy.Rule(tc.rule)
		if !ok || r.Schedule == nil {
			t.Errorf("rule %q: no schedule", tc.rule)
			continue
		}
		if !reflect.DeepEqual(*r.Schedule, tc.want) {
			t.Errorf("rule %q: schedule %+v, want %+v", tc.rule, *r.Schedule, tc.want)
		}
	}
}

func TestCompileSettingsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings string
		want     BundleSettings
		diags    []string
	}{
		{"none", "", BundleSettings{DefaultDuration: 900, MaxDuration: 3600, Operators: []string{}, TrustedSessionRoles: []string{}}, nil},
		{"empty block", "settings {\n}\n", BundleSettings{DefaultDuration: 900, MaxDuration: 3600, Operators: []string{}, TrustedSessionRoles: []string{}}, nil},
		{
			"max below the default default", "settings {\n  max_duration = \"10m\"\n}\n",
			BundleSettings{DefaultDuration: 600, MaxDuration: 600, Operators: []string{}, TrustedSessionRoles: []string{}},
			[]string{"settings.hcl:2:18: Duration below the STS minimum: \"max_duration\" is 10m, but STS issues sessions of 15m at least: a session under this block could never be vended. Use 15m or more."},
		},
		{"default only", "settings {\n  default_duration = \"1h\"\n}\n", BundleSettings{DefaultDuration: 3600, MaxDuration: 3600, Operators: []string{}, TrustedSessionRoles: []string{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := withProfiles(nil)
			if tc.settings != "" {
				files["settings.hcl"] = tc.settings
			}
			c, got := compileFiles(t, files)
			checkDiags(t, got, tc.diags)
			if c == nil {
				return
			}
			if s := c.Policy.Settings(); !reflect.DeepEqual(s, tc.want) {
				t.Errorf("settings %+v, want %+v", s, tc.want)
			}
		})
	}
}

// examplePolicy reads the repository's example policy.
func examplePolicy(t *testing.T) []Source {
	t.Helper()
	srcs, err := ReadDir(filepath.Join("..", "..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) == 0 {
		t.Fatal("no example policy files")
	}
	return srcs
}

func TestCompileExamplePolicy(t *testing.T) {
	srcs := examplePolicy(t)
	c, diags := Compile(srcs)
	for _, d := range diags {
		t.Errorf("%s", FormatDiagnostic(d))
	}
	if c == nil {
		t.FailNow()
	}
	blocks := 0
	for _, s := range srcs {
		if IsTestFile(s.Name) {
			blocks += bytes.Count(s.Data, []byte("\ntest \"")) + bytes.Count(s.Data[:min(len(s.Data), 6)], []byte("test \""))
		}
	}
	if len(c.Tests) != blocks || blocks == 0 {
		t.Errorf("%d test cases decoded, the files hold %d", len(c.Tests), blocks)
	}
	for _, r := range c.Policy.RunTests(c.Tests) {
		if r.Failure != "" {
			t.Errorf("%s", r)
		}
	}
	if c.SHA256 != SHA256Hex(c.Bundle) || c.SHA256 != c.Policy.SHA256() {
		t.Errorf("SHA256 %s, Policy.SHA256 %s, sha256 of the bundle %s", c.SHA256, c.Policy.SHA256(), SHA256Hex(c.Bundle))
	}
	wantProfiles := []string{"analytics-readonly", "ci-deploy", "prod-admin", "prod-readonly"}
	if !reflect.DeepEqual(c.Profiles, wantProfiles) {
		t.Errorf("Profiles %q, want %q", c.Profiles, wantProfiles)
	}
	wantRoles := []string{
		"arn:aws:iam::111122223333:role/sentinel/analytics-readonly",
		"arn:aws:iam::111122223333:role/sentinel/ci-deploy",
		"arn:aws:iam::444455556666:role/sentinel/prod-admin",
		"arn:aws:iam::444455556666:role/sentinel/prod-readonly",
	}
	if !reflect.DeepEqual(c.RoleARNs, wantRoles) {
		t.Errorf("RoleARNs %q, want %q", c.RoleARNs, wantRoles)
	}
}

func TestCompileDeterministic(t *testing.T) {
	srcs := examplePolicy(t)
	first, diags := Compile(srcs)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// The same contents under other names, in reverse order, in another
	// directory.
	renamed := make([]Source, len(srcs))
	for i, s := range srcs {
		base := filepath.Base(s.Name)
		name := "elsewhere/zz-" + strconv.Itoa(i) + "-" + strings.TrimSuffix(base, ".hcl") + "-renamed.hcl"
		if IsTestFile(base) {
			name = "elsewhere/zz-" + strconv.Itoa(i) + TestSuffix
		}
		renamed[len(srcs)-1-i] = Source{Name: name, Data: s.Data}
	}
	// And every policy file merged into one, in reverse order.
	var merged []byte
	for i := len(srcs) - 1; i >= 0; i-- {
		if !IsTestFile(srcs[i].Name) {
			merged = append(append(merged, srcs[i].Data...), '\n')
		}
	}
	for _, variant := range [][]Source{renamed, {{Name: "one.hcl", Data: merged}}} {
		c, diags := Compile(variant)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if !bytes.Equal(c.Bundle, first.Bundle) {
			t.Errorf("bundles differ:\n%s\n%s", first.Bundle, c.Bundle)
		}
		if c.SHA256 != first.SHA256 {
			t.Errorf("sha256 %s, want %s", c.SHA256, first.SHA256)
		}
		if !reflect.DeepEqual(c.RoleARNs, first.RoleARNs) || !reflect.DeepEqual(c.Profiles, first.Profiles) {
			t.Errorf("role ARNs or profiles differ")
		}
		for _, s := range variant {
			if bytes.Contains(c.Bundle, []byte(filepath.Base(s.Name))) {
				t.Errorf("the bundle contains the file name %q", s.Name)
			}
		}
	}
	for _, s := range srcs {
		for _, n := range []string{filepath.Base(s.Name), "policies/", ".hcl"} {
			if bytes.Contains(first.Bundle, []byte(n)) {
				t.Errorf("the bundle contains %q", n)
			}
		}
	}
	if sum := sha256.Sum256(first.Bundle); first.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 %s is not the sha256 of the bundle", first.SHA256)
	}
	var b Bundle
	if err := json.Unmarshal(first.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	for _, names := range [][]string{names(b.Profiles, func(p BundleProfile) string { return p.Name }),
		names(b.Rules, func(r BundleRule) string { return r.Name }),
		names(b.BreakGlass, func(g BundleBreakGlass) string { return g.Name })} {
		if !sort.StringsAreSorted(names) {
			t.Errorf("blocks not sorted by name: %q", names)
		}
	}
}

func names[T any](l []T, name func(T) string) []string {
	var out []string
	for _, v := range l {
		out = append(out, name(v))
	}
	return out
}

func TestCompileRoleARNsAndProfiles(t *testing.T) {
	c, got := compileFiles(t, map[string]string{"main.hcl": src(`
profile "zeta" {
  role_arn = "arn:aws:iam::222233334444:role/shared"
}

profile "alpha" {
  role_arn = "arn:aws:iam::111122223333:role/b"
}

profile "mid" {
  role_arn = "arn:aws:iam::222233334444:role/shared"
}

profile "Beta" {
  role_arn = "arn:aws:iam::111122223333:role/a"
}
`)})
	checkDiags(t, got, nil)
	if c == nil {
		t.FailNow()
	}
	wantRoles := []string{
		"arn:aws:iam::111122223333:role/a",
		"arn:aws:iam::111122223333:role/b",
		"arn:aws:iam::222233334444:role/shared",
	}
	if !reflect.DeepEqual(c.RoleARNs, wantRoles) {
		t.Errorf("RoleARNs %q, want %q", c.RoleARNs, wantRoles)
	}
	if want := []string{"Beta", "alpha", "mid", "zeta"}; !reflect.DeepEqual(c.Profiles, want) {
		t.Errorf("Profiles %q, want %q", c.Profiles, want)
	}
}

func TestLoadRefusesTamperedBundles(t *testing.T) {
	c, diags := Compile(examplePolicy(t))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := Load(c.Bundle); err != nil {
		t.Fatalf("the compiled bundle does not load: %v", err)
	}
	// edit changes the decoded bundle and encodes it again.
	edit := func(f func(b *Bundle)) []byte {
		var b Bundle
		if err := json.Unmarshal(c.Bundle, &b); err != nil {
			t.Fatal(err)
		}
		f(&b)
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	rule := func(b *Bundle, name string) *BundleRule {
		for i := range b.Rules {
			if b.Rules[i].Name == name {
				return &b.Rules[i]
			}
		}
		t.Fatalf("no rule %q", name)
		return nil
	}
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   string
	}{
		{name: "unknown field", bundle: bytes.Replace(c.Bundle, []byte(`"format":`), []byte(`"extra":1,"format":`), 1),
			want: `policy bundle: json: unknown field "extra"`},
		{name: "unknown nested field", bundle: bytes.Replace(c.Bundle, []byte(`"effect":`), []byte(`"priority":1,"effect":`), 1),
			want: `policy bundle: json: unknown field "priority"`},
		{name: "wrong format", bundle: edit(func(b *Bundle) { b.Format = "sentinel-tvm/policy-bundle/v2" }),
			want: `policy bundle: format "sentinel-tvm/policy-bundle/v2", want "sentinel-tvm/policy-bundle/v1"`},
		{name: "no format", bundle: []byte(`{}`),
			want: `policy bundle: format "", want "sentinel-tvm/policy-bundle/v1"`},
		{name: "invalid condition", bundle: edit(func(b *Bundle) { rule(b, "ci-deploys-from-runners").Condition = "principal.name ==" }),
			want: `policy bundle: rule "ci-deploys-from-runners": condition: invalid expression in bundle: `},
		{name: "condition with another variable", bundle: edit(func(b *Bundle) { rule(b, "ci-deploys-from-runners").Condition = "var.x" }),
			want: `policy bundle: rule "ci-deploys-from-runners": condition: `},
		{name: "invalid session policy", bundle: edit(func(b *Bundle) { b.Profiles[0].SessionPolicy = "{" }),
			want: `policy bundle: profile "analytics-readonly": session_policy: invalid expression in bundle: `},
		{name: "unknown effect", bundle: edit(func(b *Bundle) { rule(b, "no-nightly-deploys").Effect = "permit" }),
			want: `policy bundle: rule "no-nightly-deploys": unknown effect "permit"`},
		{name: "bad timezone", bundle: edit(func(b *Bundle) { rule(b, "no-nightly-deploys").Schedule.Timezone = "Mars/Base" }),
			want: `policy bundle: rule "no-nightly-deploys": schedule: `},
		{name: "max duration above 1h", bundle: edit(func(b *Bundle) { b.Settings.MaxDuration = 7200 }),
			want: `policy bundle: settings: max_duration_seconds 7200 out of range`},
		{name: "trailing data", bundle: append(append([]byte(nil), c.Bundle...), "x"...),
			want: `policy bundle: trailing data after the JSON document`},
		{name: "second document", bundle: append(append([]byte(nil), c.Bundle...), c.Bundle...),
			want: `policy bundle: trailing data after the JSON document`},
		{name: "trailing brace", bundle: append(append([]byte(nil), c.Bundle...), '}'),
			want: `policy bundle: trailing data after the JSON document`},
		{name: "truncated", bundle: c.Bundle[:len(c.Bundle)/2], want: `policy bundle: unexpected EOF`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(tc.bundle)
			if err == nil {
				t.Fatalf("Load accepted the bundle (sha256 %s)", p.SHA256())
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	messy := src(`
# comment stays
rule "r" {
effect = "allow"
    profiles = ["app"]
  principals=["*"]
  schedule {
  days = ["mon"]
      hours    =     "08:00-18:00"
  }
}`)
	want := src(`
# comment stays
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    days  = ["mon"]
    hours = "08:00-18:00"
  }
}
`)
	out, diags := Format(Source{Name: "messy.hcl", Data: []byte(messy)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if string(out) != want {
		t.Errorf("Format:\n%s\nwant:\n%s", out, want)
	}
	again, _ := Format(Source{Name: "messy.hcl", Data: out})
	if !bytes.Equal(again, out) {
		t.Errorf("Format is not idempotent:\n%s\nthen:\n%s", out, again)
	}
	for _, s := range examplePolicy(t) {
		out, diags := Format(s)
		if diags.HasErrors() {
			t.Errorf("%s: %s", s.Name, diags)
		}
		if !bytes.Equal(out, s.Data) {
			t.Errorf("%s is not canonically formatted:\n%s", s.Name, out)
		}
	}
	var got []string
	_, diags = Format(Source{Name: "broken.hcl", Data: []byte("rule \"r\" {\n")})
	for _, d := range diags {
		got = append(got, FormatDiagnostic(d))
	}
	checkDiags(t, got, []string{
		"broken.hcl:1:10: Unclosed configuration block: There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
	})
}
