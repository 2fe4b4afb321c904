package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
)

func TestReportExportUsage(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice := tvmSetup(t, srv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with([]string{"report"}, alice), "--output is required"},
		{with([]string{"report", "--output", "x.html", "--since", "-1h"}, alice), "--since -1h0m0s must be positive"},
		{with([]string{"report", "--output", "x.html", "--from", "yesterday"}, alice), `--from "yesterday" is neither RFC 3339`},
		{with([]string{"report", "--output", "x.html", "--to", "2026-11-01"}, alice), "--to needs --from"},
		{with([]string{"report", "--output", "x.html", "--from", "2026-11-02", "--to", "2026-11-01"}, alice), "is not before --to"},
		{with([]string{"report", "--output", "x.html", "--from", "2026-11-01", "--since", "1h"}, alice), "--since and --from/--to exclude each other"},
		{with([]string{"report", "--output", "x.html", "--decisions", "a", "--log-group", "g"}, alice), "--decisions and --log-group exclude each other"},
		{with([]string{"export"}, alice), "takes one argument, the records: sessions, approvals, break-glass, decisions"},
		{with([]string{"export", "users"}, alice), `"users" is not one of sessions, approvals, break-glass, decisions`},
		{with([]string{"export", "sessions", "--format", "xml"}, alice), `--format "xml" is not csv or jsonl`},
		{with([]string{"export", "decisions"}, alice), "export decisions needs --decisions FILE... or --log-group NAME"},
		{with([]string{"export", "sessions", "--decisions", "f"}, alice), "--decisions and --log-group are for export decisions"},
	} {
		t.Run(strings.Join(tc.args[:min(len(tc.args), 4)], " "), func(t *testing.T) {
			r := tvmMain(tc.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("code %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

// TestSpreadsheetSafe: a justification or comment someone typed never
// becomes a formula in the auditor's spreadsheet.
func TestSpreadsheetSafe(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://evil","x")`: `'=HYPERLINK("http://evil","x")`,
		"+1":                            "'+1",
		"-2+3":                          "'-2+3",
		"@SUM(A1)":                      "'@SUM(A1)",
		"\tx":                           "'\tx",
		"INC-4711: db down":             "INC-4711: db down",
		"":                              "",
		"2026-11-01T00:00:00Z":          "2026-11-01T00:00:00Z",
	} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDecisionsFromTheWrongFile: a file without decision lines is said so,
// not taken for a month without refusals.
func TestDecisionsFromTheWrongFile(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice := tvmSetup(t, srv)
	file := filepath.Join(t.TempDir(), "sessions.csv")
	tvmWrite(t, file, "session_id,principal\ns1,arn:aws:iam::111122223333:role/x\n")
	r := tvmMain(with([]string{"export", "decisions", "--decisions", file, "--format", "csv"}, alice)...)
	if r.code != 0 || !strings.Contains(r.stderr, "held no decision line") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestExportReadsEveryPage: a period with more sessions than one page
// holds is exported whole, each session once, newest first, and the
// sessions before the period are left out.
func TestExportReadsEveryPage(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice := tvmSetup(t, srv)
	ctx := context.Background()
	api := srv.Client(t, clienttest.Alice)
	first, err := api.Credentials(ctx, client.CredentialsRequest{Profile: "dev-readonly"}, client.FormatNative)
	if err != nil {
		t.Fatal(err)
	}
	s, err := srv.Store.GetSession(ctx, first.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	// 250 more sessions of the same person over the last ten days, some
	// in the same second, and 20 older than the period.
	now := time.Now().UTC().Truncate(time.Second)
	want := map[string]bool{first.SessionID: true}
	for i := range 270 {
		r := s
		r.ID = fmt.Sprintf("%032x", i+1)
		r.IssuedAt = now.Add(-time.Duration(i/2) * time.Hour)
		if i >= 250 {
			r.IssuedAt = now.Add(-40 * 24 * time.Hour).Add(-time.Duration(i) * time.Minute)
		} else {
			want[r.ID] = true
		}
		r.ExpiresAt = r.IssuedAt.Add(15 * time.Minute)
		if err := srv.Store.Vend(ctx, "bulk", 1000, time.Hour, r); err != nil {
			t.Fatal(err)
		}
	}
	from, to := now.Add(-30*24*time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)
	res := tvmMain(with([]string{"export", "sessions", "--from", from, "--to", to, "--format", "jsonl"}, alice)...)
	if res.code != 0 {
		t.Fatalf("export: code %d, stderr %s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "warning") {
		t.Errorf("a warning for a complete export: %s", res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	seen := map[string]bool{}
	var last time.Time
	for i, line := range lines {
		var got client.Session
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if seen[got.SessionID] || !want[got.SessionID] {
			t.Fatalf("line %d: session %s twice or not of the period", i+1, got.SessionID)
		}
		if i > 0 && got.IssuedAt.After(last) {
			t.Fatalf("line %d: not newest first", i+1)
		}
		seen[got.SessionID], last = true, got.IssuedAt
	}
	if len(seen) != len(want) {
		t.Fatalf("exported %d sessions, want %d", len(seen), len(want))
	}

	// The report reads them all too: no warning, and every vend counted.
	out := filepath.Join(t.TempDir(), "r.html")
	res = tvmMain(with([]string{"report", "--from", from, "--to", to, "--output", out}, alice)...)
	if res.code != 0 || strings.Contains(res.stderr, "warning") {
		t.Fatalf("report: code %d, stderr %s", res.code, res.stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), ">"+strconv.Itoa(len(want))+"<") {
		t.Errorf("the report does not count %d vends", len(want))
	}
}
