package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestMain runs the tests from the repository root, as make runs the tool.
func TestMain(m *testing.M) {
	if err := os.Chdir("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestRenderEveryDocument renders the repository's documents and checks
// that each one the module and the handler write is there, evaluated
// (no placeholder left unresolved), with the values the switches imply.
func TestRenderEveryDocument(t *testing.T) {
	out := t.TempDir()
	if err := run(out); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Statement []json.RawMessage }
		if err := json.Unmarshal(b, &doc); err != nil || len(doc.Statement) == 0 {
			t.Fatalf("%s: %v (%d statements)", name, err, len(doc.Statement))
		}
		return string(b)
	}
	for _, name := range []string{
		"module-api", "module-revoker", "module-kms", "module-api_resource", "module-lambda_assume",
		"module-api_gateway_assume", "module-alarms_topic", "protected-role-trust", "handler-revocations",
	} {
		if s := read(name); strings.Contains(s, "${") {
			t.Errorf("%s holds an unevaluated template: %s", name, s)
		}
	}
	if s := read("module-api_resource"); !strings.Contains(s, `"aws:SourceVpce"`) || !strings.Contains(s, "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5/*") {
		t.Errorf("the API resource policy lacks the PRIVATE endpoint's deny or the execution ARN:\n%s", s)
	}
	if s := read("module-kms"); strings.Contains(s, "kms:Create*") || strings.Contains(s, "session") {
		t.Errorf("the key policy grants kms:Create* or names a session:\n%s", s)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 9 {
		t.Errorf("%d documents rendered, want at least 9", len(entries))
	}
}

// TestInlinePolicySize: the vending role's inline policy grows with the
// policy's roles past IAM's 10,240 characters at about 100 roles (the
// plan-time precondition reports it), and vended_role_grants_by_path keeps
// it to one grant per path.
func TestInlinePolicySize(t *testing.T) {
	saved := localOverrides["policy_role_arns"]
	defer func() { localOverrides["policy_role_arns"] = saved }()
	var arns []cty.Value
	for i := range 150 {
		arns = append(arns, cty.StringVal(fmt.Sprintf("arn:aws:iam::%s:role/sentinel/team-%03d-readonly", account, i)))
	}
	localOverrides["policy_role_arns"] = cty.ListVal(arns)

	size := func(byPath bool) (int, string) {
		t.Helper()
		over := rootOverrides()
		over["vended_role_grants_by_path"] = cty.BoolVal(byPath)
		docs, err := renderModule(".", over)
		if err != nil {
			t.Fatal(err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, docs["api"]); err != nil {
			t.Fatal(err)
		}
		return c.Len(), c.String()
	}
	if n, _ := size(false); n <= 10240 {
		t.Errorf("150 role ARNs give a %d-character policy; the test expects it over IAM's limit", n)
	}
	n, doc := size(true)
	if n > 10240 {
		t.Errorf("by path, the policy is still %d characters", n)
	}
	if !strings.Contains(doc, `"arn:aws:iam::111122223333:role/sentinel/*"`) || strings.Contains(doc, "team-000") {
		t.Errorf("by path, the grant is not the path's wildcard:\n%s", doc)
	}
}
