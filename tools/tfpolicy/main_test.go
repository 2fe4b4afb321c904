package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cliCmd runs the repository's CLI as the module does without a prebuilt one.
var cliCmd = []string{"go", "run", "../../cmd/sentinel-tvm"}

// The example policy of the repository, given as contents, compiles to the
// same bundle as the directory does.
func TestCompilesFilesLikeADirectory(t *testing.T) {
	files := map[string]string{}
	paths, _ := filepath.Glob("../../policies/*.hcl")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = string(b)
	}
	if len(files) == 0 {
		t.Fatal("no policy files in policies/")
	}
	fj, _ := json.Marshal(files)
	in, _ := json.Marshal(map[string]string{"files": string(fj), "skip_tests": "false"})
	var out, errOut bytes.Buffer
	if code := run(bytes.NewReader(in), &out, &errOut, cliCmd); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bundle", "sha256", "role_arns", "profiles"} {
		if got[k] == "" {
			t.Errorf("answer lacks %q: %v", k, got)
		}
	}
}

func TestDiagnosticsNamePolicyFiles(t *testing.T) {
	fj, _ := json.Marshal(map[string]string{"broken.hcl": "profile \"x\" {\n  nope = 1\n}\n"})
	in, _ := json.Marshal(map[string]string{"files": string(fj)})
	var out, errOut bytes.Buffer
	if code := run(bytes.NewReader(in), &out, &errOut, cliCmd); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut.String())
	}
	want := `policy_files/broken.hcl:2:3: Unsupported argument: An argument named "nope" is not expected here.`
	if !strings.Contains(errOut.String(), want) || strings.Contains(errOut.String(), os.TempDir()) {
		t.Errorf("stderr %q, want %q and no temporary path", errOut.String(), want)
	}
}

func TestRejectsBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no files", `{"skip_tests": "false"}`, `"files" must be a JSON object`},
		{"path in name", `{"files": "{\"../x.hcl\": \"\"}"}`, `policy file name "../x.hcl" is not a plain name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errOut bytes.Buffer
			if code := run(strings.NewReader(tc.in), &bytes.Buffer{}, &errOut, cliCmd); code != 2 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tc.want)
			}
		})
	}
}
