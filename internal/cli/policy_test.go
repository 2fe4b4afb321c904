package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The fixtures in testdata/ are copied into a fresh directory per test, so
// fmt can rewrite them and diagnostics name a path the test controls. In
// every output that path is replaced by "DIR".
//
//	ok/            a valid policy whose two test cases pass
//	failing/       the same policy, three of four test cases fail (two files)
//	broken-tests/  the same policy, a test file with a syntax error
//	errors/        errors in three files, one of them found only across files
//	warning/       a valid policy with a shadowed rule (a warning)
//	syntax/        a policy file with a syntax error
//	unformatted/   valid, but two of its three files are not in canonical format
//
// The example policy of the repository (policies/) is used as it is.
const examplePolicies = "../../policies"

type result struct {
	code           int
	stdout, stderr string
}

// run drives Main as a user would and checks what must hold for every
// invocation: no Go runtime noise on either stream.
func run(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &stdout, &stderr)
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	noRuntimeNoise(t, r.stdout, r.stderr)
	if dir != "" {
		r.stdout = strings.ReplaceAll(r.stdout, dir, "DIR")
		r.stderr = strings.ReplaceAll(r.stderr, dir, "DIR")
	}
	return r
}

func noRuntimeNoise(t *testing.T, outputs ...string) {
	t.Helper()
	for _, s := range outputs {
		if strings.Contains(s, "goroutine") || strings.Contains(s, "panic") {
			t.Errorf("output looks like a crash:\n%s", s)
		}
	}
}

// fixture copies testdata/NAME into a temporary directory and returns it.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", name, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dirFor resolves a test case's directory: a fixture name, the example
// policy, or a path that does not exist.
func dirFor(t *testing.T, name string) string {
	switch name {
	case "":
		return ""
	case "example":
		return examplePolicies
	case "missing":
		return filepath.Join(t.TempDir(), "missing")
	}
	return fixture(t, name)
}

// expand replaces the DIR placeholder in arguments.
func expand(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "DIR", dir)
	}
	return out
}

func checkResult(t *testing.T, got result, wantCode int, wantStdout, wantStderr string) {
	t.Helper()
	if got.code != wantCode {
		t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", got.code, wantCode, got.stdout, got.stderr)
	}
	if got.stdout != wantStdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", got.stdout, wantStdout)
	}
	if got.stderr != wantStderr {
		t.Errorf("stderr:\n%s\nwant:\n%s", got.stderr, wantStderr)
	}
}

// externalResult runs --terraform-external for dir and decodes its output,
// failing the test unless every value is a string.
func externalResult(t *testing.T, dir, skipTests string) map[string]string {
	t.Helper()
	q, _ := json.Marshal(map[string]string{"dir": dir, "skip_tests": skipTests})
	r := run(t, "", string(q), "policy", "compile", "--terraform-external")
	if r.code != 0 {
		t.Fatalf("--terraform-external exit %d\n%s", r.code, r.stderr)
	}
	return decodeStrings(t, []byte(r.stdout))
}

func decodeStrings(t *testing.T, data []byte) map[string]string {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, data)
	}
	out := map[string]string{}
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Errorf("value of %q is %T, the external data source accepts only strings", k, v)
		}
		out[k] = s
	}
	return out
}

const okBundlePrefix = `{"format":"sentinel-tvm/policy-bundle/v1",`

func TestCompile(t *testing.T) {
	const usage = "Run 'sentinel-tvm policy compile --help' for usage.\n"
	tests := []struct {
		name       string
		dir        string // fixture; see dirFor
		args       []string
		wantCode   int
		wantBundle bool // stdout is the bundle --terraform-external reports
		wantStderr string
	}{
		{
			name: "valid policy, tests pass", dir: "ok",
			args:       []string{"policy", "compile", "DIR"},
			wantBundle: true,
		},
		{
			name: "example policy", dir: "example",
			args:       []string{"policy", "compile", "DIR"},
			wantBundle: true,
		},
		{
			name: "warnings go to stderr and do not fail", dir: "warning",
			args:       []string{"policy", "compile", "DIR"},
			wantBundle: true,
			wantStderr: `DIR/policy.hcl:12:1: warning: Rule can never match: deny rule "nobody" (DIR/policy.hcl:5) matches every request that rule "devs-read" matches, and deny always wins.` + "\n",
		},
		{
			name: "every error of every file in one run", dir: "errors",
			args:     []string{"policy", "compile", "DIR"},
			wantCode: 1,
			wantStderr: `DIR/profiles.hcl:2:14: Invalid role ARN: role_arn "arn:aws:iam::111122223333:user/not-a-role" is not an IAM role ARN such as "arn:aws:iam::111122223333:role/NAME".
DIR/rules.hcl:2:16: Invalid effect: effect must be one of "allow", "deny", "require_approval"; got "alow". Did you mean "allow"?
DIR/rules.hcl:9:16: Profile glob matches no profile: "prod-*" matches none of the profiles (dev-read).
DIR/settings.hcl:2:18: Duration too long: "max_duration" is 2h; sessions last at most 1h (STS role chaining).
4 error(s): the policy was not compiled
`,
		},
		{
			name: "syntax error", dir: "syntax",
			args:     []string{"policy", "compile", "DIR"},
			wantCode: 1,
			wantStderr: `DIR/broken.hcl:4:1: Missing item separator: Expected a comma to mark the beginning of the next item.
1 error(s): the policy was not compiled
`,
		},
		{
			name: "failed test cases fail the compile", dir: "failing",
			args:     []string{"policy", "compile", "DIR"},
			wantCode: 1,
			wantStderr: `DIR/a.test.hcl:7: test "ops read too": expected allow, got deny by "default-deny" (no rule allows this request)
DIR/b.test.hcl:1: test "wrong rule": expected rule "default-deny", got allow by "devs-read" (Developers read development)
DIR/b.test.hcl:8: test "wrong duration": expected duration 1h, got 30m (allow by "devs-read")
1 passed, 3 failed
`,
		},
		{
			name: "--skip-tests skips failing tests", dir: "failing",
			args:       []string{"policy", "compile", "--skip-tests", "DIR"},
			wantBundle: true,
		},
		{
			name: "a broken test file fails the compile", dir: "broken-tests",
			args:     []string{"policy", "compile", "DIR"},
			wantCode: 1,
			wantStderr: `DIR/broken.test.hcl:2:70: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.
DIR/broken.test.hcl:2:70: Unterminated template string: No closing marker was found for the string.
2 error(s): the policy was not compiled
`,
		},
		{
			name: "--skip-tests ignores broken test files", dir: "broken-tests",
			args:       []string{"policy", "compile", "DIR", "--skip-tests"},
			wantBundle: true,
		},
		{
			name:       "no DIR",
			args:       []string{"policy", "compile"},
			wantCode:   2,
			wantStderr: "Error: sentinel-tvm policy compile takes 1 argument(s) (DIR), got 0\n" + usage,
		},
		{
			name: "two DIRs", dir: "ok",
			args:       []string{"policy", "compile", "DIR", "DIR"},
			wantCode:   2,
			wantStderr: "Error: sentinel-tvm policy compile takes 1 argument(s) (DIR), got 2\n" + usage,
		},
		{
			name: "directory does not exist", dir: "missing",
			args:       []string{"policy", "compile", "DIR"},
			wantCode:   2,
			wantStderr: `Error: "DIR" is not a readable directory` + "\n" + usage,
		},
		{
			name: "a file, not a directory", dir: "ok",
			args:       []string{"policy", "compile", "DIR/policy.hcl"},
			wantCode:   2,
			wantStderr: `Error: "DIR/policy.hcl" is not a readable directory` + "\n" + usage,
		},
		{
			name: "unknown flag", dir: "ok",
			args:       []string{"policy", "compile", "DIR", "--skip-test"},
			wantCode:   2,
			wantStderr: "Error: unknown flag: --skip-test\n" + usage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := dirFor(t, tt.dir)
			got := run(t, dir, "", expand(tt.args, dir)...)
			wantStdout := ""
			if tt.wantBundle {
				ext := externalResult(t, dir, "true")
				wantStdout = ext["bundle"]
				sum := sha256.Sum256([]byte(got.stdout))
				if hex.EncodeToString(sum[:]) != ext["sha256"] {
					t.Errorf("sha256 of stdout = %x, --terraform-external reports %s", sum, ext["sha256"])
				}
				if !strings.HasPrefix(got.stdout, okBundlePrefix) || strings.HasSuffix(got.stdout, "\n") {
					t.Errorf("stdout is not exactly a bundle: %.80q...%q", got.stdout, got.stdout[max(0, len(got.stdout)-10):])
				}
			}
			checkResult(t, got, tt.wantCode, wantStdout, tt.wantStderr)
		})
	}
}

// TestCompileDeterministic compiles the same sources from two directories
// written in opposite orders: the bundles must be byte-identical.
func TestCompileDeterministic(t *testing.T) {
	entries, err := os.ReadDir(examplePolicies)
	if err != nil {
		t.Fatal(err)
	}
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Mkdir(b, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		for _, pair := range []struct {
			dir string
			e   os.DirEntry
		}{{a, entries[i]}, {b, entries[len(entries)-1-i]}} {
			data, err := os.ReadFile(filepath.Join(examplePolicies, pair.e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(pair.dir, pair.e.Name()), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ra := run(t, "", "", "policy", "compile", a)
	rb := run(t, "", "", "policy", "compile", b)
	if ra.code != 0 || rb.code != 0 {
		t.Fatalf("exit codes %d, %d\n%s\n%s", ra.code, rb.code, ra.stderr, rb.stderr)
	}
	if ra.stdout != rb.stdout {
		t.Errorf("bundles differ between directories:\n%s\n%s", ra.stdout, rb.stdout)
	}
}

func TestCompileTerraformExternal(t *testing.T) {
	const usage = "Run 'sentinel-tvm policy compile --help' for usage.\n"
	type want struct {
		roleARNs, profiles string
	}
	tests := []struct {
		name         string
		dir          string // fixture; see dirFor
		stdin        string // DIR is replaced by the fixture's path, JSON-quoted
		args         []string
		wantCode     int
		want         *want  // on success
		wantStderr   string // exact
		stderrPrefix string // when the end of the message is encoding/json's
	}{
		{
			name: "valid policy", dir: "ok",
			stdin: `{"dir": DIR, "skip_tests": "false"}`,
			want:  &want{`["arn:aws:iam::111122223333:role/sentinel/dev-read"]`, `["dev-read"]`},
		},
		{
			name: "skip_tests may be left out", dir: "ok",
			stdin: `{"dir": DIR}`,
			want:  &want{`["arn:aws:iam::111122223333:role/sentinel/dev-read"]`, `["dev-read"]`},
		},
		{
			name: "example policy", dir: "example",
			stdin: `{"dir": DIR, "skip_tests": "false"}`,
			want: &want{
				`["arn:aws:iam::111122223333:role/sentinel/analytics-readonly","arn:aws:iam::111122223333:role/sentinel/ci-deploy","arn:aws:iam::444455556666:role/sentinel/prod-admin","arn:aws:iam::444455556666:role/sentinel/prod-readonly"]`,
				`["analytics-readonly","ci-deploy","prod-admin","prod-readonly"]`,
			},
		},
		{
			name: "warnings go to stderr", dir: "warning",
			stdin:      `{"dir": DIR, "skip_tests": "false"}`,
			want:       &want{`["arn:aws:iam::111122223333:role/sentinel/dev-read"]`, `["dev-read"]`},
			wantStderr: `DIR/policy.hcl:12:1: warning: Rule can never match: deny rule "nobody" (DIR/policy.hcl:5) matches every request that rule "devs-read" matches, and deny always wins.` + "\n",
		},
		{
			name: "failed tests", dir: "failing",
			stdin:    `{"dir": DIR, "skip_tests": "false"}`,
			wantCode: 1,
			wantStderr: `DIR/a.test.hcl:7: test "ops read too": expected allow, got deny by "default-deny" (no rule allows this request)
DIR/b.test.hcl:1: test "wrong rule": expected rule "default-deny", got allow by "devs-read" (Developers read development)
DIR/b.test.hcl:8: test "wrong duration": expected duration 1h, got 30m (allow by "devs-read")
1 passed, 3 failed
`,
		},
		{
			name: "skip_tests true", dir: "failing",
			stdin: `{"dir": DIR, "skip_tests": "true"}`,
			want:  &want{`["arn:aws:iam::111122223333:role/sentinel/dev-read"]`, `["dev-read"]`},
		},
		{
			name: "policy errors", dir: "errors",
			stdin:    `{"dir": DIR, "skip_tests": "false"}`,
			wantCode: 1,
			wantStderr: `DIR/profiles.hcl:2:14: Invalid role ARN: role_arn "arn:aws:iam::111122223333:user/not-a-role" is not an IAM role ARN such as "arn:aws:iam::111122223333:role/NAME".
DIR/rules.hcl:2:16: Invalid effect: effect must be one of "allow", "deny", "require_approval"; got "alow". Did you mean "allow"?
DIR/rules.hcl:9:16: Profile glob matches no profile: "prod-*" matches none of the profiles (dev-read).
DIR/settings.hcl:2:18: Duration too long: "max_duration" is 2h; sessions last at most 1h (STS role chaining).
4 error(s): the policy was not compiled
`,
		},
		{
			name: "directory does not exist", dir: "missing",
			stdin:      `{"dir": DIR}`,
			wantCode:   2,
			wantStderr: `Error: "DIR" is not a readable directory` + "\n" + usage,
		},
		{
			name: "DIR as an argument", dir: "ok",
			stdin:      `{"dir": DIR}`,
			args:       []string{"DIR"},
			wantCode:   2,
			wantStderr: "Error: --terraform-external reads the directory from stdin; give no DIR\n" + usage,
		},
		{
			name:         "empty stdin",
			wantCode:     2,
			stderrPrefix: "Error: --terraform-external expects a JSON object of strings on stdin: ",
		},
		{
			name:         "truncated JSON",
			stdin:        `{"dir": "policies"`,
			wantCode:     2,
			stderrPrefix: "Error: --terraform-external expects a JSON object of strings on stdin: ",
		},
		{
			name:         "not an object",
			stdin:        `["policies"]`,
			wantCode:     2,
			stderrPrefix: "Error: --terraform-external expects a JSON object of strings on stdin: ",
		},
		{
			name:         "not a string",
			stdin:        `{"dir": "policies", "skip_tests": false}`,
			wantCode:     2,
			stderrPrefix: "Error: --terraform-external expects a JSON object of strings on stdin: ",
		},
		{
			name: "unknown key", dir: "ok",
			stdin:      `{"dir": DIR, "skip-tests": "true"}`,
			wantCode:   2,
			wantStderr: `Error: --terraform-external: unknown query key "skip-tests" (expected "dir" and "skip_tests")` + "\n" + usage,
		},
		{
			name: "bad skip_tests", dir: "ok",
			stdin:      `{"dir": DIR, "skip_tests": "yes"}`,
			wantCode:   2,
			wantStderr: `Error: --terraform-external: "skip_tests" must be "true" or "false", got "yes"` + "\n" + usage,
		},
		{
			name:       "no dir",
			stdin:      `{"skip_tests": "false"}`,
			wantCode:   2,
			wantStderr: `Error: --terraform-external: the query needs "dir"` + "\n" + usage,
		},
		{
			name:       "null",
			stdin:      `null`,
			wantCode:   2,
			wantStderr: `Error: --terraform-external: the query needs "dir"` + "\n" + usage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := dirFor(t, tt.dir)
			quoted, _ := json.Marshal(dir)
			stdin := strings.ReplaceAll(tt.stdin, "DIR", string(quoted))
			args := append([]string{"policy", "compile", "--terraform-external"}, expand(tt.args, dir)...)
			got := run(t, dir, stdin, args...)

			if got.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\n%s", got.code, tt.wantCode, got.stderr)
			}
			switch {
			case tt.stderrPrefix != "":
				if !strings.HasPrefix(got.stderr, tt.stderrPrefix) || !strings.HasSuffix(got.stderr, "\n"+usage) || strings.Count(got.stderr, "\n") != 2 {
					t.Errorf("stderr:\n%s\nwant %q, one line, then the usage hint", got.stderr, tt.stderrPrefix)
				}
			case got.stderr != tt.wantStderr:
				t.Errorf("stderr:\n%s\nwant:\n%s", got.stderr, tt.wantStderr)
			}
			if tt.want == nil {
				if got.stdout != "" {
					t.Errorf("stdout must stay empty on failure, got:\n%s", got.stdout)
				}
				return
			}
			out := decodeStrings(t, []byte(got.stdout))
			keys := make([]string, 0, len(out))
			for k := range out {
				keys = append(keys, k)
			}
			if len(out) != 4 || out["bundle"] == "" || out["sha256"] == "" || out["role_arns"] == "" || out["profiles"] == "" {
				t.Fatalf("keys = %v, want bundle, sha256, role_arns, profiles", keys)
			}
			if sum := sha256.Sum256([]byte(out["bundle"])); hex.EncodeToString(sum[:]) != out["sha256"] {
				t.Errorf("sha256 = %s, the bundle's is %x", out["sha256"], sum)
			}
			if !strings.HasPrefix(out["bundle"], okBundlePrefix) {
				t.Errorf("bundle = %.80s...", out["bundle"])
			}
			if out["role_arns"] != tt.want.roleARNs {
				t.Errorf("role_arns = %s, want %s", out["role_arns"], tt.want.roleARNs)
			}
			if out["profiles"] != tt.want.profiles {
				t.Errorf("profiles = %s, want %s", out["profiles"], tt.want.profiles)
			}
		})
	}
}

// TestTerraformExternalBinary builds the real binary and runs it the way
// Terraform's external data source does: the query as a JSON object on
// stdin, the working directory of the configuration, a JSON object of
// strings expected on stdout, and stderr shown to the user on failure.
func TestTerraformExternalBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "sentinel-tvm")
	build := exec.Command(goTool, "build", "-o", bin, "../../cmd/sentinel-tvm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	repoRoot, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	external := func(t *testing.T, workDir, query string) (stdout, stderr []byte, code int) {
		t.Helper()
		cmd := exec.Command(bin, "policy", "compile", "--terraform-external")
		cmd.Dir = workDir
		cmd.Stdin = strings.NewReader(query)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			code = exitErr.ExitCode()
		default:
			t.Fatal(err)
		}
		noRuntimeNoise(t, out.String(), errb.String())
		return out.Bytes(), errb.Bytes(), code
	}

	t.Run("example policies", func(t *testing.T) {
		stdout, stderr, code := external(t, repoRoot, `{"dir":"policies","skip_tests":"false"}`)
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if len(stderr) != 0 {
			t.Errorf("stderr = %s", stderr)
		}
		out := decodeStrings(t, stdout)
		if sum := sha256.Sum256([]byte(out["bundle"])); hex.EncodeToString(sum[:]) != out["sha256"] {
			t.Errorf("sha256 = %s, the bundle's is %x", out["sha256"], sum)
		}
		// The bundle Terraform gets is the one `policy compile` prints.
		direct := run(t, "", "", "policy", "compile", examplePolicies)
		if direct.code != 0 || direct.stdout != out["bundle"] {
			t.Errorf("the binary's bundle differs from `policy compile`'s (exit %d)", direct.code)
		}
		var profiles []string
		if err := json.Unmarshal([]byte(out["profiles"]), &profiles); err != nil {
			t.Errorf("profiles = %q: %v", out["profiles"], err)
		}
		if want := []string{"analytics-readonly", "ci-deploy", "prod-admin", "prod-readonly"}; !reflect.DeepEqual(profiles, want) {
			t.Errorf("profiles = %q, want %q", profiles, want)
		}
	})

	t.Run("broken policy fails the plan", func(t *testing.T) {
		dir := fixture(t, "errors")
		q, _ := json.Marshal(map[string]string{"dir": dir, "skip_tests": "false"})
		stdout, stderr, code := external(t, repoRoot, string(q))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if len(stdout) != 0 {
			t.Errorf("stdout = %s, want nothing", stdout)
		}
		if !bytes.Contains(stderr, []byte(filepath.Join(dir, "rules.hcl")+`:2:16: Invalid effect:`)) {
			t.Errorf("stderr does not show the diagnostics:\n%s", stderr)
		}
	})

	t.Run("usage errors are exit 2", func(t *testing.T) {
		_, stderr, code := external(t, repoRoot, `{"dir":"policies","skip":"true"}`)
		if code != 2 || !bytes.Contains(stderr, []byte(`unknown query key "skip"`)) {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
}

func TestPolicyTest(t *testing.T) {
	tests := []struct {
		name       string
		dir        string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name: "all pass", dir: "ok",
			args:       []string{"policy", "test", "DIR"},
			wantStdout: "2 passed, 0 failed\n",
		},
		{
			name: "example policy", dir: "example",
			args:       []string{"policy", "test", "DIR"},
			wantStdout: "18 passed, 0 failed\n",
		},
		{
			name: "no test files", dir: "warning",
			args:       []string{"policy", "test", "DIR"},
			wantStdout: "0 passed, 0 failed\n",
			wantStderr: `DIR/policy.hcl:12:1: warning: Rule can never match: deny rule "nobody" (DIR/policy.hcl:5) matches every request that rule "devs-read" matches, and deny always wins.` + "\n",
		},
		{
			name: "failures, one line each, from two files", dir: "failing",
			args:     []string{"policy", "test", "DIR"},
			wantCode: 1,
			wantStdout: `DIR/a.test.hcl:7: test "ops read too": expected allow, got deny by "default-deny" (no rule allows this request)
DIR/b.test.hcl:1: test "wrong rule": expected rule "default-deny", got allow by "devs-read" (Developers read development)
DIR/b.test.hcl:8: test "wrong duration": expected duration 1h, got 30m (allow by "devs-read")
1 passed, 3 failed
`,
		},
		{
			name: "a policy that does not compile runs no tests", dir: "errors",
			args:     []string{"policy", "test", "DIR"},
			wantCode: 1,
			wantStderr: `DIR/profiles.hcl:2:14: Invalid role ARN: role_arn "arn:aws:iam::111122223333:user/not-a-role" is not an IAM role ARN such as "arn:aws:iam::111122223333:role/NAME".
DIR/rules.hcl:2:16: Invalid effect: effect must be one of "allow", "deny", "require_approval"; got "alow". Did you mean "allow"?
DIR/rules.hcl:9:16: Profile glob matches no profile: "prod-*" matches none of the profiles (dev-read).
DIR/settings.hcl:2:18: Duration too long: "max_duration" is 2h; sessions last at most 1h (STS role chaining).
4 error(s): the policy was not compiled
`,
		},
		{
			name: "broken test file", dir: "broken-tests",
			args:     []string{"policy", "test", "DIR"},
			wantCode: 1,
			wantStderr: `DIR/broken.test.hcl:2:70: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.
DIR/broken.test.hcl:2:70: Unterminated template string: No closing marker was found for the string.
2 error(s): the policy was not compiled
`,
		},
		{
			name:       "no DIR",
			args:       []string{"policy", "test"},
			wantCode:   2,
			wantStderr: "Error: sentinel-tvm policy test takes 1 argument(s) (DIR), got 0\nRun 'sentinel-tvm policy test --help' for usage.\n",
		},
		{
			name: "directory does not exist", dir: "missing",
			args:       []string{"policy", "test", "DIR"},
			wantCode:   2,
			wantStderr: "Error: \"DIR\" is not a readable directory\nRun 'sentinel-tvm policy test --help' for usage.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := dirFor(t, tt.dir)
			got := run(t, dir, "", expand(tt.args, dir)...)
			checkResult(t, got, tt.wantCode, tt.wantStdout, tt.wantStderr)
		})
	}
}

func TestExplain(t *testing.T) {
	const (
		bob       = "arn:aws:sts::111122223333:assumed-role/sre-platform/bob"
		carol     = "arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol"
		eve       = "arn:aws:sts::111122223333:assumed-role/contractor-ops/eve"
		ci        = "arn:aws:sts::111122223333:assumed-role/ci-runner-payments/build-4711"
		dana      = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/dana@example.com"
		prodAdmin = "arn:aws:iam::444455556666:role/sentinel/prod-admin"
		ciDeploy  = "arn:aws:iam::111122223333:role/sentinel/ci-deploy"
		usage     = "Run 'sentinel-tvm policy explain --help' for usage.\n"
		weekday   = "2026-03-04T14:00:00Z"
	)
	tests := []struct {
		name       string
		args       []string // after `policy explain DIR`
		want       *explainOutput
		wantStderr string // on exit 2
	}{
		{
			name: "allow",
			args: []string{"--principal", ci, "--profile", "ci-deploy", "--source-ip", "10.20.3.4", "--time", weekday},
			want: &explainOutput{Decision: "allow", Rule: "ci-deploys-from-runners", Reason: "CI runners deploy from the build network",
				DurationSeconds: 1800, Profile: "ci-deploy", RoleARN: ciDeploy, Via: "policy"},
		},
		{
			name: "capped",
			args: []string{"--principal", ci, "--profile", "ci-deploy", "--source-ip", "10.20.3.4", "--time", weekday, "--duration", "2h"},
			want: &explainOutput{Decision: "allow", Rule: "ci-deploys-from-runners", Reason: "CI runners deploy from the build network",
				DurationSeconds: 3600, Profile: "ci-deploy", RoleARN: ciDeploy, Via: "policy", Capped: true},
		},
		{
			name: "capped by the rule",
			args: []string{"--principal", dana, "--profile", "prod-readonly", "--time", weekday, "--duration", "1h"},
			want: &explainOutput{Decision: "allow", Rule: "sso-engineers-prod-readonly", Reason: "SSO engineers may read production",
				DurationSeconds: 1200, Profile: "prod-readonly", RoleARN: "arn:aws:iam::444455556666:role/sentinel/prod-readonly", Via: "policy", Capped: true},
		},
		{
			name: "deny by source IP falls to the default",
			args: []string{"--principal", ci, "--profile", "ci-deploy", "--source-ip", "192.0.2.10", "--time", weekday},
			want: &explainOutput{Decision: "deny", Rule: "default-deny", Reason: "no rule allows this request",
				Profile: "ci-deploy", RoleARN: ciDeploy},
		},
		{
			name: "explicit deny beats break-glass and approval",
			args: []string{"--principal", eve, "--profile", "prod-admin", "--time", weekday, "--break-glass", "--approved"},
			want: &explainOutput{Decision: "deny", Rule: "contractors-never-prod", Reason: "Contractors have no production access",
				Profile: "prod-admin", RoleARN: prodAdmin},
		},
		{
			name: "require_approval",
			args: []string{"--principal", bob, "--profile", "prod-admin", "--time", weekday},
			want: &explainOutput{Decision: "require_approval", Rule: "prod-admin-needs-approval", Reason: "Production administration needs a second person",
				Profile: "prod-admin", RoleARN: prodAdmin},
		},
		{
			name: "approved",
			args: []string{"--principal", bob, "--profile", "prod-admin", "--time", weekday, "--approved", "--duration", "1h"},
			want: &explainOutput{Decision: "allow", Rule: "prod-admin-needs-approval", Reason: `approved under rule "prod-admin-needs-approval"`,
				DurationSeconds: 1800, Profile: "prod-admin", RoleARN: prodAdmin, Via: "approval", Capped: true},
		},
		{
			name: "break-glass",
			args: []string{"--principal", carol, "--profile", "prod-admin", "--time", weekday, "--break-glass", "--duration", "1h"},
			want: &explainOutput{Decision: "allow", Rule: "prod-emergency", Reason: `break-glass event under "prod-emergency" is active`,
				DurationSeconds: 3600, Profile: "prod-admin", RoleARN: prodAdmin, Via: "break_glass"},
		},
		{
			name: "break-glass for someone no block covers",
			args: []string{"--principal", bob, "--profile", "prod-readonly", "--time", weekday, "--break-glass"},
			want: &explainOutput{Decision: "deny", Rule: "default-deny", Reason: "no rule allows this request",
				Profile: "prod-readonly", RoleARN: "arn:aws:iam::444455556666:role/sentinel/prod-readonly"},
		},
		{
			name: "unknown profile is a deny, as the service would decide",
			args: []string{"--principal", bob, "--profile", "prod-adm", "--time", weekday},
			want: &explainOutput{Decision: "deny", Rule: "default-deny", Reason: "no such profile", Profile: "prod-adm"},
		},
		{
			name:       "bad --time",
			args:       []string{"--principal", bob, "--profile", "prod-admin", "--time", "2026-03-04 14:00"},
			wantStderr: `Error: --time "2026-03-04 14:00" is not an RFC 3339 time such as 2026-03-02T10:00:00Z` + "\n" + usage,
		},
		{
			name:       "bad --source-ip",
			args:       []string{"--principal", bob, "--profile", "prod-admin", "--source-ip", "10.0.0.0/8"},
			wantStderr: `Error: --source-ip "10.0.0.0/8" is not an IP address` + "\n" + usage,
		},
		{
			name:       "bad --duration",
			args:       []string{"--principal", bob, "--profile", "prod-admin", "--duration", "20"},
			wantStderr: `Error: --duration "20" is not a positive duration such as 20m` + "\n" + usage,
		},
		{
			name:       "negative --duration",
			args:       []string{"--principal", bob, "--profile", "prod-admin", "--duration=-5m"},
			wantStderr: `Error: --duration "-5m" is not a positive duration such as 20m` + "\n" + usage,
		},
		{
			name:       "malformed --principal",
			args:       []string{"--principal", "bob", "--profile", "prod-admin"},
			wantStderr: `Error: --principal: "bob" is not an IAM or STS principal ARN` + "\n" + usage,
		},
		{
			name:       "assumed-role ARN without a session",
			args:       []string{"--principal", "arn:aws:sts::111122223333:assumed-role/sre-platform", "--profile", "prod-admin"},
			wantStderr: `Error: --principal: "arn:aws:sts::111122223333:assumed-role/sre-platform" is not an assumed-role ARN (assumed-role/ROLE/SESSION)` + "\n" + usage,
		},
		{
			name:       "missing --principal",
			args:       []string{"--profile", "prod-admin"},
			wantStderr: "Error: explain needs --principal ARN\n" + usage,
		},
		{
			name:       "missing --profile",
			args:       []string{"--principal", bob},
			wantStderr: "Error: explain needs --profile NAME\n" + usage,
		},
		{
			name:       "missing both",
			wantStderr: "Error: explain needs --principal ARN and --profile NAME\n" + usage,
		},
		{
			name:       "unknown flag",
			args:       []string{"--principal", bob, "--profile", "prod-admin", "--approve"},
			wantStderr: "Error: unknown flag: --approve\n" + usage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"policy", "explain", examplePolicies}, tt.args...)
			got := run(t, "", "", args...)
			if tt.want == nil {
				checkResult(t, got, 2, "", tt.wantStderr)
				return
			}
			checkResult(t, got, 0, got.stdout, "")
			var raw map[string]json.RawMessage
			if err := json.Unmarshal([]byte(got.stdout), &raw); err != nil {
				t.Fatalf("stdout is not a JSON object: %v\n%s", err, got.stdout)
			}
			for _, k := range []string{"decision", "rule", "reason", "duration_seconds", "profile", "role_arn"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("output lacks %q:\n%s", k, got.stdout)
				}
			}
			dec := json.NewDecoder(strings.NewReader(got.stdout))
			dec.DisallowUnknownFields()
			var out explainOutput
			if err := dec.Decode(&out); err != nil {
				t.Fatalf("%v\n%s", err, got.stdout)
			}
			if out != *tt.want {
				t.Errorf("explain =\n%+v\nwant\n%+v", out, *tt.want)
			}
		})
	}

	t.Run("missing DIR", func(t *testing.T) {
		got := run(t, "", "", "policy", "explain", "--principal", bob, "--profile", "prod-admin")
		checkResult(t, got, 2, "", "Error: sentinel-tvm policy explain takes 1 argument(s) (DIR), got 0\n"+usage)
	})
	t.Run("policy errors", func(t *testing.T) {
		dir := fixture(t, "errors")
		got := run(t, dir, "", "policy", "explain", dir, "--principal", bob, "--profile", "prod-admin")
		if got.code != 1 || got.stdout != "" || !strings.HasSuffix(got.stderr, "4 error(s): the policy was not compiled\n") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
		}
	})
	t.Run("broken test files do not matter", func(t *testing.T) {
		dir := fixture(t, "broken-tests")
		got := run(t, dir, "", "policy", "explain", dir, "--principal", "arn:aws:sts::111122223333:assumed-role/dev-alice/alice", "--profile", "dev-read", "--time", weekday)
		if got.code != 0 || !strings.Contains(got.stdout, `"decision": "allow"`) {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
		}
	})
}

func TestFmt(t *testing.T) {
	const formattedPolicy = `profile "dev-read" {
  role_arn    = "arn:aws:iam::111122223333:role/sentinel/dev-read"
  description = "Read-only development access"
}

rule "devs-read" {
  effect     = "allow"
  profiles   = ["dev-*"]
  principals = ["arn:aws:iam::111122223333:role/dev-*"]
}
`
	const formattedTest = `test "developer reads, untidy" {
  principal = "arn:aws:sts::111122223333:assumed-role/dev-alice/alice"
  profile   = "dev-read"
  expect    = "allow"
}
`
	usage := func(cmd string) string { return "Run 'sentinel-tvm policy " + cmd + " --help' for usage.\n" }
	tests := []struct {
		name       string
		dir        string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
		wantFiles  map[string]string // contents afterwards; nil: unchanged
	}{
		{
			name: "rewrites and lists unformatted files", dir: "unformatted",
			args:       []string{"policy", "fmt", "DIR"},
			wantStdout: "DIR/policy.hcl\nDIR/zz.test.hcl\n",
			wantFiles:  map[string]string{"policy.hcl": formattedPolicy, "zz.test.hcl": formattedTest},
		},
		{
			name: "--check lists and changes nothing", dir: "unformatted",
			args:       []string{"policy", "fmt", "--check", "DIR"},
			wantCode:   1,
			wantStdout: "DIR/policy.hcl\nDIR/zz.test.hcl\n",
		},
		{
			name: "formatted", dir: "ok",
			args: []string{"policy", "fmt", "DIR"},
		},
		{
			name: "--check formatted", dir: "ok",
			args: []string{"policy", "fmt", "DIR", "--check"},
		},
		{
			name: "example policy is formatted", dir: "example",
			args: []string{"policy", "fmt", "--check", "DIR"},
		},
		{
			name: "syntax error", dir: "syntax",
			args:       []string{"policy", "fmt", "DIR"},
			wantCode:   1,
			wantStderr: "DIR/broken.hcl:4:1: Missing item separator: Expected a comma to mark the beginning of the next item.\n",
		},
		{
			name: "syntax error in a test file", dir: "broken-tests",
			args:     []string{"policy", "fmt", "--check", "DIR"},
			wantCode: 1,
			wantStderr: `DIR/broken.test.hcl:2:70: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \n escape to represent a newline character or use the "heredoc" multi-line template syntax.
DIR/broken.test.hcl:2:70: Unterminated template string: No closing marker was found for the string.
`,
		},
		{
			name:       "no DIR",
			args:       []string{"policy", "fmt", "--check"},
			wantCode:   2,
			wantStderr: "Error: sentinel-tvm policy fmt takes 1 argument(s) (DIR), got 0\n" + usage("fmt"),
		},
		{
			name: "directory does not exist", dir: "missing",
			args:       []string{"policy", "fmt", "DIR"},
			wantCode:   2,
			wantStderr: "Error: \"DIR\" is not a readable directory\n" + usage("fmt"),
		},
		{
			name: "unknown flag", dir: "ok",
			args:       []string{"policy", "fmt", "DIR", "--diff"},
			wantCode:   2,
			wantStderr: "Error: unknown flag: --diff\n" + usage("fmt"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := dirFor(t, tt.dir)
			before := readFiles(t, dir)
			got := run(t, dir, "", expand(tt.args, dir)...)
			checkResult(t, got, tt.wantCode, tt.wantStdout, tt.wantStderr)

			after := readFiles(t, dir)
			want := before
			if tt.wantFiles != nil {
				want = map[string]string{}
				for k, v := range before {
					want[k] = v
				}
				for k, v := range tt.wantFiles {
					want[k] = v
				}
			}
			if !reflect.DeepEqual(after, want) {
				for name := range want {
					if after[name] != want[name] {
						t.Errorf("%s =\n%s\nwant\n%s", name, after[name], want[name])
					}
				}
			}
			if tt.wantFiles != nil {
				// Formatting is idempotent: a second run finds nothing to do.
				again := run(t, dir, "", "policy", "fmt", "--check", dir)
				checkResult(t, again, 0, "", "")
			}
		})
	}
}

// readFiles returns the contents of the files of dir ("" → nil).
func readFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string // exact; for --help, stdout must start with wantStdout
		wantStdout string
	}{
		{
			name:       "unknown command",
			args:       []string{"polcy"},
			wantCode:   2,
			wantStderr: "Error: unknown command \"polcy\" for \"sentinel-tvm\"; did you mean \"policy\"?\nRun 'sentinel-tvm --help' for usage.\n",
		},
		{
			name:       "policy without a subcommand",
			args:       []string{"policy"},
			wantCode:   2,
			wantStderr: "Error: sentinel-tvm policy needs a subcommand: compile, explain, fmt, impact, test\nRun 'sentinel-tvm policy --help' for usage.\n",
		},
		{
			name:       "unknown policy subcommand",
			args:       []string{"policy", "nope"},
			wantCode:   2,
			wantStderr: "Error: unknown command \"nope\" for \"sentinel-tvm policy\"\nRun 'sentinel-tvm policy --help' for usage.\n",
		},
		{
			name:       "misspelt policy subcommand",
			args:       []string{"policy", "tset", "policies"},
			wantCode:   2,
			wantStderr: "Error: unknown command \"tset\" for \"sentinel-tvm policy\"; did you mean \"test\"?\nRun 'sentinel-tvm policy --help' for usage.\n",
		},
		{
			name:       "unknown flag on the root",
			args:       []string{"--verbose"},
			wantCode:   2,
			wantStderr: "Error: unknown flag: --verbose\nRun 'sentinel-tvm --help' for usage.\n",
		},
		{name: "--help", args: []string{"--help"}, wantStdout: "Sentinel TVM: vend short-lived AWS credentials"},
		{name: "help", args: []string{"help"}, wantStdout: "Sentinel TVM: vend short-lived AWS credentials"},
		{name: "policy --help", args: []string{"policy", "--help"}, wantStdout: "Compile, test, explain and format HCL policies"},
		{name: "policy compile -h", args: []string{"policy", "compile", "-h"}, wantStdout: "Compile checks every *.hcl file of DIR"},
		{name: "policy explain --help", args: []string{"policy", "explain", "--help"}, wantStdout: "Explain evaluates one request offline"},
		{name: "--version", args: []string{"--version"}, wantStdout: "sentinel-tvm version "},
	}
	// nil arguments are no arguments, not the process's os.Args.
	for name, args := range map[string][]string{"no command": {}, "nil arguments": nil} {
		t.Run(name, func(t *testing.T) {
			saved := os.Args
			os.Args = []string{"sentinel-tvm", "--version"}
			t.Cleanup(func() { os.Args = saved })
			// The list names every command; other commands than policy come and go.
			got := run(t, "", "", args...)
			first, rest, _ := strings.Cut(got.stderr, "\n")
			subs, ok := strings.CutPrefix(first, "Error: sentinel-tvm needs a subcommand: ")
			if got.code != 2 || got.stdout != "" || !ok || !slices.Contains(strings.Split(subs, ", "), "policy") ||
				rest != "Run 'sentinel-tvm --help' for usage.\n" {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, "", "", tt.args...)
			if tt.wantCode != 0 {
				checkResult(t, got, tt.wantCode, "", tt.wantStderr)
				return
			}
			if got.code != 0 || got.stderr != "" || !strings.HasPrefix(got.stdout, tt.wantStdout) {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout starting %q", got.code, got.stdout, got.stderr, tt.wantStdout)
			}
		})
	}
}
