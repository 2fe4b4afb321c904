package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderEveryDocument renders the repository's documents and checks
// that each one the module and the handler write is there, evaluated
// (no placeholder left unresolved), with the values the switches imply.
func TestRenderEveryDocument(t *testing.T) {
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
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
