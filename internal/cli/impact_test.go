package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
)

// The impact package's fixtures: two policies and the decisions the old one
// made, which the new one changes in every way a change can go.
const (
	impactOld       = "../impact/testdata/old"
	impactNew       = "../impact/testdata/new"
	impactDecisions = "../impact/testdata/decisions.jsonl"
)

var impactTransitions = map[string]int{
	"allow->deny": 3, "allow->require_approval": 2, "require_approval->deny": 4, "deny->allow": 1,
	"deny->require_approval": 2, "require_approval->allow": 1, "duration_shortened": 5, "duration_lengthened": 2,
	"rule_changed": 3,
}

type impactJSON struct {
	Total        int            `json:"total"`
	Unchanged    int            `json:"unchanged"`
	ComparedWith string         `json:"compared_with"`
	Transitions  map[string]int `json:"transitions"`
	NotEvaluable struct {
		Count int `json:"count"`
	} `json:"not_evaluable"`
}

func decodeImpact(t *testing.T, out string) impactJSON {
	t.Helper()
	var got impactJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	return got
}

func TestImpactJSON(t *testing.T) {
	for _, baseline := range []bool{true, false} {
		args := []string{"policy", "impact", impactNew, "--decisions", impactDecisions, "--format", "json"}
		if baseline {
			args = append(args, "--baseline", impactOld)
		}
		r := run(t, "", "", args...)
		if r.code != ExitOK {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		got := decodeImpact(t, r.stdout)
		if got.Total != 31 || got.Unchanged != 6 || got.NotEvaluable.Count != 2 || !reflect.DeepEqual(got.Transitions, impactTransitions) {
			t.Errorf("baseline %v: %+v", baseline, got)
		}
		if want := map[bool]string{true: "baseline", false: "recorded"}[baseline]; got.ComparedWith != want {
			t.Errorf("compared_with = %q, want %q", got.ComparedWith, want)
		}
	}
}

func TestImpactFailOn(t *testing.T) {
	for _, tc := range []struct {
		dir, failOn string
		code        int
		stderr      string
	}{
		{impactNew, "deny-increase", ExitFailure, "sentinel-tvm: 11 requests would lose access (--fail-on deny-increase)\n"},
		{impactNew, "any-change", ExitFailure, "sentinel-tvm: 25 requests would be decided differently (--fail-on any-change)\n"},
		{impactNew, "", ExitOK, ""},
		{impactOld, "any-change", ExitOK, ""},
		{impactOld, "deny-increase", ExitOK, ""},
	} {
		args := []string{"policy", "impact", tc.dir, "--decisions", impactDecisions}
		if tc.failOn != "" {
			args = append(args, "--fail-on", tc.failOn)
		}
		r := run(t, "", "", args...)
		if r.code != tc.code || r.stderr != tc.stderr {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", args, r.code, r.stderr, tc.code, tc.stderr)
		}
	}
}

// TestImpactMarkdownAndText: the same report in the other formats, and
// decision files listed after NEW_DIR (a shell glob after --decisions).
func TestImpactMarkdownAndText(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(impactDecisions)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	half := len(lines) / 2
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	os.WriteFile(a, []byte(strings.Join(lines[:half], "")), 0o600)
	os.WriteFile(b, []byte(strings.Join(lines[half:], "")), 0o600)
	md := run(t, "", "", "policy", "impact", impactNew, "--baseline", impactOld, "--format", "markdown", "--decisions", a, b)
	if md.code != ExitOK || !strings.HasPrefix(md.stdout, "### Policy impact\n") ||
		!strings.Contains(md.stdout, "| allow → deny | 3 |") || !strings.Contains(md.stdout, "<details><summary>not evaluable: 2</summary>") {
		t.Errorf("markdown: exit %d\n%s%s", md.code, md.stdout, md.stderr)
	}
	txt := run(t, "", "", "policy", "impact", impactNew, "--baseline", impactOld, "--decisions", impactDecisions, "--top", "1")
	if txt.code != ExitOK || !strings.Contains(txt.stdout, "Replayed 31 recorded requests") || strings.Count(txt.stdout, "before:") != 10 {
		t.Errorf("text: exit %d\n%s%s", txt.code, txt.stdout, txt.stderr)
	}
	stdin := run(t, "", string(data), "policy", "impact", impactNew, "--decisions", "-", "--format", "json")
	if got := decodeImpact(t, stdin.stdout); got.Total != 31 {
		t.Errorf("from stdin: %+v", got)
	}
}

func TestImpactUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{}, "needs NEW_DIR"},
		{[]string{impactNew}, "needs --decisions FILE or --log-group NAME"},
		{[]string{impactNew, impactOld}, "takes one directory"},
		{[]string{impactNew, "--decisions", impactDecisions, "--format", "yaml"}, "--format must be"},
		{[]string{impactNew, "--decisions", impactDecisions, "--fail-on", "deny"}, "--fail-on must be"},
		{[]string{impactNew, "--log-group", "g", "--since", "-1h"}, "--since -1h0m0s must be positive"},
		{[]string{"/nonexistent", "--decisions", impactDecisions}, "is not a readable directory"},
		{[]string{impactNew, "--decisions", impactDecisions, "--baseline", "/nonexistent"}, "is not a readable directory"},
	} {
		r := run(t, "", "", append([]string{"policy", "impact"}, tc.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.msg) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want usage error with %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
	r := run(t, "", "", "policy", "impact", impactNew, "--decisions", "/nonexistent.jsonl")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "/nonexistent.jsonl") {
		t.Errorf("missing file: exit %d, %q", r.code, r.stderr)
	}
	r = run(t, "", "", "policy", "impact", "testdata/syntax", "--decisions", impactDecisions)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "the policy was not compiled") {
		t.Errorf("broken policy: exit %d, %q", r.code, r.stderr)
	}
}

// TestImpactFromCloudWatchOnMoto reads the recorded set from a log group
// in moto instead of a file: the same report.
func TestImpactFromCloudWatchOnMoto(t *testing.T) {
	srv := motoserver.Start(t)
	ctx := context.Background()
	cw := cloudwatchlogs.NewFromConfig(srv.Config)
	group := "/aws/lambda/sentinel-tvm-api"
	stream := "2026/03/02/[$LATEST]0123"
	if _, err := cw.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(impactDecisions)
	if err != nil {
		t.Fatal(err)
	}
	var events []types.InputLogEvent
	at := time.Now().Add(-2 * time.Hour)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		at = at.Add(time.Second)
		events = append(events, types.InputLogEvent{Message: aws.String(sc.Text()), Timestamp: aws.Int64(at.UnixMilli())})
	}
	// One decision older than --since.
	events = append([]types.InputLogEvent{{Message: events[0].Message, Timestamp: aws.Int64(time.Now().Add(-30 * time.Hour).UnixMilli())}}, events...)
	if _, err := cw.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", motoserver.Region)
	r := run(t, "", "", "policy", "impact", impactNew, "--baseline", impactOld, "--log-group", group, "--since", "24h", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	got := decodeImpact(t, r.stdout)
	if got.Total != 31 || !reflect.DeepEqual(got.Transitions, impactTransitions) {
		t.Errorf("from CloudWatch Logs: %+v", got)
	}
	if r.stderr != "" {
		t.Errorf("stderr is not a terminal, yet: %q", r.stderr)
	}
	r = run(t, "", "", "policy", "impact", impactNew, "--log-group", "/no/such/group", "--format", "json")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "/no/such/group") || r.stdout != "" {
		t.Errorf("missing group: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
