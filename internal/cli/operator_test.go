package cli

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
)

var timeRE = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b`)

// opNormalize is normalize plus RFC 3339 times as TIME (they keep a fixed
// width, so the columns stay aligned as the command printed them).
func opNormalize(s, url string) string {
	return timeRE.ReplaceAllString(normalize(s, url), "TIME")
}

// operatorSetup returns the flags that reach srv as alice (an engineer) and
// as bob (a security lead, approver and operator).
func operatorSetup(t *testing.T, srv *clienttest.Server) (alice, bob []string) {
	t.Helper()
	alice = tvmSetup(t, srv)
	bob = []string{"--url", srv.URL, "--region", clienttest.Region, "--source-profile", "bob"}
	return alice, bob
}

func with(args []string, flags []string) []string {
	return append(append([]string{}, args...), flags...)
}

// jsonObject parses --json output: one line, one JSON object.
func jsonObject(t *testing.T, out string) map[string]any {
	t.Helper()
	if strings.Count(out, "\n") != 1 {
		t.Errorf("--json output is not one line: %q", out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	return m
}

func TestOperatorUsage(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice, _ := operatorSetup(t, srv)
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"approvals"}, "--url is required (or set SENTINEL_TVM_URL)"},
		{[]string{"profiles", "--url", "ftp://x"}, `--url "ftp://x" is not an http(s) URL`},
		{with([]string{"approvals", "--status", "maybe"}, alice), `--status "maybe" is not one of pending, approved`},
		{with([]string{"approve"}, alice), "sentinel-tvm approve takes 1 argument(s) (ID), got 0"},
		{with([]string{"deny", "a", "b"}, alice), "takes 1 argument(s) (ID), got 2"},
		{with([]string{"cancel"}, alice), "takes 1 argument(s) (ID)"},
		{with([]string{"session"}, alice), "takes 1 argument(s) (ID)"},
		{with([]string{"profiles", "extra"}, alice), "takes no arguments"},
		{with([]string{"request-approval", "--profile", "prod-admin"}, alice), "--justification is required"},
		{with([]string{"request-approval", "--justification", "x"}, alice), "--profile is required"},
		{with([]string{"request-approval", "--profile", "p", "--justification", "j", "--duration", "1500ms"}, alice), "--duration 1.5s must be a positive whole number"},
		{[]string{"break-glass"}, "sentinel-tvm break-glass needs a subcommand: close, list, open"},
		{[]string{"break-glass", "opne"}, `did you mean "open"?`},
		{with([]string{"break-glass", "open", "--profile", "p", "--justification", "j"}, alice), "--reason-code is required"},
		{with([]string{"break-glass", "close"}, alice), "takes 1 argument(s) (ID)"},
		{with([]string{"revoke", "s1"}, alice), "--reason is required"},
		{with([]string{"revoke", "s1", "--reason", "r", "--block-minutes", "-1"}, alice), "--block-minutes -1 must be from 1 to 1440"},
		{with([]string{"sessions", "--active=maybe"}, alice), "invalid argument"},
		{with([]string{"approvals", "--bogus"}, alice), "unknown flag: --bogus"},
		{with([]string{"sessions", "--limit", "0"}, alice), "--limit 0 is not from 1 to 100"},
		{with([]string{"approvals", "--limit", "101"}, alice), "--limit 101 is not from 1 to 100"},
		{with([]string{"break-glass", "list", "--limit", "-1"}, alice), "--limit -1 is not from 1 to 100"},
	} {
		t.Run(strings.Join(tc.args[:min(len(tc.args), 3)], " "), func(t *testing.T) {
			r := tvmMain(tc.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("code %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
	if n := srv.Hits("GET /v1/approvals") + srv.Hits("POST /v1/approvals") + srv.Hits("POST /v1/sessions/{id}/revoke"); n != 0 {
		t.Errorf("usage errors reached the service %d times", n)
	}
}

func TestOperatorProfiles(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice, _ := operatorSetup(t, srv)
	r := tvmMain(with([]string{"profiles"}, alice)...)
	want := `PROFILE       ACCESS            RULE                 DURATION  DESCRIPTION
dev-readonly  allow             engineers-dev        15m       Read-only development data
prod-admin    require_approval  prod-admin-approval  -         Production administration: approval
`
	if r.code != ExitOK || r.stdout != want || r.stderr != "" {
		t.Errorf("code %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}

	// --json is the service's answer; the URL may come from the environment.
	t.Setenv(urlEnv, srv.URL)
	r = tvmMain("profiles", "--json", "--region", clienttest.Region, "--source-profile", "alice")
	if r.code != ExitOK {
		t.Fatalf("code %d, stderr %s", r.code, r.stderr)
	}
	m := jsonObject(t, r.stdout)
	ps, _ := m["profiles"].([]any)
	if len(ps) != 2 || ps[0].(map[string]any)["role_arn"] != "arn:aws:iam::111122223333:role/sentinel/dev-readonly" {
		t.Errorf("profiles JSON: %s", r.stdout)
	}
}

func TestOperatorApprovalLifecycle(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice, bob := operatorSetup(t, srv)

	// Alice asks, with --json, and gets the ID to pass on.
	r := tvmMain(with([]string{"request-approval", "--profile", "prod-admin", "--justification", "INC-1234: restart the API",
		"--duration", "20m", "--idempotency-key", "k1", "--json"}, alice)...)
	if r.code != ExitOK {
		t.Fatalf("request-approval: code %d, stderr %s", r.code, r.stderr)
	}
	m := jsonObject(t, r.stdout)
	id, _ := m["approval_id"].(string)
	if id == "" || m["status"] != "pending" {
		t.Fatalf("request-approval JSON: %s", r.stdout)
	}
	// The same key answers the same request.
	again := tvmMain(with([]string{"request-approval", "--profile", "prod-admin", "--justification", "INC-1234: restart the API",
		"--duration", "20m", "--idempotency-key", "k1", "--json"}, alice)...)
	if m2 := jsonObject(t, again.stdout); m2["approval_id"] != id {
		t.Errorf("idempotent repeat answered %v, want %s", m2["approval_id"], id)
	}

	// Bob sees it pending.
	r = tvmMain(with([]string{"approvals", "--status", "pending"}, bob)...)
	want := `ID   STATUS   PROFILE     REQUESTER                                    CREATED               EXPIRES               JUSTIFICATION
AID  pending  prod-admin  arn:aws:iam::111122223333:role/engineer-dev  TIME  TIME  INC-1234: restart the API
`
	// IDs are 32 wide and times 20: undo the placeholders' widths.
	got := opNormalize(r.stdout, srv.URL)
	got = strings.ReplaceAll(got, "AID"+strings.Repeat(" ", 31), "AID  ")
	got = strings.ReplaceAll(strings.ReplaceAll(got, "ID"+strings.Repeat(" ", 32), "ID   "), "TIME"+strings.Repeat(" ", 18), "TIME  ")
	if r.code != ExitOK || got != want {
		t.Errorf("approvals: code %d\n%s\nwant:\n%s\nstderr: %s", r.code, got, want, r.stderr)
	}

	// Refusals: one line, exit 1.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with([]string{"approve", id}, alice), "sentinel-tvm: forbidden: "},
		{with([]string{"approve", "00000000000000000000000000000000"}, bob), "sentinel-tvm: not_found: "},
		{with([]string{"cancel", id}, bob), "sentinel-tvm: forbidden: "},
	} {
		r := tvmMain(tc.args...)
		if r.code != ExitFailure || r.stdout != "" || !strings.HasPrefix(r.stderr, tc.want) ||
			strings.Count(r.stderr, "\n") != 1 || !requestIDRE.MatchString(r.stderr) {
			t.Errorf("%v: code %d, stdout %q, stderr %q; want exit 1 and one line %q... (request ID)", tc.args[:2], r.code, r.stdout, r.stderr, tc.want)
		}
	}

	// Bob approves.
	r = tvmMain(with([]string{"approve", id, "--comment", "ok, OPS-42"}, bob)...)
	want = `approval       AID
status         approved
profile        prod-admin
requester      arn:aws:iam::111122223333:role/engineer-dev
rule           prod-admin-approval
justification  INC-1234: restart the API
duration       20m
created        TIME
expires        TIME
usable until   TIME
decision       approve by arn:aws:iam::111122223333:role/security-lead at TIME: ok, OPS-42
`
	if got := opNormalize(r.stdout, srv.URL); r.code != ExitOK || got != want {
		t.Errorf("approve: code %d\n%s\nwant:\n%s\nstderr: %s", r.code, got, want, r.stderr)
	}

	// Not pending any more: conflict.
	r = tvmMain(with([]string{"deny", id}, bob)...)
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: conflict: ") {
		t.Errorf("deny after approve: code %d, stderr %q", r.code, r.stderr)
	}

	// A second request, cancelled by Alice.
	r = tvmMain(with([]string{"request-approval", "--profile", "prod-admin", "--justification", "another one", "--json"}, alice)...)
	id2, _ := jsonObject(t, r.stdout)["approval_id"].(string)
	r = tvmMain(with([]string{"cancel", id2, "--json"}, alice)...)
	if r.code != ExitOK || jsonObject(t, r.stdout)["status"] != "cancelled" {
		t.Errorf("cancel: code %d, stdout %s, stderr %s", r.code, r.stdout, r.stderr)
	}
	r = tvmMain(with([]string{"approvals", "--json"}, alice)...)
	as, _ := jsonObject(t, r.stdout)["approvals"].([]any)
	if r.code != ExitOK || len(as) != 2 {
		t.Errorf("approvals --json: %d approvals: %s", len(as), r.stdout)
	}
	noSecrets(t, r.stdout, r.stderr)
}

func TestOperatorSessions(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice, bob := operatorSetup(t, srv)
	if r := tvmMain(with([]string{"credentials", "--profile", "dev-readonly"}, alice)...); r.code != ExitOK {
		t.Fatalf("credentials: %d %s", r.code, r.stderr)
	}

	r := tvmMain(with([]string{"sessions", "--active", "--profile", "dev-readonly"}, alice)...)
	want := `ID                                STATUS  PROFILE       PRINCIPAL                                    VIA     ISSUED                EXPIRES
AID  active  dev-readonly  arn:aws:iam::111122223333:role/engineer-dev  policy  TIME  TIME
`
	if got := opNormalize(r.stdout, srv.URL); r.code != ExitOK || got != want {
		t.Errorf("sessions: code %d\n%s\nwant:\n%s\nstderr: %s", r.code, got, want, r.stderr)
	}

	r = tvmMain(with([]string{"sessions", "--json"}, bob)...)
	ss, _ := jsonObject(t, r.stdout)["sessions"].([]any)
	if r.code != ExitOK || len(ss) != 1 {
		t.Fatalf("sessions --json as the operator: code %d, %s %s", r.code, r.stdout, r.stderr)
	}
	id := ss[0].(map[string]any)["session_id"].(string)

	r = tvmMain(with([]string{"session", id}, alice)...)
	want = `session          AID
status           active
profile          dev-readonly
principal        arn:aws:iam::111122223333:role/engineer-dev
caller           arn:aws:sts::111122223333:assumed-role/engineer-dev/alice
role             arn:aws:iam::111122223333:role/sentinel/dev-readonly
source identity  stvm.engineer-dev.` + id[:12] + `
rule             engineers-dev
via              policy
issued           TIME
expires          TIME
`
	if got := opNormalize(r.stdout, srv.URL); r.code != ExitOK || got != want {
		t.Errorf("session: code %d\n%s\nwant:\n%s\nstderr: %s", r.code, got, want, r.stderr)
	}

	r = tvmMain(with([]string{"revoke", "0123456789abcdef0123456789abcdef", "--reason", "test"}, alice)...)
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: not_found: ") {
		t.Errorf("revoke unknown: code %d, stderr %q", r.code, r.stderr)
	}
	r = tvmMain(with([]string{"revoke", id, "--reason", "laptop stolen", "--idempotency-key", "rv1"}, bob)...)
	if r.code == ExitFailure && strings.HasPrefix(r.stderr, "sentinel-tvm: unavailable: revocation is not configured") {
		// clienttest's service has no revoker (the IAM side): the refusal
		// is the one line; the lifecycle tests under `sentinel-tvm dev`
		// revoke for real.
		if strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Errorf("revoke refusal: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		return
	}
	if r.code != ExitOK || !regexp.MustCompile(`(?m)^status       revoked\nenforcement  (session_tag|token_issue_time)\n$`).MatchString(r.stdout) {
		t.Errorf("revoke: code %d\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = tvmMain(with([]string{"session", id, "--json"}, alice)...)
	if m := jsonObject(t, r.stdout); m["status"] != "revoked" {
		t.Errorf("session after revoke: %s", r.stdout)
	}
	r = tvmMain(with([]string{"sessions", "--active"}, alice)...)
	if r.code != ExitOK || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("sessions --active after revoke:\n%s", r.stdout)
	}
	noSecrets(t, r.stdout, r.stderr)
}

func TestOperatorBreakGlass(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice, _ := operatorSetup(t, srv)
	// The test policy has no break_glass block: a refusal.
	r := tvmMain(with([]string{"break-glass", "open", "--profile", "prod-admin", "--reason-code", "incident",
		"--justification", "INC-1234: database down, on-call needs admin", "--idempotency-key", "bg1"}, alice)...)
	if got := opNormalize(r.stderr, srv.URL); r.code != ExitFailure || r.stdout != "" ||
		got != "sentinel-tvm: forbidden: no break_glass block lets you open an event for this profile (request RID)\n" {
		t.Errorf("break-glass open: code %d, stdout %q, stderr %q", r.code, r.stdout, got)
	}
	r = tvmMain(with([]string{"break-glass", "list", "--active"}, alice)...)
	if r.code != ExitOK || r.stdout != "ID  STATUS  PROFILE  PRINCIPAL  REASON  OPENED  EXPIRES\n" {
		t.Errorf("break-glass list: code %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = tvmMain(with([]string{"break-glass", "list", "--json"}, alice)...)
	if m := jsonObject(t, r.stdout); r.code != ExitOK || m["events"] == nil {
		t.Errorf("break-glass list --json: %s", r.stdout)
	}
	r = tvmMain(with([]string{"break-glass", "close", "0123456789abcdef0123456789abcdef"}, alice)...)
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: not_found: ") {
		t.Errorf("break-glass close unknown: code %d, stderr %q", r.code, r.stderr)
	}
	// --revoke-sessions reaches the service in the body (a body it would
	// refuse as 400 if the field were unknown).
	r = tvmMain(with([]string{"break-glass", "close", "0123456789abcdef0123456789abcdef", "--revoke-sessions", "--comment", "over"}, alice)...)
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: not_found: ") {
		t.Errorf("break-glass close --revoke-sessions: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestOperatorUnknownCaller(t *testing.T) {
	srv := clienttest.NewServer(t)
	tvmSetup(t, srv)
	r := tvmMain("profiles", "--url", srv.URL, "--region", clienttest.Region, "--source-profile", "mallory")
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("unknown caller: code %d, stderr %q", r.code, r.stderr)
	}
	noSecrets(t, r.stdout, r.stderr)
}

// TestOperatorDevLifecycle drives break-glass and revocation through the
// commands against `sentinel-tvm dev` on moto, where both are real.
func TestOperatorDevLifecycle(t *testing.T) {
	d, srv := startDev(t)
	cfg := filepath.Join(t.TempDir(), "config")
	tvmWrite(t, cfg, "")
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", d.credsFile)
	t.Setenv(urlEnv, d.base)
	as := func(name string, args ...string) tvmResult {
		return tvmMain(append(args, "--region", "us-east-1", "--source-profile", name)...)
	}
	just := "database primary is down, INC-4711"

	r := as("alice", "break-glass", "open", "--profile", "prod-readonly", "--reason-code", "incident", "--justification", just)
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: forbidden: ") {
		t.Fatalf("alice opens: code %d, stderr %q", r.code, r.stderr)
	}
	r = as("carol", "break-glass", "open", "--profile", "prod-readonly", "--reason-code", "boredom", "--justification", just)
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: invalid_request: ") {
		t.Fatalf("bad reason code: code %d, stderr %q", r.code, r.stderr)
	}
	r = as("carol", "break-glass", "open", "--profile", "prod-readonly", "--reason-code", "incident", "--justification", just, "--idempotency-key", "bg-1")
	if r.code != ExitOK {
		t.Fatalf("carol opens: code %d, stderr %q", r.code, r.stderr)
	}
	wantOpen := `event          AID
status         active
profile        prod-readonly
principal      arn:aws:iam::111122223333:role/sre-oncall-primary
reason code    incident
justification  database primary is down, INC-4711
opened         TIME
expires        TIME
`
	if got := opNormalize(r.stdout, d.base); got != wantOpen {
		t.Errorf("open output:\n%s\nwant:\n%s", got, wantOpen)
	}
	id := approvalIDRE.FindString(r.stdout)
	r = as("oscar", "break-glass", "list", "--active", "--json")
	if es, _ := jsonObject(t, r.stdout)["events"].([]any); r.code != ExitOK || len(es) != 1 {
		t.Errorf("operator's active list: %s %s", r.stdout, r.stderr)
	}
	r = as("oscar", "break-glass", "list", "--active")
	if r.code != ExitOK || !strings.Contains(r.stdout, id+"  active  prod-readonly  arn:aws:iam::111122223333:role/sre-oncall-primary  incident  ") {
		t.Errorf("operator's active list:\n%s", r.stdout)
	}

	// A vend through it, then the operator revokes that session.
	r = as("carol", "credentials", "--url", d.base, "--profile", "prod-readonly")
	if r.code != ExitOK {
		t.Fatalf("break-glass vend: %d %s", r.code, r.stderr)
	}
	r = as("oscar", "sessions", "--principal", "arn:aws:iam::111122223333:role/sre-oncall-primary", "--active", "--json")
	ss, _ := jsonObject(t, r.stdout)["sessions"].([]any)
	if r.code != ExitOK || len(ss) != 1 {
		t.Fatalf("operator's sessions: %s %s", r.stdout, r.stderr)
	}
	sid := ss[0].(map[string]any)["session_id"].(string)
	r = as("alice", "revoke", sid, "--reason", "x")
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: forbidden: ") {
		t.Errorf("alice revokes carol's session: code %d, stderr %q", r.code, r.stderr)
	}
	r = as("oscar", "revoke", sid, "--reason", "contain", "--block-minutes", "30", "--idempotency-key", "rv-1")
	want := "session      " + sid + "\nstatus       revoked\nenforcement  session_tag\n"
	if r.code != ExitOK || r.stdout != want {
		t.Errorf("revoke: code %d\n%s\nwant:\n%s\nstderr: %s", r.code, r.stdout, want, r.stderr)
	}
	if doc := rolePolicy(t, srv, "444455556666", "prod-readonly"); !strings.Contains(doc, sid) {
		t.Errorf("the role's revocation policy lacks %s: %s", sid, doc)
	}
	r = as("carol", "session", sid)
	if r.code != ExitOK || !strings.Contains(r.stdout, "\nstatus             revoked\n") || !strings.Contains(r.stdout, "\nrevoke reason      contain\n") {
		t.Errorf("session after revoke:\n%s%s", r.stdout, r.stderr)
	}

	r = as("carol", "break-glass", "close", id, "--comment", "resolved")
	if r.code != ExitOK || !strings.Contains(r.stdout, "\nstatus         closed\n") {
		t.Errorf("close: code %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = as("carol", "break-glass", "close", id)
	if r.code != ExitFailure || !strings.HasPrefix(r.stderr, "sentinel-tvm: conflict: ") {
		t.Errorf("close again: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestOperatorListPaging: the list commands read one page with --limit,
// print how to read the next (the token in the body with --json), and
// read it with --next-token; a token with other flags is refused.
func TestOperatorListPaging(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice, _ := operatorSetup(t, srv)
	for range 3 {
		if r := tvmMain(with([]string{"credentials", "--profile", "dev-readonly"}, alice)...); r.code != ExitOK {
			t.Fatalf("credentials: %d %s", r.code, r.stderr)
		}
	}
	r := tvmMain(with([]string{"sessions", "--limit", "2", "--json"}, alice)...)
	page := jsonObject(t, r.stdout)
	token, _ := page["next_token"].(string)
	if ss, _ := page["sessions"].([]any); r.code != ExitOK || len(ss) != 2 || token == "" {
		t.Fatalf("first page: code %d, %s %s", r.code, r.stdout, r.stderr)
	}
	r = tvmMain(with([]string{"sessions", "--limit", "2"}, alice)...)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != ExitOK || len(lines) != 4 ||
		lines[3] != "More follow: add --next-token "+token {
		t.Fatalf("first page, human: code %d\n%s", r.code, r.stdout)
	}
	r = tvmMain(with([]string{"sessions", "--limit", "2", "--next-token", token}, alice)...)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != ExitOK || len(lines) != 2 || strings.Contains(r.stdout, "More follow") {
		t.Fatalf("last page: code %d\n%s", r.code, r.stdout)
	}
	r = tvmMain(with([]string{"sessions", "--active", "--next-token", token}, alice)...)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "next_token belongs to another query") {
		t.Fatalf("token with another filter: code %d, %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"approvals", "--limit", "1", "--json"}, {"break-glass", "list", "--limit", "1", "--json"}} {
		if r := tvmMain(with(args, alice)...); r.code != ExitOK {
			t.Errorf("%v: code %d, %s", args, r.code, r.stderr)
		}
	}
}
