package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestCapWarning(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if w := capWarning("sessions", listCap-1, from.Add(time.Hour), from); w != "" {
		t.Errorf("a list below the maximum: %q", w)
	}
	if w := capWarning("sessions", listCap, from.Add(-time.Hour), from); w != "" {
		t.Errorf("a full list that reaches before the period: %q", w)
	}
	if w := capWarning("sessions", listCap, from.Add(time.Hour), from); !strings.Contains(w, "sessions of the period before then are missing") {
		t.Errorf("a full list inside the period: %q", w)
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
